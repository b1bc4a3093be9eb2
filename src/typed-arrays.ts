/** Growing the typed arrays that keep per-entry data out of the heap's objects (digest tree, key table, restore). */

/** `into`, holding a copy of `from` (`into` is the larger). */
export function grown<T extends Int32Array | Uint8Array | BigUint64Array>(from: T, into: T): T {
  into.set(from as never);
  return into;
}
