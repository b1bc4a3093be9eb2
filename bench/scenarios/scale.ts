/**
 * 5. Scale (and the idle part of 3): a 3-node cluster is filled with GCounter keys in steps (one
 * node writes them, the other two receive them as deltas). At each step a new node joins, three
 * times, each a fresh process: time from `Replicator.start` until it holds every key, and bytes
 * transferred. At the largest step: heap bytes per key, idle bytes per second of the cluster,
 * anti-entropy bytes per round when nothing differs and when 100 keys differ, and snapshot
 * write/restore times (bench/snapshot.ts).
 */
import { Key } from "../../src/index.js";
import type { BenchContext } from "../lib/context.js";
import { INCREMENT, nextTurn, node, nowNs, sleep, startNode, wireBytes } from "../lib/node.js";
import type { BenchWorker } from "../lib/procs.js";
import { median, medianFields } from "../lib/stats.js";
import { runSnapshotBench } from "../snapshot.js";

export interface JoinPoint {
  keys: number;
  /** Replicated load of this step: first write on the writer → both peers hold every key, ms. */
  loadMs: number;
  /**
   * The first anti-entropy rounds after the load (sb with sa, then sc with sa), ms: they rehash
   * what the background rehash has not reached yet, which a settled cluster has already done. Joins are measured after them.
   */
  settleMs: number;
  /** New node: `Replicator.start` → holds every key, ms (median of runs). */
  catchUpMs: number;
  /** … → its digest tree holds every key's hash too (peers' anti-entropy rounds with it wait till then), ms (median of runs; absent in runs before it was measured). */
  digestMs?: number;
  /** Bytes the new node's client read from its socket during the catch-up. */
  joinerBytesIn: number;
  /** Bytes the three existing nodes' clients wrote meanwhile (heartbeats included). */
  clusterBytesOut: number;
  runs: { catchUpMs: number; digestMs?: number; joinerBytesIn: number; clusterBytesOut: number }[];
}

export interface ScaleResult {
  keys: number;
  heapBytesPerKey: number;
  heapPerNode: number[];
  joins: JoinPoint[];
  idle: {
    windowSeconds: number;
    /** Everything the 3 nodes' clients wrote, per second. */
    bytesPerSecond: number;
    antiEntropyRoundsInWindow: number;
    /** Heartbeats + the anti-entropy rounds the default 30 s interval makes (3 nodes). */
    atDefaultsBytesPerSecond: number;
  };
  antiEntropy: {
    /** Both sides' socket bytes of one round, heartbeats taken out. */
    idleRoundBytes: number;
    idleRoundMs: number;
    diffKeys: number;
    diffRoundBytes: number;
    diffRoundMs: number;
    /** Did the differing keys arrive by that round (and not before it)? */
    diffVerified: boolean;
  };
  snapshot: { available: boolean; keys?: number; result?: unknown; note?: string };
}

// ================================================================== worker side

export const scaleWorker = {
  /** A new node: start, wait until it holds `count` keys. */
  "scale.join": async (a: { url: string; nodeId: string; count: number; timeoutMs: number }) => {
    const t0 = nowNs();
    const cpu0 = process.cpuUsage();
    const faults0 = process.resourceUsage().minorPageFault;
    // BENCH_JOIN_LOG=1: the joiner's warnings and errors on stderr (why a catch-up was slow).
    const say = (obj: unknown, msg?: string): void => console.error(`[${a.nodeId} +${((nowNs() - t0) / 1e6).toFixed(0)} ms]`, msg ?? "", JSON.stringify(obj).slice(0, 300));
    const logger = process.env["BENCH_JOIN_LOG"] ? { debug: () => undefined, info: () => undefined, warn: say, error: say } : undefined;
    await startNode({ url: a.url, nodeId: a.nodeId, options: logger === undefined ? {} : { logger } });
    const { r, nc } = node();
    const deadline = Date.now() + a.timeoutMs;
    // With BENCH_JOIN_LOG, the catch-up's phases: keys held, keys that came by bulk pull, bytes in.
    let nextReport = logger === undefined ? Infinity : Date.now() + 2000;
    while (r.size < a.count) {
      if (Date.now() > deadline) throw new Error(`join: ${r.size}/${a.count} keys after ${a.timeoutMs} ms`);
      if (Date.now() > nextReport) {
        nextReport += 2000;
        say({ size: r.size, bulkPullKeys: r.stats.bulkPullKeys, rounds: r.stats.antiEntropyCount, mbIn: Math.round(wireBytes(nc).read / 1e6) }, "progress");
      }
      await sleep(2);
    }
    const t1 = nowNs();
    const cpu = process.cpuUsage(cpu0);
    // Minor page faults: first touches of fresh memory (4 KiB each), which cost ~3 ns a byte on some VMs.
    const pageFaults = process.resourceUsage().minorPageFault - faults0;
    // Then until its digest tree holds every key's hash (a bulk pull's go in after its last page):
    // peers' anti-entropy rounds with it wait till then.
    const ae = (r as unknown as { parts: { antiEntropy: { catchingUp: boolean; pendingRehash: number } } }).parts.antiEntropy;
    while (ae.catchingUp || ae.pendingRehash > 0) {
      if (Date.now() > deadline) throw new Error(`join: digest not ready after ${a.timeoutMs} ms (${ae.pendingRehash} keys pending)`);
      await sleep(2);
    }
    const digestMs = (nowNs() - t0) / 1e6;
    return { ms: (t1 - t0) / 1e6, digestMs, bytesIn: wireBytes(nc).read, cpuMs: (cpu.user + cpu.system) / 1000, systemMs: cpu.system / 1000, pageFaults };
  },
  /** Increment `count` existing keys once more (they then differ from a muted peer's copies). */
  "scale.touch": async (a: { prefix: string; from: number; count: number }) => {
    const { r, tx } = node();
    for (let i = 0; i < a.count; i++) void r.update(Key.gcounter(`${a.prefix}${a.from + i}`), INCREMENT);
    await nextTurn();
    await tx.flush();
  },
  "scale.snapshot": async (a: { keys: number }) => {
    return JSON.parse(JSON.stringify(await runSnapshotBench(a.keys))) as unknown;
  },
};

// ================================================================== orchestrator side

type Bytes = { written: number; read: number; heartbeat: number; stats: Record<string, number> };

/** One anti-entropy round `asker` → `answerer` (a worker named as its node): both sides' socket bytes, heartbeats taken out, and its duration. */
export async function antiEntropyRound(asker: BenchWorker, answerer: BenchWorker): Promise<{ bytes: number; ms: number }> {
  const bytesOf = (w: BenchWorker): Promise<Bytes> => w.call<Bytes>("node.bytes");
  const [a0, b0] = await Promise.all([bytesOf(asker), bytesOf(answerer)]);
  const ms = await asker.call<number>("node.sync", { peer: answerer.name });
  const [a1, b1] = await Promise.all([bytesOf(asker), bytesOf(answerer)]);
  const bytes = a1.written - a0.written - (a1.heartbeat - a0.heartbeat) + (b1.written - b0.written - (b1.heartbeat - b0.heartbeat));
  return { bytes, ms };
}

export async function runScale(ctx: BenchContext): Promise<ScaleResult> {
  // Quick: the goals' size (scaled down) and one point below it for the catch-up curve.
  const sizes = ctx.full ? [100_000, 300_000, 1_000_000] : [10_000, 100_000];
  const final = sizes[sizes.length - 1]!;
  const idleSeconds = ctx.full ? 35 : 5;
  const diffKeys = 100;
  const prefix = "k";

  ctx.progress.step("starting nats-server and a 3-node cluster");
  const server = await ctx.server();
  const cluster = await ctx.workers(["sa", "sb", "sc"]);
  const [a, b, c] = cluster as [BenchWorker, BenchWorker, BenchWorker];
  await Promise.all(cluster.map((w) => w.call("node.start", { url: server.url, nodeId: w.name })));
  await Promise.all(cluster.map((w) => w.call("node.waitMembers", { count: 3 })));
  const heap0 = await Promise.all(cluster.map((w) => w.call<number>("node.heap")));
  const bytesOf = (w: BenchWorker): Promise<Bytes> => w.call<Bytes>("node.bytes");
  const clusterWritten = async (): Promise<number> => (await Promise.all(cluster.map(bytesOf))).reduce((s, x) => s + x.written, 0);

  const joins: JoinPoint[] = [];
  let loaded = 0;
  let joinId = 0;
  for (const size of sizes) {
    ctx.progress.step(`loading keys ${loaded}..${size} on sa, replicating to sb and sc`);
    const t0 = nowNs();
    await a.call("node.load", { prefix, from: loaded, count: size - loaded });
    const done = await Promise.all([b, c].map((w) => w.call<number>("node.waitSize", { count: size, timeoutMs: 600_000 })));
    const loadMs = (Math.max(...done) - t0) / 1e6;
    loaded = size;
    ctx.progress.step(`first anti-entropy rounds after loading ${size} keys (digest trees rehash)`);
    const s0 = nowNs();
    await b.call("node.sync", { peer: "sa" });
    await c.call("node.sync", { peer: "sa" });
    const settleMs = (nowNs() - s0) / 1e6;
    const runs: JoinPoint["runs"] = [];
    for (let run = 0; run < ctx.runs; run++) {
      ctx.progress.step(`new node joins a cluster of ${size} keys — run ${run + 1}/${ctx.runs}`);
      const [j] = await ctx.workers([`join${++joinId}`]);
      const before = await clusterWritten();
      const res = await j!.call<{ ms: number; digestMs: number; bytesIn: number }>("scale.join", { url: server.url, nodeId: `join${joinId}`, count: size, timeoutMs: 300_000 });
      const after = await clusterWritten();
      runs.push({ catchUpMs: res.ms, digestMs: res.digestMs, joinerBytesIn: res.bytesIn, clusterBytesOut: after - before });
      await ctx.release(j!);
    }
    const point: JoinPoint = {
      keys: size,
      loadMs,
      settleMs,
      catchUpMs: median(runs.map((r) => r.catchUpMs)),
      digestMs: median(runs.map((r) => r.digestMs ?? NaN)),
      joinerBytesIn: median(runs.map((r) => r.joinerBytesIn)),
      clusterBytesOut: median(runs.map((r) => r.clusterBytesOut)),
      runs,
    };
    joins.push(point);
    ctx.progress.note(
      `${size} keys: replicated load ${(loadMs / 1000).toFixed(2)} s, first AE rounds ${(settleMs / 1000).toFixed(2)} s; new node caught up in ${(point.catchUpMs / 1000).toFixed(2)} s (digest ready at ${((point.digestMs ?? NaN) / 1000).toFixed(2)} s), ${(point.joinerBytesIn / 1e6).toFixed(1)} MB in`,
    );
  }

  // Heap per key (after full GC, against the same node right after start).
  const heap1 = await Promise.all(cluster.map((w) => w.call<number>("node.heap")));
  const heapPerNode = heap1.map((h, i) => (h - heap0[i]!) / final);
  const heapBytesPerKey = median(heapPerNode);
  ctx.progress.note(`heap per key at ${final} keys: ${heapPerNode.map((x) => x.toFixed(0)).join(" / ")} B (sa writer / sb / sc)`);

  // Idle cluster.
  ctx.progress.step(`idle cluster of ${final} keys, ${idleSeconds} s window`, idleSeconds * 1000);
  const ae0 = (await Promise.all(cluster.map(bytesOf))).reduce((s, x) => s + (x.stats["antiEntropyCount"] ?? 0), 0);
  const w0 = await clusterWritten();
  const i0 = nowNs();
  await sleep(idleSeconds * 1000);
  const w1 = await clusterWritten();
  const i1 = nowNs();
  const ae1 = (await Promise.all(cluster.map(bytesOf))).reduce((s, x) => s + (x.stats["antiEntropyCount"] ?? 0), 0);
  const idleBps = (w1 - w0) / ((i1 - i0) / 1e9);

  // Anti-entropy rounds: sc with sb.
  const round = (): Promise<{ bytes: number; ms: number }> => antiEntropyRound(c, b);
  const idleRounds: { bytes: number; ms: number }[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    ctx.progress.step(`anti-entropy round, nothing differs — run ${run + 1}/${ctx.runs}`);
    idleRounds.push(await round());
  }
  const diffRounds: { bytes: number; ms: number }[] = [];
  let verified = true;
  for (let run = 0; run < ctx.runs; run++) {
    ctx.progress.step(`anti-entropy round, ${diffKeys} keys differ — run ${run + 1}/${ctx.runs}`);
    const from = run * diffKeys;
    const keys = Array.from({ length: diffKeys }, (_, i) => `${prefix}${from + i}`);
    // sc misses sb's deltas (dropped on arrival), and sb's heartbeats until the round is done (they
    // carry sb's last sequence: sc would see the gap and repair it from sb's recent envelopes). So
    // only anti-entropy can find the difference. A few muted heartbeats are far from sc's failure
    // timeout.
    await c.call("node.mute", { muted: true });
    await b.call("scale.touch", { prefix, from, count: diffKeys });
    await sleep(200);
    const [vb, vc] = await Promise.all([b.call<number[]>("node.values", { keys }), c.call<number[]>("node.values", { keys })]);
    const differing = vb.filter((v, i) => v !== vc[i]).length;
    diffRounds.push(await round());
    const vc2 = await c.call<number[]>("node.values", { keys });
    await c.call("node.mute", { muted: false });
    await sleep(1100); // sb's next heartbeat, and the (now idempotent) gap repair it triggers, fall here
    const after = vb.filter((v, i) => v !== vc2[i]).length;
    if (differing !== diffKeys || after !== 0) {
      verified = false;
      ctx.progress.note(`run ${run + 1}: ${differing} keys differed before the round, ${after} after`);
    }
  }
  const idleRoundBytes = median(idleRounds.map((r) => r.bytes));
  const antiEntropy = {
    idleRoundBytes,
    idleRoundMs: median(idleRounds.map((r) => r.ms)),
    diffKeys,
    diffRoundBytes: median(diffRounds.map((r) => r.bytes)),
    diffRoundMs: median(diffRounds.map((r) => r.ms)),
    diffVerified: verified,
  };
  // Heartbeat share of the idle traffic: everything written in the window less its AE rounds.
  const aeInWindow = ae1 - ae0;
  const heartbeatBps = Math.max(0, idleBps - (aeInWindow * idleRoundBytes) / ((i1 - i0) / 1e9));
  const idle = {
    windowSeconds: idleSeconds,
    bytesPerSecond: idleBps,
    antiEntropyRoundsInWindow: aeInWindow,
    atDefaultsBytesPerSecond: heartbeatBps + (3 * idleRoundBytes) / 30,
  };
  ctx.progress.note(
    `idle: ${idleBps.toFixed(0)} B/s measured (${aeInWindow} AE rounds in window), ${idle.atDefaultsBytesPerSecond.toFixed(0)} B/s at default intervals; AE round: ${(idleRoundBytes / 1024).toFixed(1)} KB idle, ${(antiEntropy.diffRoundBytes / 1024).toFixed(1)} KB with ${diffKeys} differing${verified ? "" : " (NOT verified)"}`,
  );

  let snapshot: ScaleResult["snapshot"];
  const [s] = await ctx.workers(["snapshot"]);
  try {
    const runs: Record<string, number>[] = [];
    for (let run = 0; run < ctx.runs; run++) {
      ctx.progress.step(`snapshot bench (bench/snapshot.ts), ${final} keys — run ${run + 1}/${ctx.runs}`);
      runs.push(await s!.call<Record<string, number>>("scale.snapshot", { keys: final }));
    }
    snapshot = { available: true, keys: final, result: medianFields(runs) };
  } catch (error) {
    snapshot = { available: false, note: `runSnapshotBench failed: ${String(error).split("\n")[0]}` };
  }
  await ctx.release(s!);
  await Promise.all(cluster.map((w) => w.call("node.stop")));
  return { keys: final, heapBytesPerKey, heapPerNode, joins, idle, antiEntropy, snapshot };
}
