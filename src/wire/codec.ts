/**
 * The wire codec of crdt-replicator: everything that turns values and replication messages into
 * bytes and back, and the one module of src/wire that other folders import. Inside: shapes.ts (the
 * messages as TypeScript shapes), one codec module per protocol (replication.ts, membership.ts,
 * batches.ts, snapshot-entries.ts, snapshot-packs.ts, range-pages.ts, range-page-reader.ts, envelope-writer.ts) over convert.ts (what they share), states.ts (CRDT states),
 * pb.ts and pb-shapes.ts (protobufjs).
 *
 * Schema: proto/crdt.proto (the single source of truth); `npm run proto` generates gen/crdt.ts
 * (ts-proto code) and src/wire/gen/descriptor.ts (the protobufjs descriptor); `npm test` fails when
 * either is stale.
 *
 * The runtime uses protobufjs (`protobufjs/light`, from the embedded descriptor), not ts-proto:
 * ARCHITECTURE.md, "Wire: protobufjs on the hot path", gives the measurements.
 */
export {
  DataType,
  MAX_NESTING,
  dataTypeOf,
  decodeState,
  decodeValue,
  decodeValueIn,
  encodeState,
  encodeValue,
  isMapKind,
  kindOf,
} from "./states.js";
export type {
  BucketHash,
  Chunk,
  CrdtDelta,
  CrdtDeltaBatch,
  CrdtDeltaBatchAck,
  DeltaEnvelope,
  DigestReply,
  DigestRequest,
  FullState,
  Heartbeat,
  HelloMember,
  IdentifyRequest,
  Identity,
  KeyHash,
  MemberHello,
  MemberHelloReply,
  NodeReply,
  NodeRequest,
  PackRange,
  ReadReply,
  ReadRequest,
  RepairReply,
  RepairRequest,
  SnapshotEntry,
  SnapshotMeta,
  StoredDigestHash,
  Tombstone,
  WriteAck,
  WriteRequest,
} from "./shapes.js";
export { decodeCrdtDelta, decodeFullState, decodeTombstone, encodeCrdtDelta, encodeFullState, encodeTombstone } from "./convert.js";
export { RangePageWriter } from "./range-pages.js";
export { pageEntries, pageValue, type PageColumns } from "./range-page-reader.js";
export { PackedValues } from "./packed-values.js";
export { writeCounter } from "./fast-encode.js";
export { type DeltaColumns, type EnvelopeHead, writeDeltaEnvelope } from "./envelope-writer.js";
export { decodeDeltaEnvelope, decodeNodeReply, decodeNodeRequest, encodeDeltaEnvelope, encodeNodeReply, encodeNodeRequest } from "./replication.js";
export {
  decodeHeartbeat,
  decodeMemberHello,
  decodeMemberHelloReply,
  encodeHeartbeat,
  encodeMemberHello,
  encodeMemberHelloReply,
} from "./membership.js";
export { decodeCrdtDeltaBatch, decodeCrdtDeltaBatchAck, encodeCrdtDeltaBatch, encodeCrdtDeltaBatchAck } from "./batches.js";
export { decodeSnapshotEntry, encodeSnapshotEntry } from "./snapshot-entries.js";
export { snapshotValueOf } from "./fast-decode.js";
export { PackWriter, readPack, storedHash, type PackVisitor } from "./snapshot-packs.js";
export { prepareCodecs } from "./pb.js";
export { MAX_KEY_BYTES, MAX_NODE_ID, MAX_ROLES, MAX_TEXT } from "./shapes.js";
export { contentHash, contentHashOfEncoded, tombstoneHash } from "./hash.js";
export { advanceDigest, DigestJob, isSummedSet, setContentHash, type HashWork, type SetDigest, type SummedSet } from "./set-hash.js";
