/**
 * Stable, fast hashes of key names for the anti-entropy digest tree.
 *
 * Every node must bucket a key identically, whatever its platform, so the hashes are defined over
 * the key's UTF-8 bytes (not JS code units): a non-JS peer can reproduce them. ASCII keys — the
 * common case — are hashed straight from `charCodeAt` without allocating.
 */

const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;
// FNV-1a 64: offset 0xcbf29ce484222325, prime 0x100000001b3 = 2^40 + 0x1b3, kept as 32-bit halves
// because number arithmetic is several times faster than bigint on the hot path.
const FNV64_OFFSET_HI = 0xcbf29ce4;
const FNV64_OFFSET_LO = 0x84222325;
const FNV64_PRIME_LO = 0x1b3;
const TWO_32 = 4294967296;

const utf8 = new TextEncoder();

/** FNV-1a 32 over the UTF-8 bytes of `s`, as an unsigned 32-bit number. */
export function fnv1a32(s: string): number {
  let h = FNV32_OFFSET;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return fnv1a32Bytes(utf8.encode(s));
    h = Math.imul(h ^ c, FNV32_PRIME);
  }
  return h >>> 0;
}

function fnv1a32Bytes(bytes: Uint8Array): number {
  let h = FNV32_OFFSET;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, FNV32_PRIME);
  return h >>> 0;
}

/** FNV-1a 64 over the UTF-8 bytes of `s`, as an unsigned 64-bit bigint. */
export function fnv1a64(s: string): bigint {
  let hi = FNV64_OFFSET_HI;
  let lo = FNV64_OFFSET_LO;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return fnv1a64Bytes(utf8.encode(s));
    // (hi:lo) * (2^40 + 0x1b3) mod 2^64: lo*0x1b3 < 2^41 is exact in a double; the 2^40 term
    // only reaches the high word, as lo << 8.
    const p = (lo ^ c) >>> 0;
    const prod = p * FNV64_PRIME_LO;
    lo = prod >>> 0;
    hi = (Math.imul(hi, FNV64_PRIME_LO) + Math.floor(prod / TWO_32) + (p << 8)) >>> 0;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function fnv1a64Bytes(bytes: Uint8Array): bigint {
  let hi = FNV64_OFFSET_HI;
  let lo = FNV64_OFFSET_LO;
  for (let i = 0; i < bytes.length; i++) {
    const p = (lo ^ bytes[i]!) >>> 0;
    const prod = p * FNV64_PRIME_LO;
    lo = prod >>> 0;
    hi = (Math.imul(hi, FNV64_PRIME_LO) + Math.floor(prod / TWO_32) + (p << 8)) >>> 0;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

const MASK64 = 0xffffffffffffffffn;

/**
 * MurmurHash3's fmix64 finalizer: a bijection on 64 bits that is non-linear over XOR. The digest
 * tree XORs entry hashes together; without a non-linear step, swapping the contents of two keys
 * in one bucket (fnv(a)^x ^ fnv(b)^y == fnv(a)^y ^ fnv(b)^x) would go unnoticed.
 */
export function mix64(x: bigint): bigint {
  let k = x & MASK64;
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & MASK64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & MASK64;
  k ^= k >> 33n;
  return k;
}

/**
 * The hash a key contributes to the digest tree: its name and its content hash mixed, so two keys
 * with identical contents never cancel out and a key's hash changes whenever its content does.
 * `contentHash` is the value's stable content hash (a tombstone's hash for a deleted key).
 */
export function keyEntryHash(key: string, contentHash: bigint): bigint {
  return mix64(fnv1a64(key) ^ (contentHash & MASK64));
}
