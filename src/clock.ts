/**
 * Time as the replicator and the in-memory bus see it: the wall clock and timers. The system clock
 * is the default; a simulation passes a virtual one (test/sim/virtual-clock.ts) so that minutes of
 * heartbeats, failure detection and timeouts run in milliseconds, in a seeded order.
 */
import { performance } from "node:perf_hooks";

/** A pending timer; `unref` lets the process exit while it waits (a no-op in virtual time). */
export interface TimerHandle {
  unref(): unknown;
}

export interface Clock {
  /** Wall clock, ms since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timeout or an interval; undefined is ignored. */
  clear(handle: TimerHandle | undefined): void;
  /** Run `fn` once the current event-loop turn is over (setImmediate). */
  soon(fn: () => void): void;
  /**
   * The share (0–1) of the last half second to second the event loop spent running callbacks
   * rather than waiting: what is spare for work that may use idle time (request-server.ts).
   * Absent on a virtual clock (no time is spare there: its runs stay deterministic).
   */
  loopBusy?(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout> | undefined),
  soon: (fn) => void setImmediate(fn),
  loopBusy: () => loopLoad.busy(),
};

/**
 * The event loop's utilization (from Node's measure of the loop's idle time) since the older of
 * two marks, the older replaced by the newer once the newer is LOOP_WINDOW_MS old: it covers the
 * last one to two windows. After a longer pause between calls it covers the pause, for one window.
 */
class LoopLoad {
  private older = performance.eventLoopUtilization();
  private newer = this.older;

  busy(): number {
    const now = performance.eventLoopUtilization();
    const since = (mark: EventLoopUtilization): number => now.idle + now.active - mark.idle - mark.active;
    if (since(this.newer) >= LOOP_WINDOW_MS) [this.older, this.newer] = [this.newer, now];
    return since(this.older) < LOOP_MIN_MS ? 1 : performance.eventLoopUtilization(now, this.older).utilization;
  }
}

type EventLoopUtilization = ReturnType<typeof performance.eventLoopUtilization>;
const LOOP_WINDOW_MS = 500;
/** Less than this known (just started): counted as busy. */
const LOOP_MIN_MS = 50;
const loopLoad = new LoopLoad();

/** Wall clock with sub-millisecond precision, comparable across processes (lag metrics). */
export const preciseWallClockMs = (): number => performance.timeOrigin + performance.now();

/**
 * Run `fn` every `ms` on `clock`, never keeping the process alive and never throwing out of the
 * timer: an exception goes to `onError` and the next tick runs as usual.
 */
export function every(clock: Clock, ms: number, fn: () => void, onError: (error: unknown) => void): TimerHandle {
  const timer = clock.setInterval(() => {
    try {
      fn();
    } catch (error) {
      onError(error);
    }
  }, ms);
  timer.unref();
  return timer;
}
