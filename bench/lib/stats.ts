/**
 * Small statistics for the bench: latency percentiles (nearest rank) and medians of repeated runs.
 * Every figure the suite prints is the median over its repetitions.
 */

export interface LatencySummary {
  /** Samples the percentiles were taken over. */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  return sorted[rank - 1]!;
}

/** Percentiles of a sample (not modified). */
export function summarize(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!,
    mean: sorted.length === 0 ? NaN : sum / sorted.length,
  };
}

/** Median (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Field-by-field median of several runs' summaries. */
export function medianSummary(runs: readonly LatencySummary[]): LatencySummary {
  const f = (k: keyof LatencySummary): number => median(runs.map((r) => r[k]));
  return { count: f("count"), p50: f("p50"), p90: f("p90"), p99: f("p99"), max: f("max"), mean: f("mean") };
}

/** Median of each numeric field over runs (fields missing in a run are skipped). */
export function medianFields<T extends Record<string, number>>(runs: readonly T[]): T {
  const out: Record<string, number> = {};
  for (const k of Object.keys(runs[0] ?? {})) out[k] = median(runs.map((r) => r[k] ?? NaN));
  return out as T;
}
