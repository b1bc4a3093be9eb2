/**
 * Cluster membership and leader choice, as a deterministic state machine: heartbeats and the
 * current time go in (time is always passed explicitly), events come out. No I/O, no clock — the
 * shell (heartbeats.ts) stamps heartbeats on receipt and calls `tick` on a timer.
 *
 * Liveness uses the receiver's own clock (`receivedAtMs`), never the sender's, so clock skew between
 * nodes cannot make a live member look dead or a dead one alive.
 *
 * Quorum membership. Every member this node knows of counts in N (quorum sizes) at once; only
 * admitted members' acknowledgements count. The agreed membership (who decides votes) changes only
 * by majority vote, never by one node's decision alone: a member silent for removalTimeoutMs is
 * removed once a majority of it votes it out, and a newcomer (or a member back from such silence,
 * or restarted) is admitted once a majority of it vouches for it. Votes travel in heartbeats
 * (`silent`, `vouched`). A starting node seeds the agreed membership from its peers' answers
 * (`expect`), so its N is never smaller than theirs. A member this node missed leaving (cut off at
 * the time) goes once a majority no longer holds it (gone-from-peers.ts). See README, "Quorum membership".
 */
import { InvalidArgumentError } from "../errors.js";
import { goneFromPeers } from "./gone-from-peers.js";
import { quorum } from "./quorum.js";

export { quorum, type ConsistencyLevel } from "./quorum.js";

/** A decoded heartbeat, stamped by the receiver. Mirrors proto `Heartbeat` plus `receivedAtMs`. */
export interface Heartbeat {
  readonly node: string;
  readonly dataCenter: string;
  readonly roles: readonly string[];
  /** Process start time: the oldest reachable member of a DC leads it. */
  readonly startedAtMs: number;
  /** Grows on every restart; a newer incarnation replaces the old member. */
  readonly incarnation: number;
  /** Last delta-envelope sequence the node published (used by the replicator, not here). */
  readonly lastSequence: number;
  /** Graceful leave: remove at once. */
  readonly leaving: boolean;
  /** Removal votes: members the sender counts in N and has not heard for removalTimeoutMs. */
  readonly silent: readonly string[];
  /** Admission votes: members the sender hears and has synced with (or already counts). */
  readonly vouched: readonly string[];
  /** Members the sender removed by majority vote within removalTimeoutMs (also in `silent`). */
  readonly removed: readonly string[];
  /** Members the sender heard leave (recently, or still held by a peer), with the incarnation that left. */
  readonly left?: readonly Departure[];
  /** The sender reads compact delta envelopes (used by the replicator, not here); absent: it does not. */
  readonly compactDeltas?: boolean;
  /** The sender reads writer-id markers (used by the replicator's pruner); absent: it does not. */
  readonly readsMarkers?: boolean;
  /** Nodes gone from the sender's DC whose ids it still holds unfolded (used by the replicator's pruner); absent: none. */
  readonly unpruned?: readonly string[];
  /** When this node received it, on this node's clock. */
  readonly receivedAtMs: number;
}

/** This node. It is always a member and always reachable. */
export interface SelfInfo {
  readonly node: string;
  readonly dataCenter: string;
  readonly roles: readonly string[];
  readonly startedAtMs: number;
  readonly incarnation: number;
}

/** A member a starting node learned of from its peers before hearing it (see `expect`). */
export interface ExpectedMember {
  readonly node: string;
  readonly dataCenter: string;
  readonly roles: readonly string[];
}

export interface Member {
  readonly node: string;
  readonly dataCenter: string;
  readonly roles: readonly string[];
  readonly reachable: boolean;
  readonly startedAtMs: number;
  readonly incarnation: number;
  readonly self: boolean;
  /** Its acknowledgements and replies count toward quorums (admitted). Every member counts in N. */
  readonly counted: boolean;
}

export interface MembershipOptions {
  /** Silence after which a member is unreachable (it still counts in `known()`). */
  readonly failureTimeoutMs: number;
  /** Silence after which this node votes a member out (removed once a majority votes so); >= failureTimeoutMs. */
  readonly removalTimeoutMs: number;
  /** Roles whose per-DC leader is also tracked by `leader-changed` events (besides the overall one). */
  readonly leaderRoles?: readonly string[];
}

export type RemovalReason = "left" | "timeout" | "restarted";

export type MembershipEvent =
  | { readonly type: "joined"; readonly member: Member }
  /** Admitted by a majority: counts toward quorums from now on. */
  | { readonly type: "counted"; readonly member: Member }
  | { readonly type: "unreachable"; readonly member: Member }
  | { readonly type: "reachable-again"; readonly member: Member }
  | {
      readonly type: "removed";
      readonly member: Member;
      readonly reason: RemovalReason;
      /**
       * A newcomer this node never admitted, forgotten after its silence without a vote (its own
       * agreed membership did not hold it): not a decision of the cluster that it went.
       */
      readonly newcomer?: true;
    }
  | {
      readonly type: "leader-changed";
      readonly dataCenter: string;
      /** undefined: the leader among all roles. */
      readonly role: string | undefined;
      readonly leader: string | undefined;
      readonly previous: string | undefined;
    };

interface Entry {
  node: string;
  dataCenter: string;
  roles: readonly string[];
  startedAtMs: number;
  incarnation: number;
  reachable: boolean;
  lastSeenMs: number;
  /** When a member of the agreed membership last vouched for it (see gone-from-peers.ts). */
  vouchedAtMs: number;
  /** When it last became reachable (heard after a silence of failureTimeoutMs, or first heard). */
  reachableSinceMs: number;
  /** Per member of this table: when this one's heartbeats last held it (vouched or silent). */
  held: Map<string, number>;
  /** In the agreed membership (whose majority decides votes); set by admission or `expect`, cleared only by removal. */
  inN: boolean;
  /** Learned from peers at start (`expect`) and not heard yet: no incarnation, never reachable. */
  expected: boolean;
  /**
   * In the agreed membership on the others' word (expected at start, or restarted in place) and not
   * voted out by this node since: it counts as a vote for its own admission.
   */
  forItself: boolean;
  /** Its acknowledgements count; cleared while this node votes it out, set again by admission. */
  acks: boolean;
  /** A digest round between us completed since it last stopped counting (so we may vouch for it). */
  synced: boolean;
  /** Its latest votes. */
  silent: ReadonlySet<string>;
  vouched: ReadonlySet<string>;
}

/**
 * At most this many members heard but not admitted at once: invented node ids in forged heartbeats
 * cannot grow the table (and N) without bound. A real newcomer past it is heard once the ghosts
 * time out (removalTimeoutMs).
 */
export const MAX_NEWCOMERS = 256;
/** At most this many relayed leaves per heartbeat (the wire's bound on a heartbeat's lists). */
export const MAX_RELAYED_LEAVES = 1024;
/** At most this many leaves are remembered for relaying (the oldest forgotten first). */
export const MAX_REMEMBERED_LEAVES = 1024;

/** A graceful leave: the member and the incarnation that left. */
export interface Departure {
  readonly node: string;
  readonly incarnation: number;
}

export class MembershipTable {
  private readonly self: Entry;
  private readonly peers = new Map<string, Entry>();
  // Incarnations that left gracefully, remembered for removalTimeoutMs, so a heartbeat delayed
  // past the leave (reordering transports) cannot resurrect the member.
  private readonly departed = new Map<string, { incarnation: number; atMs: number }>();
  // Leaves heard (or relayed to us), remembered longer: relayed while a peer still holds the member
  // (one cut off when it left comes back holding it), the oldest forgotten past MAX_REMEMBERED_LEAVES.
  private readonly leaves = new Map<string, { incarnation: number; atMs: number }>();
  // Members removed by vote, remembered for removalTimeoutMs and still voted out in our heartbeats,
  // so the members that have not yet removed them still find a majority (ours no longer in a table).
  private readonly votedOut = new Map<string, number>();
  private readonly failureTimeoutMs: number;
  private readonly removalTimeoutMs: number;
  private readonly trackedRoles: readonly (string | undefined)[];
  private leaders = new Map<string, string | undefined>(); // `${role}\u0000${dc}` → leader
  /** Heartbeats of new node ids ignored because MAX_NEWCOMERS were waiting for admission already. */
  refusedNewcomers = 0;

  constructor(self: SelfInfo, options: MembershipOptions) {
    checkHeartbeatShape({ ...self, lastSequence: 0, leaving: false, silent: [], vouched: [], removed: [], receivedAtMs: 0 });
    const { failureTimeoutMs, removalTimeoutMs } = options;
    if (!(Number.isFinite(failureTimeoutMs) && failureTimeoutMs > 0)) {
      throw new InvalidArgumentError("failureTimeoutMs must be a finite number > 0");
    }
    if (!(Number.isFinite(removalTimeoutMs) && removalTimeoutMs >= failureTimeoutMs)) {
      throw new InvalidArgumentError("removalTimeoutMs must be a finite number >= failureTimeoutMs");
    }
    this.failureTimeoutMs = failureTimeoutMs;
    this.removalTimeoutMs = removalTimeoutMs;
    this.trackedRoles = [undefined, ...new Set(options.leaderRoles ?? [])];
    this.self = { ...self, roles: [...self.roles], reachable: true, lastSeenMs: 0, vouchedAtMs: 0, reachableSinceMs: 0, held: new Map(), ...COUNTED, silent: NONE, vouched: NONE };
    this.leaders = this.computeLeaders();
  }

  /** Feed one heartbeat. Throws InvalidArgumentError on a malformed one (the shell counts it). */
  observe(hb: Heartbeat): MembershipEvent[] {
    checkHeartbeatShape(hb);
    // Our own heartbeat echoed back, or another process claiming our id: self stays authoritative.
    if (hb.node === this.self.node) return [];
    this.votedOut.delete(hb.node); // heard again: no longer silent
    const gone = this.departed.get(hb.node);
    if (gone !== undefined && hb.incarnation <= gone.incarnation) return [];
    let current = this.peers.get(hb.node);
    if (current !== undefined && hb.incarnation < current.incarnation) return []; // a late message of a dead process

    const events: MembershipEvent[] = [];
    if (hb.leaving) {
      if (current !== undefined) {
        this.forget(hb.node);
        events.push({ type: "removed", member: view(current, false), reason: "left" });
      }
      this.departed.set(hb.node, { incarnation: hb.incarnation, atMs: hb.receivedAtMs });
      this.rememberLeave(hb.node, hb.incarnation, hb.receivedAtMs);
      return this.withLeaderChanges(events);
    }
    // A restart keeps the node's place in the agreed membership, but the new incarnation counts
    // only once admitted again: it may have come back empty, so its replies must not stand for the
    // old one's until a digest round refilled it. An expected member, heard at last, joins in its place.
    let standing = { inN: false, acks: false, synced: false, forItself: false };
    if (current !== undefined && (current.expected || hb.incarnation > current.incarnation)) {
      this.forget(hb.node);
      if (!current.expected) events.push({ type: "removed", member: view(current, false), reason: "restarted" });
      standing = { inN: current.inN, acks: false, synced: false, forItself: current.acks || current.forItself };
      current = undefined;
    }
    if (current === undefined) {
      if (!standing.inN && this.newcomers() >= MAX_NEWCOMERS) {
        this.refusedNewcomers++;
        return this.withLeaderChanges(events);
      }
      const entry: Entry = {
        node: hb.node,
        dataCenter: hb.dataCenter,
        roles: [...hb.roles],
        startedAtMs: hb.startedAtMs,
        incarnation: hb.incarnation,
        reachable: true,
        lastSeenMs: hb.receivedAtMs,
        vouchedAtMs: hb.receivedAtMs,
        reachableSinceMs: hb.receivedAtMs,
        held: new Map(),
        ...standing,
        expected: false,
        silent: new Set(hb.silent),
        vouched: new Set(hb.vouched),
      };
      this.peers.set(hb.node, entry);
      this.departed.delete(hb.node);
      this.leaves.delete(hb.node); // back (a later incarnation): its earlier leave is no news
      events.push({ type: "joined", member: view(entry, false) });
      current = entry;
    } else {
      current.lastSeenMs = Math.max(current.lastSeenMs, hb.receivedAtMs);
      current.dataCenter = hb.dataCenter;
      current.roles = [...hb.roles];
      current.startedAtMs = hb.startedAtMs;
      current.silent = new Set(hb.silent);
      current.vouched = new Set(hb.vouched);
      if (!current.reachable) {
        current.reachable = true;
        current.reachableSinceMs = hb.receivedAtMs;
        events.push({ type: "reachable-again", member: view(current, false) });
      }
    }
    // A member we expected at start but never heard, which a member has since removed by majority
    // vote (dead before we started): take the decision, else it would block our admissions for
    // ever. From a member not counted yet too, as a relayed leave: admitting it may wait for the
    // dead one (our agreed membership only it and us; two-DC seed 20252439). The member exists
    // here only on the others' word: heard, it rejoins by itself.
    for (const node of hb.removed) {
      const e = this.peers.get(node);
      if (e?.expected === true) {
        this.forget(node);
        events.push({ type: "removed", member: view(e, false), reason: "timeout" });
      }
    }
    // A leave this node missed (cut off when the member left), relayed by any member it hears:
    // the same decision as hearing it (a leave is the member's own, as trustworthy as its leave
    // heartbeat; a relayer not counted yet may be the one admission waits for). The incarnation
    // keeps a later process of the id. A leave of a member this node never held is remembered too,
    // to relay on (once, not refreshed): a member cut off while it left may come back after every
    // member that heard it has gone, and would otherwise hold it for ever, unable to admit anyone
    // with it in its agreed membership (two-DC seed 20244619).
    for (const d of hb.left ?? []) {
      if (d.node === hb.node || d.node === this.self.node) continue;
      const e = this.peers.get(d.node);
      if (e !== undefined && e.incarnation > d.incarnation) continue;
      if (e === undefined) {
        this.learnLeave(d, hb.receivedAtMs);
        continue;
      }
      this.forget(d.node);
      this.departed.set(d.node, { incarnation: d.incarnation, atMs: hb.receivedAtMs });
      this.rememberLeave(d.node, d.incarnation, hb.receivedAtMs);
      events.push({ type: "removed", member: view(e, false), reason: "left" });
    }
    // Only members of this table are tracked: a heartbeat cannot grow this state.
    for (const node of [...current.vouched, ...current.silent]) {
      const e = this.peers.get(node);
      if (e === undefined) continue;
      current.held.set(node, hb.receivedAtMs);
      if (current.inN && current.vouched.has(node)) e.vouchedAtMs = Math.max(e.vouchedAtMs, hb.receivedAtMs);
    }
    // It vouches for us while we do not count it: it ran a digest round with us since it came (back).
    if (!current.acks && current.vouched.has(this.self.node)) current.synced = true;
    return this.withLeaderChanges(events);
  }

  private forget(node: string): void {
    this.peers.delete(node);
    for (const e of this.peers.values()) e.held.delete(node);
  }

  /** Members heard but outside the agreed membership (not admitted yet). */
  private newcomers(): number {
    let n = 0;
    for (const e of this.peers.values()) if (!e.inN) n++;
    return n;
  }

  /**
   * A digest round with `node` completed: its state and ours were exchanged, so this node may vouch
   * for it (an admission vote). Ignored for members already counted and for unknown ones.
   */
  synced(node: string): void {
    const entry = this.peers.get(node);
    if (entry !== undefined && !entry.acks) entry.synced = true;
  }

  /**
   * Members this node's peers count, learned before it hears them (their answers to its start-up
   * hello): they join the agreed membership, and so N, at once, unreachable and not counting
   * acknowledgements until heard and admitted. Without them a starting node's N would be 1 and it
   * would acknowledge majority writes alone. Known members and this node are skipped.
   */
  expect(members: readonly ExpectedMember[], nowMs: number): void {
    if (!Number.isFinite(nowMs)) throw new InvalidArgumentError("nowMs must be a finite number");
    for (const m of members) {
      if (m.node === this.self.node || this.peers.has(m.node) || m.node.length === 0) continue;
      this.peers.set(m.node, {
        node: m.node,
        dataCenter: m.dataCenter,
        roles: [...m.roles],
        startedAtMs: 0,
        incarnation: 0,
        reachable: false,
        lastSeenMs: nowMs,
        vouchedAtMs: nowMs,
        reachableSinceMs: nowMs,
        held: new Map(),
        inN: true,
        expected: true,
        forItself: true,
        acks: false,
        synced: false,
        silent: NONE,
        vouched: NONE,
      });
    }
  }

  /** This node's votes, for its next heartbeat. */
  votes(nowMs: number): { silent: string[]; vouched: string[]; removed: string[]; left: Departure[] } {
    const removed = [...this.votedOut.keys()].sort();
    const silent = [...removed];
    const vouched: string[] = [];
    for (const e of this.peers.values()) {
      if (e.inN && nowMs - e.lastSeenMs >= this.removalTimeoutMs) silent.push(e.node);
      if (e.reachable && (e.acks || e.synced)) vouched.push(e.node);
    }
    // A leave is news for removalTimeoutMs, and later to a peer whose heartbeats still hold the member.
    const held = (node: string): boolean => [...this.peers.values()].some((p) => p.vouched.has(node) || p.silent.has(node));
    const left = [...this.leaves]
      .filter(([node, l]) => nowMs - l.atMs < this.removalTimeoutMs || held(node))
      .map(([node, l]) => ({ node, incarnation: l.incarnation }))
      .slice(0, MAX_RELAYED_LEAVES);
    return { silent: silent.sort(), vouched: vouched.sort(), removed, left };
  }

  /**
   * Advance time: mark silent members unreachable; stop counting acknowledgements of members silent
   * for removalTimeoutMs and remove them once a majority of the agreed membership votes so; admit
   * members such a majority vouches for. Newcomers not yet in the agreed membership are removed
   * after removalTimeoutMs of silence by this node alone: they count in N, but no write ever
   * counted their acknowledgement, so every quorum stays a majority of the agreed membership.
   */
  tick(nowMs: number): MembershipEvent[] {
    if (!Number.isFinite(nowMs)) throw new InvalidArgumentError("nowMs must be a finite number");
    const events: MembershipEvent[] = [];
    for (const entry of [...this.peers.values()].sort(byNode)) {
      const silentMs = nowMs - entry.lastSeenMs;
      if (silentMs >= this.removalTimeoutMs) {
        // Our own vote is out: its acknowledgements stop counting now, whatever the others decide,
        // so a later change of sides cannot count it under an N that others already shrank.
        entry.acks = false;
        entry.synced = false;
        entry.forItself = false;
        if (!entry.inN || this.majorityVotes((v) => v.acks && v.silent.has(entry.node), entry.node) || this.goneFromPeers(entry, nowMs)) {
          this.forget(entry.node);
          if (entry.inN) this.votedOut.set(entry.node, nowMs);
          events.push({ type: "removed", member: view(entry, false), reason: "timeout", ...(entry.inN ? {} : { newcomer: true as const }) });
          continue;
        }
      }
      if (silentMs >= this.failureTimeoutMs && entry.reachable) {
        entry.reachable = false;
        events.push({ type: "unreachable", member: view(entry, false) });
      }
    }
    for (const entry of [...this.peers.values()].sort(byNode)) {
      if (entry.acks || !entry.reachable) continue;
      // Without the vote of a member agreed on by the others, a 2-member membership could never
      // admit it. A member this node voted out has no such vote: it may be gone from the others' N.
      const votes = (entry.synced ? 1 : 0) + (entry.forItself ? 1 : 0);
      if (this.majorityVotes((v) => v.vouched.has(entry.node), entry.node, votes)) {
        entry.inN = true;
        entry.acks = true;
        events.push({ type: "counted", member: view(entry, false) });
      }
    }
    for (const [node, gone] of this.departed) {
      if (nowMs - gone.atMs >= this.removalTimeoutMs) this.departed.delete(node);
    }
    for (const [node, atMs] of this.votedOut) if (nowMs - atMs >= this.removalTimeoutMs) this.votedOut.delete(node);
    return this.withLeaderChanges(events);
  }

  /**
   * Whether a majority (⌊A/2⌋+1) of the agreed membership (A members) votes for a change about `subject`: this node (its
   * vote given by the caller; by default it votes, as removal is only asked when it does) and every
   * reachable member of N, other than the subject, for which `votes` holds. Votes older than
   * failureTimeoutMs (unreachable voters) do not count: stale votes cannot decide anything.
   * Removal counts only voters whose acknowledgements count: a member this node has voted out may
   * already be gone from the others' N, and must not help this node shrink N on another side.
   */
  private majorityVotes(votes: (voter: Entry) => boolean, subject: string, self = 1): boolean {
    let yes = self;
    let agreed = 0;
    for (const e of this.entries()) if (e.inN) agreed++;
    for (const v of this.peers.values()) if (v.inN && v.reachable && v.node !== subject && votes(v)) yes++;
    return yes >= quorum("majority", agreed);
  }

  /** Whether the peers on this node's side no longer hold `subject` (gone-from-peers.ts). */
  private goneFromPeers(subject: Entry, nowMs: number): boolean {
    let agreed = 0;
    for (const e of this.entries()) if (e.inN) agreed++;
    const peersNotHoldingSinceMs = [...this.peers.values()]
      .filter((v) => v.inN && v.reachable && v !== subject)
      .map((v) => Math.max(v.held.get(subject.node) ?? -Infinity, v.reachableSinceMs));
    return goneFromPeers({
      nowMs,
      failureTimeoutMs: this.failureTimeoutMs,
      removalTimeoutMs: this.removalTimeoutMs,
      heardAtMs: subject.lastSeenMs,
      vouchedAtMs: subject.vouchedAtMs,
      agreed,
      peersNotHoldingSinceMs,
    });
  }

  /**
   * The leaves the members that answered this node's start-up hello remember: remembered here as
   * old news (not news for removalTimeoutMs: relayed only to a member whose heartbeats still hold
   * one). A restart forgets the leaves heard; without this, once every member that heard one had
   * restarted, a member cut off while it happened would hold the member that left for ever.
   */
  inheritLeaves(left: readonly Departure[], nowMs: number): void {
    for (const d of left) if (d.node !== this.self.node && !this.peers.has(d.node)) this.learnLeave(d, nowMs - this.removalTimeoutMs);
  }

  /** Every leave this node remembers (for a starting node's hello; at most MAX_REMEMBERED_LEAVES). */
  rememberedLeaves(): Departure[] {
    return [...this.leaves].map(([node, l]) => ({ node, incarnation: l.incarnation }));
  }

  /** A leave heard second-hand, remembered unless that incarnation's or a later one's is (a relay never refreshes it). */
  private learnLeave(d: Departure, atMs: number): void {
    if ((this.leaves.get(d.node)?.incarnation ?? -1) < d.incarnation) this.rememberLeave(d.node, d.incarnation, atMs);
  }

  private rememberLeave(node: string, incarnation: number, atMs: number): void {
    this.leaves.delete(node); // re-inserted last: the map's order is the order heard
    this.leaves.set(node, { incarnation, atMs });
    if (this.leaves.size > MAX_REMEMBERED_LEAVES) this.leaves.delete(this.leaves.keys().next().value!);
  }

  /** Every member, self included, sorted by node id. */
  members(): Member[] {
    return [view(this.self, true), ...[...this.peers.values()].map((e) => view(e, false))].sort(
      byNode,
    );
  }

  /** The agreed membership (self included), as a starting node's peers tell it (see `expect`). */
  agreed(): ExpectedMember[] {
    return [...this.entries()].filter((e) => e.inN).map((e) => ({ node: e.node, dataCenter: e.dataCenter, roles: [...e.roles] })).sort(byNode);
  }

  member(node: string): Member | undefined {
    if (node === this.self.node) return view(this.self, true);
    const entry = this.peers.get(node);
    return entry === undefined ? undefined : view(entry, false);
  }

  /** `member(node)?.incarnation` without the record: every received envelope asks. */
  incarnationOf(node: string): number | undefined {
    return node === this.self.node ? this.self.incarnation : this.peers.get(node)?.incarnation;
  }

  /**
   * The oldest reachable member of `dataCenter` (default: this node's) in the agreed membership,
   * optionally among those with `role`; ties on start time go to the lowest node id. Undefined when
   * no member qualifies. Only the agreed membership (admitted by a majority, or counted by the
   * peers at start): a heartbeat claiming an old start is not enough to lead.
   */
  leader(dataCenter: string = this.self.dataCenter, role?: string): string | undefined {
    let best: Entry | undefined;
    for (const e of this.entries()) {
      if (!e.reachable || !e.inN || e.dataCenter !== dataCenter) continue;
      if (role !== undefined && !e.roles.includes(role)) continue;
      if (best === undefined || older(e, best)) best = e;
    }
    return best?.node;
  }

  /** Whether this node leads its DC (optionally among `role`). */
  isLeader(role?: string): boolean {
    return this.leader(this.self.dataCenter, role) === this.self.node;
  }

  /**
   * N for quorum math: every member this node knows of (reachable or not, admitted or not, self
   * included), optionally of one DC and one role. Only admitted members' acknowledgements count
   * (`quorumPeers`), so a quorum of N is also a majority of the agreed membership.
   */
  known(dataCenter?: string, role?: string): number {
    let n = 0;
    for (const e of this.entries()) if (matches(e, dataCenter, role)) n++;
    return n;
  }

  /** Peers whose acknowledgements and replies count toward quorums, optionally of one DC and role. */
  quorumPeers(dataCenter?: string, role?: string): string[] {
    return [...this.peers.values()].filter((e) => e.acks && matches(e, dataCenter, role)).map((e) => e.node).sort();
  }

  private *entries(): IterableIterator<Entry> {
    yield this.self;
    yield* this.peers.values();
  }

  private withLeaderChanges(events: MembershipEvent[]): MembershipEvent[] {
    const next = this.computeLeaders();
    for (const [slot, leader] of next) {
      const previous = this.leaders.get(slot);
      if (previous === leader) continue;
      const [role, dataCenter] = splitSlot(slot);
      events.push({ type: "leader-changed", dataCenter, role, leader, previous });
    }
    this.leaders = next;
    return events;
  }

  private computeLeaders(): Map<string, string | undefined> {
    // Track every DC seen now or before, so a DC emptied of reachable members reports `undefined`.
    const dcs = new Set<string>([...this.leaders.keys()].map((s) => splitSlot(s)[1]));
    for (const e of this.entries()) dcs.add(e.dataCenter);
    const out = new Map<string, string | undefined>();
    for (const dc of [...dcs].sort()) {
      for (const role of this.trackedRoles) out.set(slotOf(role, dc), this.leader(dc, role));
    }
    return out;
  }
}

function slotOf(role: string | undefined, dc: string): string {
  // A leading "\u0001" marks "any role", so no real role name (even "") can collide with it.
  return `${role === undefined ? "\u0001" : `\u0002${role}`}\u0000${dc}`;
}

function splitSlot(slot: string): [string | undefined, string] {
  const cut = slot.indexOf("\u0000");
  const head = slot.slice(0, cut);
  return [head === "\u0001" ? undefined : head.slice(1), slot.slice(cut + 1)];
}

const COUNTED = { inN: true, expected: false, forItself: false, acks: true, synced: true } as const;
const NONE: ReadonlySet<string> = new Set();

function matches(e: Entry, dataCenter: string | undefined, role: string | undefined): boolean {
  return (dataCenter === undefined || e.dataCenter === dataCenter) && (role === undefined || e.roles.includes(role));
}

function older(a: Entry, b: Entry): boolean {
  return a.startedAtMs !== b.startedAtMs ? a.startedAtMs < b.startedAtMs : a.node < b.node;
}

function byNode(a: { node: string }, b: { node: string }): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

function view(e: Entry, self: boolean): Member {
  return {
    node: e.node,
    dataCenter: e.dataCenter,
    roles: [...e.roles],
    reachable: self || e.reachable,
    startedAtMs: e.startedAtMs,
    incarnation: e.incarnation,
    self,
    counted: e.acks,
  };
}

function checkHeartbeatShape(hb: Heartbeat): void {
  const fail = (what: string): never => {
    throw new InvalidArgumentError(`invalid heartbeat: ${what}`);
  };
  if (typeof hb !== "object" || hb === null) fail("not an object");
  if (typeof hb.node !== "string" || hb.node.length === 0) fail("node must be a non-empty string");
  if (typeof hb.dataCenter !== "string") fail("dataCenter must be a string");
  if (!Array.isArray(hb.roles) || !hb.roles.every((r) => typeof r === "string")) {
    fail("roles must be an array of strings");
  }
  for (const f of ["startedAtMs", "incarnation", "lastSequence", "receivedAtMs"] as const) {
    if (typeof hb[f] !== "number" || !Number.isFinite(hb[f])) fail(`${f} must be a finite number`);
  }
  if (typeof hb.leaving !== "boolean") fail("leaving must be a boolean");
  for (const f of ["silent", "vouched", "removed"] as const) {
    if (!Array.isArray(hb[f]) || !hb[f].every((n) => typeof n === "string")) fail(`${f} must be an array of strings`);
  }
  if (hb.left !== undefined && !(Array.isArray(hb.left) && hb.left.every((d) => typeof d?.node === "string" && Number.isFinite(d.incarnation)))) {
    fail("left must be an array of { node, incarnation }");
  }
}
