/**
 * Which peers read compact delta envelopes (proto `DeltaEnvelope.writer`: the writer id once per
 * envelope instead of once per key's state). Each heartbeat says whether its sender does
 * (`Heartbeat.compact_deltas`); a release that predates them says nothing and would reject a
 * compact envelope as malformed. So a node publishes them only while every member of its data
 * center it knows of said so in its latest heartbeat: a member known but not heard yet (from a
 * peer's account at start) counts as one that does not.
 */
export class CompactReaders {
  private readonly readers = new Set<string>();

  /** `node`'s latest heartbeat said whether it reads them. */
  heard(node: string, readsCompact: boolean): void {
    if (readsCompact) this.readers.add(node);
    else this.readers.delete(node);
  }

  /** `node` left the membership: whatever process comes back under its id must say so again. */
  forget(node: string): void {
    this.readers.delete(node);
  }

  reads(node: string): boolean {
    return this.readers.has(node);
  }

  /** Whether every one of `peers` reads them (true for none). */
  all(peers: Iterable<string>): boolean {
    for (const p of peers) if (!this.readers.has(p)) return false;
    return true;
  }
}
