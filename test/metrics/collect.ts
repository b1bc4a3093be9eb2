/**
 * Test helpers: a MeterProvider whose reader collects on demand, and a readable view of one
 * collection (value of a counter/gauge point by attributes, histogram counts and boundaries).
 */
import type { Attributes } from "@opentelemetry/api";
import {
  DataPointType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";

/** Collects only when asked (no timers), cumulative temporality (the default). */
export class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface TestMeter {
  provider: MeterProvider;
  reader: CollectingReader;
  collect(): Promise<Collected>;
}

export function testMeter(): TestMeter {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  return {
    provider,
    reader,
    async collect() {
      const { resourceMetrics, errors } = await reader.collect({ timeoutMillis: 5_000 });
      if (errors.length > 0) throw new Error(`collection errors: ${errors.map(String).join("; ")}`);
      return new Collected(resourceMetrics);
    },
  };
}

export class Collected {
  readonly byName = new Map<string, MetricData>();
  readonly scopes: { name: string; version: string | undefined }[] = [];

  constructor(readonly raw: ResourceMetrics) {
    for (const sm of raw.scopeMetrics) {
      this.scopes.push({ name: sm.scope.name, version: sm.scope.version });
      for (const m of sm.metrics) {
        if (this.byName.has(m.descriptor.name)) throw new Error(`metric ${m.descriptor.name} exported twice`);
        this.byName.set(m.descriptor.name, m);
      }
    }
  }

  metric(name: string): MetricData {
    const m = this.byName.get(name);
    if (m === undefined) throw new Error(`metric ${name} not exported (have: ${[...this.byName.keys()].join(", ")})`);
    return m;
  }

  points(name: string): DataPoint<unknown>[] {
    return this.metric(name).dataPoints as DataPoint<unknown>[];
  }

  /** The one point whose attributes include `match`. */
  point(name: string, match: Attributes = {}): DataPoint<unknown> {
    const found = this.points(name).filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
    if (found.length !== 1) {
      throw new Error(`${name}${JSON.stringify(match)}: ${found.length} matching points of ${JSON.stringify(this.points(name).map((p) => p.attributes))}`);
    }
    return found[0]!;
  }

  /** Value of a counter or gauge point. */
  value(name: string, match: Attributes = {}): number {
    const v = this.point(name, match).value;
    if (typeof v !== "number") throw new Error(`${name} is not a counter or gauge`);
    return v;
  }

  /** Recorded count of a histogram (0 when nothing was recorded, so it is not exported yet). */
  histogramCount(name: string): number {
    const m = this.byName.get(name);
    if (m === undefined) return 0;
    if (m.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
    return (m.dataPoints as DataPoint<Histogram>[]).reduce((n, p) => n + p.value.count, 0);
  }

  /** Sum of a histogram's recorded values (0 when nothing was recorded). */
  histogramSum(name: string): number {
    const m = this.byName.get(name);
    if (m === undefined) return 0;
    if (m.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
    return (m.dataPoints as DataPoint<Histogram>[]).reduce((n, p) => n + (p.value.sum ?? 0), 0);
  }

  histogramBoundaries(name: string): number[] {
    const m = this.metric(name);
    if (m.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
    return (m.dataPoints[0] as DataPoint<Histogram>).value.buckets.boundaries;
  }
}
