/** The protobufjs message types of proto/crdt.proto, and the plain objects protobufjs decodes them to. */
import { type Int64, messageType } from "./pb.js";

export const T = {
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
  PackRange: messageType("PackRange"),
  SnapshotPack: messageType("SnapshotPack"),
  IdentifyRequest: messageType("IdentifyRequest"),
  Identity: messageType("Identity"),
  MemberHello: messageType("MemberHello"),
  MemberHelloReply: messageType("MemberHelloReply"),
};

// What protobufjs decodes (defaults come from the prototype: "", 0, false, [], null, Long 0).
export interface PbDelta {
  key: string;
  dataType: number;
  originNode: string;
  data: Uint8Array;
}
export interface PbTombstone {
  key: string;
  dataType: number;
  deletedAtMs: Int64;
  originNode: string;
}
export interface PbChunk {
  chunkId: Int64;
  index: number;
  total: number;
  data: Uint8Array;
}
export interface PbEnvelope {
  origin: string;
  incarnation: Int64;
  sequence: Int64;
  deltas: PbDelta[];
  tombstones: PbTombstone[];
  sentAfterUs: Int64;
  chunk: PbChunk | null;
  sentBeforeUs: Int64;
  writer: string;
}
export interface PbHeartbeat {
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
  left: PbDeparture[];
  compactDeltas: boolean;
  readsMarkers: boolean;
  unpruned: string[];
}
export interface PbDeparture {
  node: string;
  incarnation: Int64;
}
export interface PbBucketHash {
  bucket: number;
  hash: Int64;
}
export interface PbKeyHash {
  key: string;
  hash: Int64;
}
export interface PbDigestRequest {
  from: string;
  level: number;
  buckets: PbBucketHash[];
  keys: PbKeyHash[];
  bucket: number;
  pageBytes: number;
  storeOrder: boolean;
  resumeAt: number;
}
export interface PbFullState {
  entries: PbDelta[];
  tombstones: PbTombstone[];
}
export interface PbDigestReply {
  differing: number[];
  keys: PbKeyHash[];
  state: PbFullState | null;
  wanted: string[];
  hashing: number[];
  resumeAt: number;
  positions: number;
}
export interface PbRepairRequest {
  from: string;
  incarnation: Int64;
  fromSequence: Int64;
  toSequence: Int64;
}
export interface PbRepairReply {
  envelopes: Uint8Array[];
  complete: boolean;
}
export interface PbWriteRequest {
  from: string;
  deltas: PbDelta[];
  tombstones: PbTombstone[];
}
export interface PbWriteAck {
  ok: boolean;
  error: string;
}
export interface PbReadRequest {
  from: string;
  key: string;
  dataType: number;
}
export interface PbReadReply {
  found: boolean;
  state: PbDelta | null;
  tombstone: PbTombstone | null;
}
export interface PbNodeRequest {
  write: PbWriteRequest | null;
  read: PbReadRequest | null;
  digest: PbDigestRequest | null;
  repair: PbRepairRequest | null;
  push: PbFullState | null;
  identify: { from: string } | null;
}
export interface PbNodeReply {
  write: PbWriteAck | null;
  read: PbReadReply | null;
  digest: PbDigestReply | null;
  repair: PbRepairReply | null;
  error: string | null;
  identity: { incarnation: Int64; startedAtMs: Int64; host: string; pid: number } | null;
}
export interface PbBatch {
  originDc: string;
  originNode: string;
  batchId: Int64;
  sentAtMs: number;
  deltas: PbDelta[];
  tombstones: PbTombstone[];
}
export interface PbBatchAck {
  batchId: Int64;
  ok: boolean;
  error: string;
}
export interface PbSnapshotMeta {
  node: string;
  incarnation: Int64;
  lastSequence: Int64;
  writtenAtMs: number;
  writerId: string;
  cleanShutdown: boolean;
  values: Int64;
  packs: PbPackRange | null;
}
export interface PbPackRange {
  first: Int64;
  end: Int64;
}
export interface PbSnapshotEntry {
  value: PbDelta | null;
  tombstone: PbTombstone | null;
  meta: PbSnapshotMeta | null;
  digestVersion: number;
  digestHash: Int64;
}
