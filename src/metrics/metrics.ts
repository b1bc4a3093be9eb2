/**
 * OpenTelemetry metrics of one replicator: the instruments listed in
 * definitions.ts, on the meter "crdt-replicator" of the given provider (default: the global one).
 *
 * The hot paths only add to plain fields of ReplicatorStats. Counters and gauges are observable
 * instruments read together by one batch callback when a reader collects, so an event costs one
 * addition whether or not anyone exports. Histograms need every value: they are recorded through
 * `stats.onRecord`, heard only while metrics are attached.
 */
import {
  createNoopMeter,
  metrics,
  ValueType,
  type Attributes,
  type BatchObservableCallback,
  type Histogram,
  type MeterProvider,
  type MetricOptions,
  type Observable,
} from "@opentelemetry/api";
import type { ReplicatorContext } from "../extension/context.js";
import type { HistogramName, RejectReason, RepairCause, ReplicatorStats } from "../extension/stats.js";
import { DEFINITIONS } from "./definitions.js";
import { PACKAGE_NAME, PACKAGE_VERSION } from "./version.js";

export {
  BASE_ATTRIBUTES,
  GOAKT_METRIC_NAMES,
  METRICS,
  type MetricDefinition,
  type MetricName,
  type MetricType,
} from "./definitions.js";

/** The meter's (instrumentation scope's) name; its version is the package's. */
export const METER_NAME = PACKAGE_NAME;

type Definition = (typeof DEFINITIONS)[number];
type ObservableName = Extract<Definition, { type: "ObservableCounter" | "ObservableGauge" }>["name"];
type HistogramMetricName = Extract<Definition, { type: "Histogram" }>["name"];

/** Observables with an extra attribute, observed once per attribute value. */
type LabelledName = "crdt.replicator.rejected" | "crdt.replicator.repairs" | "crdt.replicator.members";

/** One reading per observable instrument without an extra attribute. Exhaustive: a new definition fails to compile until read here. */
const READ: Record<Exclude<ObservableName, LabelledName>, (ctx: ReplicatorContext, s: ReplicatorStats) => number> = {
  "crdt.replicator.store.size": (ctx) => ctx.store.size,
  "crdt.replicator.merge.count": (_, s) => s.mergeCount,
  "crdt.replicator.delta.publish.count": (_, s) => s.deltaPublishCount,
  "crdt.replicator.delta.receive.count": (_, s) => s.deltaReceiveCount,
  "crdt.replicator.coordinated.write.count": (_, s) => s.coordinatedWriteCount,
  "crdt.replicator.coordinated.read.count": (_, s) => s.coordinatedReadCount,
  "crdt.replicator.antientropy.count": (_, s) => s.antiEntropyCount,
  "crdt.replicator.tombstone.count": (ctx) => ctx.store.tombstoneCount,
  "crdt.replicator.crossdc.send.count": (_, s) => s.crossdcSendCount,
  "crdt.replicator.crossdc.receive.count": (_, s) => s.crossdcReceiveCount,
  "crdt.replicator.crossdc.replication.lag": (_, s) => Math.round(s.crossdcReplicationLagNs),
  "crdt.replicator.crossdc.stale.skip.count": (_, s) => s.crossdcStaleSkipCount,
  "crdt.replicator.bytes.published": (_, s) => s.bytesPublished,
  "crdt.replicator.snapshot.writes": (_, s) => s.snapshotWriteCount,
  "crdt.replicator.snapshot.failures": (_, s) => s.snapshotFailureCount,
  "crdt.replicator.snapshot.skipped": (_, s) => s.snapshotSkippedEntries,
  "crdt.replicator.subscriber.errors": (_, s) => s.subscriberErrorCount,
  "crdt.replicator.duplicate.node.heartbeats": (_, s) => s.duplicateNodeHeartbeats,
  "crdt.replicator.identity.check.timeouts": (_, s) => s.identityCheckTimeouts,
  "crdt.replicator.type.conflicts": (_, s) => s.typeConflicts,
};

/** Every reason and cause, so each series exists (at 0) from the start. Exhaustive over the stats types. */
const REJECT_REASONS = Object.keys({
  decode: 0,
  oversized: 0,
  "forged-origin": 0,
  "type-mismatch": 0,
  "unknown-type": 0,
  "deleted-key": 0,
  "stale-incarnation": 0,
  "bad-request": 0,
  "clock-skew": 0,
  unauthenticated: 0,
  "bad-signature": 0,
  "untrusted-signer": 0,
  expired: 0,
  replayed: 0,
  "sequence-jump": 0,
  "not-member": 0,
  "rate-limited": 0,
} satisfies Record<RejectReason, 0>) as RejectReason[];

const REPAIR_CAUSES = Object.keys({
  gap: 0,
  join: 0,
  reconnect: 0,
  periodic: 0,
  leader: 0,
  manual: 0,
} satisfies Record<RepairCause, 0>) as RepairCause[];

/**
 * The histogram each `stats.record` name goes to, and the factor from the recorded unit to the
 * instrument's: the stats record milliseconds, the instruments take seconds (semantic conventions).
 * Exhaustive both ways: every record name has a histogram (the Record type), every histogram a record name (below).
 */
const HISTOGRAM_OF = {
  "replication.lag": { name: "crdt.replicator.replication.lag", scale: 1e-3 },
  "coordinated.latency": { name: "crdt.replicator.coordinated.duration", scale: 1e-3 },
  "delta.bytes": { name: "crdt.replicator.delta.bytes", scale: 1 },
  "crossdc.batch.bytes": { name: "crdt.replicator.crossdc.batch.bytes", scale: 1 },
} as const satisfies Record<HistogramName, { name: HistogramMetricName; scale: number }>;
const EVERY_HISTOGRAM_IS_RECORDED: HistogramMetricName extends (typeof HISTOGRAM_OF)[HistogramName]["name"] ? true : never = true;
void EVERY_HISTOGRAM_IS_RECORDED;

export interface MetricsHandle {
  /** Remove the batch callback and stop recording histograms. Idempotent. */
  close(): void;
}

/** Register the replicator's instruments on `provider` (default: the global meter provider). */
export function attachMetrics(ctx: ReplicatorContext, provider: MeterProvider = metrics.getMeterProvider()): MetricsHandle {
  const meter = provider.getMeter(METER_NAME, PACKAGE_VERSION);
  const stats = ctx.stats;
  const attrs: Attributes = { node: ctx.nodeId, dc: ctx.options.dataCenter };

  const observables = new Map<ObservableName, Observable>();
  const histograms = new Map<HistogramMetricName, Histogram>();
  for (const m of DEFINITIONS) {
    const options: MetricOptions = {
      description: m.description,
      unit: m.unit,
      valueType: m.valueType === "int" ? ValueType.INT : ValueType.DOUBLE,
    };
    switch (m.type) {
      case "ObservableCounter":
        observables.set(m.name, meter.createObservableCounter(m.name, options));
        break;
      case "ObservableGauge":
        observables.set(m.name, meter.createObservableGauge(m.name, options));
        break;
      case "Histogram":
        histograms.set(m.name, meter.createHistogram(m.name, { ...options, advice: { explicitBucketBoundaries: [...m.boundaries] } }));
        break;
    }
  }
  const observable = (name: ObservableName): Observable => observables.get(name)!;

  // Everything the callback needs is built once: a collection allocates nothing of ours.
  const plain = (Object.keys(READ) as (keyof typeof READ)[]).map((name) => ({ instrument: observable(name), read: READ[name] }));
  const rejected = observable("crdt.replicator.rejected");
  const rejectedBy = REJECT_REASONS.map((reason) => ({ reason, attrs: { ...attrs, reason } }));
  const repairs = observable("crdt.replicator.repairs");
  const repairsBy = REPAIR_CAUSES.map((cause) => ({ cause, attrs: { ...attrs, cause } }));
  const members = observable("crdt.replicator.members");
  const reachableAttrs = { ...attrs, reachable: true };
  const unreachableAttrs = { ...attrs, reachable: false };

  const callback: BatchObservableCallback = (result) => {
    for (const p of plain) result.observe(p.instrument, p.read(ctx, stats), attrs);
    for (const r of rejectedBy) result.observe(rejected, stats.rejected.get(r.reason) ?? 0, r.attrs);
    for (const r of repairsBy) result.observe(repairs, stats.repairs.get(r.cause) ?? 0, r.attrs);
    let reachable = 0;
    let unreachable = 0;
    for (const m of ctx.members()) {
      if (m.reachable) reachable++;
      else unreachable++;
    }
    result.observe(members, reachable, reachableAttrs);
    result.observe(members, unreachable, unreachableAttrs);
  };
  const observed = [...observables.values()];
  meter.addBatchObservableCallback(callback, observed);

  const byRecordName = new Map(
    (Object.keys(HISTOGRAM_OF) as HistogramName[]).map((n) => [n, { histogram: histograms.get(HISTOGRAM_OF[n].name)!, scale: HISTOGRAM_OF[n].scale }]),
  );
  // No meter provider registered: the API's no-op meter, whose histograms drop every value. Then
  // nothing listens, and the hot paths skip what only a histogram wants (a clock read per envelope).
  const stopRecording =
    meter === createNoopMeter()
      ? () => {}
      : stats.onRecord((name, value) => {
          const h = byRecordName.get(name)!;
          h.histogram.record(value * h.scale, attrs);
        });

  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      meter.removeBatchObservableCallback(callback, observed);
      stopRecording();
    },
  };
}
