/**
 * Quick harness for the catch-up of a new node (issue 13): a cluster of `--nodes` nodes holding
 * `--keys` GCounter keys; `--joins` fresh processes join one after the other. Per join: time from
 * `Replicator.start` until it holds every key, when its first key came (what start-up took: the
 * rest is the transfer), the joiner's CPU, and the existing nodes' CPU over the same time.
 * `BENCH_CPU_PROF=<dir>` writes a V8 CPU profile of every worker; `BENCH_NODE_FLAGS="--trace-gc ..."`
 * passes more flags to every worker.
 *
 *   node --import tsx bench/catchup.ts --keys 300000 --joins 3
 */
import { startNatsServer } from "../test/helpers/nats-server.js";
import { BenchWorker, killAllWorkers, stopWorkers } from "./lib/procs.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const keys = arg("keys", 300_000);
const joins = arg("joins", 3);
const nodes = arg("nodes", 3);

const server = await startNatsServer();
const names = Array.from({ length: nodes }, (_, i) => `s${i}`);
const cluster = await Promise.all(names.map((n) => BenchWorker.spawn(n)));
try {
  await Promise.all(cluster.map((w) => w.call("node.start", { url: server.url, nodeId: w.name })));
  await Promise.all(cluster.map((w) => w.call("node.waitMembers", { count: nodes })));
  const [first, ...rest] = cluster as [BenchWorker, ...BenchWorker[]];
  await first.call("node.load", { prefix: "k", from: 0, count: keys });
  await Promise.all(rest.map((w) => w.call("node.waitSize", { count: keys, timeoutMs: 600_000 })));
  for (const w of rest) await w.call("node.sync", { peer: first.name });
  const cpu = (): Promise<number[]> => Promise.all(cluster.map((w) => w.call<number>("node.cpu")));
  for (let j = 1; j <= joins; j++) {
    const joiner = await BenchWorker.spawn(`join${j}`);
    const before = await cpu();
    const called = performance.now();
    const joined = joiner.call<{ ms: number; digestMs: number; bytesIn: number; cpuMs: number; systemMs: number; pageFaults: number }>("scale.join", { url: server.url, nodeId: `join${j}`, count: keys, timeoutMs: 300_000 });
    let done = false;
    let firstKeyMs: number | undefined;
    void joined.finally(() => (done = true));
    while (!done && firstKeyMs === undefined) {
      // The node does not exist until its start has begun: asking fails until then.
      const size = await joiner.call<number>("node.size").catch(() => 0);
      if (size > 0) firstKeyMs = performance.now() - called;
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const res = await joined;
    const after = await cpu();
    const clusterCpu = after.map((a, i) => a - before[i]!);
    const us = (ms: number): string => ((ms * 1000) / keys).toFixed(2);
    console.log(
      `join ${j}: ${(res.ms / 1000).toFixed(2)} s (first key at ${firstKeyMs === undefined ? "?" : (firstKeyMs / 1000).toFixed(2)} s, digest ready at ${(res.digestMs / 1000).toFixed(2)} s), ${(res.bytesIn / 1e6).toFixed(1)} MB in; joiner CPU ${res.cpuMs.toFixed(0)} ms (${us(res.cpuMs)} µs/key; ${res.systemMs.toFixed(0)} ms of it in the kernel), ${((res.pageFaults * 4096) / 1e6).toFixed(0)} MB of fresh memory touched; ` +
        `cluster CPU ${clusterCpu.map((c) => c.toFixed(0)).join("/")} ms (max ${us(Math.max(...clusterCpu))} µs/key)`,
    );
    await joiner.stop();
  }
} finally {
  await stopWorkers(cluster);
  killAllWorkers();
  await server.stop();
}
