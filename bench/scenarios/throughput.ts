/**
 * 2. Throughput.
 * (a) One node: local `update` calls per second — one hot GCounter key, and 100k distinct keys
 *     (first write of each key, then a second pass over the existing keys). The loop awaits every
 *     call and yields one event-loop turn per 1,000 calls, so the outbox publishes while it runs
 *     and its cost is included.
 * (b) Three nodes, 100k increments each of one shared GCounter, started together at one instant of
 *     the shared monotonic clock: local updates/s per node, and the time from the end of the last
 *     burst until every node's subscriber has seen 300,000.
 * Baseline, same run: raw NATS 1→1 maximum messages/s for 100-byte messages (publisher and
 * subscriber in separate processes; rate measured at the subscriber).
 */
import { GCounter, Key } from "../../src/index.js";
import type { BenchContext } from "../lib/context.js";
import { INCREMENT, nextTurn, node, nowNs, raw, sleep, until, whenValueReaches } from "../lib/node.js";
import { median } from "../lib/stats.js";

export interface ThroughputResult {
  /** Updates per turn between yields. */
  batch: number;
  local: {
    hot: { updates: number; perSecond: number; runs: number[] };
    /** `bytesPerUpdate`: envelope bytes this node published ÷ updates (the deltas that replicate them). */
    distinctFirst: { keys: number; perSecond: number; runs: number[]; bytesPerUpdate: number };
    distinctExisting: { keys: number; perSecond: number; runs: number[]; bytesPerUpdate: number };
  };
  burst: {
    nodes: number;
    perNode: number;
    /** Median over runs of the slowest node's updates/s. */
    minPerNodePerSecond: number;
    /** Median over runs and nodes. */
    perNodePerSecond: number;
    /** The last update of the burst (any node) issued → all nodes show the total, ms. */
    convergeMs: number;
    runs: { perNode: number[]; convergeMs: number }[];
  };
  raw: { messages: number; size: number; perSecond: number; publisherPerSecond: number; runs: number[] };
}

// ================================================================== worker side

let burstReached: Promise<number> | undefined;
let sink: Promise<{ first: number; last: number; received: number }> | undefined;

/**
 * `n` updates over `keys`. `lastIssued` is when the last update was called: no replica can hold the
 * total before that instant, so convergence measured from it is never negative (the end of the
 * loop, after the yield that lets the outbox publish, could come after a peer already saw it all).
 */
async function updateLoop(keys: Key<GCounter>[], n: number, batch: number): Promise<{ rate: number; end: number; lastIssued: number; bytes: number }> {
  const { r, tx } = node();
  const bytes0 = r.stats.bytesPublished;
  const t0 = nowNs();
  const m = keys.length;
  let lastIssued = t0;
  for (let i = 0; i < n; i++) {
    if (i === n - 1) lastIssued = nowNs(); // read once: a clock read per update would be part of the rate
    await r.update(keys[i % m]!, INCREMENT);
    if (i % batch === batch - 1) await nextTurn();
  }
  await nextTurn();
  const t1 = nowNs();
  await tx.flush();
  return { rate: (n / (t1 - t0)) * 1e9, end: t1, lastIssued, bytes: r.stats.bytesPublished - bytes0 };
}

export const throughputWorker = {
  /** Local updates/s; `keys` distinct keys cycled over, `n` updates, per `passes` timed passes. */
  "tp.local": async (a: { keys: number; n: number; passes: number; batch: number }) => {
    const keys = Array.from({ length: a.keys }, (_, i) => Key.gcounter(a.keys === 1 ? "hot" : `d${i}`));
    const passes: { rate: number; bytesPerUpdate: number }[] = [];
    for (let p = 0; p < a.passes; p++) {
      const { rate, bytes } = await updateLoop(keys, a.n, a.batch);
      passes.push({ rate, bytesPerUpdate: bytes / a.n });
    }
    return passes;
  },
  /** Arm the convergence watch, wait for the common start, burst; returns the burst's start/end. */
  "tp.burst": async (a: { key: string; n: number; batch: number; startAtNs: number; target: number }) => {
    const k = Key.gcounter(a.key);
    burstReached = whenValueReaches(k, a.target);
    await until(a.startAtNs);
    const start = nowNs();
    const { rate, end, lastIssued } = await updateLoop([k], a.n, a.batch);
    return { start, end, lastIssued, rate };
  },
  "tp.burstWait": async (a: { timeoutMs: number }) => {
    const p = burstReached;
    if (p === undefined) throw new Error("no burst armed");
    return Promise.race([p, sleep(a.timeoutMs).then(() => NaN)]);
  },
  "tp.sink": async (a: { subject: string; count: number }) => {
    let received = 0;
    let first = 0;
    let last = 0;
    let done!: (v: { first: number; last: number; received: number }) => void;
    sink = new Promise((resolve) => (done = resolve));
    const sub = raw().subscribe(a.subject, {
      callback: () => {
        const t = nowNs();
        if (received === 0) first = t;
        last = t;
        if (++received === a.count) {
          sub.unsubscribe();
          done({ first, last, received });
        }
      },
    });
    await raw().flush();
  },
  "tp.sinkWait": async (a: { timeoutMs: number }) => {
    const p = sink;
    if (p === undefined) throw new Error("no sink");
    return Promise.race([p, sleep(a.timeoutMs).then(() => ({ first: 0, last: 0, received: -1 }))]);
  },
  "tp.blast": async (a: { subject: string; count: number; size: number }) => {
    const nc = raw();
    const payload = new Uint8Array(a.size).fill(120);
    const t0 = nowNs();
    for (let i = 0; i < a.count; i++) {
      nc.publish(a.subject, payload);
      if (i % 1000 === 999) {
        if (i % 100_000 === 99_999) await nc.flush();
        else await nextTurn();
      }
    }
    await nc.flush();
    return (a.count / (nowNs() - t0)) * 1e9;
  },
};

// ================================================================== orchestrator side

export async function runThroughput(ctx: BenchContext): Promise<ThroughputResult> {
  const batch = 1000;
  const hotN = ctx.full ? 2_000_000 : 1_000_000;
  const distinct = 100_000;
  const perNode = 100_000;
  const rawCount = ctx.full ? 2_000_000 : 500_000;
  const rawSize = 100;

  ctx.progress.step("starting nats-server and 3 worker processes");
  const server = await ctx.server();
  const ws = await ctx.workers(["tp-a", "tp-b", "tp-c"]);
  const [a, b, c] = ws as [(typeof ws)[0], (typeof ws)[0], (typeof ws)[0]];

  // (a) one node. A fresh replicator per run; a warm-up run first (the JIT), not counted.
  const hot: number[] = [];
  const first: number[] = [];
  const existing: number[] = [];
  const firstBytes: number[] = [];
  const existingBytes: number[] = [];
  for (let run = -1; run < ctx.runs; run++) {
    const label = run < 0 ? "warm-up" : `run ${run + 1}/${ctx.runs}`;
    ctx.progress.step(`one node, hot key and 100k keys — ${label}`);
    await a.call("node.start", { url: server.url, nodeId: `solo${run + 1}` });
    type Pass = { rate: number; bytesPerUpdate: number };
    const h = await a.call<Pass[]>("tp.local", { keys: 1, n: hotN, passes: 1, batch });
    const d = await a.call<Pass[]>("tp.local", { keys: distinct, n: distinct, passes: 2, batch });
    await a.call("node.stop");
    if (run < 0) continue;
    hot.push(h[0]!.rate);
    first.push(d[0]!.rate);
    existing.push(d[1]!.rate);
    firstBytes.push(d[0]!.bytesPerUpdate);
    existingBytes.push(d[1]!.bytesPerUpdate);
  }
  ctx.progress.note(
    `one node: hot key ${fmt(median(hot))}/s, 100k keys first write ${fmt(median(first))}/s (${median(firstBytes).toFixed(1)} B/update replicated), existing ${fmt(median(existing))}/s (${median(existingBytes).toFixed(1)} B/update)`,
  );

  // (b) three nodes bursting at once.
  ctx.progress.step("starting 3 nodes");
  await Promise.all(ws.map((w) => w.call("node.start", { url: server.url, nodeId: w.name })));
  await Promise.all(ws.map((w) => w.call("node.waitMembers", { count: 3 })));
  const burstRuns: { perNode: number[]; convergeMs: number }[] = [];
  for (let run = -1; run < ctx.runs; run++) {
    ctx.progress.step(`3 nodes × ${perNode / 1000}k increments at once — ${run < 0 ? "warm-up" : `run ${run + 1}/${ctx.runs}`}`);
    const startAtNs = nowNs() + 300e6;
    const key = `burst-${run + 1}`;
    const results = await Promise.all(
      ws.map((w) => w.call<{ start: number; end: number; lastIssued: number; rate: number }>("tp.burst", { key, n: perNode, batch, startAtNs, target: 3 * perNode })),
    );
    const reached = await Promise.all(ws.map((w) => w.call<number>("tp.burstWait", { timeoutMs: 30_000 })));
    if (run < 0) continue;
    const lastIssued = Math.max(...results.map((r) => r.lastIssued));
    burstRuns.push({ perNode: results.map((r) => r.rate), convergeMs: (Math.max(...reached) - lastIssued) / 1e6 });
  }
  await Promise.all(ws.map((w) => w.call("node.stop")));
  const burst = {
    nodes: 3,
    perNode,
    minPerNodePerSecond: median(burstRuns.map((r) => Math.min(...r.perNode))),
    perNodePerSecond: median(burstRuns.flatMap((r) => r.perNode)),
    convergeMs: median(burstRuns.map((r) => r.convergeMs)),
    runs: burstRuns,
  };
  ctx.progress.note(
    `3 nodes at once: ${fmt(burst.perNodePerSecond)}/s per node (slowest ${fmt(burst.minPerNodePerSecond)}/s), last update issued → all converged ${burst.convergeMs.toFixed(1)} ms`,
  );

  // Baseline: raw NATS 1→1, 100-byte messages.
  await Promise.all([b.call("raw.connect", { url: server.url }), c.call("raw.connect", { url: server.url })]);
  const rawRuns: number[] = [];
  const pubRuns: number[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    ctx.progress.step(`raw NATS 1→1, ${rawCount / 1e6}M × ${rawSize} B — run ${run + 1}/${ctx.runs}`);
    const subject = `raw.tp.${run}`;
    await c.call("tp.sink", { subject, count: rawCount });
    pubRuns.push(await b.call<number>("tp.blast", { subject, count: rawCount, size: rawSize }));
    const s = await c.call<{ first: number; last: number; received: number }>("tp.sinkWait", { timeoutMs: 30_000 });
    rawRuns.push(s.received > 0 ? (s.received / (s.last - s.first)) * 1e9 : NaN);
  }
  const rawRes = { messages: rawCount, size: rawSize, perSecond: median(rawRuns), publisherPerSecond: median(pubRuns), runs: rawRuns };
  ctx.progress.note(`raw NATS 1→1: ${fmt(rawRes.perSecond)} msgs/s (publisher ${fmt(rawRes.publisherPerSecond)}/s)`);

  return {
    batch,
    local: {
      hot: { updates: hotN, perSecond: median(hot), runs: hot },
      distinctFirst: { keys: distinct, perSecond: median(first), runs: first, bytesPerUpdate: median(firstBytes) },
      distinctExisting: { keys: distinct, perSecond: median(existing), runs: existing, bytesPerUpdate: median(existingBytes) },
    },
    burst,
    raw: rawRes,
  };
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(0)}k`;
}
