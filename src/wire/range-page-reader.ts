/**
 * Reading bulk-pull pages (a digest reply to a leaf-range request, see replicator/anti-entropy.ts
 * RANGE_LEVEL) by hand, into columns (PageColumns below): what range-pages.ts writes. The
 * reader takes only exactly that (ASCII keys and origins, no tombstones, no `wanted`, entries in
 * the order of the keys) and returns undefined for anything else: the generic decoder then decides
 * (and checks) every other input, as it does for a peer of another release.
 */
import type { Crdt } from "../crdt/types.js";
import type { CrdtDelta, DigestReply, FullState, KeyHash } from "./shapes.js";
import { keyId, nodeId } from "./convert.js";
import { decodeValueIn, kindOf } from "./states.js";
import { isPlainGCounterBytes, latin1String, sameAscii } from "./fast-decode.js";

/**
 * A bulk-pull page as read here: columns, no object per key. Its keys as KeyHash
 * objects with a bigint each, and its entries as objects, came to ~160 bytes of garbage a key, and
 * a joiner's young-generation collections (their CPU grows with the heap) scale with that.
 */
export interface PageColumns {
  /** The keys listed (DigestReply.keys), in order. */
  keys: string[];
  /**
   * Their entry hashes as 32-bit halves, each read as an int32 (a number past 2^31 would be a heap
   * number wherever it is passed on): keys[i]'s low half at 2i, its high half at 2i + 1 (both 0: none).
   */
  hashes: Int32Array;
  /**
   * keys[i]'s value, or undefined: listed without one (a value too large for a page goes another
   * way), or left undecoded in `data` (see `undecoded`). Read a value with `pageValue`.
   */
  values: (Crdt | undefined)[];
  /**
   * The GCounters left undecoded (a bulk pull may keep them so, replicator/pulled-values.ts):
   * keys[i]'s state is data[undecoded[2i], undecoded[2i + 1]) when undecoded[2i + 1] > 0, checked
   * valid and of plain writer ids (fast-decode.ts `isPlainGCounterBytes`).
   */
  undecoded: Int32Array;
  data: Uint8Array;
  /** The node the values come from (every entry of a page names the same). */
  originNode: string;
}

/** keys[i]'s value in `page`, decoded if it was left undecoded; undefined when listed without one. */
export function pageValue(page: PageColumns, i: number): Crdt | undefined {
  const end = page.undecoded[2 * i + 1]!;
  return page.values[i] ?? (end > 0 ? decodeValueIn("gcounter", page.data, page.undecoded[2 * i]!, end) : undefined);
}

/** A read position in `bytes`, and what `entryRest` read last. */
interface Cursor {
  readonly bytes: Uint8Array;
  p: number;
  /** The entry's data type (wire number), and where its origin node's bytes lie. */
  type: number;
  originAt: number;
  originEnd: number;
}

function readVarint(c: Cursor, end: number): number {
  let value = 0;
  for (let i = 0, scale = 1; i < 8 && c.p < end; i++, scale *= 128) {
    const b = c.bytes[c.p++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
  }
  return -1;
}

/** A length-delimited field's body [p, end) after `tag`, or -1 (the cursor then is past its length). */
function body(c: Cursor, tag: number, end: number): number {
  if (c.p >= end || c.bytes[c.p] !== tag) return -1;
  c.p++;
  const len = readVarint(c, end);
  return len < 0 || c.p + len > end ? -1 : c.p + len;
}

/** A non-empty ASCII string at [c.p, to) (the cursor then at `to`), or undefined. */
function ascii(c: Cursor, to: number): string | undefined {
  const s = asciiIn(c.bytes, c.p, to);
  if (s !== undefined) c.p = to;
  return s;
}

/** A non-empty ASCII string at `b`[from, to) (a flat string: it is hashed as a Map key), or undefined. */
function asciiIn(b: Uint8Array, from: number, to: number): string | undefined {
  if (to <= from) return undefined;
  for (let i = from; i < to; i++) if (b[i]! >= 0x80) return undefined;
  return latin1String(b, from, to - from);
}

/**
 * An entry's fields after its key, up to `eEnd`: data type, origin node, data (absent: an empty
 * state). Returns the data's end with the cursor at its start (the type and the origin's range in
 * `c`), or -1: not an entry as the writer writes it.
 */
function entryRest(c: Cursor, eEnd: number): number {
  if (c.bytes[c.p++] !== 0x10) return -1;
  c.type = readVarint(c, eEnd);
  const oEnd = body(c, 0x1a, eEnd);
  if (c.type < 0 || oEnd < 0) return -1;
  c.originAt = c.p;
  c.originEnd = c.p = oEnd;
  const dataEnd = c.p === eEnd ? eEnd : body(c, 0x22, eEnd);
  return dataEnd === eEnd ? dataEnd : -1;
}

/**
 * A NodeReply holding a digest reply, when `bytes` are exactly what RangePageWriter writes (or an
 * ordinary digest reply of the same shape); undefined otherwise, including for anything the
 * generic decoder would reject.
 */
export function readDigestReply(bytes: Uint8Array): (DigestReply & { type: "digest" }) | undefined {
  try {
    return readDigest(bytes);
  } catch {
    return undefined; // e.g. a value's state the data type refuses: the generic decoder says why
  }
}

function readDigest(bytes: Uint8Array): (DigestReply & { type: "digest" }) | undefined {
  const c: Cursor = { bytes, p: 0, type: 0, originAt: 0, originEnd: 0 };
  const end = body(c, 0x1a, bytes.length);
  if (end !== bytes.length) return undefined;
  const differing: number[] = [];
  const dEnd = body(c, 0x0a, end);
  if (dEnd >= 0) {
    while (c.p < dEnd) {
      const v = readVarint(c, dEnd);
      if (v < 0 || v > 0xffffffff) return undefined;
      differing.push(v);
    }
  } else if (c.p < end && bytes[c.p] === 0x0a) return undefined;
  // The columns are made as long as the page (grown by push, they were copied several times a page).
  const count = countKeys(c, end);
  const keys = new Array<string>(count);
  const hashes = new Int32Array(2 * count);
  let listed = 0;
  while (c.p < end && bytes[c.p] === 0x12) {
    const kEnd = body(c, 0x12, end);
    if (kEnd < 0) return undefined;
    const keyEnd = body(c, 0x0a, kEnd);
    const key = keyEnd < 0 ? undefined : ascii(c, keyEnd);
    if (key === undefined) return undefined;
    if (c.p !== kEnd) {
      if (bytes[c.p] !== 0x11 || c.p + 9 !== kEnd) return undefined;
      hashes[2 * listed] = word32(bytes, c.p + 1);
      hashes[2 * listed + 1] = word32(bytes, c.p + 5);
    }
    keys[listed++] = keyId(key, "key");
    c.p = kEnd;
  }
  if (c.p === end) return { type: "digest", differing, keys: keyHashes(keys, hashes, listed), wanted: [] };
  const sEnd = body(c, 0x1a, end);
  if (sEnd < 0) return undefined; // no state
  const resume = readResume(bytes, sEnd, end);
  if (resume === undefined) return undefined; // more fields (wanted) after the state
  if (listed === 0) {
    // Values without a key list (a fetch's answer): entries as such.
    const entries = readEntries(c, sEnd);
    return entries === undefined ? undefined : { type: "digest", differing, keys: [], wanted: [], state: { entries, tombstones: [] }, ...resume };
  }
  const values = new Array<Crdt | undefined>(listed);
  const undecoded = new Int32Array(2 * listed);
  let originNode = "";
  let originAt = -1;
  let originLen = 0;
  let k = 0;
  while (c.p < sEnd) {
    const eEnd = body(c, 0x0a, sEnd);
    if (eEnd < 0) return undefined; // a tombstone, or not an entry
    const keyEnd = body(c, 0x0a, eEnd);
    if (keyEnd < 0) return undefined;
    // The writer lists the entries in the order of the keys (a key without a value: too large for
    // a page). Anything else is valid too, but the generic decoder reads it.
    while (k < listed && !sameAscii(bytes, c.p, keyEnd, keys[k]!)) k++;
    if (k === listed) return undefined;
    c.p = keyEnd;
    const dataEnd = entryRest(c, eEnd);
    if (dataEnd < 0) return undefined;
    // One origin per page: read it once, compare the bytes after that.
    const oLen = c.originEnd - c.originAt;
    if (originAt < 0 || oLen !== originLen || !sameBytes(bytes, originAt, c.originAt, originLen)) {
      if (originAt >= 0) return undefined; // entries of two origins: not a page
      originAt = c.originAt;
      originLen = oLen;
      const origin = asciiIn(bytes, c.originAt, c.originEnd);
      if (origin === undefined) return undefined;
      originNode = nodeId(origin, "originNode");
    }
    // No CrdtDelta.data view per entry: nothing downstream of a bulk pull reads it, and a view per key costs.
    const kind = kindOf(c.type);
    if (kind === "gcounter" && isPlainGCounterBytes(bytes, c.p, dataEnd)) {
      undecoded[2 * k] = c.p;
      undecoded[2 * k + 1] = dataEnd;
      k++;
    } else values[k++] = decodeValueIn(kind, bytes, c.p, dataEnd);
    c.p = eEnd;
  }
  return pageReply(differing, { keys: listed === count ? keys : keys.slice(0, listed), hashes, values, undecoded, data: bytes, originNode }, resume);
}

/**
 * A store-order page's DigestReply.resume_at and .positions, each left out when 0, from `p` to
 * exactly `end`; undefined when anything else is there.
 */
function readResume(bytes: Uint8Array, p: number, end: number): { resumeAt?: number; positions?: number } | undefined {
  const c: Cursor = { bytes, p, type: 0, originAt: 0, originEnd: 0 };
  const out: { resumeAt?: number; positions?: number } = {};
  for (const [tag, field] of RESUME_FIELDS) {
    if (c.p === end || bytes[c.p] !== tag) continue;
    c.p++;
    const v = readVarint(c, end);
    if (v < 0 || v > 0xffffffff) return undefined;
    if (v > 0) out[field] = v;
  }
  return c.p === end ? out : undefined;
}

const RESUME_FIELDS = [
  [0x30, "resumeAt"],
  [0x38, "positions"],
] as const;

/**
 * A page's reply: the page in columns (what a bulk pull reads), and `keys` and `state` as every
 * other reader of a digest reply sees them, made from the columns when first read (own properties:
 * a copy made by spreading the reply has them too).
 */
function pageReply(differing: number[], page: PageColumns, resume: { resumeAt?: number; positions?: number }): DigestReply & { type: "digest" } {
  let listed: KeyHash[] | undefined;
  let full: FullState | undefined;
  return {
    type: "digest",
    differing,
    wanted: [],
    page,
    ...resume,
    get keys(): KeyHash[] {
      return (listed ??= keyHashes(page.keys, page.hashes, page.keys.length));
    },
    get state(): FullState {
      return (full ??= { entries: pageEntries(page), tombstones: [] });
    },
  };
}

/** A page's entries as objects (what a reader of `state.entries` expects; a bulk pull reads the columns). */
export function pageEntries(page: PageColumns): CrdtDelta[] {
  const entries: CrdtDelta[] = [];
  for (let i = 0; i < page.keys.length; i++) {
    const value = pageValue(page, i);
    if (value !== undefined) entries.push({ key: page.keys[i]!, kind: value.kind, originNode: page.originNode, value });
  }
  return entries;
}

/** The entries up to `end` (each key read as it comes), or undefined: not only entries, or malformed. */
function readEntries(c: Cursor, end: number): CrdtDelta[] | undefined {
  const entries: CrdtDelta[] = [];
  let origin = "";
  while (c.p < end) {
    const eEnd = body(c, 0x0a, end);
    if (eEnd < 0) return undefined; // a tombstone, or not an entry
    const keyEnd = body(c, 0x0a, eEnd);
    const key = keyEnd < 0 ? undefined : ascii(c, keyEnd);
    const dataEnd = key === undefined ? -1 : entryRest(c, eEnd);
    if (key === undefined || dataEnd < 0) return undefined;
    const originRead = asciiIn(c.bytes, c.originAt, c.originEnd);
    if (originRead === undefined) return undefined;
    if (originRead !== origin) origin = nodeId(originRead, "originNode");
    const kind = kindOf(c.type);
    entries.push({ key: keyId(key, "key"), kind, originNode: origin, value: decodeValueIn(kind, c.bytes, c.p, dataEnd) });
    c.p = eEnd;
  }
  return entries;
}

/** The first `n` keys with their hashes (as halves in `hashes`) as KeyHash objects. */
function keyHashes(keys: readonly string[], hashes: Int32Array, n: number): KeyHash[] {
  const out = new Array<KeyHash>(n);
  for (let i = 0; i < n; i++) out[i] = { key: keys[i]!, hash: (BigInt(hashes[2 * i + 1]! >>> 0) << 32n) | BigInt(hashes[2 * i]! >>> 0) };
  return out;
}

/** The little-endian 32-bit word at `p`, as an int32. */
function word32(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
}

/** How many DigestReply.keys fields follow the cursor, up to a malformed one (the cursor does not move). */
function countKeys(c: Cursor, end: number): number {
  const at = c.p;
  let n = 0;
  while (c.p < end && c.bytes[c.p] === 0x12) {
    const kEnd = body(c, 0x12, end);
    if (kEnd < 0) break; // the reading loop finds it again and gives up
    c.p = kEnd;
    n++;
  }
  c.p = at;
  return n;
}

function sameBytes(b: Uint8Array, a: number, at: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (b[a + i] !== b[at + i]) return false;
  return true;
}
