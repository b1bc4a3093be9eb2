/**
 * Delta envelopes read by hand: every peer decodes every envelope the cluster publishes, and the
 * generic decoder (protobufjs, then the conversion in replication.ts) takes ~2 µs and a dozen
 * objects for a one-key envelope (a Long per 64-bit field, a message object per field group), ten
 * times that on a cold cache between sparse updates; this reads the same envelope in one pass.
 *
 * It takes only what envelope-writer.ts writes — fields in field-number order, ASCII strings,
 * deltas with a data type, no tombstones, no chunk, no field it does not know — and returns
 * undefined for anything else and for anything the generic decoder would reject: that decoder
 * then decides (and words the error). What it returns equals the generic decoder's result
 * (test/wire/envelope-reader.test.ts compares them over random and mutated envelopes).
 */
import { type Cursor, ascii, nodeIdAt, varint } from "./fast-decode.js";
import { type CrdtDelta, type DeltaEnvelope, MAX_KEY_BYTES, MAX_NODE_ID, MAX_TEXT } from "./shapes.js";
import { decodeValue, decodeValueIn, kindByType } from "./states.js";

/** The envelope in `bytes`, or undefined when it is not of the usual shape (see the file comment). */
export function readDeltaEnvelope(bytes: Uint8Array): DeltaEnvelope | undefined {
  const c: Cursor = { bytes, p: 0, end: bytes.length };
  if (bytes[c.p++] !== 0x0a) return undefined; // origin = 1 (always set)
  const origin = nodeId(c, MAX_NODE_ID);
  if (origin === undefined) return undefined;
  const incarnation = c.bytes[c.p] === 0x10 ? u64(c) : 0; // incarnation = 2
  const sequence = c.bytes[c.p] === 0x18 ? u64(c) : 0; // sequence = 3
  if (incarnation < 0 || sequence < 0) return undefined;
  // The deltas come before the writer (field 11), which their values need: mark them, read later.
  const starts: number[] = [];
  while (c.p < c.end && bytes[c.p] === 0x22) {
    c.p++;
    const len = varint(c, 5);
    if (len < 0 || c.p + len > c.end) return undefined;
    starts.push(c.p, c.p + len);
    c.p += len;
  }
  const after = c.bytes[c.p] === 0x30 ? u64(c) : 0; // sent_after_us = 6
  const before = c.bytes[c.p] === 0x50 ? u64(c) : 0; // sent_before_us = 10
  if (after < 0 || before < 0) return undefined;
  let writer: string | undefined;
  if (c.bytes[c.p] === 0x5a) {
    c.p++; // writer = 11
    writer = nodeId(c, MAX_TEXT);
    if (writer === undefined) return undefined;
  }
  if (c.p !== c.end) return undefined; // another field (tombstones, chunk, one a newer peer added)
  const deltas = new Array<CrdtDelta>(starts.length / 2);
  for (let i = 0; i < starts.length; i += 2) {
    const d = readDelta(bytes, starts[i]!, starts[i + 1]!, origin, writer);
    if (d === undefined) return undefined;
    deltas[i / 2] = d;
  }
  const out: DeltaEnvelope = { origin, incarnation, sequence, deltas, tombstones: [], sentAtMs: incarnation + (after - before) / 1000 };
  if (writer !== undefined) out.writer = writer;
  return out;
}

/** A CRDTDelta in bytes[start, end): key = 1, data_type = 2, origin_node = 3 (empty: `origin`), data = 4. */
function readDelta(bytes: Uint8Array, start: number, end: number, origin: string, writer: string | undefined): CrdtDelta | undefined {
  const c: Cursor = { bytes, p: start, end };
  if (bytes[c.p++] !== 0x0a) return undefined;
  const keyLength = varint(c, 2);
  // ASCII: a char per byte, so the length is the UTF-8 size the key limit counts.
  if (keyLength < 1 || keyLength > MAX_KEY_BYTES) return undefined;
  const key = ascii(c, keyLength);
  if (key === undefined || bytes[c.p++] !== 0x10) return undefined;
  const kind = kindByType(varint(c, 5));
  if (kind === undefined) return undefined;
  let originNode = origin;
  if (c.p < end && bytes[c.p] === 0x1a) {
    c.p++;
    const named = nodeId(c, MAX_NODE_ID);
    if (named === undefined) return undefined;
    originNode = named;
  }
  let dataStart = c.p;
  if (c.p < end) {
    if (bytes[c.p++] !== 0x22) return undefined;
    const len = varint(c, 5);
    if (len < 0 || c.p + len !== end) return undefined;
    dataStart = c.p;
  }
  if (c.p > end) return undefined;
  try {
    // Compact: the bytes are not the value's own encoding, so no `data`, and no view of them to make.
    if (writer !== undefined) return { key, kind, originNode, value: decodeValueIn(kind, bytes, dataStart, end, writer) };
    // A plain view (as the generic decoder's `bytesOf`), even of a Buffer: its slice() must copy.
    const data = new Uint8Array(bytes.buffer, bytes.byteOffset + dataStart, end - dataStart);
    return { key, kind, originNode, value: decodeValue(kind, data), data };
  } catch {
    return undefined; // the generic decoder throws it, with the key and the field in its message
  }
}

/** A length-prefixed, non-empty ASCII id of at most `max` chars at the cursor, or undefined. */
function nodeId(c: Cursor, max: number): string | undefined {
  const len = varint(c, 2);
  if (len < 1 || len > max || c.p + len > c.end) return undefined;
  const s = nodeIdAt(c.bytes, c.p, len);
  c.p += len;
  return s;
}

/** The varint after a tag byte at the cursor as a safe integer, or -1. */
function u64(c: Cursor): number {
  c.p++;
  const n = varint(c, 8);
  return Number.isSafeInteger(n) ? n : -1;
}
