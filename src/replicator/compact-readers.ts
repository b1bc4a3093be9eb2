/**
 * Which peers read compact delta envelopes (proto `DeltaEnvelope.writer`: the writer id once per
 * envelope instead of once per key's state). Each heartbeat says whether its sender does
 * (`Heartbeat.compact_deltas`); a release that predates them says nothing and would reject a
 * compact envelope as malformed. So a node publishes them only while every member of its data
 * center it knows of said so in its latest heartbeat: a member known but not heard yet (from a
 * peer's account at start) counts as one that does not. A starting node (its hello) subscribes to
 * the deltas before its first heartbeat says which release it runs: none are compact until then.
 */
export class CompactReaders {
  private readonly readers = new Set<string>();
  /** Nodes that said hello and have not been heard since, with when (ms). */
  private readonly starting = new Map<string, number>();

  /**
   * `node` is starting (its hello). The hello precedes its first heartbeat by the hello round and
   * the identity check, far less than STARTING_MS; a process that never gets that far holds compact
   * envelopes back that long at most. Hellos are rate-limited (request-server.ts), so is this map.
   */
  hello(node: string, nowMs: number): void {
    this.readers.delete(node);
    this.starting.set(node, nowMs);
  }

  /** `node`'s latest heartbeat said whether it reads them. */
  heard(node: string, readsCompact: boolean): void {
    this.starting.delete(node);
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

  /** Whether every one of `peers` reads them (true for none) and no node is starting. */
  all(peers: Iterable<string>, nowMs: number): boolean {
    for (const [node, at] of this.starting) {
      if (nowMs - at < STARTING_MS) return false;
      this.starting.delete(node);
    }
    for (const p of peers) if (!this.readers.has(p)) return false;
    return true;
  }
}

/** How long a hello holds compact envelopes back without a heartbeat of its node. */
export const STARTING_MS = 30_000;
