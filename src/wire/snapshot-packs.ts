/**
 * Snapshot packs (proto `SnapshotPack`): many keys' values in one LevelDB entry, so a restore reads
 * a few hundred large entries instead of one per key. A pack may also carry each value's digest
 * entry hash (after the values: the hash definition's version, then 8 bytes per value), so that a
 * restore seeds the anti-entropy digest tree instead of rehashing every key.
 *
 * Written by hand as the protobuf protobufjs would write (one growing buffer, no message object per
 * value), and read by hand without an object per record: one pass checks the pack and notes where
 * each record is (in a buffer kept between packs), then each record's key and the place of its
 * state bytes go straight to the caller. Bytes that are not exactly what the writer writes
 * (corrupt, or another encoder's field order) go to protobufjs, which decides; only a pack it
 * rejects is lost.
 */
import type { Crdt } from "../crdt/types.js";
import { decodeMessage } from "./pb.js";
import { type PbDelta, T } from "./pb-shapes.js";
import { latin1String } from "./fast-decode.js";
import { dataTypeOf, encodeValue } from "./states.js";
import { varintSize, writeVarint } from "./varint.js";

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** Bytes per stored digest hash. */
const HASH_BYTES = 8;

/** Builds one pack, value by value. */
export class PackWriter {
  private buf = new Uint8Array(64 * 1024);
  private end = 0;
  /** Values added since the last `finish`. */
  count = 0;
  /** The digest hashes of the values added (0: none); written only when one is set. */
  private hashes = new BigUint64Array(1024);
  private hashed = false;

  /** `digestVersion`: the hash definition of the hashes given to `add` (0: they are not stored). */
  constructor(private readonly digestVersion = 0) {}

  /** Encoded bytes so far. */
  get size(): number {
    return this.end;
  }

  /**
   * Add a key's value, with its digest entry hash when known; throws (and adds nothing) when the
   * value cannot be encoded.
   */
  add(key: string, value: Crdt, hash?: bigint): void {
    const data = encodeValue(value);
    const type = dataTypeOf(value.kind);
    const keyMax = key.length * 3;
    this.reserve(32 + keyMax + data.length);
    // The record's length is known once the key is written: write the key 5 bytes further on
    // (room for any length varint), then move it into place.
    const b = this.buf;
    const keyAt = this.end + 1 + 5 + 1 + 5;
    const keyLen = utf8.encodeInto(key, b.subarray(keyAt, keyAt + keyMax)).written;
    const inner = 1 + varintSize(keyLen) + keyLen + 1 + varintSize(type) + (data.length > 0 ? 1 + varintSize(data.length) + data.length : 0);
    let p = this.end;
    b[p++] = 0x0a; // SnapshotPack.values
    p = writeVarint(b, p, inner);
    b[p++] = 0x0a; // CRDTDelta.key
    p = writeVarint(b, p, keyLen);
    b.copyWithin(p, keyAt, keyAt + keyLen);
    p += keyLen;
    b[p++] = 0x10; // CRDTDelta.data_type
    p = writeVarint(b, p, type);
    if (data.length > 0) {
      b[p++] = 0x22; // CRDTDelta.data
      p = writeVarint(b, p, data.length);
      b.set(data, p);
      p += data.length;
    }
    this.end = p;
    if (this.count === this.hashes.length) {
      const grown = new BigUint64Array(this.count * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[this.count++] = hash ?? 0n;
    if (hash !== undefined && hash !== 0n) this.hashed = true;
  }

  /** The pack's bytes (a copy); the writer starts a new pack. */
  finish(): Uint8Array {
    if (this.digestVersion > 0 && this.hashed) this.writeHashes();
    const out = this.buf.slice(0, this.end);
    this.end = 0;
    this.count = 0;
    this.hashed = false; // `add` sets each hash it counts: no slot of an earlier pack is read again
    return out;
  }

  /** SnapshotPack.digest_version and .digest_hashes, after the values. */
  private writeHashes(): void {
    const len = this.count * HASH_BYTES;
    this.reserve(12 + len);
    const b = this.buf;
    let p = this.end;
    b[p++] = 0x10; // SnapshotPack.digest_version
    p = writeVarint(b, p, this.digestVersion);
    b[p++] = 0x1a; // SnapshotPack.digest_hashes
    p = writeVarint(b, p, len);
    const view = new DataView(b.buffer, b.byteOffset + p, len);
    for (let i = 0; i < this.count; i++) view.setBigUint64(i * HASH_BYTES, this.hashes[i]!, true);
    this.end = p + len;
  }

  private reserve(n: number): void {
    if (this.end + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.end + n));
    next.set(this.buf.subarray(0, this.end));
    this.buf = next;
  }
}

/**
 * What a pack holds, value by value: the key, its data type number, where its state bytes are,
 * `bytes[start, end)` (no view per value: a restore reads a million; see states.ts `decodeValueIn`),
 * and where its digest entry hash is when the pack stored them under the hash definition the reader
 * asked for: the 8 bytes at `hashAt` of `hashes` (`storedHash` reads them; not a bigint per value,
 * which a restore of a million keys would allocate and drop).
 */
export type PackVisitor = (key: string, type: number, bytes: Uint8Array, start: number, end: number, hashes: DataView | undefined, hashAt: number) => void;

/** What the hand reader's pass found: per value, RECORD numbers in `records`; where the hashes are. */
interface PackLayout {
  /** Per value: key offset, key length (negative: not ASCII), data type, state start, state end. */
  records: Int32Array;
  count: number;
  /** The stored hashes' version and offset (-1: the pack has none). */
  version: number;
  hashesAt: number;
}
const RECORD = 5;

/**
 * The records buffer, lent to one `scan` at a time and kept between packs (a restore reads
 * hundreds); a nested call, if any, makes its own.
 */
let spareRecords: Int32Array | undefined;

/**
 * Every value of a pack, in order, with the digest hashes stored under `digestVersion` (any other
 * version's are not handed out). Throws DecodeError when protobufjs rejects the bytes too (then
 * nothing was visited: the hand reader checks the whole pack before visiting anything).
 */
export function readPack(bytes: Uint8Array, digestVersion: number, visit: PackVisitor): void {
  const spare = spareRecords ?? new Int32Array(RECORD * 1024);
  spareRecords = undefined;
  const layout = scan(bytes, spare);
  if (layout === undefined) spareRecords = spare;
  else {
    const { records, count } = layout;
    const hashes = layout.hashesAt >= 0 && layout.version === digestVersion ? new DataView(bytes.buffer, bytes.byteOffset + layout.hashesAt) : undefined;
    // Keys are read as strings straight from the bytes (no view per key).
    try {
      for (let i = 0, r = 0; i < count; i++, r += RECORD) {
        const keyAt = records[r]!;
        const keyLen = records[r + 1]!;
        const key = keyLen > 0 ? latin1String(bytes, keyAt, keyLen) : utf8Strict.decode(bytes.subarray(keyAt, keyAt - keyLen));
        visit(key, records[r + 2]!, bytes, records[r + 3]!, records[r + 4]!, hashes, i * HASH_BYTES);
      }
    } finally {
      spareRecords = records;
    }
    return;
  }
  const pack = decodeMessage<{ values: PbDelta[]; digestVersion: number; digestHashes: Uint8Array }>(T.SnapshotPack, bytes, "SnapshotPack", false);
  const h = pack.digestHashes;
  const hashes = pack.digestVersion === digestVersion && h.length > 0 && h.length === pack.values.length * HASH_BYTES ? new DataView(h.buffer, h.byteOffset, h.length) : undefined;
  pack.values.forEach((v, i) => visit(v.key, v.dataType, v.data, 0, v.data.length, hashes, i * HASH_BYTES));
}

/** The stored hash at `at` of `hashes` (little-endian); undefined when none (0 marks a value written without one). */
export function storedHash(hashes: DataView | undefined, at: number): bigint | undefined {
  if (hashes === undefined) return undefined;
  const h = hashes.getBigUint64(at, true);
  return h === 0n ? undefined : h;
}

/**
 * The hand reader, one pass recording where each value is (into `records`, grown when full):
 * undefined as soon as the bytes are not exactly the writer's.
 */
function scan(bytes: Uint8Array, records: Int32Array): PackLayout | undefined {
  const end = bytes.length;
  let p = 0;
  const varint = (): number => {
    let value = 0;
    for (let i = 0, scale = 1; i < 5 && p < end; i++, scale *= 128) {
      const b = bytes[p++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
    }
    return -1;
  };
  let count = 0;
  while (p < end && bytes[p] === 0x0a) {
    p++;
    const len = varint();
    if (len < 0 || p + len > end) return undefined;
    const recEnd = p + len;
    if (bytes[p++] !== 0x0a) return undefined;
    const keyLen = varint();
    if (keyLen <= 0 || p + keyLen > recEnd) return undefined;
    const keyAt = p;
    p += keyLen;
    if (bytes[p++] !== 0x10) return undefined;
    const type = varint();
    if (type <= 0) return undefined;
    let dataAt = p;
    let dataLen = 0;
    if (p < recEnd) {
      if (bytes[p++] !== 0x22) return undefined;
      dataLen = varint();
      dataAt = p;
      if (dataLen < 0) return undefined;
      p += dataLen;
    }
    if (p !== recEnd) return undefined;
    const ascii = isAscii(bytes, keyAt, keyLen);
    if (!ascii && !isUtf8(bytes, keyAt, keyLen)) return undefined;
    if (RECORD * (count + 1) > records.length) {
      const grown = new Int32Array(2 * records.length);
      grown.set(records);
      records = grown;
    }
    const r = RECORD * count++;
    records[r] = keyAt;
    records[r + 1] = ascii ? keyLen : -keyLen;
    records[r + 2] = type;
    records[r + 3] = dataAt;
    records[r + 4] = dataAt + dataLen;
  }
  if (p === end) return { records, count, version: 0, hashesAt: -1 };
  // The hashes, as the writer puts them: the version, then 8 bytes per value, ending the pack.
  if (bytes[p++] !== 0x10) return undefined;
  const version = varint();
  if (version <= 0 || bytes[p++] !== 0x1a) return undefined;
  const len = varint();
  if (len !== count * HASH_BYTES || p + len !== end) return undefined;
  return { records, count, version, hashesAt: p };
}

/** Whether bytes[at, at + len) are ASCII (a key read as latin1 then). */
function isAscii(bytes: Uint8Array, at: number, len: number): boolean {
  for (let i = at; i < at + len; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** Whether bytes[at, at + len) are valid UTF-8 (else protobufjs decides on the pack). */
function isUtf8(bytes: Uint8Array, at: number, len: number): boolean {
  try {
    utf8Strict.decode(bytes.subarray(at, at + len));
    return true;
  } catch {
    return false;
  }
}
