/**
 * 1. Convergence latency. One writer updates a GCounter at a fixed rate; its value is the sequence
 * number of the update (one increment per update). Every peer subscribes; per update, latency =
 * (the latest time any peer's subscriber saw a value ≥ seq) − (the time the writer called
 * `update` for seq), all on the machine's shared monotonic clock. Baseline in the same run, same
 * processes, same rate and payload size: raw NATS publish → the last of N subscribers.
 */
import { Key } from "../../src/index.js";
import { messageBytes } from "../../src/wire/fast-encode.js";
import type { BenchContext } from "../lib/context.js";
import { INCREMENT, collectArrivals, nextTurn, node, nowNs, paced, raw, type Arrivals } from "../lib/node.js";
import type { BenchWorker } from "../lib/procs.js";
import { medianSummary, median, summarize, type LatencySummary } from "../lib/stats.js";

export interface ConvergenceRow {
  rate: number;
  peers: number;
  /** Measured seconds per run (after the warm-up). */
  seconds: number;
  /** Median envelope size of our runs; the raw baseline publishes messages of this size. */
  payloadBytes: number;
  ours: LatencySummary;
  raw: LatencySummary;
  /** ours ÷ raw per percentile (medians). */
  ratio: { p50: number; p90: number; p99: number; max: number };
  /** Updates never seen by every peer within the collection deadline (median over runs). */
  lost: { ours: number; raw: number };
  /**
   * CPU time (user + system) per update, µs: the writer's while it wrote, and a peer's from the
   * moment it started watching until it had seen every update (background work included: the
   * replicators run during the raw baseline too). Medians over runs (and peers). On 2 cores shared
   * by every process, a peer's CPU per message is what the last peer's latency mostly waits for.
   * Absent from results of earlier versions.
   */
  cpuUsPerUpdate?: { ours: { writer: number; peer: number }; raw: { writer: number; peer: number } };
  runs: { ours: LatencySummary[]; raw: LatencySummary[] };
}

export interface ConvergenceResult {
  rows: ConvergenceRow[];
}

// ================================================================== worker side

let watch: Arrivals | undefined;
/** CPU used when `watch` started. */
let watchCpu: NodeJS.CpuUsage | undefined;

/** CPU µs this process used since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(from);
  return user + system;
}

export const convergenceWorker = {
  /** Subscribe to `key`: arr[seq] = first time a value ≥ seq was seen. */
  "conv.watch": (a: { key: string; capacity: number }) => {
    const arr = new Float64Array(a.capacity + 1);
    const w: Arrivals = { arr, seen: 0, stop: () => undefined };
    w.stop = node().r.subscribe(Key.gcounter(a.key), (v) => {
      const t = nowNs();
      const n = Math.min(v?.value ?? 0, a.capacity);
      for (let s = w.seen + 1; s <= n; s++) arr[s] = t;
      if (n > w.seen) w.seen = n;
    });
    watch = w;
    watchCpu = process.cpuUsage();
  },
  /** Raw baseline: the first 4 bytes of each message are its sequence number. */
  "conv.rawWatch": async (a: { subject: string; capacity: number }) => {
    const arr = new Float64Array(a.capacity + 1);
    const w: Arrivals = { arr, seen: 0, stop: () => undefined };
    const sub = raw().subscribe(a.subject, {
      callback: (_err, msg) => {
        const t = nowNs();
        const d = msg.data;
        const seq = (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0;
        if (seq <= a.capacity && arr[seq] === 0) {
          arr[seq] = t;
          w.seen++;
        }
      },
    });
    w.stop = () => sub.unsubscribe();
    watch = w;
    await raw().flush(); // the server has the subscription before anyone publishes
    watchCpu = process.cpuUsage();
  },
  /** Wait (bounded) until `count` updates were seen, stop watching; the arrival times and the CPU µs used per update meanwhile. */
  "conv.collect": async (a: { count: number; timeoutMs: number }) => {
    const w = watch;
    if (w === undefined || watchCpu === undefined) throw new Error("not watching");
    watch = undefined;
    const arr = await collectArrivals(w, a.count, a.timeoutMs);
    return { arr, cpuUs: cpuSince(watchCpu) / a.count };
  },
  /** Writer: `count` updates at `rate`/s; returns the call time of each (index = seq). */
  "conv.write": async (a: { key: string; rate: number; count: number }) => {
    const { r, tx } = node();
    const k = Key.gcounter(a.key);
    const send = new Float64Array(a.count + 1);
    const before = { bytes: r.stats.bytesPublished, envelopes: r.stats.envelopePublishCount };
    const cpu = process.cpuUsage();
    await paced(a.rate, a.count, (seq) => {
      send[seq] = nowNs();
      void r.update(k, INCREMENT);
    });
    await nextTurn();
    await tx.flush();
    return {
      send,
      cpuUs: cpuSince(cpu) / a.count,
      payloadBytes: r.stats.bytesPublished - before.bytes,
      envelopes: r.stats.envelopePublishCount - before.envelopes,
    };
  },
  "conv.rawWrite": async (a: { subject: string; rate: number; count: number; size: number }) => {
    const nc = raw();
    const send = new Float64Array(a.count + 1);
    const size = Math.max(4, a.size);
    const cpu = process.cpuUsage();
    await paced(a.rate, a.count, (seq) => {
      const data = messageBytes(size); // a fresh buffer per message, as our outbox encodes one
      data.fill(0, 4); // every byte written, as the outbox writes every byte of its
      data[0] = seq & 0xff;
      data[1] = (seq >>> 8) & 0xff;
      data[2] = (seq >>> 16) & 0xff;
      data[3] = (seq >>> 24) & 0xff;
      send[seq] = nowNs();
      nc.publish(a.subject, data);
    });
    await nc.flush();
    return { send, cpuUs: cpuSince(cpu) / a.count };
  },
};

// ================================================================== orchestrator side

/** Per-update latency (ms) to the last peer, over seq in [from, to]. */
export function fanoutLatencies(send: Float64Array, recvs: Float64Array[], from: number, to: number): { lat: Float64Array; lost: number } {
  const lat: number[] = [];
  let lost = 0;
  for (let s = from; s <= to; s++) {
    let last = 0;
    let missing = false;
    for (const r of recvs) {
      const t = r[s]!;
      if (t === 0) missing = true;
      else if (t > last) last = t;
    }
    if (missing) lost++;
    else lat.push((last - send[s]!) / 1e6);
  }
  return { lat: Float64Array.from(lat), lost };
}

export interface ConvergenceSetup {
  writer: BenchWorker;
  peers: BenchWorker[];
}

/** One measured run of ours (writer → `peers` replicators). */
export async function measureOurs(
  s: ConvergenceSetup,
  key: string,
  rate: number,
  warmup: number,
  count: number,
): Promise<Measured & { payloadBytes: number }> {
  const { w, ...m } = await measure<{ payloadBytes: number; envelopes: number }>(s, ["conv.watch", { key, capacity: count }], ["conv.write", { key, rate, count }], warmup, count);
  return { ...m, payloadBytes: w.envelopes > 0 ? w.payloadBytes / w.envelopes : 0 };
}

/** One measured run of the raw NATS baseline (same processes, raw connections). */
export async function measureRaw(
  s: ConvergenceSetup,
  subject: string,
  rate: number,
  warmup: number,
  count: number,
  size: number,
): Promise<Measured> {
  const { w: _, ...m } = await measure(s, ["conv.rawWatch", { subject, capacity: count }], ["conv.rawWrite", { subject, rate, count, size }], warmup, count);
  return m;
}

/** A run's latencies to the last peer, updates lost, and CPU µs per update. */
interface Measured {
  summary: LatencySummary;
  lost: number;
  cpu: Cpu;
}

/** CPU µs per update of one run: the writer's, each peer's. */
interface Cpu {
  writer: number;
  peers: number[];
}

/** The peers start watching (`watch`), the writer writes (`write`), the peers report (`conv.collect`); `w` is what the writer returned. */
async function measure<W = object>(
  s: ConvergenceSetup,
  watch: [string, object],
  write: [string, object],
  warmup: number,
  count: number,
): Promise<Measured & { w: W }> {
  await Promise.all(s.peers.map((p) => p.call(...watch)));
  const w = await s.writer.call<W & { send: Float64Array; cpuUs: number }>(...write);
  const recvs = await Promise.all(s.peers.map((p) => p.call<{ arr: Float64Array; cpuUs: number }>("conv.collect", { count, timeoutMs: 3000 })));
  const { lat, lost } = fanoutLatencies(w.send, recvs.map((r) => r.arr), warmup + 1, count);
  return { w, summary: summarize(lat), lost, cpu: { writer: w.cpuUs, peers: recvs.map((r) => r.cpuUs) } };
}

export async function runConvergence(ctx: BenchContext): Promise<ConvergenceResult> {
  // 100/s and 1,000/s are issue 13's goals (ratios to raw NATS at the same rate, same run).
  const rates = ctx.full ? [100, 1000, 10_000] : [100, 1000];
  // The goals are at 4 peers; the quick run measures those alone (2 peers took half of its time).
  const peerCounts = ctx.full ? [2, 4] : [4];
  const warmupMs = ctx.full ? 1000 : 500;
  // At 100/s a run needs more seconds for a p99 over enough samples (quick: 300 samples).
  const secondsAt = (rate: number): number => (rate <= 100 ? (ctx.full ? 30 : 3) : ctx.full ? 10 : 2);

  ctx.progress.step("starting nats-server and 5 worker processes");
  const server = await ctx.server();
  const [writer, ...peers] = await ctx.workers(["writer", "peer1", "peer2", "peer3", "peer4"]);
  const all = [writer!, ...peers];
  await Promise.all(all.map((w) => w.call("raw.connect", { url: server.url })));
  const started = new Set<BenchWorker>();
  const ensureNodes = async (ws: BenchWorker[]): Promise<void> => {
    const fresh = ws.filter((w) => !started.has(w));
    await Promise.all(fresh.map((w) => w.call("node.start", { url: server.url, nodeId: w.name })));
    for (const w of fresh) started.add(w);
    await Promise.all(ws.map((w) => w.call("node.waitMembers", { count: ws.length })));
  };

  const rows: ConvergenceRow[] = [];
  for (const n of peerCounts) {
    const setup: ConvergenceSetup = { writer: writer!, peers: peers.slice(0, n) };
    ctx.progress.step(`starting ${n} peers`);
    await ensureNodes([writer!, ...setup.peers]);
    for (const rate of rates) {
      const seconds = secondsAt(rate);
      const warmup = Math.round((rate * warmupMs) / 1000);
      const count = warmup + rate * seconds;
      const ours: LatencySummary[] = [];
      const raws: LatencySummary[] = [];
      const lost = { ours: [] as number[], raw: [] as number[] };
      const sizes: number[] = [];
      const cpus: { ours: Cpu[]; raw: Cpu[] } = { ours: [], raw: [] };
      for (let run = 0; run < ctx.runs; run++) {
        const label = `${rate}/s → ${n} peers, run ${run + 1}/${ctx.runs}`;
        ctx.progress.step(`ours ${label}`, warmupMs + seconds * 1000);
        const o = await measureOurs(setup, `conv-${n}-${rate}-${run}`, rate, warmup, count);
        ours.push(o.summary);
        lost.ours.push(o.lost);
        sizes.push(o.payloadBytes);
        cpus.ours.push(o.cpu);
        ctx.progress.step(`raw NATS ${label}`, warmupMs + seconds * 1000);
        const r = await measureRaw(setup, `raw.conv.${n}.${rate}.${run}`, rate, warmup, count, Math.round(o.payloadBytes));
        raws.push(r.summary);
        lost.raw.push(r.lost);
        cpus.raw.push(r.cpu);
      }
      const cpuOf = (runs: Cpu[]): { writer: number; peer: number } => ({ writer: median(runs.map((c) => c.writer)), peer: median(runs.flatMap((c) => c.peers)) });
      const o = medianSummary(ours);
      const r = medianSummary(raws);
      const cpu = { ours: cpuOf(cpus.ours), raw: cpuOf(cpus.raw) };
      const row: ConvergenceRow = {
        rate,
        peers: n,
        seconds,
        payloadBytes: Math.round(median(sizes)),
        ours: o,
        raw: r,
        ratio: { p50: o.p50 / r.p50, p90: o.p90 / r.p90, p99: o.p99 / r.p99, max: o.max / r.max },
        lost: { ours: median(lost.ours), raw: median(lost.raw) },
        cpuUsPerUpdate: cpu,
        runs: { ours, raw: raws },
      };
      rows.push(row);
      ctx.progress.note(
        `${rate}/s → ${n} peers: ours p50 ${o.p50.toFixed(3)} ms p99 ${o.p99.toFixed(3)} ms; raw p50 ${r.p50.toFixed(3)} ms p99 ${r.p99.toFixed(3)} ms; p50 ratio ${row.ratio.p50.toFixed(2)}×; CPU per update, writer/peer: ours ${us(cpu.ours)}, raw ${us(cpu.raw)}`,
      );
    }
  }
  await Promise.all([...started].map((w) => w.call("node.stop")));
  return { rows };
}

function us(c: { writer: number; peer: number }): string {
  return `${c.writer.toFixed(1)}/${c.peer.toFixed(1)} µs`;
}
