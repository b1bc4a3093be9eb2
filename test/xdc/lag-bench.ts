/**
 * Cross-DC lag: a write on an east follower → the moment every west node holds it.
 *
 *   node --import tsx test/xdc/lag-bench.ts [intervalMs=200] [writes=50]
 *
 * Two nats-server processes, two nodes per DC. Each write waits until it is visible everywhere,
 * then a random pause of up to one interval, so writes sample every phase of the flush timer.
 * Not part of `npm test` (it prints figures, it asserts nothing).
 */
import { performance } from "node:perf_hooks";
import { Key } from "../../src/index.js";
import { stopAllNatsServers } from "../helpers/nats-server.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { startTwoDcs } from "./two-dcs.js";

const intervalMs = Number(process.argv[2] ?? 200);
const writes = Number(process.argv[3] ?? 50);

const x = await startTwoDcs({ east: ["e1", "e2"], west: ["w1", "w2"] }, { intervalMs, sendTimeoutMs: 5_000 });
try {
  const [e1, e2] = x.east.nodes;
  const west = x.west.nodes;
  const seen = new Map<string, number[]>();
  for (const w of west) {
    w.subscribeAll((key) => {
      const list = seen.get(key) ?? [];
      list.push(performance.now());
      seen.set(key, list);
    });
  }
  const lags: number[] = [];
  const intra: number[] = [];
  for (let i = 0; i < writes; i++) {
    const key = `lag-${i}`;
    const k = Key.gcounter(key);
    const t0 = performance.now();
    await e2!.update(k, (c, self) => c.increment(self, 1));
    await waitFor(() => e1!.get(k)?.value === 1, { intervalMs: 1 });
    intra.push(performance.now() - t0);
    await waitFor(() => (seen.get(key)?.length ?? 0) >= west.length, { timeoutMs: intervalMs * 4 + 10_000, intervalMs: 2 });
    lags.push(Math.max(...seen.get(key)!) - t0);
    await sleep(Math.random() * intervalMs);
  }
  const q = (xs: number[], p: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  };
  const f = (v: number): string => v.toFixed(1);
  console.log(`intervalMs=${intervalMs} writes=${writes}`);
  console.log(`cross-DC (east follower -> every west node): p50 ${f(q(lags, 0.5))} ms, p90 ${f(q(lags, 0.9))} ms, max ${f(Math.max(...lags))} ms, min ${f(Math.min(...lags))} ms`);
  console.log(`intra-DC (east follower -> east leader, polled 1 ms): p50 ${f(q(intra, 0.5))} ms, max ${f(Math.max(...intra))} ms`);
  const leader = x.east.nodes.find((n) => n.isLeader)!;
  console.log(`east leader ${leader.nodeId}: ${leader.stats.crossdcSendCount} batches sent; west lag gauge ${(west[0]!.stats.crossdcReplicationLagNs / 1e6).toFixed(2)} ms (last batch)`);
} finally {
  await x.close();
  await stopAllNatsServers();
}
