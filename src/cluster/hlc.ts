/**
 * The hybrid logical clock LWW timestamps come from (one per replicator). Pure: the wall clock is
 * injected. A timestamp is in milliseconds since the epoch, like the wall clock it follows.
 *
 * - `now()` = max(wall, last): never below a timestamp this node issued or accepted, so a write
 *   made after seeing a value is stamped at least as late, even when this host's clock is behind
 *   or was stepped back. (Strictly later on the same register: LWWRegister adds 1 over its current
 *   write. Not across registers: a per-call +1 would run ahead of the wall clock by a millisecond
 *   per write beyond one write per millisecond, and soon past the skew bound.)
 * - `observe(t)` raises `last` to t, but only within the skew bound: a timestamp more than
 *   `maxSkewMs` ahead of the wall clock is refused (returns false) and leaves the clock alone, so
 *   one host with a clock far ahead cannot drag every other clock along.
 */
export class HybridClock {
  private last = 0;

  constructor(
    private readonly wall: () => number,
    readonly maxSkewMs: number,
  ) {}

  /** A timestamp for a write now. */
  now(): number {
    this.last = Math.max(Math.floor(this.wall()), this.last);
    return this.last;
  }

  /** The latest timestamp a write may carry now: the wall clock plus the skew bound. */
  bound(): number {
    return Math.floor(this.wall()) + this.maxSkewMs;
  }

  /** Whether `timestamp` is within the bound; if so, later `now()`s are at least that. */
  observe(timestamp: number): boolean {
    if (timestamp <= 0) return true; // no LWW timestamp (the common case): no clock to read
    if (timestamp > this.bound()) return false;
    if (timestamp > this.last) this.last = timestamp;
    return true;
  }
}
