/**
 * When a node may fold its retired writer ids (pure). How a fold works and why the name of the
 * fold id is its own marker: crdt/writer-ids.ts.
 *
 * A node that restarted without a clean snapshot writes under a fresh id; the ids of its earlier
 * processes are retired (one live process per node id: the duplicate check at start). Folding them
 * replaces, in every key, what this replica knows of them by one fold slot; every replica then drops
 * what it holds of them. So the fold must not happen before every live replica's knowledge of them
 * has reached this node — the "seen by all" step of Akka's pruning (PruningInitialized → Performed),
 * which it needs for the same reason: a replica holding more of a retired writer than the owner
 * would lose the difference. Here the step is a completed digest round (it pulls whatever a peer
 * holds differently) with every member, each ended after `settleMs` from this process's start: by
 * then an earlier process of this id, had it still been alive (a holder check that timed out), has
 * been heard, and deltas it sent before dying have arrived everywhere.
 */

import type { MembershipEvent } from "./membership.js";
import { quorum } from "./quorum.js";

export interface FoldReadiness {
  /** Now, ms. */
  now: number;
  /** This process's start, ms. */
  startedAtMs: number;
  /** Delay after the start before a round counts (the failure timeout is a sound choice). */
  settleMs: number;
  /** Every member but this node (counted or not, reachable or not). */
  peers: readonly { node: string; reachable: boolean }[];
  /** When the last completed digest round with each peer ended, ms. */
  roundsEnded: ReadonlyMap<string, number>;
  /** Another live process with this node id was heard: its writes are not retired. */
  duplicateHeard: boolean;
  /**
   * Members (of its role) this node knows of as N for quorums, self included, and the least it
   * must know of (`minClusterSize`) before its peers can be taken for every live replica. A node
   * restarted cut off from part of the cluster knows only the members it has heard: synced with
   * them alone it would fold (and adopt) over knowledge it lacks, and its fold id would drop, on
   * every replica, what the unheard members hold of its retired ids. Both default to 1 (no bound).
   */
  knownMembers?: number;
  minMembers?: number;
}

/** Whether every live replica's knowledge of this node's retired ids has reached it. */
export function mayFoldRetired(r: FoldReadiness): boolean {
  return (
    !r.duplicateHeard && (r.knownMembers ?? 1) >= (r.minMembers ?? 1) && r.now >= r.startedAtMs + r.settleMs && foldWaitsFor(r).length === 0
  );
}

/** The peers a fold still waits for (those `mayFoldRetired` finds unreachable or not yet synced). */
export function foldWaitsFor(r: FoldReadiness): string[] {
  const since = r.startedAtMs + r.settleMs;
  return r.peers.filter((p) => !p.reachable || (r.roundsEnded.get(p.node) ?? -Infinity) < since).map((p) => p.node);
}

/**
 * Nodes removed from the membership whose ids this node may fold now (see crdt/writer-ids.ts
 * `removedFoldId`). One owner folds, the data center's leader (deterministic), and only when
 * the node has stayed away `delayMs` and every live replica's knowledge of it has reached the
 * leader: a completed digest round with each member, ended `settleMs` after the removal (by then
 * what the removed node sent before going has reached everyone). A removed node that is in fact
 * alive comes back with a fresh writer id and re-issues what the fold missed (crdt/comeback.ts).
 *
 * An absorption moves the node's amount into the absorbing leader's own slot (writer-ids.ts), so it
 * must happen once per key: a second leader absorbing the same ids before it saw the first's
 * absorption would count them twice. So a leader absorbs only after a digest round with each member
 * that ended `settleMs` after it became the leader: whatever an earlier leader absorbed and any
 * member holds has reached it by then, and the earlier leader, no longer leading, absorbs no more.
 * And only with a majority of the cluster on its side (`minMembers`, the least N quorums assume,
 * as majority writes do): in a partition, each side votes the other out and elects a leader of
 * its own, and two leaders absorbing the same removed node's ids would count them twice.
 * And only when every member it sees is in the agreed membership: leadership counts only those,
 * so while an older member rejoins (after a partition, seen but not yet readmitted), it may be
 * leading in its own view while this node leads in this one, and both would absorb at once
 * (simulation: two leaders of one side each absorbed a removed node's decrement).
 */
export interface RemovedFoldReadiness {
  now: number;
  /** `pruneRetiredAfterMs`; 0: never. */
  delayMs: number;
  settleMs: number;
  isLeader: boolean;
  /** Nodes removed by vote or gone by leave, with when, ms (see RemovedNodes). */
  removed: ReadonlyMap<string, number>;
  /** Every member but this node; `agreed`: in the agreed membership, as leadership counts members (Membership.leader). */
  peers: readonly { node: string; reachable: boolean; agreed: boolean }[];
  roundsEnded: ReadonlyMap<string, number>;
  /** Since when this node has been the leader (as its prune ticks saw it). */
  leaderSinceMs: number;
  /** `minClusterSize`: this node and its peers must be a majority of at least that many. Default 1. */
  minMembers?: number;
}

export function removedToFold(r: RemovedFoldReadiness): string[] {
  if (r.delayMs <= 0 || !r.isLeader) return [];
  if (r.peers.some((p) => !p.reachable || !p.agreed)) return [];
  const side = 1 + r.peers.length;
  if (side < quorum("majority", Math.max(r.minMembers ?? 1, side))) return [];
  const members = new Set(r.peers.map((p) => p.node));
  const out: string[] = [];
  for (const [node, atMs] of r.removed) {
    if (members.has(node) || r.now - atMs < r.delayMs) continue;
    const since = Math.max(atMs, r.leaderSinceMs) + r.settleMs;
    if (r.peers.every((p) => (r.roundsEnded.get(p.node) ?? -Infinity) >= since)) out.push(node);
  }
  return out.sort();
}

/** At most this many removed nodes are remembered (oldest dropped): a bound for churning clusters. */
export const MAX_REMOVED_NODES = 4096;

/**
 * When each node left the membership (by vote or leave), until it is back; and which of them this
 * node still holds ids of, unfolded. Those it tells its DC in every heartbeat (`unpruned`), so the
 * knowledge outlives the members that saw the node go: a member that started or restarted since
 * learns it (`relayed`) and tells it on in turn, until the leader has folded the ids.
 */
export class RemovedNodes {
  private readonly table = new Map<string, number>();
  /** Removed nodes the last store scan found no unfolded id of; one not scanned yet counts as held. */
  private readonly unheld = new Set<string>();

  constructor(private readonly cap = MAX_REMOVED_NODES) {}

  removed(node: string, atMs: number): void {
    this.table.delete(node); // re-inserted last: the map's order is removal order
    this.table.set(node, atMs);
    this.unheld.delete(node);
    if (this.table.size > this.cap) this.back(this.table.keys().next().value!);
  }

  /**
   * A peer of this DC says `node` left or was voted out, and this node does not hold it: it
   * started after the node went (or restarted and forgot), so no removal of its own will tell it.
   * Remembered from now unless it already is: else, once every member that saw the node go has
   * restarted or left too, nobody would ever fold its ids.
   */
  relayed(node: string, atMs: number): void {
    if (!this.table.has(node)) this.removed(node, atMs);
  }

  back(node: string): void {
    this.table.delete(node);
    this.unheld.delete(node);
  }

  /** A scan of the store ended: `held` are the removed nodes some key here holds an unfolded id of. */
  scanned(held: ReadonlySet<string>): void {
    this.unheld.clear();
    for (const node of this.table.keys()) if (!held.has(node)) this.unheld.add(node);
  }

  /** The removed nodes still held here (as far as the last scan knows), the earliest removed first, at most `limit`. */
  unpruned(limit: number): string[] {
    const out: string[] = [];
    for (const node of this.table.keys()) {
      if (out.length >= limit) break;
      if (!this.unheld.has(node)) out.push(node);
    }
    return out;
  }

  /**
   * A membership event: a member that left or was voted out is remembered (not one that restarted:
   * it is back at once), one heard again forgotten. A newcomer forgotten without a vote is no
   * departure: a node cut off as the cluster formed (its agreed membership only itself) forgets the
   * others so, and must not absorb the ids of members that are alive.
   */
  note(e: MembershipEvent, nowMs: number): void {
    if (e.type === "removed") {
      if (e.reason !== "restarted" && e.newcomer !== true) this.removed(e.member.node, nowMs);
    } else if (e.type === "joined" || e.type === "counted") this.back(e.member.node);
  }

  get entries(): ReadonlyMap<string, number> {
    return this.table;
  }
}
