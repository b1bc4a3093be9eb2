/** crdt-replicator: local, always-writable CRDT replicas replicated as deltas over NATS. */
export * from "./crdt/index.js";
export * from "./errors.js";
export { Key } from "./replicator/keys.js";
export { Replicator, type MemberInfo, type ReadOptions, type WriteOptions } from "./replicator/replicator.js";
export {
  DEFAULTS,
  type DataCenterReplicationOptions,
  type RemoteDataCenter,
  type ReplicatorOptions,
  type ResolvedOptions,
  type SnapshotOptions,
} from "./replicator/options.js";
export type { RepairCause } from "./replicator/stats.js";
export type { ConsistencyLevel } from "./cluster/quorum.js";
export type { BorrowedNatsConnection, NatsConnectionOptions } from "./transport/nats.js";
export {
  MemoryNetwork,
  type DeliveryRecord,
  type MemoryFaults,
  type MemoryNetworkOptions,
  type MemoryTransport,
} from "./transport/memory.js";
export type { IncomingMessage, MessageHandler, SubscribeOptions, Transport, TransportStatus } from "./transport/types.js";
export { systemClock, type Clock, type TimerHandle } from "./clock.js";
