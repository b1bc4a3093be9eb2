/** Protobuf varints written by hand, for the codecs that build messages without protobufjs (snapshot packs, bulk-pull pages). */

/** Write `n` (a non-negative safe integer) as a varint at `p` in `b`; returns the position after it. */
export function writeVarint(b: Uint8Array, p: number, n: number): number {
  while (n >= 0x80) {
    b[p++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  b[p++] = n;
  return p;
}

/** Bytes of `n` as a varint. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}
