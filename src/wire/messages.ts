/**
 * The replication messages of proto/crdt.proto as plain TypeScript shapes, with their encoders and
 * decoders.
 *
 * Conventions (see also src/wire/codec.ts):
 * - uint64/int64 sequences, incarnations, timestamps and ids are `number` (safe integers; a decoder
 *   rejects anything past 2^53 - 1 with DecodeError, an encoder rejects unsafe ones with
 *   InvalidArgumentError); fixed64 content hashes are `bigint`.
 * - A `DataType` travels as the `DataKind` string of src/crdt/types.ts.
 * - A CRDTDelta carries a decoded `Crdt` (`value`); decoding validates it as a state of the named
 *   kind, so a delta whose bytes are another type's state is a DecodeError.
 * - oneof messages (NodeRequest, NodeReply, SnapshotEntry) are tagged unions on `type`, with the
 *   chosen message's fields alongside.
 * - Decoders throw only DecodeError: on garbage, truncation, wrong wire types, unknown enum
 *   numbers, missing required fields (empty origin/key/node ...). Unknown field numbers are ignored
 *   (a newer peer may add fields).
 * - Encoders return a fresh Uint8Array per call (see pb.ts `encodeMessage`).
 */
import type { Type } from "protobufjs";
import type { Crdt, DataKind } from "../crdt/types.js";
import { DecodeError, InvalidArgumentError } from "../errors.js";
import {
  bytesOf,
  checkFields,
  decodeMessage,
  encodeMessage,
  fixed64,
  guard,
  i64,
  type Int64,
  messageType,
  toLongBits,
  u64,
} from "./pb.js";
import { dataTypeOf, decodeValue, encodeValue, kindOf } from "./states.js";

// ================================================================== shapes

/** One key's delta (or full state: a state is its own largest delta). Wire: CRDTDelta. */
export interface CrdtDelta {
  key: string;
  kind: DataKind;
  originNode: string;
  /** The delta or state, a value of `kind`. */
  value: Crdt;
  /**
   * `encodeValue(value)`. Optional when encoding (pass it when you already have it, e.g. to size a
   * batch: it is then used as is); always set by decoders, as a view into the decoded message's
   * bytes (copy it to keep it beyond the message).
   */
  data?: Uint8Array;
}

/** A deleted key. */
export interface Tombstone {
  key: string;
  kind: DataKind;
  deletedAtMs: number;
  originNode: string;
}

/** A part of a value too large for one NATS message; reassembled by (origin, incarnation, chunkId). */
export interface Chunk {
  chunkId: number;
  /** 0-based, < total. */
  index: number;
  total: number;
  /** A slice of an encoded DeltaEnvelope holding the one large delta. */
  data: Uint8Array;
}

/**
 * What a node publishes on `crdt.deltas`. On the wire the send time is µs after the incarnation
 * (the origin's start in ms), and a delta's originNode equal to `origin` is left out.
 */
export interface DeltaEnvelope {
  origin: string;
  /** The origin's start, ms since the epoch. */
  incarnation: number;
  sequence: number;
  deltas: CrdtDelta[];
  tombstones: Tombstone[];
  /** Wall clock, ms; carried to the µs. */
  sentAtMs: number;
  /** Set instead of deltas/tombstones for an oversized delta. */
  chunk?: Chunk;
}

export interface Heartbeat {
  node: string;
  dataCenter: string;
  roles: string[];
  startedAtMs: number;
  incarnation: number;
  lastSequence: number;
  leaving: boolean;
  /** Removal votes: members the sender has not heard for removalTimeoutMs. */
  silent: string[];
  /** Admission votes: members the sender hears and has synced with (or counts). */
  vouched: string[];
  /** Members the sender removed by majority vote within removalTimeoutMs; absent: none. */
  removed?: string[];
  sentAtMs: number;
}

/** At most this many node ids per heartbeat vote list; each id at most MAX_NODE_ID chars. */
export const MAX_VOTES = 1024;
const MAX_NODE_ID = 128;

export interface BucketHash {
  bucket: number;
  hash: bigint;
}

export interface KeyHash {
  key: string;
  hash: bigint;
}

export interface DigestRequest {
  from: string;
  level: number;
  buckets: BucketHash[];
  keys: KeyHash[];
  bucket: number;
}

export interface FullState {
  entries: CrdtDelta[];
  tombstones: Tombstone[];
}

export interface DigestReply {
  differing: number[];
  keys: KeyHash[];
  state?: FullState;
  wanted: string[];
}

export interface RepairRequest {
  from: string;
  incarnation: number;
  /** Inclusive. */
  fromSequence: number;
  /** Inclusive, ≥ fromSequence. */
  toSequence: number;
}

export interface RepairReply {
  /** Encoded DeltaEnvelopes, as published (decode each with decodeDeltaEnvelope). */
  envelopes: Uint8Array[];
  /** false: some were evicted; do a digest sync instead. */
  complete: boolean;
}

export interface WriteRequest {
  from: string;
  deltas: CrdtDelta[];
  tombstones: Tombstone[];
}

export interface WriteAck {
  ok: boolean;
  error: string;
}

export interface ReadRequest {
  from: string;
  key: string;
  kind: DataKind;
}

export interface ReadReply {
  found: boolean;
  state?: CrdtDelta;
  tombstone?: Tombstone;
}

/** A starting node asks who holds its node id (sent to that id's own request subject). */
export interface IdentifyRequest {
  /** "host:pid" of the asking process. */
  from: string;
}

/** The process holding a node id, answering an IdentifyRequest. */
export interface Identity {
  incarnation: number;
  startedAtMs: number;
  host: string;
  pid: number;
}

/** A starting node's question to the members (see proto MemberHello). */
export interface MemberHello {
  node: string;
  /** Where every member also sends its answer. */
  replyTo: string;
}

export interface HelloMember {
  node: string;
  dataCenter: string;
  roles: string[];
}

export interface MemberHelloReply {
  from: string;
  /** The newest incarnation the member knows for the asking node id; 0: none. */
  incarnation: number;
  /** The latest start among the members it knows, itself included. */
  youngestStartedAtMs: number;
  /** Reachable members it knows, itself included, the asking node id not: how many answers to expect. */
  members: number;
  /** The agreed membership it counts, itself included, the asking node id not; absent: none. */
  counted?: HelloMember[];
}

/** Everything addressed to one node's request subject. */
export type NodeRequest =
  | ({ type: "write" } & WriteRequest)
  | ({ type: "read" } & ReadRequest)
  | ({ type: "digest" } & DigestRequest)
  | ({ type: "repair" } & RepairRequest)
  /** Unsolicited full states (the answer to DigestReply.wanted). */
  | ({ type: "push" } & FullState)
  | ({ type: "identify" } & IdentifyRequest);

export type NodeReply =
  | ({ type: "write" } & WriteAck)
  | ({ type: "read" } & ReadReply)
  | ({ type: "digest" } & DigestReply)
  | ({ type: "repair" } & RepairReply)
  | ({ type: "identity" } & Identity)
  | { type: "error"; error: string };

/** Cross-DC: what a DC leader flushes to a remote DC. Wire: CRDTDeltaBatch. */
export interface CrdtDeltaBatch {
  originDc: string;
  originNode: string;
  batchId: number;
  sentAtMs: number;
  /** Accumulated per key: one entry per key. */
  deltas: CrdtDelta[];
  tombstones: Tombstone[];
}

export interface CrdtDeltaBatchAck {
  batchId: number;
  ok: boolean;
  error: string;
}

export interface SnapshotMeta {
  node: string;
  incarnation: number;
  lastSequence: number;
  writtenAtMs: number;
  writerId: string;
  cleanShutdown: boolean;
}

/** One LevelDB value ("v/<key>" value, "t/<key>" tombstone, "m/<name>" meta). */
export type SnapshotEntry =
  | ({ type: "value" } & CrdtDelta)
  | ({ type: "tombstone" } & Tombstone)
  | ({ type: "meta" } & SnapshotMeta);

// ================================================================== protobuf types

const T = {
  CRDTDelta: messageType("CRDTDelta"),
  Tombstone: messageType("Tombstone"),
  Chunk: messageType("Chunk"),
  DeltaEnvelope: messageType("DeltaEnvelope"),
  Heartbeat: messageType("Heartbeat"),
  BucketHash: messageType("BucketHash"),
  KeyHash: messageType("KeyHash"),
  DigestRequest: messageType("DigestRequest"),
  DigestReply: messageType("DigestReply"),
  FullState: messageType("FullState"),
  RepairRequest: messageType("RepairRequest"),
  RepairReply: messageType("RepairReply"),
  WriteRequest: messageType("WriteRequest"),
  WriteAck: messageType("WriteAck"),
  ReadRequest: messageType("ReadRequest"),
  ReadReply: messageType("ReadReply"),
  NodeRequest: messageType("NodeRequest"),
  NodeReply: messageType("NodeReply"),
  CRDTDeltaBatch: messageType("CRDTDeltaBatch"),
  CRDTDeltaBatchAck: messageType("CRDTDeltaBatchAck"),
  SnapshotEntry: messageType("SnapshotEntry"),
  SnapshotMeta: messageType("SnapshotMeta"),
  IdentifyRequest: messageType("IdentifyRequest"),
  Identity: messageType("Identity"),
  MemberHello: messageType("MemberHello"),
  MemberHelloReply: messageType("MemberHelloReply"),
};

// What protobufjs decodes (defaults come from the prototype: "", 0, false, [], null, Long 0).
interface PbDelta {
  key: string;
  dataType: number;
  originNode: string;
  data: Uint8Array;
}
interface PbTombstone {
  key: string;
  dataType: number;
  deletedAtMs: Int64;
  originNode: string;
}
interface PbChunk {
  chunkId: Int64;
  index: number;
  total: number;
  data: Uint8Array;
}
interface PbEnvelope {
  origin: string;
  incarnation: Int64;
  sequence: Int64;
  deltas: PbDelta[];
  tombstones: PbTombstone[];
  sentAfterUs: Int64;
  chunk: PbChunk | null;
  sentBeforeUs: Int64;
}
interface PbHeartbeat {
  node: string;
  dataCenter: string;
  roles: string[];
  startedAtMs: Int64;
  incarnation: Int64;
  lastSequence: Int64;
  leaving: boolean;
  sentAtMs: number;
  silent: string[];
  vouched: string[];
  removed: string[];
}
interface PbBucketHash {
  bucket: number;
  hash: Int64;
}
interface PbKeyHash {
  key: string;
  hash: Int64;
}
interface PbDigestRequest {
  from: string;
  level: number;
  buckets: PbBucketHash[];
  keys: PbKeyHash[];
  bucket: number;
}
interface PbFullState {
  entries: PbDelta[];
  tombstones: PbTombstone[];
}
interface PbDigestReply {
  differing: number[];
  keys: PbKeyHash[];
  state: PbFullState | null;
  wanted: string[];
}
interface PbRepairRequest {
  from: string;
  incarnation: Int64;
  fromSequence: Int64;
  toSequence: Int64;
}
interface PbRepairReply {
  envelopes: Uint8Array[];
  complete: boolean;
}
interface PbWriteRequest {
  from: string;
  deltas: PbDelta[];
  tombstones: PbTombstone[];
}
interface PbWriteAck {
  ok: boolean;
  error: string;
}
interface PbReadRequest {
  from: string;
  key: string;
  dataType: number;
}
interface PbReadReply {
  found: boolean;
  state: PbDelta | null;
  tombstone: PbTombstone | null;
}
interface PbNodeRequest {
  write: PbWriteRequest | null;
  read: PbReadRequest | null;
  digest: PbDigestRequest | null;
  repair: PbRepairRequest | null;
  push: PbFullState | null;
  identify: { from: string } | null;
}
interface PbNodeReply {
  write: PbWriteAck | null;
  read: PbReadReply | null;
  digest: PbDigestReply | null;
  repair: PbRepairReply | null;
  error: string | null;
  identity: { incarnation: Int64; startedAtMs: Int64; host: string; pid: number } | null;
}
interface PbBatch {
  originDc: string;
  originNode: string;
  batchId: Int64;
  sentAtMs: number;
  deltas: PbDelta[];
  tombstones: PbTombstone[];
}
interface PbBatchAck {
  batchId: Int64;
  ok: boolean;
  error: string;
}
interface PbSnapshotMeta {
  node: string;
  incarnation: Int64;
  lastSequence: Int64;
  writtenAtMs: number;
  writerId: string;
  cleanShutdown: boolean;
}
interface PbSnapshotEntry {
  value: PbDelta | null;
  tombstone: PbTombstone | null;
  meta: PbSnapshotMeta | null;
}

// ================================================================== encoding helpers

function argError(what: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`cannot encode ${what}: ${why}`);
}

function needString(s: unknown, what: string): string {
  if (typeof s !== "string" || s.length === 0) throw argError(what, "must be a non-empty string");
  return s;
}

function needU64(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw argError(what, `must be a non-negative safe integer, got ${String(n)}`);
  return n;
}

function needI64(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n)) throw argError(what, `must be a safe integer, got ${String(n)}`);
  return n;
}

function needU32(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw argError(what, `must be a uint32, got ${String(n)}`);
  return n;
}

function needFinite(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isFinite(n)) throw argError(what, `must be a finite number, got ${String(n)}`);
  return n;
}

function needHash(h: unknown, what: string): { low: number; high: number; unsigned: boolean } {
  if (typeof h !== "bigint" || h < 0n || h > 0xffffffffffffffffn) throw argError(what, "must be a bigint in [0, 2^64)");
  return toLongBits(h);
}

function deltaToPb(d: CrdtDelta, what: string): PbDelta {
  const kind = d.kind;
  if (d.value === undefined || d.value === null || d.value.kind !== kind) {
    throw argError(what, `value must be a ${kind} (got ${d.value?.kind ?? String(d.value)})`);
  }
  return {
    key: needString(d.key, `${what}.key`),
    dataType: dataTypeOf(kind),
    originNode: needString(d.originNode, `${what}.originNode`),
    data: d.data ?? encodeValue(d.value),
  };
}

function deltasToPb(list: readonly CrdtDelta[], what: string): PbDelta[] {
  const out = new Array<PbDelta>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = deltaToPb(list[i]!, `${what}[${i}]`);
  return out;
}

function tombstoneToPb(t: Tombstone, what: string): object {
  return {
    key: needString(t.key, `${what}.key`),
    dataType: dataTypeOf(t.kind),
    deletedAtMs: needI64(t.deletedAtMs, `${what}.deletedAtMs`),
    originNode: needString(t.originNode, `${what}.originNode`),
  };
}

function tombstonesToPb(list: readonly Tombstone[] | undefined, what: string): object[] {
  if (list === undefined) return [];
  const out = new Array<object>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = tombstoneToPb(list[i]!, `${what}[${i}]`);
  return out;
}

function fullStateToPb(s: FullState, what: string): object {
  return { entries: deltasToPb(s.entries, `${what}.entries`), tombstones: tombstonesToPb(s.tombstones, `${what}.tombstones`) };
}

function keyHashesToPb(list: readonly KeyHash[], what: string): object[] {
  return list.map((k, i) => ({ key: needString(k.key, `${what}[${i}].key`), hash: needHash(k.hash, `${what}[${i}].hash`) }));
}

/** Wraps an encoder so a kind that is not a DataKind surfaces as InvalidArgumentError (not DecodeError). */
function encoding<T>(what: string, encode: () => T): T {
  try {
    return encode();
  } catch (e) {
    if (e instanceof DecodeError) throw new InvalidArgumentError(`cannot encode ${what}: ${e.message}`, { cause: e });
    throw e;
  }
}

// ================================================================== decoding helpers

function required(s: string, what: string): string {
  if (s.length === 0) throw new DecodeError(`${what} is missing`);
  return s;
}

function finite(n: number, what: string): number {
  if (!Number.isFinite(n)) throw new DecodeError(`${what}: ${n} is not a finite number`);
  return n;
}

/** `impliedOrigin`: in an envelope, an empty originNode means the envelope's origin. */
function deltaFromPb(m: PbDelta, what: string, impliedOrigin?: string): CrdtDelta {
  checkFields(m, T.CRDTDelta, what, false);
  const key = required(m.key, `${what}.key`);
  const kind = kindOf(m.dataType, `${what}.dataType`);
  const originNode = m.originNode === "" && impliedOrigin !== undefined ? impliedOrigin : required(m.originNode, `${what}.originNode`);
  const data = bytesOf(m.data);
  let value: Crdt;
  try {
    value = decodeValue(kind, data);
  } catch (e) {
    throw new DecodeError(`${what} (key ${JSON.stringify(key)}): data is not a valid ${kind}: ${(e as Error).message}`, { cause: e });
  }
  return { key, kind, originNode, value, data };
}

function deltasFromPb(list: PbDelta[], what: string, impliedOrigin?: string): CrdtDelta[] {
  const out = new Array<CrdtDelta>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = deltaFromPb(list[i]!, `${what}[${i}]`, impliedOrigin);
  return out;
}

function tombstoneFromPb(m: PbTombstone, what: string): Tombstone {
  checkFields(m, T.Tombstone, what, false);
  return {
    key: required(m.key, `${what}.key`),
    kind: kindOf(m.dataType, `${what}.dataType`),
    deletedAtMs: i64(m.deletedAtMs, `${what}.deletedAtMs`),
    originNode: required(m.originNode, `${what}.originNode`),
  };
}

function tombstonesFromPb(list: PbTombstone[], what: string): Tombstone[] {
  const out = new Array<Tombstone>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = tombstoneFromPb(list[i]!, `${what}[${i}]`);
  return out;
}

function fullStateFromPb(m: PbFullState, what: string): FullState {
  checkFields(m, T.FullState, what, false);
  return { entries: deltasFromPb(m.entries, `${what}.entries`), tombstones: tombstonesFromPb(m.tombstones, `${what}.tombstones`) };
}

function keyHashesFromPb(list: PbKeyHash[], what: string): KeyHash[] {
  return list.map((k, i) => {
    checkFields(k, T.KeyHash, `${what}[${i}]`, false);
    return { key: required(k.key, `${what}[${i}].key`), hash: fixed64(k.hash) };
  });
}

function sub<M extends object>(m: M | null | undefined, type: Type, what: string): M | undefined {
  if (m == null) return undefined;
  checkFields(m, type, what, false);
  return m;
}

/** Decodes `bytes` as `type` and converts it; only DecodeError escapes. */
function decodeWith<P, R>(type: Type, bytes: Uint8Array, convert: (m: P, what: string) => R): R {
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

// ================================================================== DeltaEnvelope

function envelopeToPb(e: DeltaEnvelope): object {
  const w = "DeltaEnvelope";
  const origin = needString(e.origin, `${w}.origin`);
  const incarnation = needU64(e.incarnation, `${w}.incarnation`);
  const deltas = deltasToPb(e.deltas ?? [], `${w}.deltas`);
  for (const d of deltas) if (d.originNode === origin) d.originNode = ""; // implied by the envelope
  const out: Record<string, unknown> = {
    origin,
    incarnation,
    sequence: needU64(e.sequence, `${w}.sequence`),
    deltas,
    tombstones: tombstonesToPb(e.tombstones, `${w}.tombstones`),
  };
  // Before the incarnation when it is ahead of the wall clock (it only ever grows, see identity.ts).
  const afterUs = Math.round((needFinite(e.sentAtMs ?? 0, `${w}.sentAtMs`) - incarnation) * 1000);
  if (afterUs >= 0) out["sentAfterUs"] = Math.min(afterUs, Number.MAX_SAFE_INTEGER);
  else out["sentBeforeUs"] = Math.min(-afterUs, incarnation * 1000, Number.MAX_SAFE_INTEGER);
  if (e.chunk !== undefined) {
    const c = e.chunk;
    if ((e.deltas?.length ?? 0) > 0 || (e.tombstones?.length ?? 0) > 0) throw argError(w, "a chunk envelope carries no deltas or tombstones");
    const total = needU32(c.total, `${w}.chunk.total`);
    const index = needU32(c.index, `${w}.chunk.index`);
    if (total < 1 || index >= total) throw argError(w, `chunk index ${index} of ${total}`);
    out["chunk"] = { chunkId: needU64(c.chunkId, `${w}.chunk.chunkId`), index, total, data: c.data };
  }
  return out;
}

export function encodeDeltaEnvelope(e: DeltaEnvelope): Uint8Array {
  return encoding("DeltaEnvelope", () => encodeMessage(T.DeltaEnvelope, envelopeToPb(e)));
}

function envelopeFromPb(m: PbEnvelope, what: string): DeltaEnvelope {
  const origin = required(m.origin, `${what}.origin`);
  const incarnation = u64(m.incarnation, `${what}.incarnation`);
  const out: DeltaEnvelope = {
    origin,
    incarnation,
    sequence: u64(m.sequence, `${what}.sequence`),
    deltas: deltasFromPb(m.deltas, `${what}.deltas`, origin),
    tombstones: tombstonesFromPb(m.tombstones, `${what}.tombstones`),
    sentAtMs: incarnation + (u64(m.sentAfterUs, `${what}.sentAfterUs`) - u64(m.sentBeforeUs, `${what}.sentBeforeUs`)) / 1000,
  };
  const c = sub(m.chunk, T.Chunk, `${what}.chunk`);
  if (c !== undefined) {
    if (out.deltas.length > 0 || out.tombstones.length > 0) throw new DecodeError(`${what}: a chunk envelope carries deltas or tombstones`);
    if (c.total < 1 || c.index >= c.total) throw new DecodeError(`${what}.chunk: index ${c.index} of ${c.total}`);
    out.chunk = { chunkId: u64(c.chunkId, `${what}.chunk.chunkId`), index: c.index, total: c.total, data: bytesOf(c.data) };
  }
  return out;
}

/** Decodes a DeltaEnvelope, every delta's value included. Throws only DecodeError. */
export function decodeDeltaEnvelope(bytes: Uint8Array): DeltaEnvelope {
  return decodeWith(T.DeltaEnvelope, bytes, envelopeFromPb);
}

// ================================================================== Heartbeat

export function encodeHeartbeat(h: Heartbeat): Uint8Array {
  const w = "Heartbeat";
  return encodeMessage(T.Heartbeat, {
    node: needString(h.node, `${w}.node`),
    dataCenter: h.dataCenter ?? "",
    roles: h.roles ?? [],
    startedAtMs: needU64(h.startedAtMs, `${w}.startedAtMs`),
    incarnation: needU64(h.incarnation, `${w}.incarnation`),
    lastSequence: needU64(h.lastSequence, `${w}.lastSequence`),
    leaving: h.leaving === true,
    sentAtMs: needFinite(h.sentAtMs ?? 0, `${w}.sentAtMs`),
    silent: h.silent ?? [],
    vouched: h.vouched ?? [],
    removed: h.removed ?? [],
  });
}

function votesFromPb(ids: string[], what: string): string[] {
  if (ids.length > MAX_VOTES) throw new DecodeError(`${what}: ${ids.length} node ids, at most ${MAX_VOTES}`);
  for (const id of ids) {
    if (id.length === 0 || id.length > MAX_NODE_ID) throw new DecodeError(`${what}: a node id of ${id.length} chars (1-${MAX_NODE_ID})`);
  }
  return ids.slice();
}

function heartbeatFromPb(m: PbHeartbeat, what: string): Heartbeat {
  return {
    node: required(m.node, `${what}.node`),
    dataCenter: m.dataCenter,
    roles: m.roles.slice(),
    startedAtMs: u64(m.startedAtMs, `${what}.startedAtMs`),
    incarnation: u64(m.incarnation, `${what}.incarnation`),
    lastSequence: u64(m.lastSequence, `${what}.lastSequence`),
    leaving: m.leaving,
    silent: votesFromPb(m.silent, `${what}.silent`),
    vouched: votesFromPb(m.vouched, `${what}.vouched`),
    removed: votesFromPb(m.removed, `${what}.removed`),
    sentAtMs: finite(m.sentAtMs, `${what}.sentAtMs`),
  };
}

export function decodeHeartbeat(bytes: Uint8Array): Heartbeat {
  return decodeWith(T.Heartbeat, bytes, heartbeatFromPb);
}

// ================================================================== MemberHello

export function encodeMemberHello(h: MemberHello): Uint8Array {
  const w = "MemberHello";
  return encodeMessage(T.MemberHello, { node: needString(h.node, `${w}.node`), replyTo: needString(h.replyTo, `${w}.replyTo`) });
}

export function decodeMemberHello(bytes: Uint8Array): MemberHello {
  return decodeWith(T.MemberHello, bytes, (m: { node: string; replyTo: string }, what) => ({
    node: required(m.node, `${what}.node`),
    replyTo: required(m.replyTo, `${what}.replyTo`),
  }));
}

export function encodeMemberHelloReply(r: MemberHelloReply): Uint8Array {
  const w = "MemberHelloReply";
  return encodeMessage(T.MemberHelloReply, {
    from: needString(r.from, `${w}.from`),
    incarnation: needU64(r.incarnation, `${w}.incarnation`),
    youngestStartedAtMs: needU64(r.youngestStartedAtMs, `${w}.youngestStartedAtMs`),
    members: needU32(r.members, `${w}.members`),
    counted: (r.counted ?? []).map((m, i) => ({ node: needString(m.node, `${w}.counted[${i}].node`), dataCenter: m.dataCenter ?? "", roles: m.roles ?? [] })),
  });
}

export function decodeMemberHelloReply(bytes: Uint8Array): MemberHelloReply {
  type Pb = { from: string; incarnation: Int64; youngestStartedAtMs: Int64; members: number; counted: HelloMember[] };
  return decodeWith(T.MemberHelloReply, bytes, (m: Pb, what) => {
    if (m.counted.length > MAX_VOTES) throw new DecodeError(`${what}.counted: ${m.counted.length} members, at most ${MAX_VOTES}`);
    votesFromPb(m.counted.map((c) => c.node), `${what}.counted`);
    return {
      from: required(m.from, `${what}.from`),
      incarnation: u64(m.incarnation, `${what}.incarnation`),
      youngestStartedAtMs: u64(m.youngestStartedAtMs, `${what}.youngestStartedAtMs`),
      members: m.members,
      counted: m.counted.map((c) => ({ node: c.node, dataCenter: c.dataCenter, roles: c.roles.slice() })),
    };
  });
}

// ================================================================== FullState

export function encodeFullState(s: FullState): Uint8Array {
  return encoding("FullState", () => encodeMessage(T.FullState, fullStateToPb(s, "FullState")));
}
export function decodeFullState(bytes: Uint8Array): FullState {
  return decodeWith(T.FullState, bytes, fullStateFromPb);
}

// ================================================================== NodeRequest / NodeReply

function nodeRequestToPb(r: NodeRequest): object {
  const w = `NodeRequest(${String(r?.type)})`;
  switch (r.type) {
    case "write":
      return {
        write: {
          from: needString(r.from, `${w}.from`),
          deltas: deltasToPb(r.deltas ?? [], `${w}.deltas`),
          tombstones: tombstonesToPb(r.tombstones, `${w}.tombstones`),
        },
      };
    case "read":
      return { read: { from: needString(r.from, `${w}.from`), key: needString(r.key, `${w}.key`), dataType: dataTypeOf(r.kind) } };
    case "digest":
      return {
        digest: {
          from: needString(r.from, `${w}.from`),
          level: needU32(r.level, `${w}.level`),
          buckets: (r.buckets ?? []).map((b, i) => ({ bucket: needU32(b.bucket, `${w}.buckets[${i}].bucket`), hash: needHash(b.hash, `${w}.buckets[${i}].hash`) })),
          keys: keyHashesToPb(r.keys ?? [], `${w}.keys`),
          bucket: needU32(r.bucket ?? 0, `${w}.bucket`),
        },
      };
    case "repair": {
      const from = needU64(r.fromSequence, `${w}.fromSequence`);
      const to = needU64(r.toSequence, `${w}.toSequence`);
      if (from > to) throw argError(w, `fromSequence ${from} > toSequence ${to}`);
      return { repair: { from: needString(r.from, `${w}.from`), incarnation: needU64(r.incarnation, `${w}.incarnation`), fromSequence: from, toSequence: to } };
    }
    case "push":
      return { push: fullStateToPb(r, `${w}`) };
    case "identify":
      return { identify: { from: needString(r.from, `${w}.from`) } };
    default:
      throw argError("NodeRequest", `unknown type ${JSON.stringify((r as { type?: unknown }).type)}`);
  }
}

export function encodeNodeRequest(r: NodeRequest): Uint8Array {
  return encoding("NodeRequest", () => encodeMessage(T.NodeRequest, nodeRequestToPb(r)));
}

function nodeRequestFromPb(m: PbNodeRequest, what: string): NodeRequest {
  const w = sub(m.write, T.WriteRequest, `${what}.write`);
  if (w !== undefined) {
    return {
      type: "write",
      from: required(w.from, `${what}.write.from`),
      deltas: deltasFromPb(w.deltas, `${what}.write.deltas`),
      tombstones: tombstonesFromPb(w.tombstones, `${what}.write.tombstones`),
    };
  }
  const r = sub(m.read, T.ReadRequest, `${what}.read`);
  if (r !== undefined) {
    return { type: "read", from: required(r.from, `${what}.read.from`), key: required(r.key, `${what}.read.key`), kind: kindOf(r.dataType, `${what}.read.dataType`) };
  }
  const d = sub(m.digest, T.DigestRequest, `${what}.digest`);
  if (d !== undefined) {
    return {
      type: "digest",
      from: required(d.from, `${what}.digest.from`),
      level: d.level,
      buckets: d.buckets.map((b, i) => {
        checkFields(b, T.BucketHash, `${what}.digest.buckets[${i}]`, false);
        return { bucket: b.bucket, hash: fixed64(b.hash) };
      }),
      keys: keyHashesFromPb(d.keys, `${what}.digest.keys`),
      bucket: d.bucket,
    };
  }
  const p = sub(m.repair, T.RepairRequest, `${what}.repair`);
  if (p !== undefined) {
    const fromSequence = u64(p.fromSequence, `${what}.repair.fromSequence`);
    const toSequence = u64(p.toSequence, `${what}.repair.toSequence`);
    if (fromSequence > toSequence) throw new DecodeError(`${what}.repair: fromSequence ${fromSequence} > toSequence ${toSequence}`);
    return { type: "repair", from: required(p.from, `${what}.repair.from`), incarnation: u64(p.incarnation, `${what}.repair.incarnation`), fromSequence, toSequence };
  }
  const s = m.push;
  if (s != null) return { type: "push", ...fullStateFromPb(s, `${what}.push`) };
  const i = sub(m.identify, T.IdentifyRequest, `${what}.identify`);
  if (i !== undefined) return { type: "identify", from: required(i.from, `${what}.identify.from`) };
  throw new DecodeError(`${what}: empty (no body)`);
}

/** Decodes a request addressed to this node. Throws only DecodeError (also for an empty body). */
export function decodeNodeRequest(bytes: Uint8Array): NodeRequest {
  return decodeWith(T.NodeRequest, bytes, nodeRequestFromPb);
}

function nodeReplyToPb(r: NodeReply): object {
  const w = `NodeReply(${String(r?.type)})`;
  switch (r.type) {
    case "write":
      return { write: { ok: r.ok === true, error: r.error ?? "" } };
    case "read": {
      const read: Record<string, unknown> = { found: r.found === true };
      if (r.state !== undefined) read["state"] = deltaToPb(r.state, `${w}.state`);
      if (r.tombstone !== undefined) read["tombstone"] = tombstoneToPb(r.tombstone, `${w}.tombstone`);
      return { read };
    }
    case "digest": {
      const digest: Record<string, unknown> = {
        differing: (r.differing ?? []).map((b, i) => needU32(b, `${w}.differing[${i}]`)),
        keys: keyHashesToPb(r.keys ?? [], `${w}.keys`),
        wanted: (r.wanted ?? []).map((k, i) => needString(k, `${w}.wanted[${i}]`)),
      };
      if (r.state !== undefined) digest["state"] = fullStateToPb(r.state, `${w}.state`);
      return { digest };
    }
    case "repair":
      return { repair: { envelopes: r.envelopes ?? [], complete: r.complete === true } };
    case "identity":
      return {
        identity: {
          incarnation: needU64(r.incarnation, `${w}.incarnation`),
          startedAtMs: needU64(r.startedAtMs, `${w}.startedAtMs`),
          host: r.host ?? "",
          pid: needU32(r.pid, `${w}.pid`),
        },
      };
    case "error":
      // An empty error string would decode as "no body"; say something.
      return { error: needString(r.error, `${w}.error`) };
    default:
      throw argError("NodeReply", `unknown type ${JSON.stringify((r as { type?: unknown }).type)}`);
  }
}

export function encodeNodeReply(r: NodeReply): Uint8Array {
  return encoding("NodeReply", () => encodeMessage(T.NodeReply, nodeReplyToPb(r)));
}

function nodeReplyFromPb(m: PbNodeReply, what: string): NodeReply {
  const w = sub(m.write, T.WriteAck, `${what}.write`);
  if (w !== undefined) return { type: "write", ok: w.ok, error: w.error };
  const r = sub(m.read, T.ReadReply, `${what}.read`);
  if (r !== undefined) {
    const out: NodeReply = { type: "read", found: r.found };
    if (r.state != null) out.state = deltaFromPb(r.state, `${what}.read.state`);
    if (r.tombstone != null) out.tombstone = tombstoneFromPb(r.tombstone, `${what}.read.tombstone`);
    return out;
  }
  const d = sub(m.digest, T.DigestReply, `${what}.digest`);
  if (d !== undefined) {
    const out: NodeReply = {
      type: "digest",
      differing: d.differing.slice(),
      keys: keyHashesFromPb(d.keys, `${what}.digest.keys`),
      wanted: d.wanted.map((k, i) => required(k, `${what}.digest.wanted[${i}]`)),
    };
    if (d.state != null) out.state = fullStateFromPb(d.state, `${what}.digest.state`);
    return out;
  }
  const p = sub(m.repair, T.RepairReply, `${what}.repair`);
  if (p !== undefined) return { type: "repair", envelopes: p.envelopes.map(bytesOf), complete: p.complete };
  if (m.error != null && m.error !== "") return { type: "error", error: m.error };
  const id = sub(m.identity, T.Identity, `${what}.identity`);
  if (id !== undefined) {
    return {
      type: "identity",
      incarnation: u64(id.incarnation, `${what}.identity.incarnation`),
      startedAtMs: u64(id.startedAtMs, `${what}.identity.startedAtMs`),
      host: id.host,
      pid: id.pid,
    };
  }
  throw new DecodeError(`${what}: empty (no body)`);
}

/** Decodes a reply from a peer. Throws only DecodeError (also for an empty body). */
export function decodeNodeReply(bytes: Uint8Array): NodeReply {
  return decodeWith(T.NodeReply, bytes, nodeReplyFromPb);
}

// ================================================================== cross-DC

export function encodeCrdtDeltaBatch(b: CrdtDeltaBatch): Uint8Array {
  const w = "CRDTDeltaBatch";
  return encoding(w, () =>
    encodeMessage(T.CRDTDeltaBatch, {
      originDc: needString(b.originDc, `${w}.originDc`),
      originNode: needString(b.originNode, `${w}.originNode`),
      batchId: needU64(b.batchId, `${w}.batchId`),
      sentAtMs: needFinite(b.sentAtMs ?? 0, `${w}.sentAtMs`),
      deltas: deltasToPb(b.deltas ?? [], `${w}.deltas`),
      tombstones: tombstonesToPb(b.tombstones, `${w}.tombstones`),
    }),
  );
}

function batchFromPb(m: PbBatch, what: string): CrdtDeltaBatch {
  return {
    originDc: required(m.originDc, `${what}.originDc`),
    originNode: required(m.originNode, `${what}.originNode`),
    batchId: u64(m.batchId, `${what}.batchId`),
    sentAtMs: finite(m.sentAtMs, `${what}.sentAtMs`),
    deltas: deltasFromPb(m.deltas, `${what}.deltas`),
    tombstones: tombstonesFromPb(m.tombstones, `${what}.tombstones`),
  };
}

export function decodeCrdtDeltaBatch(bytes: Uint8Array): CrdtDeltaBatch {
  return decodeWith(T.CRDTDeltaBatch, bytes, batchFromPb);
}

export function encodeCrdtDeltaBatchAck(a: CrdtDeltaBatchAck): Uint8Array {
  return encodeMessage(T.CRDTDeltaBatchAck, {
    batchId: needU64(a.batchId, "CRDTDeltaBatchAck.batchId"),
    ok: a.ok === true,
    error: a.error ?? "",
  });
}

export function decodeCrdtDeltaBatchAck(bytes: Uint8Array): CrdtDeltaBatchAck {
  return decodeWith(T.CRDTDeltaBatchAck, bytes, (m: PbBatchAck, what) => ({
    batchId: u64(m.batchId, `${what}.batchId`),
    ok: m.ok,
    error: m.error,
  }));
}

// ================================================================== durability

function metaToPb(s: SnapshotMeta, w: string): object {
  return {
    node: needString(s.node, `${w}.node`),
    incarnation: needU64(s.incarnation, `${w}.incarnation`),
    lastSequence: needU64(s.lastSequence, `${w}.lastSequence`),
    writtenAtMs: needFinite(s.writtenAtMs ?? 0, `${w}.writtenAtMs`),
    writerId: s.writerId ?? "",
    cleanShutdown: s.cleanShutdown === true,
  };
}

export function encodeSnapshotEntry(e: SnapshotEntry): Uint8Array {
  const w = `SnapshotEntry(${String(e?.type)})`;
  return encoding("SnapshotEntry", () => {
    switch (e.type) {
      case "value":
        return encodeMessage(T.SnapshotEntry, { value: deltaToPb(e, `${w}.value`) });
      case "tombstone":
        return encodeMessage(T.SnapshotEntry, { tombstone: tombstoneToPb(e, `${w}.tombstone`) });
      case "meta":
        return encodeMessage(T.SnapshotEntry, { meta: metaToPb(e, `${w}.meta`) });
      default:
        throw argError("SnapshotEntry", `unknown type ${JSON.stringify((e as { type?: unknown }).type)}`);
    }
  });
}

function snapshotEntryFromPb(m: PbSnapshotEntry, what: string): SnapshotEntry {
  if (m.value != null) return { type: "value", ...deltaFromPb(m.value, `${what}.value`) };
  if (m.tombstone != null) return { type: "tombstone", ...tombstoneFromPb(m.tombstone, `${what}.tombstone`) };
  const s = sub(m.meta, T.SnapshotMeta, `${what}.meta`);
  if (s !== undefined) {
    return {
      type: "meta",
      node: required(s.node, `${what}.meta.node`),
      incarnation: u64(s.incarnation, `${what}.meta.incarnation`),
      lastSequence: u64(s.lastSequence, `${what}.meta.lastSequence`),
      writtenAtMs: finite(s.writtenAtMs, `${what}.meta.writtenAtMs`),
      writerId: s.writerId,
      cleanShutdown: s.cleanShutdown,
    };
  }
  throw new DecodeError(`${what}: empty (no entry)`);
}

/** Decodes one LevelDB value. Throws only DecodeError (a corrupt entry is the caller's to skip and count). */
export function decodeSnapshotEntry(bytes: Uint8Array): SnapshotEntry {
  return decodeWith(T.SnapshotEntry, bytes, snapshotEntryFromPb);
}
