/**
 * Virtual time for the simulation: timers fire in (due time, creation order) order when the driver
 * advances the clock, and no real time passes in between, so a 10-second partition costs what its
 * events cost. After every callback the driver yields one real macrotask, so the promise chains a
 * callback resolved (a reply awaited by a coordinated write, say) run before the next timer, as they
 * would between two timers of a real event loop.
 */
import type { Clock, TimerHandle } from "../../src/clock.js";

interface Timer extends TimerHandle {
  at: number;
  seq: number;
  readonly fn: () => void;
  /** Set for intervals. */
  readonly period: number | undefined;
  cancelled: boolean;
}

/** One real macrotask: every microtask queued so far (and those they queue) has run by then. */
const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  /** Pending timers sorted by (at, seq). */
  private readonly timers: Timer[] = [];
  /** Callbacks run so far (the cost of a run is in its events, not in its virtual duration). */
  events = 0;

  constructor(startMs: number) {
    this.t = startMs;
  }

  now = (): number => this.t;

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clear(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    const timer = handle as Timer;
    if (timer.cancelled) return;
    timer.cancelled = true;
    const i = this.timers.indexOf(timer);
    if (i >= 0) this.timers.splice(i, 1);
  }

  soon(fn: () => void): void {
    this.add(fn, 0, undefined);
  }

  /** Run every timer due within `ms` from now, in order; the clock then reads now + ms. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await this.runWhile(end, () => true);
    this.t = Math.max(this.t, end);
  }

  /**
   * Run timers until `done()` holds (checked before each one) or `limitMs` of virtual time has
   * passed. Returns whether `done()` held.
   */
  async until(done: () => boolean, limitMs: number): Promise<boolean> {
    const end = this.t + limitMs;
    await this.runWhile(end, () => !done());
    if (done()) return true;
    this.t = Math.max(this.t, end);
    return false;
  }

  /** Run timers until `promise` settles or `limitMs` of virtual time has passed; whether it settled (its outcome is the caller's). */
  async settles(promise: Promise<unknown>, limitMs: number): Promise<boolean> {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    return this.until(() => settled, limitMs);
  }

  private async runWhile(end: number, more: () => boolean): Promise<void> {
    await drainMicrotasks();
    while (more()) {
      const next = this.timers[0];
      if (next === undefined || next.at > end) return;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      if (next.period !== undefined) {
        next.at += next.period;
        next.seq = ++this.seq;
        this.insert(next);
      } else next.cancelled = true;
      this.events++;
      next.fn();
      await drainMicrotasks();
    }
  }

  private add(fn: () => void, ms: number, period: number | undefined): Timer {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: Timer = {
      at: this.t + delay,
      seq: ++this.seq,
      fn,
      period,
      cancelled: false,
      unref: () => timer,
    };
    this.insert(timer);
    return timer;
  }

  /** Binary-search insert by (at, seq); a handful of timers are pending at any time. */
  private insert(timer: Timer): void {
    const a = this.timers;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = a[mid]!;
      if (m.at < timer.at || (m.at === timer.at && m.seq < timer.seq)) lo = mid + 1;
      else hi = mid;
    }
    a.splice(lo, 0, timer);
  }
}
