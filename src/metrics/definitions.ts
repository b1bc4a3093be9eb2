/**
 * Every OpenTelemetry instrument the replicator exports, as plain data: `attachMetrics` creates the
 * instruments from this list, and the README's metrics table, the daemon's `/metrics` checks and
 * the Grafana dashboard tests read it, so the three cannot drift apart.
 *
 * The first twelve are GoAkt's instruments with GoAkt's names (its Replicator metrics, kept for compatibility); the rest are what an
 * operator needs beyond them, named after the OpenTelemetry semantic conventions (no `.count` suffix on
 * counters, durations in seconds). Every point carries the attributes `node` and `dc`.
 */

/** OpenTelemetry instrument kinds used here (names as in the OTel API: `createObservableCounter` …). */
export type MetricType = "ObservableCounter" | "ObservableGauge" | "Histogram";

export interface MetricDefinition {
  readonly name: string;
  readonly type: MetricType;
  /** UCUM unit; `{thing}` is an annotation for a dimensionless count (OTel semantic conventions). */
  readonly unit: string;
  readonly valueType: "int" | "double";
  readonly description: string;
  /** Attribute keys on every point, `node` and `dc` first. */
  readonly attributes: readonly string[];
  /** One of GoAkt's twelve instruments. */
  readonly goakt: boolean;
  /** Histograms: the explicit bucket boundaries advised to the SDK. */
  readonly boundaries?: readonly number[];
}

/** Attributes on every point. */
export const BASE_ATTRIBUTES = ["node", "dc"] as const;

/** Durations in seconds (semantic conventions), from sub-millisecond (same host) to the seconds a congested or partitioned link takes. */
export const LATENCY_BOUNDARIES_S: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** One published message: a single small delta (tens of bytes) up to a chunk of a large one (default max 64 KiB). */
export const MESSAGE_BOUNDARIES_BYTES: readonly number[] = [64, 256, 1_024, 4_096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304];

/** One cross-DC batch: everything a DC changed during one flush interval. */
export const BATCH_BOUNDARIES_BYTES: readonly number[] = [
  1_024, 4_096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864,
];

const base = BASE_ATTRIBUTES;

/** The definitions with their literal types (metrics.ts derives exhaustive tables from them). */
export const DEFINITIONS = [
  // ---------------------------------------------------------------- GoAkt's twelve
  {
    name: "crdt.replicator.store.size",
    type: "ObservableGauge",
    unit: "{key}",
    valueType: "int",
    description: "Number of CRDT keys in the local store (deleted keys excluded)",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.merge.count",
    type: "ObservableCounter",
    unit: "{merge}",
    valueType: "int",
    description: "Total merges performed from peer deltas, anti-entropy, coordinated operations and remote DCs",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.delta.publish.count",
    type: "ObservableCounter",
    unit: "{delta}",
    valueType: "int",
    description: "Deltas published to this data center's delta subject",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.delta.receive.count",
    type: "ObservableCounter",
    unit: "{delta}",
    valueType: "int",
    description: "Deltas received from peers on the delta subject",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.coordinated.write.count",
    type: "ObservableCounter",
    unit: "{write}",
    valueType: "int",
    description: "Coordinated write operations (writeTo other than local) started by this node",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.coordinated.read.count",
    type: "ObservableCounter",
    unit: "{read}",
    valueType: "int",
    description: "Coordinated read operations (readFrom other than local) started by this node",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.antientropy.count",
    type: "ObservableCounter",
    unit: "{round}",
    valueType: "int",
    description: "Anti-entropy (digest) rounds completed",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.tombstone.count",
    type: "ObservableGauge",
    unit: "{tombstone}",
    valueType: "int",
    description: "Active tombstones pending pruning",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.crossdc.send.count",
    type: "ObservableCounter",
    unit: "{batch}",
    valueType: "int",
    description: "Delta batches sent to remote data centers (DC leader)",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.crossdc.receive.count",
    type: "ObservableCounter",
    unit: "{batch}",
    valueType: "int",
    description: "Delta batches received from remote data centers",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.crossdc.replication.lag",
    type: "ObservableGauge",
    unit: "ns",
    valueType: "int",
    description: "Lag from the origin's send time to receipt of the last cross-DC batch",
    attributes: base,
    goakt: true,
  },
  {
    name: "crdt.replicator.crossdc.stale.skip.count",
    type: "ObservableCounter",
    unit: "{flush}",
    valueType: "int",
    description: "Cross-DC flushes skipped or left partly unsent (remote DC not connected, not answering, or too slow); the data waits for the next flush",
    attributes: base,
    goakt: true,
  },
  // ---------------------------------------------------------------- beyond GoAkt
  {
    name: "crdt.replicator.replication.lag",
    type: "Histogram",
    unit: "s",
    valueType: "double",
    description: "Time from a delta message's send on its origin node to its merge here (clocks of different hosts may skew it)",
    attributes: base,
    goakt: false,
    boundaries: LATENCY_BOUNDARIES_S,
  },
  {
    name: "crdt.replicator.coordinated.duration",
    type: "Histogram",
    unit: "s",
    valueType: "double",
    description: "Duration of coordinated writes and reads, timeouts included",
    attributes: base,
    goakt: false,
    boundaries: LATENCY_BOUNDARIES_S,
  },
  {
    name: "crdt.replicator.delta.bytes",
    type: "Histogram",
    unit: "By",
    valueType: "int",
    description: "Size of one published delta message",
    attributes: base,
    goakt: false,
    boundaries: MESSAGE_BOUNDARIES_BYTES,
  },
  {
    name: "crdt.replicator.crossdc.batch.bytes",
    type: "Histogram",
    unit: "By",
    valueType: "int",
    description: "Size of one delta batch sent to a remote data center",
    attributes: base,
    goakt: false,
    boundaries: BATCH_BOUNDARIES_BYTES,
  },
  {
    name: "crdt.replicator.bytes.published",
    type: "ObservableCounter",
    unit: "By",
    valueType: "int",
    description: "Bytes of delta messages published to this data center's delta subject",
    attributes: base,
    goakt: false,
  },
  {
    name: "crdt.replicator.rejected",
    type: "ObservableCounter",
    unit: "{rejection}",
    valueType: "int",
    description:
      "Messages, deltas and requests rejected, by reason (decode, oversized, forged-origin, type-mismatch, unknown-type, deleted-key, stale-incarnation, bad-request, clock-skew, unauthenticated, bad-signature, untrusted-signer, expired, replayed, sequence-jump, not-member, rate-limited)",
    attributes: [...base, "reason"],
    goakt: false,
  },
  {
    name: "crdt.replicator.repairs",
    type: "ObservableCounter",
    unit: "{repair}",
    valueType: "int",
    description:
      "Repairs by cause (gap, join, reconnect, periodic, leader, manual): anti-entropy rounds completed, plus resend requests for sequence gaps",
    attributes: [...base, "cause"],
    goakt: false,
  },
  {
    name: "crdt.replicator.snapshot.writes",
    type: "ObservableCounter",
    unit: "{snapshot}",
    valueType: "int",
    description: "Snapshots written to the local LevelDB store",
    attributes: base,
    goakt: false,
  },
  {
    name: "crdt.replicator.snapshot.failures",
    type: "ObservableCounter",
    unit: "{snapshot}",
    valueType: "int",
    description: "Snapshot writes that failed",
    attributes: base,
    goakt: false,
  },
  {
    name: "crdt.replicator.snapshot.skipped",
    type: "ObservableCounter",
    unit: "{entry}",
    valueType: "int",
    description: "Corrupt snapshot entries skipped on restore",
    attributes: base,
    goakt: false,
  },
  {
    name: "crdt.replicator.subscriber.errors",
    type: "ObservableCounter",
    unit: "{error}",
    valueType: "int",
    description: "Exceptions thrown by subscriber callbacks (caught; the replicator carries on)",
    attributes: base,
    goakt: false,
  },
  {
    name: "crdt.replicator.duplicate.node.heartbeats",
    type: "ObservableCounter",
    unit: "{heartbeat}",
    valueType: "int",
    description: "Heartbeats of another live process using this node's id (a misconfiguration: give each process its own nodeId)",
    attributes: base,
    goakt: false,
  },
  {
    name: "crdt.replicator.identity.check.timeouts",
    type: "ObservableCounter",
    unit: "{check}",
    valueType: "int",
    description: "Starts whose check for another live holder of the node id got no answer in time (the start went on)",
    attributes: base,
    goakt: false,
  },
  {
    name: "crdt.replicator.type.conflicts",
    type: "ObservableCounter",
    unit: "{conflict}",
    valueType: "int",
    description: "Values of a losing data type this node replaced by the key's winning type (one key written with two types; the lower wire tag wins)",
    attributes: base,
    goakt: false,
  },
  {
    name: "crdt.replicator.members",
    type: "ObservableGauge",
    unit: "{member}",
    valueType: "int",
    description: "Cluster members known to this node, itself included, by reachability",
    attributes: [...base, "reachable"],
    goakt: false,
  },
] as const satisfies readonly MetricDefinition[];

/** Every instrument, in registration order: GoAkt's twelve first. */
export const METRICS: readonly MetricDefinition[] = DEFINITIONS;

export type MetricName = (typeof DEFINITIONS)[number]["name"];

/** The twelve instrument names GoAkt's Replicator registers, in GoAkt's order. */
export const GOAKT_METRIC_NAMES: readonly MetricName[] = DEFINITIONS.filter((m) => m.goakt).map((m) => m.name);
