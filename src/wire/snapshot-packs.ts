/**
 * Snapshot packs (proto `SnapshotPack`): many keys' values in one LevelDB entry, so a restore reads
 * a few hundred large entries instead of one per key.
 *
 * Written by hand as the protobuf protobufjs would write (one growing buffer, no message object per
 * value), and read by hand without an object per record: each record's key and a view of its state
 * bytes go straight to the caller. Bytes that are not exactly what the writer writes (corrupt, or
 * another encoder's field order) go to protobufjs, which decides; only a pack it rejects is lost.
 */
import { DecodeError } from "../errors.js";
import type { Crdt } from "../crdt/types.js";
import { decodeMessage } from "./pb.js";
import { type PbDelta, T } from "./pb-shapes.js";
import { dataTypeOf, encodeValue } from "./states.js";
import { varintSize, writeVarint } from "./varint.js";

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** Builds one pack, value by value. */
export class PackWriter {
  private buf = new Uint8Array(64 * 1024);
  private end = 0;
  /** Values added since the last `finish`. */
  count = 0;

  /** Encoded bytes so far. */
  get size(): number {
    return this.end;
  }

  /** Add a key's value; throws (and adds nothing) when the value cannot be encoded. */
  add(key: string, value: Crdt): void {
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
    this.count++;
  }

  /** The pack's bytes (a copy); the writer starts a new pack. */
  finish(): Uint8Array {
    const out = this.buf.slice(0, this.end);
    this.end = 0;
    this.count = 0;
    return out;
  }

  private reserve(n: number): void {
    if (this.end + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.end + n));
    next.set(this.buf.subarray(0, this.end));
    this.buf = next;
  }
}

/**
 * What a pack holds, value by value: the key, its data type number and where its state bytes are,
 * `bytes[start, end)` (no view per value: a restore reads a million; see states.ts `decodeValueIn`).
 */
export type PackVisitor = (key: string, type: number, bytes: Uint8Array, start: number, end: number) => void;

/**
 * Every value of a pack, in order. Throws DecodeError when protobufjs rejects the bytes too (then
 * nothing was visited: the hand reader checks the whole pack before visiting anything).
 */
export function readPack(bytes: Uint8Array, visit: PackVisitor): void {
  if (scan(bytes, undefined)) {
    scan(bytes, visit);
    return;
  }
  const pack = decodeMessage<{ values: PbDelta[] }>(T.SnapshotPack, bytes, "SnapshotPack", false);
  for (const v of pack.values) visit(v.key, v.dataType, v.data, 0, v.data.length);
}

/** The hand reader: false as soon as the bytes are not exactly the writer's; visits only when given. */
function scan(bytes: Uint8Array, visit: PackVisitor | undefined): boolean {
  const end = bytes.length;
  // Keys are read as strings straight from the bytes (no view per key).
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
  while (p < end) {
    if (bytes[p++] !== 0x0a) return false;
    const len = varint();
    if (len < 0 || p + len > end) return false;
    const recEnd = p + len;
    if (bytes[p++] !== 0x0a) return false;
    const keyLen = varint();
    if (keyLen <= 0 || p + keyLen > recEnd) return false;
    const keyAt = p;
    p += keyLen;
    if (bytes[p++] !== 0x10) return false;
    const type = varint();
    if (type <= 0) return false;
    let dataAt = p;
    let dataLen = 0;
    if (p < recEnd) {
      if (bytes[p++] !== 0x22) return false;
      dataLen = varint();
      dataAt = p;
      if (dataLen < 0) return false;
      p += dataLen;
    }
    if (p !== recEnd) return false;
    if (visit !== undefined) {
      const key = keyOf(text, keyAt, keyLen);
      if (key === undefined) throw new DecodeError("SnapshotPack: a key is not UTF-8");
      visit(key, type, bytes, dataAt, dataAt + dataLen);
    } else if (!isKey(text, keyAt, keyLen)) return false;
  }
  return true;
}

/** The key at bytes[at, at + len): ASCII read directly, anything else through the strict UTF-8 decoder. */
function keyOf(bytes: Buffer, at: number, len: number): string | undefined {
  const end = at + len;
  for (let i = at; i < end; i++) {
    if (bytes[i]! >= 0x80) {
      try {
        return utf8Strict.decode(bytes.subarray(at, end));
      } catch {
        return undefined;
      }
    }
  }
  return bytes.toString("latin1", at, end);
}

/** Whether bytes[at, at + len) is a key (valid UTF-8), without making the string when it is ASCII. */
function isKey(bytes: Buffer, at: number, len: number): boolean {
  for (let i = at; i < at + len; i++) if (bytes[i]! >= 0x80) return keyOf(bytes, at, len) !== undefined;
  return true;
}
