/**
 * LWW timestamps: where a write without an explicit timestamp gets its own, and the largest one a
 * value carries (what a skew bound checks).
 *
 * The crdt folder reads no clock of its own choosing: `lwwNow` is the clock the caller installed
 * for the current synchronous call (the replicator installs its hybrid logical clock around a
 * `modify` function, see `withLwwClock`); outside such a call, a standalone value defaults to the
 * wall clock, `Date.now`.
 */
import { registeredDataTypes } from "./descriptor.js";
import type { Crdt } from "./types.js";

let clock: () => number = Date.now;

/** The timestamp for an LWW write that names none (LWWRegister.set, LWWMap.put). */
export function lwwNow(): number {
  return clock();
}

/** Run `fn` with `now` as the source of default LWW timestamps; restored afterwards, also on a throw. */
export function withLwwClock<T>(now: () => number, fn: () => T): T {
  return callWithLwwClock(now, fn, undefined, undefined);
}

/** `withLwwClock` of `fn(a, b)`: a write's `modify(current, self)` without a closure per write. */
export function callWithLwwClock<A, B, T>(now: () => number, fn: (a: A, b: B) => T, a: A, b: B): T {
  const previous = clock;
  clock = now;
  try {
    return fn(a, b);
  } finally {
    clock = previous;
  }
}

/**
 * The order of two writers on equal LWW timestamps: by node id (a writer id `nodeId~incarnation`
 * counts as its node id; node ids never contain "~"), then by the whole writer id, so a node's
 * restarts never change who wins a tie against another node and every replica ranks alike.
 */
export function compareWriters(a: string, b: string): number {
  if (a === b) return 0;
  const na = nodePart(a);
  const nb = nodePart(b);
  if (na !== nb) return na < nb ? -1 : 1;
  return a < b ? -1 : 1;
}

function nodePart(writer: string): string {
  const i = writer.indexOf("~");
  return i < 0 ? writer : writer.slice(0, i);
}

/**
 * The largest LWW timestamp in `value` (its type's `maxLwwTimestamp` capability: a register's,
 * every field of an LWW map, every register in an ORMap of registers or of LWW maps; a removed
 * key's value is gone). 0 for values without LWW timestamps.
 */
export function maxLwwTimestamp(value: Crdt): number {
  return registeredDataTypes().get(value.kind)?.maxLwwTimestamp?.(value) ?? 0;
}
