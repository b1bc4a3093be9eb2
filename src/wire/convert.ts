/**
 * What every protocol's codec shares: argument checks for encoders, required-field checks for
 * decoders, and the conversions of the messages several protocols carry (CRDTDelta, Tombstone,
 * FullState, KeyHash). Conventions: see shapes.ts.
 */
import type { Type } from "protobufjs";
import type { Crdt } from "../crdt/types.js";
import { DecodeError, InvalidArgumentError } from "../errors.js";
import { bytesOf, checkFields, decodeMessage, encodeMessage, fixed64, guard, i64, toLongBits } from "./pb.js";
import { type PbDelta, type PbFullState, type PbKeyHash, type PbTombstone, T } from "./pb-shapes.js";
import { type CrdtDelta, type FullState, type KeyHash, MAX_KEY_BYTES, MAX_NODE_ID, type Tombstone } from "./shapes.js";
import { dataTypeOf, decodeValue, encodeValue, kindOf } from "./states.js";

// ================================================================== encoding helpers

export function argError(what: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`cannot encode ${what}: ${why}`);
}

export function needString(s: unknown, what: string): string {
  if (typeof s !== "string" || s.length === 0) throw argError(what, "must be a non-empty string");
  return s;
}

export function needU64(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw argError(what, `must be a non-negative safe integer, got ${String(n)}`);
  return n;
}

export function needI64(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n)) throw argError(what, `must be a safe integer, got ${String(n)}`);
  return n;
}

export function needU32(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw argError(what, `must be a uint32, got ${String(n)}`);
  return n;
}

export function needFinite(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isFinite(n)) throw argError(what, `must be a finite number, got ${String(n)}`);
  return n;
}

export function needHash(h: unknown, what: string): { low: number; high: number; unsigned: boolean } {
  if (typeof h !== "bigint" || h < 0n || h > 0xffffffffffffffffn) throw argError(what, "must be a bigint in [0, 2^64)");
  return toLongBits(h);
}

/** `writer`: in a compact envelope (see states.ts `encodeState`); a given `data` is used as is. */
export function deltaToPb(d: CrdtDelta, what: string, writer?: string): PbDelta {
  const kind = d.kind;
  if (d.value === undefined || d.value === null || d.value.kind !== kind) {
    throw argError(what, `value must be a ${kind} (got ${d.value?.kind ?? String(d.value)})`);
  }
  return {
    key: needString(d.key, `${what}.key`),
    dataType: dataTypeOf(kind),
    originNode: needString(d.originNode, `${what}.originNode`),
    data: d.data ?? encodeValue(d.value, writer),
  };
}

export function deltasToPb(list: readonly CrdtDelta[], what: string, writer?: string): PbDelta[] {
  const out = new Array<PbDelta>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = deltaToPb(list[i]!, `${what}[${i}]`, writer);
  return out;
}

export function tombstoneToPb(t: Tombstone, what: string): object {
  return {
    key: needString(t.key, `${what}.key`),
    dataType: dataTypeOf(t.kind),
    deletedAtMs: needI64(t.deletedAtMs, `${what}.deletedAtMs`),
    originNode: needString(t.originNode, `${what}.originNode`),
  };
}

export function tombstonesToPb(list: readonly Tombstone[] | undefined, what: string): object[] {
  if (list === undefined) return [];
  const out = new Array<object>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = tombstoneToPb(list[i]!, `${what}[${i}]`);
  return out;
}

export function fullStateToPb(s: FullState, what: string): object {
  return { entries: deltasToPb(s.entries, `${what}.entries`), tombstones: tombstonesToPb(s.tombstones, `${what}.tombstones`) };
}

export function keyHashesToPb(list: readonly KeyHash[], what: string): object[] {
  return list.map((k, i) => ({ key: needString(k.key, `${what}[${i}].key`), hash: needHash(k.hash, `${what}[${i}].hash`) }));
}

/** Wraps an encoder so a kind that is not a DataKind surfaces as InvalidArgumentError (not DecodeError). */
export function encoding<T>(what: string, encode: () => T): T {
  try {
    return encode();
  } catch (e) {
    if (e instanceof DecodeError) throw new InvalidArgumentError(`cannot encode ${what}: ${e.message}`, { cause: e });
    throw e;
  }
}

// ================================================================== decoding helpers

export function required(s: string, what: string): string {
  if (s.length === 0) throw new DecodeError(`${what} is missing`);
  return s;
}

/** A string of at most `max` chars (empty allowed: `required` first when it must be set). */
export function bounded(s: string, max: number, what: string): string {
  if (s.length > max) throw new DecodeError(`${what}: ${s.length} chars, at most ${max}`);
  return s;
}

/** A node id (also an origin, a writer, a data center or a role): set and at most MAX_NODE_ID chars. */
export function nodeId(s: string, what: string): string {
  return bounded(required(s, what), MAX_NODE_ID, what);
}

/** A key: set and at most MAX_KEY_BYTES bytes of UTF-8 (as `Key` allows). */
export function keyId(s: string, what: string): string {
  required(s, what);
  // A char is 1-3 UTF-8 bytes: count the bytes only when the length alone cannot decide.
  if (s.length > MAX_KEY_BYTES || (s.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(s) > MAX_KEY_BYTES)) {
    throw new DecodeError(`${what}: longer than ${MAX_KEY_BYTES} bytes`);
  }
  return s;
}

export function finite(n: number, what: string): number {
  if (!Number.isFinite(n)) throw new DecodeError(`${what}: ${n} is not a finite number`);
  return n;
}

/**
 * `impliedOrigin`: in an envelope, an empty originNode means the envelope's origin. `writer`: the
 * envelope is compact (see states.ts `decodeState`); `data` is then left out, the bytes not being
 * the value's own encoding.
 */
export function deltaFromPb(m: PbDelta, what: string, impliedOrigin?: string, writer?: string): CrdtDelta {
  checkFields(m, T.CRDTDelta, what, false);
  const key = keyId(m.key, `${what}.key`);
  const kind = kindOf(m.dataType, `${what}.dataType`);
  const originNode = m.originNode === "" && impliedOrigin !== undefined ? impliedOrigin : nodeId(m.originNode, `${what}.originNode`);
  const data = bytesOf(m.data);
  let value: Crdt;
  try {
    value = decodeValue(kind, data, writer);
  } catch (e) {
    throw new DecodeError(`${what} (key ${JSON.stringify(key)}): data is not a valid ${kind}: ${(e as Error).message}`, { cause: e });
  }
  return writer === undefined ? { key, kind, originNode, value, data } : { key, kind, originNode, value };
}

export function deltasFromPb(list: PbDelta[], what: string, impliedOrigin?: string, writer?: string): CrdtDelta[] {
  const out = new Array<CrdtDelta>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = deltaFromPb(list[i]!, `${what}[${i}]`, impliedOrigin, writer);
  return out;
}

export function tombstoneFromPb(m: PbTombstone, what: string): Tombstone {
  checkFields(m, T.Tombstone, what, false);
  return {
    key: keyId(m.key, `${what}.key`),
    kind: kindOf(m.dataType, `${what}.dataType`),
    deletedAtMs: i64(m.deletedAtMs, `${what}.deletedAtMs`),
    originNode: nodeId(m.originNode, `${what}.originNode`),
  };
}

export function tombstonesFromPb(list: PbTombstone[], what: string): Tombstone[] {
  const out = new Array<Tombstone>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = tombstoneFromPb(list[i]!, `${what}[${i}]`);
  return out;
}

export function fullStateFromPb(m: PbFullState, what: string): FullState {
  checkFields(m, T.FullState, what, false);
  return { entries: deltasFromPb(m.entries, `${what}.entries`), tombstones: tombstonesFromPb(m.tombstones, `${what}.tombstones`) };
}

export function keyHashesFromPb(list: PbKeyHash[], what: string): KeyHash[] {
  return list.map((k, i) => {
    checkFields(k, T.KeyHash, `${what}[${i}]`, false);
    return { key: keyId(k.key, `${what}[${i}].key`), hash: fixed64(k.hash) };
  });
}

export function sub<M extends object>(m: M | null | undefined, type: Type, what: string): M | undefined {
  if (m == null) return undefined;
  checkFields(m, type, what, false);
  return m;
}

/** Decodes `bytes` as `type` and converts it; only DecodeError escapes. */
export function decodeWith<P, R>(type: Type, bytes: Uint8Array, convert: (m: P, what: string) => R): R {
  const what = type.name;
  return guard(what, () => convert(decodeMessage<P>(type, bytes, what, false), what));
}

// ================================================================== CRDTDelta, Tombstone

export function encodeCrdtDelta(d: CrdtDelta): Uint8Array {
  return encoding("CRDTDelta", () => encodeMessage(T.CRDTDelta, deltaToPb(d, "CRDTDelta")));
}
export function decodeCrdtDelta(bytes: Uint8Array): CrdtDelta {
  return decodeWith(T.CRDTDelta, bytes, deltaFromPb);
}

export function encodeTombstone(t: Tombstone): Uint8Array {
  return encoding("Tombstone", () => encodeMessage(T.Tombstone, tombstoneToPb(t, "Tombstone")));
}
export function decodeTombstone(bytes: Uint8Array): Tombstone {
  return decodeWith(T.Tombstone, bytes, tombstoneFromPb);
}

// ================================================================== FullState

export function encodeFullState(s: FullState): Uint8Array {
  return encoding("FullState", () => encodeMessage(T.FullState, fullStateToPb(s, "FullState")));
}
export function decodeFullState(bytes: Uint8Array): FullState {
  return decodeWith(T.FullState, bytes, fullStateFromPb);
}
