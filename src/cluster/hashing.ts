/**
 * Stable, fast hashes of key names for the anti-entropy digest tree.
 *
 * Every node must bucket a key identically, whatever its platform, so the hashes are defined over
 * the key's UTF-8 bytes (not JS code units): a non-JS peer can reproduce them. ASCII keys — the
 * common case — are hashed straight from `charCodeAt` without allocating.
 *
 * 64-bit arithmetic goes through BigInt.asUintN(64, ·), which V8's optimizing compiler lowers to
 * machine words; masking with `& 0xffff…n` instead allocates and measured ~20× slower.
 */

const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;
const U64 = 64;

const utf8 = new TextEncoder();

/**
 * FNV-1a 32 over the UTF-8 bytes of `s`, as an unsigned 32-bit number. `basis` replaces FNV's
 * offset basis: a process-local table seeds it at random, so keys chosen to collide in one
 * process's table do not collide in another's.
 */
export function fnv1a32(s: string, basis = FNV32_OFFSET): number {
  let h = basis;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return fnv1a32Bytes(utf8.encode(s), basis);
    h = Math.imul(h ^ c, FNV32_PRIME);
  }
  return h >>> 0;
}

function fnv1a32Bytes(bytes: Uint8Array, basis: number): number {
  let h = basis;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, FNV32_PRIME);
  return h >>> 0;
}

/** FNV-1a 64 over the UTF-8 bytes of `s`, as an unsigned 64-bit bigint. */
export function fnv1a64(s: string): bigint {
  // The state as four 16-bit limbs in small integers: per byte this is integer arithmetic only,
  // measured faster than a bigint multiply per byte or 32-bit halves (whose carry needs a division).
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2; // offset basis 0xcbf29ce484222325
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return fnv1a64Bytes(utf8.encode(s));
    h0 ^= c;
    // h * (2^40 + 0x1b3) mod 2^64: limb products by 0x1b3 with carries, plus h << 40, of which
    // only h0 and h1 land inside 64 bits (in limbs 2 and 3).
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (t1 >>> 16) + ((h0 << 8) & 0xffff);
    const t3 = h3 * 0x1b3 + (t2 >>> 16) + (h1 << 8) + (h0 >>> 8);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  const hi = ((h3 << 16) | h2) >>> 0;
  const lo = ((h1 << 16) | h0) >>> 0;
  return BigInt.asUintN(U64, (BigInt(hi) << 32n) | BigInt(lo));
}

function fnv1a64Bytes(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < bytes.length; i++) {
    h = BigInt.asUintN(U64, (h ^ BigInt(bytes[i]!)) * 0x100000001b3n);
  }
  return h;
}

/**
 * MurmurHash3's fmix64 finalizer: a bijection on 64 bits that is non-linear over XOR. The digest
 * tree XORs entry hashes together; without a non-linear step, swapping the contents of two keys
 * in one bucket (fnv(a)^x ^ fnv(b)^y == fnv(a)^y ^ fnv(b)^x) would go unnoticed.
 */
export function mix64(x: bigint): bigint {
  let k = BigInt.asUintN(U64, x);
  k = BigInt.asUintN(U64, k ^ (k >> 33n));
  k = BigInt.asUintN(U64, k * 0xff51afd7ed558ccdn);
  k = BigInt.asUintN(U64, k ^ (k >> 33n));
  k = BigInt.asUintN(U64, k * 0xc4ceb9fe1a85ec53n);
  return BigInt.asUintN(U64, k ^ (k >> 33n));
}

/**
 * The hash a key contributes to the digest tree: its name and its content hash mixed, so two keys
 * with identical contents never cancel out and a key's hash changes whenever its content does.
 * `contentHash` is the value's stable content hash (a tombstone's hash for a deleted key).
 */
export function keyEntryHash(key: string, contentHash: bigint): bigint {
  return mix64(BigInt.asUintN(U64, fnv1a64(key) ^ contentHash));
}
