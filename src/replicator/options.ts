/**
 * Options of `Replicator.start`, their defaults (GoAkt's names, camel-cased) and validation.
 * Every problem is reported at start with the option's name, never discovered later.
 */
import type { MeterProvider } from "@opentelemetry/api";
import { systemClock, type Clock } from "../clock.js";
import { ConfigError } from "../errors.js";
import type { BorrowedNatsConnection, NatsConnectionOptions } from "../transport/nats.js";
import type { Transport } from "../transport/types.js";

export interface RemoteDataCenter {
  /** The remote DC's name (its nodes' `dataCenter`). */
  name: string;
  /** NATS servers of the remote DC. */
  servers: string | string[];
  /** Extra connection options for the remote DC (auth, TLS). */
  connection?: Omit<NatsConnectionOptions, "servers">;
}

export interface DataCenterReplicationOptions {
  remotes: RemoteDataCenter[];
  /** How often the DC leader flushes accumulated deltas to each remote DC. Default 5 s. */
  intervalMs?: number;
  /** Periodic cross-DC digest rounds (the leader also runs one when it becomes leader). Default false. */
  antiEntropy?: boolean;
  /** Interval of periodic cross-DC digest rounds. Default 2 min. */
  antiEntropyIntervalMs?: number;
  /** Per-attempt timeout of a cross-DC send. Default 10 s. */
  sendTimeoutMs?: number;
}

export interface SnapshotOptions {
  /** LevelDB directory. Created if missing; its parent must exist and be writable. */
  dir: string;
  /** How often changed keys are written. Default 10 s. */
  intervalMs?: number;
  /**
   * Write-through: every update and delete resolves only once its change is in LevelDB (a call's
   * `durable` option overrides it). Concurrent writes share one LevelDB batch. Default false
   * (write-behind: changes reach LevelDB at the next interval).
   */
  writeThrough?: boolean;
  /**
   * fsync every LevelDB batch, so a durable write survives an OS crash or power loss too, not only
   * a crash of the process. Costs one disk flush per batch. Default false.
   */
  sync?: boolean;
}

export interface ReplicatorOptions {
  /** This node's id: letters, digits, `-` and `_` (it becomes part of NATS subjects). */
  nodeId: string;
  /** Data center this node belongs to. Default "default". */
  dataCenter?: string;
  /** Role advertised in membership; replication only talks to members with the same role when set. */
  role?: string;
  /** NATS connection options (servers, auth, TLS …) or `{ connection }` to share an existing one. */
  nats?: NatsConnectionOptions | BorrowedNatsConnection;
  /** A ready transport instead of NATS (the in-memory one, for simulation). */
  transport?: Transport;
  /** The delta subject. Membership and per-node subjects derive from it. Default "crdt.deltas". */
  subject?: string;
  /**
   * Coalescing window for outgoing deltas. 0 (default) publishes at the end of the current event
   * loop turn: every update made in one synchronous burst shares one message, and an isolated
   * update leaves at once. A larger value trades latency for fewer, larger messages.
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
  /** Default timeout of coordinated writes and reads. Default 5 s. */
  coordinationTimeoutMs?: number;
  /**
   * The smallest N this node assumes for quorum sizes, whatever membership it knows. Set it to the
   * cluster's size (per role) so a node that (re)starts cut off from every member cannot acknowledge
   * "majority" or "all" writes (or answer such reads) alone. Default 1: N is the known membership.
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
  /** OpenTelemetry meter provider. Default: the global one. */
  meterProvider?: MeterProvider;
  /** Wall clock and timers. Default: the system's; a simulation passes a virtual clock. */
  clock?: Clock;
}

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
  coordinationTimeoutMs: number;
  minClusterSize: number;
  maxClockSkewMs: number;
  snapshot: Required<SnapshotOptions> | undefined;
  dataCenterReplication: Required<DataCenterReplicationOptions> | undefined;
  clock: Clock;
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
  coordinationTimeoutMs: 5_000,
  minClusterSize: 1,
  maxClockSkewMs: 60_000,
  snapshotIntervalMs: 10_000,
  snapshotWriteThrough: false,
  snapshotSync: false,
  dcIntervalMs: 5_000,
  dcAntiEntropyIntervalMs: 120_000,
  dcSendTimeoutMs: 10_000,
} as const;

const NODE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

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
    coordinationTimeoutMs: ms("coordinationTimeoutMs", DEFAULTS.coordinationTimeoutMs),
    minClusterSize: integer("minClusterSize", DEFAULTS.minClusterSize, 1, "members"),
    maxClockSkewMs: ms("maxClockSkewMs", DEFAULTS.maxClockSkewMs),
    snapshot: undefined,
    dataCenterReplication: undefined,
    clock: o.clock ?? systemClock,
  };
  if (resolved.failureTimeoutMs <= resolved.heartbeatIntervalMs) {
    throw new ConfigError("failureTimeoutMs must be larger than heartbeatIntervalMs");
  }
  if (resolved.removalTimeoutMs < resolved.failureTimeoutMs) {
    throw new ConfigError("removalTimeoutMs must be at least failureTimeoutMs");
  }
  if (o.snapshot !== undefined) {
    if (typeof o.snapshot.dir !== "string" || o.snapshot.dir === "") throw new ConfigError("snapshot.dir must be a directory path");
    resolved.snapshot = {
      dir: o.snapshot.dir,
      intervalMs: positive("snapshot.intervalMs", o.snapshot.intervalMs, DEFAULTS.snapshotIntervalMs),
      writeThrough: flag("snapshot.writeThrough", o.snapshot.writeThrough, DEFAULTS.snapshotWriteThrough),
      sync: flag("snapshot.sync", o.snapshot.sync, DEFAULTS.snapshotSync),
    };
  }
  const dc = o.dataCenterReplication;
  if (dc !== undefined) {
    if (!Array.isArray(dc.remotes) || dc.remotes.length === 0) {
      throw new ConfigError("dataCenterReplication.remotes must list at least one { name, servers }");
    }
    for (const r of dc.remotes) {
      if (!r || !NODE_ID.test(r.name)) throw new ConfigError(`dataCenterReplication.remotes[].name must match ${NODE_ID}`);
      if (r.name === dataCenter) throw new ConfigError(`remote DC "${r.name}" is this node's own dataCenter`);
      if (!r.servers || (Array.isArray(r.servers) && r.servers.length === 0)) {
        throw new ConfigError(`dataCenterReplication remote "${r.name}" needs servers`);
      }
    }
    resolved.dataCenterReplication = {
      remotes: dc.remotes,
      intervalMs: positive("dataCenterReplication.intervalMs", dc.intervalMs, DEFAULTS.dcIntervalMs),
      antiEntropy: dc.antiEntropy ?? false,
      antiEntropyIntervalMs: positive("dataCenterReplication.antiEntropyIntervalMs", dc.antiEntropyIntervalMs, DEFAULTS.dcAntiEntropyIntervalMs),
      sendTimeoutMs: positive("dataCenterReplication.sendTimeoutMs", dc.sendTimeoutMs, DEFAULTS.dcSendTimeoutMs),
    };
  }
  return resolved;
}

function flag(name: string, v: boolean | undefined, fallback: boolean): boolean {
  const x = v ?? fallback;
  if (typeof x !== "boolean") throw new ConfigError(`${name} must be true or false; got ${JSON.stringify(v)}`);
  return x;
}

function positive(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!Number.isSafeInteger(x) || x < 1) throw new ConfigError(`${name} must be a positive integer; got ${String(v)}`);
  return x;
}
