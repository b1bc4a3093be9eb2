/**
 * Delta envelopes written by hand: the outbox publishes one per flush with up to thousands of
 * deltas, and protobufjs takes ~140 ns and a dozen objects per delta (an object per field write);
 * this writes the same bytes in one pass into one buffer. The deltas come as columns (`DeltaColumns`)
 * with their values already encoded one after another in one buffer: no object and no byte array
 * per delta on the way either.
 *
 * It writes exactly the bytes `encodeDeltaEnvelope` (protobufjs) writes for the same envelope
 * (test/wire/envelope-writer.test.ts compares them over random envelopes), so every release reads
 * them. It takes only ASCII strings and returns undefined for anything else: `encodeDeltaEnvelope`
 * then encodes the envelope (and rejects what is invalid, with its messages). Tombstones and chunks
 * are protobufjs's too.
 */
import { dataTypes } from "../crdt/registry.js";
import type { Crdt, DataKind } from "../crdt/types.js";
import { messageBytes } from "./fast-encode.js";
import type { DeltaEnvelope } from "./shapes.js";
import { dataTypeOf } from "./states.js";
import { varintSize, writeVarint } from "./varint.js";

/** An envelope's fields but its deltas (tombstones and chunks are not written by hand). */
export type EnvelopeHead = Pick<DeltaEnvelope, "origin" | "incarnation" | "sequence" | "sentAtMs" | "writer">;

/**
 * `count` deltas: delta i is `keys[i]` with `values[i]` (whose `kind` names its data type), encoded
 * as `data[ends[i − 1] .. ends[i])` (from 0 for the first; in the compact form when the envelope has
 * a writer), from `origins[i]`, or from the envelope's origin without `origins`.
 */
export interface DeltaColumns {
  readonly count: number;
  readonly keys: readonly string[];
  readonly values: readonly Crdt[];
  readonly data: Uint8Array;
  readonly ends: readonly number[];
  readonly origins?: readonly string[];
}

/** The bytes of the envelope `head` + `deltas`, or undefined when a string is not ASCII or a field out of range (see the file comment). */
export function writeDeltaEnvelope(head: EnvelopeHead, deltas: DeltaColumns): Uint8Array | undefined {
  const { origin, incarnation, sequence, writer } = head;
  if (!isAscii(origin) || !isU64(incarnation) || !isU64(sequence) || (writer !== undefined && !isAscii(writer))) return undefined;
  const sentAtMs = head.sentAtMs ?? 0;
  if (!Number.isFinite(sentAtMs)) return undefined;
  // As replication.ts: send time after the incarnation, or before it when the incarnation is ahead.
  const afterUs = Math.round((sentAtMs - incarnation) * 1000);
  const sentAfterUs = afterUs >= 0 ? Math.min(afterUs, Number.MAX_SAFE_INTEGER) : 0;
  const sentBeforeUs = afterUs >= 0 ? 0 : Math.min(-afterUs, incarnation * 1000, Number.MAX_SAFE_INTEGER);
  const { count, keys, values, data, ends, origins } = deltas;

  // Sizes first (one pass), then the bytes (another): no buffer grows or moves.
  let size = field(origin.length) + scalar(incarnation) + scalar(sequence) + scalar(sentAfterUs) + scalar(sentBeforeUs);
  if (writer !== undefined) size += field(writer.length);
  for (let i = 0, start = 0; i < count; i++) {
    const key = keys[i]!;
    const value = values[i];
    const end = ends[i]!;
    if (value === undefined || value === null || !isAscii(key) || !(end >= start && end <= data.length)) return undefined;
    const from = originOf(origins, i, origin);
    if (from === undefined) return undefined;
    const type = typeOf(value.kind);
    if (type === undefined) return undefined;
    size += field(deltaSize(key, type, from.length, end - start));
    start = end;
  }

  const b = messageBytes(size);
  let p = ascii(b, 0, 0x0a, origin); // DeltaEnvelope.origin = 1
  p = u64(b, p, 0x10, incarnation); // incarnation = 2
  p = u64(b, p, 0x18, sequence); // sequence = 3
  for (let i = 0, start = 0; i < count; i++) {
    const key = keys[i]!;
    const type = typeOf(values[i]!.kind)!;
    const from = originOf(origins, i, origin)!;
    const end = ends[i]!;
    b[p++] = 0x22; // deltas = 4
    p = writeVarint(b, p, deltaSize(key, type, from.length, end - start));
    p = ascii(b, p, 0x0a, key); // CRDTDelta.key = 1
    p = u64(b, p, 0x10, type); // data_type = 2
    p = ascii(b, p, 0x1a, from); // origin_node = 3
    if (end > start) {
      b[p++] = 0x22; // data = 4
      p = writeVarint(b, p, end - start);
      // By hand: TypedArray#set of a subarray costs more than the few bytes of a usual delta.
      for (let j = start; j < end; j++) b[p++] = data[j]!;
    }
    start = end;
  }
  p = u64(b, p, 0x30, sentAfterUs); // sent_after_us = 6
  p = u64(b, p, 0x50, sentBeforeUs); // sent_before_us = 10
  if (writer !== undefined) p = ascii(b, p, 0x5a, writer); // writer = 11
  return p === size ? b : undefined;
}

/** Delta i's origin node as written: empty when it is the envelope's (implied); undefined when not ASCII. */
function originOf(origins: readonly string[] | undefined, i: number, origin: string): string | undefined {
  const from = origins === undefined ? origin : origins[i];
  if (from === origin) return "";
  return isAscii(from) ? from : undefined;
}

/** The last kind looked up, and its DataType: an envelope's deltas are mostly of one kind. */
let lastKind: unknown;
let lastType = 0;

/** The DataType of `kind`, or undefined for a kind no data type has. */
function typeOf(kind: DataKind): number | undefined {
  if (kind === lastKind) return lastType;
  if (dataTypes.get(kind) === undefined) return undefined;
  lastType = dataTypeOf(kind);
  lastKind = kind;
  return lastType;
}

/** Bytes of a CRDTDelta's body (protobufjs leaves out empty strings, bytes and a zero enum). */
function deltaSize(key: string, type: number, originLength: number, dataLength: number): number {
  return field(key.length) + scalar(type) + field(originLength) + field(dataLength);
}

/** Bytes of a length-delimited field of `length` bytes (none when empty: a default). */
function field(length: number): number {
  return length === 0 ? 0 : 1 + varintSize(length) + length;
}

/** Bytes of a varint field (none for 0: a default). */
function scalar(n: number): number {
  return n === 0 ? 0 : 1 + varintSize(n);
}

function ascii(b: Uint8Array, p: number, tag: number, s: string): number {
  if (s.length === 0) return p;
  b[p++] = tag;
  p = writeVarint(b, p, s.length);
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
  return p;
}

function u64(b: Uint8Array, p: number, tag: number, n: number): number {
  if (n === 0) return p;
  b[p++] = tag;
  return writeVarint(b, p, n);
}

function isAscii(s: unknown): s is string {
  if (typeof s !== "string" || s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

function isU64(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}
