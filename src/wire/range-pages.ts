/**
 * Bulk-pull pages (a digest reply to a leaf-range request, see replicator/anti-entropy.ts
 * RANGE_LEVEL), written and read by hand: a joiner takes a million keys this way, and protobufjs
 * with one message object per key (and one encoded Uint8Array per value) costs several µs per key
 * on each side.
 *
 * The writer writes the bytes protobufjs would write for `NodeReply { digest: DigestReply {
 * differing, keys, state } }` (same fields, same order), so any release decodes them; the
 * joiner reads them by hand (range-page-reader.ts).
 */
import type { Crdt } from "../crdt/types.js";
import type { Tombstone } from "./shapes.js";
import { encodeTombstone } from "./convert.js";
import { dataTypeOf, encodeValue } from "./states.js";
import { varintSize, writeVarint } from "./varint.js";
import { writeCounter } from "./fast-encode.js";

const utf8 = new TextEncoder();

/** A growing byte buffer. */
class Bytes {
  buf = new Uint8Array(16 * 1024);
  end = 0;

  reserve(n: number): void {
    if (this.end + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.end + n));
    next.set(this.buf.subarray(0, this.end));
    this.buf = next;
  }

  varint(n: number): void {
    this.reserve(8);
    this.end = writeVarint(this.buf, this.end, n);
  }

  /** A varint field (one-byte `tag`), left out when `n` is 0 (as protobufjs leaves out a default). */
  optionalVarint(tag: number, n: number): void {
    if (n === 0) return;
    this.byte(tag);
    this.varint(n);
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.end++] = b;
  }

  bytes(b: Uint8Array, from = 0, to = b.length): void {
    this.reserve(to - from);
    this.end = copyInto(this.buf, this.end, b, from, to);
  }

  /**
   * Room for a record of `inner` bytes, its tag and length written: returns where its body goes
   * (in `buf`; the caller writes it in place and sets `end`).
   */
  record(tag: number, inner: number): number {
    this.reserve(1 + varintSize(inner) + inner);
    this.buf[this.end] = tag;
    return writeVarint(this.buf, this.end + 1, inner);
  }

  /** A length-delimited field: tag, length, then `b[from, to)`. */
  field(tag: number, b: Uint8Array, from = 0, to = b.length): void {
    this.byte(tag);
    this.varint(to - from);
    this.bytes(b, from, to);
  }

  /** UTF-8 of `s` appended; returns its byte length. */
  utf8(s: string): number {
    this.reserve(s.length * 3);
    const buf = this.buf;
    const start = this.end;
    // ASCII (every key a bulk pull sends, as a rule) is copied as is: no view per string.
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        const n = utf8.encodeInto(s, buf.subarray(start)).written;
        this.end = start + n;
        return n;
      }
      buf[start + i] = c;
    }
    this.end = start + s.length;
    return s.length;
  }
}

/** `src[from, to)` copied to `dst` at `p`; returns where it ends. A key or a counter is a few bytes: no view per copy. */
function copyInto(dst: Uint8Array, p: number, src: Uint8Array, from: number, to: number): number {
  if (to - from > 32) dst.set(src.subarray(from, to), p);
  else for (let i = from, at = p; i < to; i++, at++) dst[at] = src[i]!;
  return p + (to - from);
}

/**
 * One page of a bulk pull, key by key (in the order they are added). Each key comes with its entry
 * hash as two 32-bit halves, `lo` and `hi` (0 and 0: none yet): no bigint per key.
 */
export class RangePageWriter {
  private readonly keys = new Bytes();
  private readonly entries = new Bytes();
  private readonly tombstones = new Bytes();
  /** Scratch: one record's key and state bytes before they are framed. */
  private readonly scratch = new Bytes();
  private readonly origin: Uint8Array;
  // Where the key added last began in each part (numbers, not an array: one is marked per key).
  private undoKeys = 0;
  private undoEntries = 0;
  private undoTombstones = 0;
  /** Keys added. */
  count = 0;

  constructor(originNode: string) {
    this.origin = utf8.encode(originNode);
  }

  /**
   * Start a new page, keeping the buffers the last one grew (a page is up to a megabyte: grown
   * anew per page, its buffers were copied several times over and their fresh memory faulted in).
   */
  reset(): void {
    this.keys.end = this.entries.end = this.tombstones.end = 0;
    this.count = 0;
  }

  /** Bytes of the page so far (the reply's framing aside, a few bytes). */
  get size(): number {
    return this.keys.end + this.entries.end + this.tombstones.end;
  }

  /**
   * Add `key`'s value (as the digest reply's entry and key hash). Returns the bytes of the value's
   * state; throws (and adds nothing) when the value cannot be encoded.
   */
  value(key: string, value: Crdt, lo: number, hi: number): number {
    const s = this.scratch;
    s.end = 0;
    const keyLen = s.utf8(key);
    const dataLen = writeState(s, value);
    const type = dataTypeOf(value.kind);
    this.mark();
    const sb = s.buf;
    const origin = this.origin;
    // An empty state has no data field (as protobufjs leaves out empty bytes).
    const dataField = dataLen === 0 ? 0 : 1 + varintSize(dataLen) + dataLen;
    const inner = 1 + varintSize(keyLen) + keyLen + 1 + varintSize(type) + 1 + varintSize(origin.length) + origin.length + dataField;
    // Room for the whole record at once, then written in place: a key costs one check, not one per field.
    const e = this.entries;
    let p = e.record(0x0a, inner); // FullState.entries
    const buf = e.buf;
    buf[p++] = 0x0a; // CRDTDelta.key
    p = copyInto(buf, writeVarint(buf, p, keyLen), sb, 0, keyLen);
    buf[p++] = 0x10; // CRDTDelta.data_type
    p = writeVarint(buf, p, type);
    buf[p++] = 0x1a; // CRDTDelta.origin_node
    p = copyInto(buf, writeVarint(buf, p, origin.length), origin, 0, origin.length);
    if (dataLen > 0) {
      buf[p++] = 0x22; // CRDTDelta.data
      p = copyInto(buf, writeVarint(buf, p, dataLen), sb, keyLen, keyLen + dataLen);
    }
    e.end = p;
    this.keyHash(keyLen, lo, hi);
    return dataLen;
  }

  /** Add a tombstone (with its key hash). */
  tombstone(t: Tombstone, lo: number, hi: number): void {
    const bytes = encodeTombstone(t);
    const s = this.scratch;
    s.end = 0;
    const keyLen = s.utf8(t.key);
    this.mark();
    this.tombstones.field(0x12, bytes); // FullState.tombstones
    this.keyHash(keyLen, lo, hi);
  }

  /** Add only `key`'s hash (its value goes another way, see anti-entropy's sendLarge). */
  keyOnly(key: string, lo: number, hi: number): void {
    const s = this.scratch;
    s.end = 0;
    const keyLen = s.utf8(key);
    this.mark();
    this.keyHash(keyLen, lo, hi);
  }

  /** Remove the key added last. */
  undo(): void {
    this.keys.end = this.undoKeys;
    this.entries.end = this.undoEntries;
    this.tombstones.end = this.undoTombstones;
    this.count--;
  }

  /**
   * The encoded NodeReply: the page, going on at leaf `next` (undefined: the range is done), or,
   * in store order, at `resume.at` (0: done) of the replier's `resume.positions`.
   */
  finish(next: number | undefined, resume?: StoreOrderResume): Uint8Array {
    const out = new Bytes();
    const differing = next === undefined ? 0 : varintSize(next);
    const stateLen = this.entries.end + this.tombstones.end;
    const resumeLen = resume === undefined ? 0 : optionalVarintSize(resume.at) + optionalVarintSize(resume.positions);
    const digestLen = (differing > 0 ? 1 + varintSize(differing) + differing : 0) + this.keys.end + 1 + varintSize(stateLen) + stateLen + resumeLen;
    out.reserve(1 + 5 + digestLen);
    out.byte(0x1a); // NodeReply.digest
    out.varint(digestLen);
    if (next !== undefined) {
      out.byte(0x0a); // DigestReply.differing (packed)
      out.varint(differing);
      out.varint(next);
    }
    out.bytes(this.keys.buf, 0, this.keys.end); // DigestReply.keys
    out.byte(0x1a); // DigestReply.state
    out.varint(stateLen);
    out.bytes(this.entries.buf, 0, this.entries.end);
    out.bytes(this.tombstones.buf, 0, this.tombstones.end);
    if (resume !== undefined) {
      out.optionalVarint(0x30, resume.at); // DigestReply.resume_at
      out.optionalVarint(0x38, resume.positions); // DigestReply.positions
    }
    return out.buf.subarray(0, out.end);
  }

  private mark(): void {
    this.undoKeys = this.keys.end;
    this.undoEntries = this.entries.end;
    this.undoTombstones = this.tombstones.end;
  }

  /** The KeyHash of the key in scratch[0, keyLen). */
  private keyHash(keyLen: number, lo: number, hi: number): void {
    const k = this.keys;
    const hashed = lo !== 0 || hi !== 0;
    const inner = 1 + varintSize(keyLen) + keyLen + (hashed ? 9 : 0);
    let p = k.record(0x12, inner); // DigestReply.keys
    const buf = k.buf;
    buf[p++] = 0x0a; // KeyHash.key
    p = copyInto(buf, writeVarint(buf, p, keyLen), this.scratch.buf, 0, keyLen);
    if (hashed) {
      // KeyHash.hash (fixed64, little-endian; protobufjs leaves out a zero, "no hash yet")
      buf[p++] = 0x11;
      for (let i = 0; i < 4; i++, lo >>>= 8) buf[p++] = lo & 0xff;
      for (let i = 0; i < 4; i++, hi >>>= 8) buf[p++] = hi & 0xff;
    }
    k.end = p;
    this.count++;
  }

  /** Where the page is now: `rewind` drops everything added after it. */
  checkpoint(): PageCheckpoint {
    return { keys: this.keys.end, entries: this.entries.end, tombstones: this.tombstones.end, count: this.count };
  }

  rewind(to: PageCheckpoint): void {
    this.keys.end = to.keys;
    this.entries.end = to.entries;
    this.tombstones.end = to.tombstones;
    this.count = to.count;
  }
}

/** Where a store-order page's range goes on (see anti-entropy's RANGE_LEVEL): position `at` (0: done) of `positions`. */
export interface StoreOrderResume {
  readonly at: number;
  readonly positions: number;
}

/** Bytes of a varint field (one-byte tag) written only when not 0. */
function optionalVarintSize(n: number): number {
  return n === 0 ? 0 : 1 + varintSize(n);
}

export interface PageCheckpoint {
  readonly keys: number;
  readonly entries: number;
  readonly tombstones: number;
  readonly count: number;
}

/**
 * Append `value`'s state bytes to `s`; returns their length. A counter is written in place
 * (fast-encode.ts, the bytes `encodeValue` writes); other kinds through `encodeValue`.
 */
function writeState(s: Bytes, value: Crdt): number {
  const start = s.end;
  if (value.kind === "gcounter" || value.kind === "pncounter") {
    s.reserve(COUNTER_ROOM);
    const end = writeCounter(s.buf, start, value);
    if (end >= 0) {
      s.end = end;
      return end - start;
    }
  }
  s.bytes(encodeValue(value));
  return s.end - start;
}

/** Room made for a counter written in place; a larger one (many writers) goes through `encodeValue`. */
const COUNTER_ROOM = 512;
