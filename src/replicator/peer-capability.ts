/**
 * Which peers have a capability their heartbeats announce, such as reading compact delta envelopes
 * (`Heartbeat.compact_deltas`: the writer id once per envelope instead of once per key's state) or
 * writer-id markers (`Heartbeat.reads_markers`). A release that predates a capability says nothing
 * and would misread what needs it. So a node uses one only while every member of its data center it
 * knows of said so in its latest heartbeat: a member known but not heard yet (from a peer's account
 * at start) counts as one that does not. A starting node (its hello) subscribes to the deltas
 * before its first heartbeat says which release it runs: it has none of them until then.
 */
export class PeerCapability {
  private readonly holders = new Set<string>();
  /** Nodes that said hello and have not been heard since, with when (ms). */
  private readonly starting = new Map<string, number>();
  /** `allOf`'s last answer: for which list, until when (a starting node's hello expiring changes it). */
  private memo: { peers: readonly string[]; result: boolean; untilMs: number } | undefined;

  /**
   * `node` is starting (its hello). The hello precedes its first heartbeat by the hello round and
   * the identity check, far less than STARTING_MS; a process that never gets that far holds the
   * capability back that long at most. Hellos are rate-limited (request-server.ts), so is this map.
   */
  hello(node: string, nowMs: number): void {
    this.memo = undefined;
    this.holders.delete(node);
    this.starting.set(node, nowMs);
  }

  /** `node`'s latest heartbeat said whether it has the capability. */
  heard(node: string, has: boolean): void {
    this.memo = undefined;
    this.starting.delete(node);
    if (has) this.holders.add(node);
    else this.holders.delete(node);
  }

  /** `node` left the membership: whatever process comes back under its id must say so again. */
  forget(node: string): void {
    this.memo = undefined;
    this.holders.delete(node);
  }

  has(node: string): boolean {
    return this.holders.has(node);
  }

  /** Whether every one of `peers` has it (true for none) and no node is starting. */
  all(peers: Iterable<string>, nowMs: number): boolean {
    if (this.anyStarting(nowMs)) return false;
    for (const p of peers) if (!this.holders.has(p)) return false;
    return true;
  }

  /**
   * `all` for a list that is replaced, never changed in place, when the peers change (a flush asks
   * at every envelope): the last answer while the list and the capabilities are the same.
   */
  allOf(peers: readonly string[], nowMs: number): boolean {
    const m = this.memo;
    if (m !== undefined && m.peers === peers && nowMs < m.untilMs) return m.result;
    const result = this.all(peers, nowMs);
    let untilMs = Infinity;
    for (const at of this.starting.values()) untilMs = Math.min(untilMs, at + STARTING_MS);
    this.memo = { peers, result, untilMs };
    return result;
  }

  /** Whether a node said hello within STARTING_MS and has not been heard since: whether it has the capability is not known yet. */
  anyStarting(nowMs: number): boolean {
    for (const [node, at] of this.starting) {
      if (nowMs - at < STARTING_MS) return true;
      this.starting.delete(node);
    }
    return false;
  }
}

/** How long a hello holds a capability back without a heartbeat of its node. */
export const STARTING_MS = 30_000;
