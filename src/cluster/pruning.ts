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
}

/** Whether every live replica's knowledge of this node's retired ids has reached it. */
export function mayFoldRetired(r: FoldReadiness): boolean {
  return !r.duplicateHeard && r.now >= r.startedAtMs + r.settleMs && foldWaitsFor(r).length === 0;
}

/** The peers a fold still waits for (those `mayFoldRetired` finds unreachable or not yet synced). */
export function foldWaitsFor(r: FoldReadiness): string[] {
  const since = r.startedAtMs + r.settleMs;
  return r.peers.filter((p) => !p.reachable || (r.roundsEnded.get(p.node) ?? -Infinity) < since).map((p) => p.node);
}
