/**
 * Hand-written readers for the two shapes decoded by the million (a snapshot restore, a join):
 * a GCounterState, and a snapshot entry holding one value. Each accepts only the exact bytes our
 * encoder writes and returns undefined for anything else, so the generic protobufjs decoder still
 * decides every unusual or corrupt input (test/wire/gcounter-fast.test.ts and
 * test/durable/corrupt.test.ts hold them to that).
 */
import { GCounter } from "../crdt/gcounter.js";
import type { StoredDigestHash } from "./shapes.js";

/** A read position in `bytes`, up to `end`. */
export interface Cursor {
  readonly bytes: Uint8Array;
  p: number;
  readonly end: number;
}

/** A varint of at most `maxBytes` bytes at the cursor (advanced past it), or -1. */
export function varint(c: Cursor, maxBytes: number): number {
  let value = 0;
  for (let i = 0, scale = 1; i < maxBytes && c.p < c.end; i++, scale *= 128) {
    const b = c.bytes[c.p++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
  }
  return -1;
}

/** A non-empty ASCII string of `len` bytes at the cursor (advanced past it), or undefined. */
export function ascii(c: Cursor, len: number): string | undefined {
  if (len === 0 || c.p + len > c.end) return undefined;
  for (let i = 0; i < len; i++) if (c.bytes[c.p + i]! >= 0x80) return undefined; // non-ASCII: the generic path checks UTF-8
  const s = latin1String(c.bytes, c.p, len);
  c.p += len;
  return s;
}

/**
 * The string of the one-byte chars b[p, p + len) (ASCII, checked by the caller). Keys and ids are
 * short: up to 16 chars are made by one `String.fromCharCode` call with the codes as arguments,
 * ~20 ns for an 11-char key, where a concatenation per char took 80–150 ns and
 * `Buffer#toString("latin1")` 50–110 ns (a call into C++), which makes the rare longer ones.
 */
export function latin1String(b: Uint8Array, p: number, len: number): string {
  const f = String.fromCharCode;
  switch (len) {
    case 0: return "";
    case 1: return f(b[p]!);
    case 2: return f(b[p]!, b[p + 1]!);
    case 3: return f(b[p]!, b[p + 1]!, b[p + 2]!);
    case 4: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!);
    case 5: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!);
    case 6: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!);
    case 7: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!);
    case 8: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!);
    case 9: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!);
    case 10: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!);
    case 11: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!);
    case 12: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!, b[p + 11]!);
    case 13: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!, b[p + 11]!, b[p + 12]!);
    case 14: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!, b[p + 11]!, b[p + 12]!, b[p + 13]!);
    case 15: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!, b[p + 11]!, b[p + 12]!, b[p + 13]!, b[p + 14]!);
    case 16: return f(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!, b[p + 11]!, b[p + 12]!, b[p + 13]!, b[p + 14]!, b[p + 15]!);
    // Any length (a hostile page's megabyte-long key is refused only once it is a string).
    default: return Buffer.from(b.buffer, b.byteOffset + p, len).toString("latin1");
  }
}

/** Whether b[from, to) are ASCII and the chars of `s`: a key compared without making a string of the bytes. */
export function sameAscii(b: Uint8Array, from: number, to: number, s: string): boolean {
  if (to - from !== s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[from + i]! >= 0x80 || b[from + i] !== s.charCodeAt(i)) return false;
  return true;
}

/**
 * Node ids read lately. A store's counters name the same few writers again and again, so a
 * restore or a join of a million keys would otherwise build (and drop) a string per slot: an id
 * whose bytes match one of these is that string. Bounded, replaced round-robin.
 */
const RECENT_NODES = 16;
const recentNodes: string[] = [];
let recentNext = 0;

/** The ASCII node id in bytes[at, at + len) (len > 0, in bounds): a recent one, or a new string; undefined when not ASCII. */
export function nodeIdAt(bytes: Uint8Array, at: number, len: number): string | undefined {
  for (let i = 0; i < recentNodes.length; i++) {
    const s = recentNodes[i]!;
    if (s.length !== len) continue;
    let j = 0;
    while (j < len && s.charCodeAt(j) === bytes[at + j]) j++;
    if (j === len) return s;
  }
  const s = ascii({ bytes, p: at, end: at + len }, len);
  if (s !== undefined) {
    recentNodes[recentNext] = s;
    recentNext = (recentNext + 1) % RECENT_NODES;
  }
  return s;
}

/**
 * A GCounter read from its GCounterState's bytes, when they are exactly a run of slots `0x0a len
 * (0x0a len node 0x10 value)` with a one-byte length, an ASCII node and a safe-integer value;
 * undefined otherwise. With `writer` (the compact form of an envelope, see states.ts
 * `encodeState`), a slot may leave its node out: `0x0a len (0x10 value)`. Validated as
 * `GCounter.fromState` validates (its errors are thrown). Read with plain positions: a lone slot
 * (the usual counter) straight into the counter, more into one array of the exact size, which the
 * counter keeps: a restore reads a million of these, and an object per slot would be garbage the
 * moment the counter exists. `start`/`end`: the state is bytes[start, end) of a larger buffer.
 */
export function gcounterOfBytes(bytes: Uint8Array, writer?: string, start = 0, end = bytes.length): GCounter | undefined {
  let count = 0;
  for (let p = start; p < end; count++) {
    const slotLen = bytes[p + 1];
    if (bytes[p] !== 0x0a || slotLen === undefined || slotLen >= 0x80) return undefined;
    p += 2 + slotLen;
    if (p > end) return undefined;
  }
  if (count === 1) {
    const node = slotAt(bytes, start, writer);
    return node === undefined ? undefined : GCounter.fromSlot(node, slotValue);
  }
  const slots = new Array<string | number>(2 * count);
  for (let p = start, k = 0; k < count; k++, p += 2 + bytes[p + 1]!) {
    const node = slotAt(bytes, p, writer);
    if (node === undefined) return undefined;
    slots[2 * k] = node;
    slots[2 * k + 1] = slotValue;
  }
  return GCounter.fromFlatSlots(slots);
}

/**
 * Whether bytes[start, end) are a GCounterState `gcounterOfBytes` reads (full form, no `writer`),
 * with at least one slot and no node holding a fold id's character (`^`, `!`, `#`: a fold or a
 * marker, which a merge must see decoded) — checked without a string or an object: what a bulk
 * pull may keep undecoded (replicator/pulled-values.ts) and still know to be valid.
 */
export function isPlainGCounterBytes(bytes: Uint8Array, start: number, end: number): boolean {
  let previous = -1; // where the node of the slot before starts (its length at previous - 1)
  for (let p = start; p < end; ) {
    const slotLen = bytes[p + 1];
    if (bytes[p] !== 0x0a || slotLen === undefined || slotLen >= 0x80) return false;
    const slotEnd = p + 2 + slotLen;
    const nodeLen = bytes[p + 3];
    if (slotEnd > end || bytes[p + 2] !== 0x0a || nodeLen === undefined || nodeLen === 0 || nodeLen >= 0x80) return false;
    const node = p + 4;
    let q = node + nodeLen;
    if (q >= slotEnd || bytes[q++] !== 0x10) return false;
    for (let i = node; i < node + nodeLen; i++) {
      const b = bytes[i]!;
      if (b >= 0x80 || b === 0x5e || b === 0x21 || b === 0x23) return false;
    }
    if (previous >= 0 && compareBytes(bytes, previous, bytes[previous - 1]!, node, nodeLen) >= 0) return false; // sorted, unique
    if (slotVarint(bytes, q, slotEnd) <= 0) return false; // a positive value
    previous = node;
    p = slotEnd;
  }
  return previous >= 0;
}

/** bytes[a, a + aLen) against bytes[b, b + bLen), as strings of those bytes compare: negative, 0 or positive. */
function compareBytes(bytes: Uint8Array, a: number, aLen: number, b: number, bLen: number): number {
  for (let i = 0; i < aLen && i < bLen; i++) {
    const d = bytes[a + i]! - bytes[b + i]!;
    if (d !== 0) return d;
  }
  return aLen - bLen;
}

/** A slot's value at bytes[p, slotEnd): a varint of at most 8 bytes ending exactly there, a safe integer; −1 when not. */
function slotVarint(bytes: Uint8Array, p: number, slotEnd: number): number {
  let value = 0;
  for (let i = 0, scale = 1; ; i++, scale *= 128) {
    if (i === 8 || p >= slotEnd) return -1;
    const b = bytes[p++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) break;
  }
  return p === slotEnd && Number.isSafeInteger(value) ? value : -1;
}

/** The value of the slot `slotAt` read last: its second result, without an object per slot. */
let slotValue = 0;

/** The node of the slot field at `p` (its length checked by the caller), its value in `slotValue`; undefined when not of the usual shape. */
function slotAt(bytes: Uint8Array, p: number, writer: string | undefined): string | undefined {
  const slotEnd = p + 2 + bytes[p + 1]!;
  p += 2;
  let node: string | undefined = writer;
  if (bytes[p] === 0x0a) {
    const nodeLen = bytes[p + 1];
    if (nodeLen === undefined || nodeLen === 0 || nodeLen >= 0x80 || p + 2 + nodeLen > slotEnd) return undefined;
    node = nodeIdAt(bytes, p + 2, nodeLen);
    p += 2 + nodeLen;
  }
  if (node === undefined || p >= slotEnd || bytes[p++] !== 0x10) return undefined;
  const value = slotVarint(bytes, p, slotEnd);
  if (value < 0) return undefined;
  slotValue = value;
  return node;
}

/**
 * The data type number and state bytes of a snapshot value entry stored under `key`: exactly one
 * field 1 (CRDTDelta) holding exactly one each of key (equal to `key`, ASCII), data type, a
 * non-empty ASCII origin and data, in that order; lengths under 256 MiB. Then, optionally, the
 * digest hash: digest_version (non-zero) and digest_hash, in that order, ending the entry.
 */
export function snapshotValueOf(key: string, bytes: Uint8Array): { type: number; data: Uint8Array; digest?: StoredDigestHash } | undefined {
  const head: Cursor = { bytes, p: 0, end: bytes.length };
  if (bytes[head.p++] !== 0x0a) return undefined;
  const total = varint(head, 4);
  if (total < 0 || head.p + total > bytes.length) return undefined;
  const valueEnd = head.p + total;
  const digest = valueEnd === bytes.length ? undefined : digestAt(bytes, valueEnd);
  if (digest === undefined && valueEnd !== bytes.length) return undefined;
  const c: Cursor = { bytes, p: head.p, end: valueEnd };
  // field 1: key
  if (bytes[c.p++] !== 0x0a) return undefined;
  const keyLen = bytes[c.p++];
  if (keyLen === undefined || keyLen >= 0x80 || c.p + keyLen > c.end || !sameAscii(bytes, c.p, c.p + keyLen, key)) return undefined;
  c.p += keyLen;
  // field 2: data type (a small enum)
  if (bytes[c.p++] !== 0x10) return undefined;
  const type = bytes[c.p++];
  if (type === undefined || type >= 0x80 || type === 0) return undefined;
  // field 3: origin node, non-empty
  if (bytes[c.p++] !== 0x1a) return undefined;
  const originLen = bytes[c.p++];
  if (originLen === undefined || originLen >= 0x80 || ascii(c, originLen) === undefined) return undefined;
  // field 4: data, up to the end (no data field: the empty-state case is left to the generic path)
  if (c.p === c.end || bytes[c.p++] !== 0x22) return undefined;
  const dataLen = varint(c, 4);
  if (dataLen < 0 || c.p + dataLen !== c.end) return undefined;
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset + c.p, dataLen);
  return digest === undefined ? { type, data } : { type, data, digest };
}

/** The digest fields ending a snapshot entry at `at`: `0x20 version 0x29 hash` (version non-zero, hash 8 bytes LE), or undefined. */
function digestAt(bytes: Uint8Array, at: number): StoredDigestHash | undefined {
  const c: Cursor = { bytes, p: at, end: bytes.length };
  if (bytes[c.p++] !== 0x20) return undefined;
  const version = varint(c, 5);
  if (version <= 0 || bytes[c.p++] !== 0x29 || c.p + 8 !== c.end) return undefined;
  return { version, hash: new DataView(bytes.buffer, bytes.byteOffset + c.p, 8).getBigUint64(0, true) };
}
