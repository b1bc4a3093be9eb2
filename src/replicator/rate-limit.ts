/**
 * Token buckets (pure: time is passed in), one per source and one for all, so a flood of requests
 * cannot make a node spend its event loop answering them. A request is let in while both its
 * source's bucket and the shared one hold a token; what answering it cost (e.g. the bytes of its
 * reply, known only after) is then charged to both, so one request may leave a bucket in debt and
 * the next ones wait until the refill pays it back. The per-source buckets are bounded: past
 * `maxSources`, the source not heard of for longest is forgotten (a fresh bucket for it later is
 * harmless: the shared bucket still caps everyone together).
 */

/**
 * This process's CPU time, ms: what answering a request cost is charged by it, not by wall time,
 * which on a shared machine also counts the time other processes held the cores (the answer cost
 * this node nothing then). All threads count (the garbage collector's helpers too): an upper bound
 * on the event loop's share.
 */
export function cpuTimeMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export interface Bucket {
  readonly tokens: number;
  readonly atMs: number;
}

export interface RateLimit {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Most tokens a bucket holds (the burst). */
  readonly burst: number;
}

/** `b` refilled up to `nowMs` (a new source starts full). */
export function refill(b: Bucket | undefined, limit: RateLimit, nowMs: number): Bucket {
  if (b === undefined) return { tokens: limit.burst, atMs: nowMs };
  const elapsedMs = Math.max(0, nowMs - b.atMs);
  return { tokens: Math.min(limit.burst, b.tokens + (elapsedMs * limit.perSecond) / 1000), atMs: Math.max(b.atMs, nowMs) };
}

export interface RateLimiterOptions {
  perSource: RateLimit;
  total: RateLimit;
  maxSources: number;
}

export class RateLimiter {
  private readonly sources = new Map<string, Bucket>();
  private total: Bucket | undefined;

  constructor(private readonly o: RateLimiterOptions) {}

  /** Whether `source` may be answered now. Charges nothing (see `charge`). */
  allow(source: string, nowMs: number): boolean {
    const total = refill(this.total, this.o.total, nowMs);
    this.total = total;
    const own = this.touch(source, refill(this.sources.get(source), this.o.perSource, nowMs));
    return own.tokens > 0 && total.tokens > 0;
  }

  /**
   * Milliseconds until `source` may be answered (0: now): until both its bucket and the shared
   * one hold a token again. Charges nothing and keeps no state for a source not seen yet.
   */
  waitMs(source: string, nowMs: number): number {
    const total = refill(this.total, this.o.total, nowMs);
    const own = refill(this.sources.get(source), this.o.perSource, nowMs);
    const lack = (b: Bucket, limit: RateLimit): number => (b.tokens > 0 ? 0 : ((-b.tokens + 1e-6) * 1000) / limit.perSecond);
    return Math.max(lack(own, this.o.perSource), lack(total, this.o.total));
  }

  /** Charge `cost` tokens to `source` and to the shared bucket. */
  charge(source: string, cost: number, nowMs: number): void {
    const total = refill(this.total, this.o.total, nowMs);
    this.total = { tokens: total.tokens - cost, atMs: total.atMs };
    const own = refill(this.sources.get(source), this.o.perSource, nowMs);
    this.touch(source, { tokens: own.tokens - cost, atMs: own.atMs });
  }

  /** Sources with a bucket. */
  get size(): number {
    return this.sources.size;
  }

  private touch(source: string, b: Bucket): Bucket {
    // Insertion order is recency: the head is the source not heard of for longest.
    this.sources.delete(source);
    this.sources.set(source, b);
    if (this.sources.size > this.o.maxSources) this.sources.delete(this.sources.keys().next().value!);
    return b;
  }
}
