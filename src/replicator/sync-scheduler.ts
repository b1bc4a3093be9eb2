/**
 * When this node runs digest rounds (anti-entropy.ts runs them): with a newer member at its join,
 * with a member back from a partition, with the first peer heard after our own reconnect, with a
 * peer whose round failed or whose gap could not be repaired (at one of its next heartbeats: a
 * heartbeat proves it is on the bus now), and periodically with the next peer in turn.
 *
 * The decisions are pure functions below; `SyncScheduler` keeps the little state they need.
 */
import type { Clock } from "../clock.js";
import type { Member, MembershipEvent } from "../cluster/membership.js";
import type { RepairCause } from "../extension/stats.js";

/** A failed digest round with a peer is retried at its first heartbeat after this long. */
export const SYNC_RETRY_MS = 2_000;

/** This node, as the decisions compare members with it. */
export interface SelfStart {
  node: string;
  startedAtMs: number;
}

/**
 * What a membership event asks of this node: a round now ("join", "reconnect"), a round at one of
 * the member's heartbeats after SYNC_RETRY_MS ("later"), dropping what it knows of the member
 * ("forget"), or nothing.
 */
export type MembershipDecision = "join" | "reconnect" | "later" | "forget" | "none";

/** `retryPending`: a round with the member is waiting for its heartbeat. */
export function decideOnMembership(e: MembershipEvent, self: SelfStart, retryPending: boolean): MembershipDecision {
  // The newer node pulls: one full transfer per join, not one per existing member.
  if (e.type === "joined" && (joinedBefore(e.member, self) || retryPending)) return "join";
  // Back from a partition: gap repair covers what the buffers still hold, a round the rest.
  if (e.type === "reachable-again" && joinedBefore(e.member, self)) return "reconnect";
  // It counts toward quorums once a majority vouches for it, each after a round with it. Its own
  // round with us (it is newer) makes it vouch for us, which counts as ours; in case that never
  // comes (a one-way link), run one ourselves a little later.
  if ((e.type === "joined" || e.type === "reachable-again") && !e.member.counted) return "later";
  // Gone: its next incarnation starts clean. (A restart is handled by the incarnation change.)
  if (e.type === "removed" && e.reason !== "restarted") return "forget";
  return "none";
}

/** Whether `m` started before this node (ties: the lower id): the newer of two pulls. */
export function joinedBefore(m: Pick<Member, "node" | "startedAtMs">, self: SelfStart): boolean {
  return m.startedAtMs < self.startedAtMs || (m.startedAtMs === self.startedAtMs && m.node < self.node);
}

/**
 * What a peer's heartbeat triggers: after our reconnect, a round with the first peer heard;
 * otherwise a round once the time a pending one waits for (`dueAtMs`) has come.
 */
export function decideOnHeartbeat(reconnectPending: boolean, dueAtMs: number | undefined, nowMs: number): "reconnect" | "gap" | "none" {
  if (reconnectPending) return "reconnect";
  return dueAtMs !== undefined && nowMs >= dueAtMs ? "gap" : "none";
}

/**
 * The peer after `after` in id order (wrapping): every peer is in a round within as many periods as
 * there are peers, which a random pick does not promise, and a seeded simulation replays it.
 * `peers` is sorted by id.
 */
export function peerAfter(peers: readonly string[], after: string): string | undefined {
  return peers.find((node) => node > after) ?? peers[0];
}

export interface SyncSchedulerDeps {
  self: SelfStart;
  /** One digest round with `peer`; true when it completed. */
  sync(peer: string, cause: RepairCause): Promise<boolean>;
  /** State was exchanged with `peer`: we may vouch for it (quorum admission). */
  synced(peer: string): void;
  /** Reachable peers (this node excluded), sorted by id. */
  reachablePeers(): string[];
  isClosed(): boolean;
  clock: Clock;
}

export class SyncScheduler {
  /** Peers to run a round with at their next heartbeat, with the earliest time to try. */
  private readonly dueAtHeartbeat = new Map<string, number>();
  /** The peer of the last periodic round (see nextPeer). */
  private lastPeriodicPeer: string | undefined;
  /** After a reconnect: sync with the first peer whose heartbeat arrives. */
  private reconnectPending = false;

  constructor(private readonly deps: SyncSchedulerDeps) {}

  /** A digest round with `peer`; when it fails, try again at one of its next heartbeats. */
  async syncWith(peer: string, cause: RepairCause): Promise<boolean> {
    const ok = await this.deps.sync(peer, cause);
    if (ok) this.deps.synced(peer);
    else this.syncSoon(peer, SYNC_RETRY_MS);
    return ok;
  }

  /** Run a round with `peer` at its first heartbeat at least `afterMs` from now. */
  syncSoon(peer: string, afterMs: number): void {
    if (this.deps.isClosed()) return;
    const at = this.deps.clock.now() + afterMs;
    this.dueAtHeartbeat.set(peer, Math.min(at, this.dueAtHeartbeat.get(peer) ?? at));
  }

  /**
   * This node reconnected to the bus: what peers published meanwhile is lost for us. Our view of who
   * is reachable is stale (we heard nobody), so sync with the first peer whose heartbeat proves it
   * is on the bus again, rather than with a peer chosen from that stale view.
   */
  onReconnect(): void {
    this.reconnectPending = true;
  }

  onHeartbeat(peer: string): void {
    if (this.deps.isClosed()) return;
    const decision = decideOnHeartbeat(this.reconnectPending, this.dueAtHeartbeat.get(peer), this.deps.clock.now());
    if (decision === "none") return;
    this.reconnectPending = false;
    this.dueAtHeartbeat.delete(peer);
    void this.syncWith(peer, decision);
  }

  /** Acts on the event's decision and returns it (the caller forgets a removed member's stream). */
  onMembership(e: Exclude<MembershipEvent, { type: "leader-changed" }>): MembershipDecision {
    const peer = e.member.node;
    const decision = decideOnMembership(e, this.deps.self, this.dueAtHeartbeat.has(peer));
    if (decision === "join" || decision === "reconnect") {
      if (decision === "join") this.dueAtHeartbeat.delete(peer);
      void this.syncWith(peer, decision);
    } else if (decision === "later") {
      this.syncSoon(peer, SYNC_RETRY_MS);
    } else if (decision === "forget") {
      this.dueAtHeartbeat.delete(peer);
    }
    return decision;
  }

  /** The periodic round, with the next peer in turn (a failure waits for the next period). */
  periodic(): void {
    const peer = this.nextPeer();
    if (peer !== undefined) void this.deps.sync(peer, "periodic");
  }

  /** The reachable peer after the last one chosen (the first after this node at the start). */
  nextPeer(): string | undefined {
    const next = peerAfter(this.deps.reachablePeers(), this.lastPeriodicPeer ?? this.deps.self.node);
    if (next !== undefined) this.lastPeriodicPeer = next;
    return next;
  }
}
