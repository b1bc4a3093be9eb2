/** crdt-replicator: local, always-writable CRDT replicas replicated as deltas over NATS. */
export * from "./crdt/index.js";
export * from "./errors.js";
export { Key } from "./replicator/keys.js";
export {
  Replicator,
  type KeyStatus,
  type MemberInfo,
  type KeySubscribeOptions,
  type ReadOptions,
  type WriteOptions,
} from "./replicator/replicator.js";
export { DEFAULTS, resolveOptions, type Logger, type ReplicatorOptions, type ResolvedOptions } from "./replicator/options.js";
export type { SnapshotOptions } from "./durable/options.js";
export type { DataCenterReplicationOptions, RemoteDataCenter } from "./xdc/options.js";
export type { FrameKeys, SecurityOptions } from "./security/keys.js";
export { createNodeKey } from "./security/keys.js";
export type { Change, ChangeOrigin, DataTypeName, DeleteChange, TypeConflict, ValueChange } from "./extension/changes.js";
export type { HistogramName, Recorder, RejectReason, RepairCause, ReplicatorStats } from "./extension/stats.js";
export type { TombstoneInfo } from "./extension/store-view.js";
export type { ConsistencyLevel } from "./cluster/quorum.js";
export { Distributed, type Closable, type DistributedContext } from "./distributed/distributed.js";
export { connectNats, redact, type NatsTransport, type BorrowedNatsConnection, type NatsConnectionOptions } from "./transport/nats.js";
export type { LockOptions } from "./distributed/distributed.js";
export type { Lock } from "./distributed/lock.js";
export type { Semaphore, SemaphoreAcquireOptions } from "./distributed/semaphore.js";
export type { Barrier, ArriveOptions } from "./distributed/barrier.js";
export type { AcquireOptions, Grant, LeaseOptions, Renewal } from "./distributed/lease-table.js";
export type { BucketOptions } from "./distributed/buckets.js";
export { Queue, type EnqueueOptions, type PullOptions, type QueueOptions, type QueueStats, type Taken } from "./distributed/queue.js";
export { CounterHandle, MapHandle, SetHandle, type CrdtAccess, type CrdtKey, type CrdtKeys } from "./distributed/handles.js";
export { Topic, type TopicHandler, type TopicOptions, type TopicStats } from "./distributed/topic.js";
export { jsonCodec, type Codec } from "./distributed/codec.js";
export {
  MemoryNetwork,
  type DeliveryRecord,
  type MemoryFaults,
  type MemoryNetworkOptions,
  type MemoryTransport,
} from "./transport/memory.js";
export type { IncomingMessage, MessageHandler, SubscribeOptions, Transport, TransportStatus } from "./transport/types.js";
export { systemClock, type Clock, type TimerHandle } from "./clock.js";
export { tuneGarbageCollection } from "./gc-tuning.js";
