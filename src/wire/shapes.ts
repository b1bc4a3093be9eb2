/**
 * The messages of proto/crdt.proto as plain TypeScript shapes: replication, membership, cross-DC
 * batches and snapshot entries. Their codecs live in one module per protocol (replication.ts,
 * membership.ts, batches.ts, snapshot-entries.ts); other folders reach all of it through codec.ts.
 *
 * Conventions (see also src/wire/codec.ts):
 * - uint64/int64 sequences, incarnations, timestamps and ids are `number` (safe integers: past 2^53 - 1 a
 *   decoder throws DecodeError, an encoder InvalidArgumentError); fixed64 content hashes are `bigint`.
 * - A `DataType` travels as the `DataKind` string of src/crdt/types.ts. A CRDTDelta carries a decoded
 *   `Crdt` (`value`), validated as a state of the named kind (another type's state: DecodeError).
 * - oneof messages (NodeRequest, NodeReply, SnapshotEntry) are tagged unions on `type`, with the chosen fields alongside.
 * - Decoders throw only DecodeError: on garbage, truncation, wrong wire types, unknown enum numbers, missing
 *   required fields (empty origin/key/node ...). Unknown field numbers are ignored (a newer peer may add fields).
 * - Encoders return a fresh Uint8Array per call (see pb.ts `encodeMessage`).
 */
import type { Crdt, DataKind } from "../crdt/types.js";
import type { PageColumns } from "./range-page-reader.js";

/** One key's delta (or full state: a state is its own largest delta). Wire: CRDTDelta. */
export interface CrdtDelta {
  key: string;
  kind: DataKind;
  originNode: string;
  /** The delta or state, a value of `kind`. */
  value: Crdt;
  /**
   * `encodeValue(value)`. Optional when encoding (pass it when you already have it, e.g. to size a
   * batch: it is then used as is); set by decoders, as a view into the decoded message's bytes
   * (copy it to keep it beyond the message), except in a compact DeltaEnvelope (see its `writer`)
   * and in a bulk-pull page read by hand (range-page-reader.ts: nothing downstream reads `data`).
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
  /**
   * The compact form (proto `DeltaEnvelope.writer`): the deltas' states travel without this writer
   * id, which an empty node id stands for. Only for peers that read it (Heartbeat.compactDeltas);
   * decoders restore the full states (and leave the deltas' `data` out).
   */
  writer?: string;
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
  /** Members the sender heard leave (recently, or still held by a peer), with the incarnation that left; absent: none. */
  left?: Departure[];
  sentAtMs: number;
  /** The sender reads compact DeltaEnvelopes (see DeltaEnvelope.writer); absent or false: it does not. */
  compactDeltas?: boolean;
  /** The sender reads writer-id markers (crdt/writer-ids.ts `isMarker`); absent or false: it does not. */
  readsMarkers?: boolean;
  /** Nodes gone from the sender's DC whose ids it still holds unfolded (see cluster/pruning.ts RemovedNodes); absent: none. */
  unpruned?: string[];
}

/** A graceful leave, as a member relays it. */
export interface Departure {
  node: string;
  incarnation: number;
}

/** At most this many node ids per heartbeat vote list; each id at most MAX_NODE_ID chars. */
export const MAX_VOTES = 1024;
/**
 * Identifier limits decoders enforce (DecodeError past them), so a stranger on the bus cannot pin
 * memory with long ids: node ids, data centers and roles as options allow them (1-128 chars);
 * keys as `Key` allows them; a role list as long as a node could ever send; a hello's reply
 * subject and an identify request's `host:pid` (free text), far above real ones.
 */
export const MAX_NODE_ID = 128;
export const MAX_KEY_BYTES = 1024;
export const MAX_ROLES = 16;
export const MAX_TEXT = 512;

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
  pageBytes?: number; // a range page's most bytes (within the replier's limit, past a floor); absent: that limit
  storeOrder?: boolean; resumeAt?: number; // a range page in the replier's order, from resumeAt on (anti-entropy's RANGE_LEVEL)
}

export interface FullState {
  entries: CrdtDelta[];
  tombstones: Tombstone[];
  page?: PageColumns; // more entries, in a bulk-pull page's columns: merged after `entries`
}

export interface DigestReply {
  differing: number[];
  keys: KeyHash[];
  state?: FullState;
  wanted: string[];
  hashing?: number[]; // groups holding a key whose hash the replier is still computing (a large set's first digest): ask again shortly
  page?: PageColumns; // a bulk-pull page read by hand: `keys` and `state` are made from it when read
  resumeAt?: number; positions?: number; // a store-order range page: where the next goes on (absent: done), of how many
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
  /** The graceful leaves it remembers, with the incarnation that left; absent: none. */
  left?: Departure[];
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
  deltas: CrdtDelta[]; // accumulated per key: one entry per key
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
  /** Values in the store when written (0: unknown, as in a snapshot of a release before it). */
  values: number;
  /** The packs the last repack committed, numbers `first` up to (not including) `end`; undefined (a release before it): all. */
  packs?: PackRange;
}

export interface PackRange {
  first: number;
  end: number;
}

/** A value's anti-entropy digest entry hash, stored with it, and the hash definition it follows. */
export interface StoredDigestHash {
  version: number;
  hash: bigint;
}

/** One LevelDB value ("v/<key>" value, "t/<key>" tombstone, "m/<name>" meta). */
export type SnapshotEntry =
  | ({ type: "value"; digest?: StoredDigestHash } & CrdtDelta)
  | ({ type: "tombstone" } & Tombstone)
  | ({ type: "meta" } & SnapshotMeta);
