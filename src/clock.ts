/**
 * Time as the replicator and the in-memory bus see it: the wall clock and timers. The system clock
 * is the default; a simulation passes a virtual one (test/sim/virtual-clock.ts) so that minutes of
 * heartbeats, failure detection and timeouts run in milliseconds, in a seeded order.
 */

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
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout> | undefined),
  soon: (fn) => void setImmediate(fn),
};

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
