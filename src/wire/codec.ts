/**
 * The wire codec of crdt-replicator: everything that turns values and replication messages into
 * bytes and back, and the one module of src/wire that other folders import. Inside: shapes.ts (the
 * messages as TypeScript shapes), one codec module per protocol (replication.ts, membership.ts,
 * batches.ts, snapshot-entries.ts) over convert.ts (what they share), states.ts (CRDT states),
 * pb.ts and pb-shapes.ts (protobufjs).
 *
 * Schema: proto/crdt.proto (the single source of truth); `npm run proto` generates gen/crdt.ts
 * (ts-proto code) and src/wire/gen/descriptor.ts (the protobufjs descriptor); `npm test` fails when
 * either is stale.
 *
 * Which library on the hot path (envelope + CRDTDelta + states): protobufjs reflection.
 * `npx tsx bench/codec.ts` measures both on the same schema and inputs (encode+decode per second,
 * nested states included, median of 5 × 200 ms, warmed up; Node 20 on 2 shared vCPUs under load, so
 * absolute figures are noisy; the ratios held over several runs):
 *
 *   case                  protobufjs    ts-proto   ratio
 *   gcounter delta            864k        267k     3.2×
 *   gset delta                654k        183k     3.6×
 *   lwwRegister delta         631k        296k     2.1×
 *   orset delta               207k        130k     1.6×
 *   pncounterMap delta        227k        127k     1.8×
 *   orset, 100 elements       8.3k        8.2k     1.0×
 *   lwwMap, 100 keys          1.9k        1.6k     1.2×
 *   envelope, 1 delta         254k        114k     2.2×
 *   envelope, 50 deltas       5.6k        4.0k     1.4×
 *   geometric mean over all 21 cases:             1.7×  (1.5× in a second run)
 *
 * The issue's ~420k vs ~210k for a small delta is confirmed (2.2–3.2× in our runs). Why:
 * protobufjs compiles a specialised encoder/decoder per message type at first use, and in Node its
 * writer/reader use Buffer's native utf8 routines and Node's pooled allocator; ts-proto's
 * generated code runs on @bufbuild/protobuf's generic BinaryWriter/BinaryReader (TextEncoder /
 * TextDecoder for strings, a bigint for every 64-bit field, a try/finally and a recursion-depth
 * property per message). The gap is largest on small messages, i.e. exactly the deltas the
 * replicator sends all day; on large states both converge (0.9–1.5×, within noise).
 *
 * So: the runtime uses protobufjs (`protobufjs/light`, from the embedded descriptor; no .proto file
 * is read at run time). The ts-proto output in gen/crdt.ts (top level) stays generated from the
 * same schema for the benchmark and a test, and as typed documentation; it lives outside src/, so
 * it is neither built into dist/ nor able to pull @bufbuild/protobuf (a devDependency) into the
 * runtime.
 *
 * The end-to-end cost of a value is dominated by the data types' own validation in `fromState`
 * (canonical-encoding checks of every element), not by protobuf: see the bench's `value/s` column.
 */
export {
  DataType,
  MAX_NESTING,
  dataTypeOf,
  decodeState,
  decodeValue,
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
  ReadReply,
  ReadRequest,
  RepairReply,
  RepairRequest,
  SnapshotEntry,
  SnapshotMeta,
  Tombstone,
  WriteAck,
  WriteRequest,
} from "./shapes.js";
export { decodeCrdtDelta, decodeFullState, decodeTombstone, encodeCrdtDelta, encodeFullState, encodeTombstone } from "./convert.js";
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
export { contentHash, contentHashOfEncoded, tombstoneHash } from "./hash.js";
