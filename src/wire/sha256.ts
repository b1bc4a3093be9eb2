/**
 * SHA-256 with Node's one-shot `crypto.hash` (about 2× faster on small inputs), `createHash` before
 * Node 20.12; and for short inputs (the content hash of a counter, ~20 bytes, computed for every
 * changed key) the first 64 bits computed in JavaScript: through `crypto.hash` (a call into OpenSSL
 * and the Buffer it returns) 20–119 bytes took ~0.85–0.9 µs, here ~0.37 µs (one block, up to 55
 * bytes) and ~0.64 µs (two), measured side by side; from three blocks on OpenSSL is as fast or
 * faster. Both give the same digest (test/wire/sha256.test.ts compares them).
 */
import * as crypto from "node:crypto";

const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array | string, encoding: "buffer") => Buffer }).hash;

/** SHA-256 of `data` (a string is hashed as its UTF-8 bytes). */
export function sha256(data: Uint8Array | string): Buffer {
  return oneShot !== undefined ? oneShot("sha256", data, "buffer") : crypto.createHash("sha256").update(data).digest();
}

/** Inputs up to this many bytes (two blocks once padded) are hashed in JavaScript; longer ones by OpenSSL. */
const SHORT_MAX = 119;

// FIPS 180-4 §4.2.2 and §5.3.3.
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H0 = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
/** The padded message (at most two blocks) and the running state. */
const block = new Uint8Array(128);
const W = new Int32Array(64);
const H = new Int32Array(8);

/** The first 8 bytes of SHA-256(data[0, length)), big-endian, as an unsigned 64-bit bigint. */
export function sha256Head64(data: Uint8Array, length = data.length): bigint {
  if (length > SHORT_MAX) return sha256(data.subarray(0, length)).readBigUInt64BE(0);
  // Padding: 0x80, zeros, the length in bits as a 64-bit big-endian number (< 2^32 here).
  const blocks = length < 56 ? 1 : 2;
  const end = blocks * 64;
  block.set(data.subarray(0, length));
  block[length] = 0x80;
  block.fill(0, length + 1, end - 4);
  const bits = length * 8;
  block[end - 4] = bits >>> 24;
  block[end - 3] = (bits >>> 16) & 0xff;
  block[end - 2] = (bits >>> 8) & 0xff;
  block[end - 1] = bits & 0xff;
  H.set(H0);
  compress(0);
  if (blocks === 2) compress(64);
  return (BigInt(H[0]! >>> 0) << 32n) | BigInt(H[1]! >>> 0);
}

/** One SHA-256 compression of block[at, at + 64) into H. */
function compress(at: number): void {
  for (let i = 0; i < 16; i++) {
    const p = at + 4 * i;
    W[i] = (block[p]! << 24) | (block[p + 1]! << 16) | (block[p + 2]! << 8) | block[p + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = H[0]!;
  let b = H[1]!;
  let c = H[2]!;
  let d = H[3]!;
  let e = H[4]!;
  let f = H[5]!;
  let g = H[6]!;
  let h = H[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
  H[5] = (H[5]! + f) | 0;
  H[6] = (H[6]! + g) | 0;
  H[7] = (H[7]! + h) | 0;
}
