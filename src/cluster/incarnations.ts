/**
 * Incarnations that only ever grow per node id, whatever the wall clock does (pure).
 *
 * A node's incarnation tells peers which of its processes is current: they drop heartbeats and
 * deltas of a lower one as stale. A wall-clock start time is not enough: a node whose clock was
 * ahead, then corrected, would restart *below* its previous incarnation. So a starting node takes
 * max(wall clock, every incarnation it can learn of + 1): the one persisted in its snapshot, the
 * newest its peers know (they answer a hello at start, see replicator/identity.ts, from the
 * memory below), and the last one taken in this process.
 */

export interface IncarnationSources {
  /** The wall clock now, ms. */
  wallMs: number;
  /** The incarnation in this node's snapshot meta; 0: none. */
  persisted: number;
  /** The newest incarnation live peers know for this node id; 0: none. */
  learned: number;
  /** The last incarnation taken in this process for this node id; 0: none. */
  lastInProcess: number;
}

export function chooseIncarnation(s: IncarnationSources): number {
  return Math.max(Math.floor(s.wallMs), s.persisted + 1, s.learned + 1, s.lastInProcess + 1);
}

/**
 * The start time a node advertises (the oldest member of a DC leads it, and the newer of two
 * members pulls on join): after every member peers know of, so a newcomer is the youngest member
 * whatever its clock says. A newcomer with a clock behind would otherwise take the lead from a
 * long-running leader, and make every member pull from it, empty, instead of pulling once itself.
 */
export function chooseStartedAt(wallMs: number, youngestKnownStartedAtMs: number): number {
  return Math.max(Math.floor(wallMs), youngestKnownStartedAtMs + 1);
}

/**
 * The newest incarnation seen per node id, kept after the node was removed or left (so a restart
 * can learn it), bounded: past `capacity` ids, the one not heard of for longest is forgotten.
 */
export class IncarnationMemory {
  // Insertion order is recency: a refreshed id moves to the end.
  private readonly newest = new Map<string, number>();

  constructor(private readonly capacity = 4096) {}

  note(node: string, incarnation: number): void {
    const known = this.newest.get(node);
    if (known !== undefined) this.newest.delete(node);
    this.newest.set(node, Math.max(known ?? 0, incarnation));
    if (this.newest.size > this.capacity) this.newest.delete(this.newest.keys().next().value!);
  }

  /** The newest incarnation seen for `node`; 0 when none is remembered. */
  get(node: string): number {
    return this.newest.get(node) ?? 0;
  }

  get size(): number {
    return this.newest.size;
  }
}
