/**
 * Requests held back by a rate limit instead of dropped: a joiner's bulk pull (leaf-range pages,
 * several streams at a time) that meets the limit waits for it, and its pages arrive at the pace
 * the limit allows. Dropped, each page would cost the joiner a request timeout and end the bulk
 * pull (the ordinary round then names every key).
 *
 * Bounded, since only members get here but a member may be hostile: at most `perSource` requests
 * per source and `total` in all wait (each holds a small decoded request and a reply subject), and
 * none longer than `maxWaitMs` (past it the requester has given up). A request that cannot wait
 * is refused as before (no answer).
 */
import type { Clock } from "../clock.js";

export interface PacerLimits {
  perSource: number;
  total: number;
  maxWaitMs: number;
}

export class Pacer {
  private readonly waiting = new Map<string, number>();
  private count = 0;

  constructor(
    private readonly limits: PacerLimits,
    private readonly clock: Clock,
  ) {}

  /** Requests waiting now. */
  get size(): number {
    return this.count;
  }

  /**
   * Run `run` in `waitMs` ms, when bounds allow: true when it will run, false when refused.
   * `sinceMs`: when the request first waited (a request held again must not wait longer in all).
   */
  hold(source: string, waitMs: number, run: () => void, sinceMs = this.clock.now()): boolean {
    const l = this.limits;
    const own = this.waiting.get(source) ?? 0;
    if (this.clock.now() + waitMs - sinceMs > l.maxWaitMs || own >= l.perSource || this.count >= l.total) return false;
    this.waiting.set(source, own + 1);
    this.count++;
    const timer = this.clock.setTimeout(() => {
      const left = (this.waiting.get(source) ?? 1) - 1;
      if (left === 0) this.waiting.delete(source);
      else this.waiting.set(source, left);
      this.count--;
      run();
    }, Math.ceil(waitMs));
    timer.unref(); // a closing process does not wait for a held request
    return true;
  }
}
