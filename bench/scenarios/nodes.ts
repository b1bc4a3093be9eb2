/**
 * 12. Node count: convergence and bytes per update from 3 to 12 processes, each as a ratio to raw
 * NATS fan-out to the same N in the same run. One writer updates a GCounter at `rate`/s (as in
 * section 1) and N − 1 peers watch it; the raw baseline publishes messages of our envelope's size
 * from the same writer process to the same N − 1 processes. Bytes per update: what every process's
 * NATS client wrote and read on its socket during the measured run (heartbeats and anti-entropy
 * included: that is what a bigger cluster costs), ÷ updates.
 */
import type { BenchContext } from "../lib/context.js";
import type { BenchWorker } from "../lib/procs.js";
import { median, medianSummary, type LatencySummary } from "../lib/stats.js";
import { measureOurs, measureRaw } from "./convergence.js";

export interface NodeCountRow {
  /** Processes: the writer and its peers. */
  nodes: number;
  rate: number;
  seconds: number;
  ours: LatencySummary;
  raw: LatencySummary;
  /** Socket bytes (all processes, written + read) per update. */
  bytesPerUpdate: { ours: number; raw: number };
  ratio: { p50: number; p99: number; max: number; bytes: number };
}

export interface NodeCountResult {
  rows: NodeCountRow[];
  /** Each ratio at the largest N ÷ the same ratio at 3 nodes (1.0 = flat). */
  growth: { p50: number; p99: number; bytes: number };
}

type Socket = { written: number; read: number };

export async function runNodeCount(ctx: BenchContext): Promise<NodeCountResult> {
  const counts = ctx.full ? [3, 6, 12] : [3, 6];
  const rate = 1000;
  // Quick: 1 s (1,000 samples a run) holds the p50 and bytes/update the goals compare.
  const seconds = ctx.full ? 10 : 1;
  const warmup = rate / 2;
  const count = warmup + rate * seconds;
  const largest = counts[counts.length - 1]!;

  ctx.progress.step(`starting nats-server and ${largest} worker processes`);
  const server = await ctx.server();
  const ws = await ctx.workers(Array.from({ length: largest }, (_, i) => (i === 0 ? "writer" : `peer${i}`)));
  await Promise.all(ws.map((w) => w.call("raw.connect", { url: server.url })));
  const started = new Set<BenchWorker>();
  const rows: NodeCountRow[] = [];
  for (const n of counts) {
    const group = ws.slice(0, n);
    ctx.progress.step(`${n} nodes: starting replicators`);
    const fresh = group.filter((w) => !started.has(w));
    await Promise.all(fresh.map((w) => w.call("node.start", { url: server.url, nodeId: w.name })));
    for (const w of fresh) started.add(w);
    await Promise.all(group.map((w) => w.call("node.waitMembers", { count: n })));
    const setup = { writer: group[0]!, peers: group.slice(1) };
    const socketTotal = async (cmd: "node.bytes" | "raw.bytes"): Promise<number> =>
      (await Promise.all(group.map((w) => w.call<Socket>(cmd)))).reduce((s, b) => s + b.written + b.read, 0);
    const ours: LatencySummary[] = [];
    const raws: LatencySummary[] = [];
    const oursBytes: number[] = [];
    const rawBytes: number[] = [];
    for (let run = 0; run < ctx.runs; run++) {
      const label = `${rate}/s, writer → ${n - 1} peers, run ${run + 1}/${ctx.runs}`;
      ctx.progress.step(`ours ${label}`, 500 + seconds * 1000);
      const b0 = await socketTotal("node.bytes");
      const o = await measureOurs(setup, `nodes-${n}-${run}`, rate, warmup, count);
      oursBytes.push(((await socketTotal("node.bytes")) - b0) / count);
      ours.push(o.summary);
      ctx.progress.step(`raw NATS ${label}`, 500 + seconds * 1000);
      const r0 = await socketTotal("raw.bytes");
      const r = await measureRaw(setup, `raw.nodes.${n}.${run}`, rate, warmup, count, Math.round(o.payloadBytes));
      rawBytes.push(((await socketTotal("raw.bytes")) - r0) / count);
      raws.push(r.summary);
    }
    const o = medianSummary(ours);
    const r = medianSummary(raws);
    const bytesPerUpdate = { ours: median(oursBytes), raw: median(rawBytes) };
    const row: NodeCountRow = {
      nodes: n,
      rate,
      seconds,
      ours: o,
      raw: r,
      bytesPerUpdate,
      ratio: { p50: o.p50 / r.p50, p99: o.p99 / r.p99, max: o.max / r.max, bytes: bytesPerUpdate.ours / bytesPerUpdate.raw },
    };
    rows.push(row);
    ctx.progress.note(
      `${n} nodes: p50 ${row.ratio.p50.toFixed(2)}× raw (${o.p50.toFixed(3)} vs ${r.p50.toFixed(3)} ms), p99 ${row.ratio.p99.toFixed(2)}×, bytes/update ${bytesPerUpdate.ours.toFixed(0)} vs ${bytesPerUpdate.raw.toFixed(0)} B (${row.ratio.bytes.toFixed(2)}×)`,
    );
  }
  await Promise.all([...started].map((w) => w.call("node.stop")));
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  return {
    rows,
    growth: { p50: last.ratio.p50 / first.ratio.p50, p99: last.ratio.p99 / first.ratio.p99, bytes: last.ratio.bytes / first.ratio.bytes },
  };
}
