/**
 * Options of `Replicator.start`, their defaults (GoAkt's names, camel-cased) and validation.
 * Every problem is reported at start with the option's name, never discovered later.
 */
import type { MeterProvider } from "@opentelemetry/api";
import { systemClock, type Clock } from "../clock.js";
import { resolveSnapshotOptions, SNAPSHOT_DEFAULTS, type SnapshotOptions } from "../durable/options.js";
import { ConfigError } from "../errors.js";
import { NAME as NODE_ID } from "../extension/option-checks.js";
import type { BorrowedNatsConnection, NatsConnectionOptions } from "../transport/nats.js";
import type { Transport } from "../transport/types.js";
import type { Logger } from "./logging.js";
import { resolveSecurity, type FrameKeys, type SecurityOptions } from "../security/keys.js";
import { DATA_CENTER_REPLICATION_DEFAULTS, resolveDataCenterReplication, type DataCenterReplicationOptions } from "../xdc/options.js";

export interface ReplicatorOptions {
  /** This node's id: letters, digits, `-` and `_` (it becomes part of NATS subjects). */
  nodeId: string;
  /** Data center this node belongs to. Default "default". */
  dataCenter?: string;
  /**
   * Role advertised in membership (default none). It scopes coordination only: `writeTo`/`readFrom`
   * levels ask, and count in N, only the members with the same role. Deltas and anti-entropy still
   * go to every member, whatever its role.
   */
  role?: string;
  /** NATS connection options (servers, auth, TLS …) or `{ connection }` to share an existing one. */
  nats?: NatsConnectionOptions | BorrowedNatsConnection;
  /** A ready transport instead of NATS (the in-memory one, for simulation). */
  transport?: Transport;
  /** The delta subject. Membership and per-node subjects derive from it. Default "crdt.deltas". */
  subject?: string;
  /**
   * Coalescing window for outgoing deltas. 0 (default): the first update of an event-loop turn
   * is published when the running task ends (every update of one synchronous burst shares that
   * message, and an isolated update leaves at once), later updates of the same turn share one
   * message at the turn's end. A larger value trades latency for fewer, larger messages.
   */
  flushIntervalMs?: number;
  /** Default 1 s. */
  heartbeatIntervalMs?: number;
  /** A member not heard for this long is unreachable. Default 5 s. */
  failureTimeoutMs?: number;
  /** A member not heard for this long is removed (no longer counted for majority). Default 30 s. */
  removalTimeoutMs?: number;
  /** Periodic digest anti-entropy with the next reachable peer in turn (every peer within as many periods as there are peers). Default 30 s. */
  antiEntropyIntervalMs?: number;
  /** Target size of one published message; larger single deltas travel in chunks. Default 64 KiB. */
  maxDeltaSize?: number;
  /** Tombstone expiry and metadata compaction tick. Default 5 min. */
  pruneIntervalMs?: number;
  /** How long a deleted key stays deleted. Default 24 h. */
  tombstoneTtlMs?: number;
  /**
   * Fold the writer ids of a node removed from the membership (by vote or leave) once it has
   * stayed away this long (the data center's leader does, see ARCHITECTURE.md "Pruning retired
   * writers"); 0 keeps them for ever. Default 24 h (as tombstoneTtlMs: a node away longer than
   * both comes back to forgotten deletes and folded ids, and re-issues or reports its writes).
   * The leader folds only with a majority of `minClusterSize` on its side: in a partition longer
   * than this, each side elects a leader, and two folding the same node's ids would count its
   * amounts twice, so set `minClusterSize` to the cluster's size where partitions may last that long.
   */
  pruneRetiredAfterMs?: number;
  /**
   * How long a marker lives: the leader absorbs a removed node's ids under one (crdt/writer-ids.ts),
   * and every replica drops it this long after, by itself. It must outlast any partition you expect
   * to heal and any snapshot you may restore, as tombstones must: an id of the node still held past
   * it would count again. Default 24 h (as tombstoneTtlMs).
   */
  pruneMarkerTtlMs?: number;
  /** Default timeout of coordinated writes and reads. Default 5 s. */
  coordinationTimeoutMs?: number;
  /**
   * The smallest N this node assumes for quorum sizes, whatever membership it knows. Set it to the
   * cluster's size (per role) so a node that (re)starts cut off from every member cannot acknowledge
   * "majority" or "all" writes (or answer such reads) alone, nor a leader on a minority side of
   * a partition fold removed nodes' ids (`pruneRetiredAfterMs`). Default 1: N is the known membership.
   */
  minClusterSize?: number;
  /**
   * Largest lead over this node's clock an LWW timestamp or a tombstone's time may have: a local
   * write beyond it is refused (InvalidArgumentError), a received one rejected and counted
   * (reason "clock-skew"). Default 60 s.
   */
  maxClockSkewMs?: number;
  snapshot?: SnapshotOptions;
  dataCenterReplication?: DataCenterReplicationOptions;
  /**
   * Authenticated messages: a cluster key (HMAC on every message) and/or per-node signing keys
   * (nkeys). Every node of the cluster (and of every remote DC) needs the same settings. Default:
   * none (anyone who can publish on the subjects is a member).
   */
  security?: SecurityOptions;
  /** OpenTelemetry meter provider. Default: the global one. */
  meterProvider?: MeterProvider;
  /** Wall clock and timers. Default: the system's; a simulation passes a virtual clock. */
  clock?: Clock;
  /**
   * Where the replicator reports what happens to it (membership, leadership, NATS connection,
   * rejected-message bursts, snapshot and cross-DC failures): any object with
   * `debug/info/warn/error(obj, msg)`, a pino logger for one. Default: none (the library prints nothing).
   */
  logger?: Logger;
}

export type { Logger } from "./logging.js";

export interface ResolvedOptions {
  nodeId: string;
  dataCenter: string;
  role: string | undefined;
  subject: string;
  flushIntervalMs: number;
  heartbeatIntervalMs: number;
  failureTimeoutMs: number;
  removalTimeoutMs: number;
  antiEntropyIntervalMs: number;
  maxDeltaSize: number;
  pruneIntervalMs: number;
  tombstoneTtlMs: number;
  pruneRetiredAfterMs: number;
  pruneMarkerTtlMs: number;
  coordinationTimeoutMs: number;
  minClusterSize: number;
  maxClockSkewMs: number;
  snapshot: Required<SnapshotOptions> | undefined;
  dataCenterReplication: Required<DataCenterReplicationOptions> | undefined;
  /** The keys of `security`, ready for use; undefined: messages are not authenticated. */
  security: FrameKeys | undefined;
  clock: Clock;
  logger: Logger | undefined;
}

export const DEFAULTS = {
  dataCenter: "default",
  subject: "crdt.deltas",
  flushIntervalMs: 0,
  heartbeatIntervalMs: 1_000,
  failureTimeoutMs: 5_000,
  removalTimeoutMs: 30_000,
  antiEntropyIntervalMs: 30_000,
  maxDeltaSize: 64 * 1024,
  pruneIntervalMs: 5 * 60_000,
  tombstoneTtlMs: 24 * 3_600_000,
  pruneRetiredAfterMs: 24 * 3_600_000,
  pruneMarkerTtlMs: 24 * 3_600_000,
  coordinationTimeoutMs: 5_000,
  minClusterSize: 1,
  maxClockSkewMs: 60_000,
  snapshotIntervalMs: SNAPSHOT_DEFAULTS.intervalMs,
  snapshotWriteThrough: SNAPSHOT_DEFAULTS.writeThrough,
  snapshotSync: SNAPSHOT_DEFAULTS.sync,
  dcIntervalMs: DATA_CENTER_REPLICATION_DEFAULTS.intervalMs,
  dcAntiEntropyIntervalMs: DATA_CENTER_REPLICATION_DEFAULTS.antiEntropyIntervalMs,
  dcSendTimeoutMs: DATA_CENTER_REPLICATION_DEFAULTS.sendTimeoutMs,
} as const;

const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Validate `Replicator.start` options and fill in the defaults (what `replicator.options` holds); throws ConfigError naming the option. */
export function resolveOptions(o: ReplicatorOptions): ResolvedOptions {
  if (typeof o !== "object" || o === null) throw new ConfigError("Replicator.start needs an options object");
  if (typeof o.nodeId !== "string" || !NODE_ID.test(o.nodeId)) {
    throw new ConfigError(
      `nodeId must be 1-128 letters, digits, '-' or '_' (it is part of NATS subjects); got ${JSON.stringify(o.nodeId)}`,
    );
  }
  if (o.nats === undefined && o.transport === undefined) {
    throw new ConfigError("give `nats` (connection options or { connection }) or a `transport`");
  }
  if (o.nats !== undefined && o.transport !== undefined) {
    throw new ConfigError("give either `nats` or `transport`, not both");
  }
  const dataCenter = o.dataCenter ?? DEFAULTS.dataCenter;
  if (!NODE_ID.test(dataCenter)) throw new ConfigError(`dataCenter must match ${NODE_ID}; got ${JSON.stringify(dataCenter)}`);
  if (o.role !== undefined && !NODE_ID.test(o.role)) throw new ConfigError(`role must match ${NODE_ID}; got ${JSON.stringify(o.role)}`);
  const subject = o.subject ?? DEFAULTS.subject;
  if (!SUBJECT.test(subject)) throw new ConfigError(`subject must be a NATS subject without wildcards; got ${JSON.stringify(subject)}`);

  const integer = (name: keyof ReplicatorOptions, fallback: number, min: number, unit: string): number => {
    const v = o[name] ?? fallback;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
      throw new ConfigError(`${String(name)} must be an integer ≥ ${min} (${unit}); got ${String(v)}`);
    }
    return v;
  };
  const ms = (name: keyof ReplicatorOptions, fallback: number, min = 1): number => integer(name, fallback, min, "milliseconds/bytes");
  const resolved: ResolvedOptions = {
    nodeId: o.nodeId,
    dataCenter,
    role: o.role,
    subject,
    flushIntervalMs: ms("flushIntervalMs", DEFAULTS.flushIntervalMs, 0),
    heartbeatIntervalMs: ms("heartbeatIntervalMs", DEFAULTS.heartbeatIntervalMs),
    failureTimeoutMs: ms("failureTimeoutMs", DEFAULTS.failureTimeoutMs),
    removalTimeoutMs: ms("removalTimeoutMs", DEFAULTS.removalTimeoutMs),
    antiEntropyIntervalMs: ms("antiEntropyIntervalMs", DEFAULTS.antiEntropyIntervalMs),
    maxDeltaSize: ms("maxDeltaSize", DEFAULTS.maxDeltaSize, 1024),
    pruneIntervalMs: ms("pruneIntervalMs", DEFAULTS.pruneIntervalMs),
    tombstoneTtlMs: ms("tombstoneTtlMs", DEFAULTS.tombstoneTtlMs),
    pruneRetiredAfterMs: ms("pruneRetiredAfterMs", DEFAULTS.pruneRetiredAfterMs, 0),
    pruneMarkerTtlMs: ms("pruneMarkerTtlMs", DEFAULTS.pruneMarkerTtlMs),
    coordinationTimeoutMs: ms("coordinationTimeoutMs", DEFAULTS.coordinationTimeoutMs),
    minClusterSize: integer("minClusterSize", DEFAULTS.minClusterSize, 1, "members"),
    maxClockSkewMs: ms("maxClockSkewMs", DEFAULTS.maxClockSkewMs),
    snapshot: undefined,
    dataCenterReplication: undefined,
    security: resolveSecurity(o.security, o.nodeId, (id) => NODE_ID.test(id)),
    clock: o.clock ?? systemClock,
    logger: o.logger,
  };
  if (o.logger !== undefined && !(["debug", "info", "warn", "error"] as const).every((l) => typeof o.logger?.[l] === "function")) {
    throw new ConfigError("logger must have debug, info, warn and error methods taking (obj, msg), like a pino logger");
  }
  if (resolved.failureTimeoutMs <= resolved.heartbeatIntervalMs) {
    throw new ConfigError("failureTimeoutMs must be larger than heartbeatIntervalMs");
  }
  if (resolved.removalTimeoutMs < resolved.failureTimeoutMs) {
    throw new ConfigError("removalTimeoutMs must be at least failureTimeoutMs");
  }
  if (o.snapshot !== undefined) resolved.snapshot = resolveSnapshotOptions(o.snapshot);
  if (o.dataCenterReplication !== undefined) resolved.dataCenterReplication = resolveDataCenterReplication(o.dataCenterReplication, dataCenter);
  return resolved;
}
