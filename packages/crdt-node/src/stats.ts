/**
 * `GET /v1/stats`: the replicator's counters plus replication-lag percentiles over the last
 * minute, for the dashboard (Prometheus gets the same through /metrics as histograms).
 */
import type { Replicator } from "crdt-replicator";
import type { StatsBody } from "./schemas.js";

const WINDOW_MS = 60_000;
const MAX_SAMPLES = 4096;

/** Recent samples of one histogram: a ring of (time, value), read as percentiles. */
export class LagWindow {
  private readonly at = new Float64Array(MAX_SAMPLES);
  private readonly values = new Float64Array(MAX_SAMPLES);
  private next = 0;
  private count = 0;

  add(value: number, now = Date.now()): void {
    this.at[this.next] = now;
    this.values[this.next] = value;
    this.next = (this.next + 1) % MAX_SAMPLES;
    this.count = Math.min(this.count + 1, MAX_SAMPLES);
  }

  summary(now = Date.now()): { samples: number; p50: number | null; p95: number | null; p99: number | null; max: number | null } {
    const recent: number[] = [];
    for (let i = 0; i < this.count; i++) if (now - this.at[i]! <= WINDOW_MS) recent.push(this.values[i]!);
    recent.sort((a, b) => a - b);
    const q = (p: number): number | null => (recent.length === 0 ? null : round(recent[Math.min(recent.length - 1, Math.floor(p * recent.length))]!));
    return { samples: recent.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: q(1) };
  }
}

/** Feed `window` with the replicator's replication-lag samples (beside the metrics module's histograms). */
export function recordLag(r: Replicator, window: LagWindow): void {
  r.stats.onRecord((name, value) => {
    if (name === "replication.lag") window.add(value);
  });
}

export function statsOf(r: Replicator, lag: LagWindow): Omit<StatsBody, "watchers"> {
  const s = r.stats;
  return {
    node: r.nodeId,
    dataCenter: r.options.dataCenter,
    keys: r.size,
    tombstones: r.tombstoneCount,
    merges: s.mergeCount,
    deltasPublished: s.deltaPublishCount,
    deltasReceived: s.deltaReceiveCount,
    coordinatedWrites: s.coordinatedWriteCount,
    coordinatedReads: s.coordinatedReadCount,
    antiEntropyRounds: s.antiEntropyCount,
    rejected: s.rejectedTotal,
    crossDc: {
      sent: s.crossdcSendCount,
      received: s.crossdcReceiveCount,
      staleSkipped: s.crossdcStaleSkipCount,
      lagMs: round(s.crossdcReplicationLagNs / 1e6),
    },
    replicationLagMs: lag.summary(),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
