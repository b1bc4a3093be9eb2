/**
 * 8. Big values: one ORSet of 1 M elements (200 k in quick mode) on a 2-replica cluster over real
 * NATS; then one element added at a time, each change hashed on its own (spaced past the digest's
 * rehash delay). Reported: the longest event-loop stall on either replica during the changes
 * (perf_hooks monitorEventLoopDelay), the writer's `update` time, and, measured directly on the
 * writer's value in the same run, what one change costs the content hash now (the per-element sum
 * moved by the changed element) against the full rehash every change cost before (SHA-256 over the
 * whole value's encoding: the baseline), and the first digest of the set from scratch (done in
 * slices by the digest refresh).
 *
 * The set is built by the writer in updates of BUILD_BATCH elements; their deltas reach the peer
 * over NATS in chunks. The changes start once both digests have hashed the set.
 *
 * On a loaded machine a replica also stalls when the OS does not schedule it, which the delay
 * histogram cannot tell from work; so a 1 ms ticker also measures the CPU time the process used
 * within each gap between its ticks, and reports the largest (`stepCpuMs`): at least the longest
 * synchronous step (whatever the scheduling), and what the goal is judged on.
 */
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from "node:perf_hooks";
import { Key, type ORSet } from "../../src/index.js";
import { encodeValue } from "../../src/wire/codec.js";
import { contentHash } from "../../src/wire/hash.js";
import { advanceDigest, fullDigest, setContentHash } from "../../src/wire/set-hash.js";
import { sha256 } from "../../src/wire/sha256.js";
import type { BenchContext } from "../lib/context.js";
import { node, nowNs, sleep } from "../lib/node.js";
import { median } from "../lib/stats.js";

export interface BigSetResult {
  elements: number;
  changes: number;
  /** Longest event-loop stall (ms) on the writer and on the peer while the changes ran. */
  maxStallMs: { writer: number; peer: number };
  /** The most CPU time the process used within one gap between 1 ms ticks (ms): its longest synchronous step, or more. */
  stepCpuMs: { writer: number; peer: number };
  /** The longest garbage collection (ms) on each replica while the changes ran (a heap of ~0.3–0.6 GB). */
  maxGcMs: { writer: number; peer: number };
  /** The writer's `update` call per change, median (ms). */
  updateMs: number;
  /** Content-hash cost of one change now: the changed element moved into the sum (median, ms). */
  incrementalHashMs: number;
  /** The baseline: the full rehash every change paid before (SHA-256 over the encoding; ms). */
  fullRehashMs: number;
  /** The per-element sum from scratch (a first digest after a restore, done in slices; ms). */
  firstDigestMs: number;
  /** fullRehashMs / incrementalHashMs. */
  speedup: number;
  /** Build time of the set on the writer, and until the peer held all of it (s). */
  buildSeconds: number;
  peerSeconds: number;
  /**
   * Heap (and array buffers) per element on each replica once the changes are done, over what it
   * held before the set: the set, its digest's per-element sums, everything it brought. Measured
   * after the change window (its full collections would otherwise decide when the next one comes).
   */
  heapBytesPerElement?: { writer: number; peer: number };
}

const KEY = Key.orset<string>("big-set");
const BUILD_BATCH = 50_000;
/** Past the digest's 200 ms rehash delay, so every change is hashed on its own. */
const CHANGE_SPACING_MS = 300;
const STALL_GOAL_MS = 50;

// ================================================================== worker side

let histogram: IntervalHistogram | undefined;

/** The most CPU time the process used within one gap between 1 ms ticks, and the longest GC. */
class StepWatch {
  private maxCpuMs = 0;
  maxGcMs = 0;
  private readonly gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.maxGcMs = Math.max(this.maxGcMs, e.duration);
  });
  private lastCpu = process.cpuUsage();
  private readonly timer = setInterval(() => {
    const cpu = process.cpuUsage();
    this.maxCpuMs = Math.max(this.maxCpuMs, (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000);
    this.lastCpu = cpu;
  }, 1);

  constructor() {
    this.gc.observe({ entryTypes: ["gc"] });
  }

  stop(): number {
    clearInterval(this.timer);
    this.gc.disconnect();
    return this.maxCpuMs;
  }
}
let watch: StepWatch | undefined;

const sizeOf = (): number => node().r.get(KEY)?.size ?? 0;

export const bigsetWorker = {
  "bigset.build": async (a: { elements: number }) => {
    const { r } = node();
    const t0 = nowNs();
    for (let from = 0; from < a.elements; from += BUILD_BATCH) {
      const to = Math.min(a.elements, from + BUILD_BATCH);
      await r.update(KEY, (v, self) => {
        let s: ORSet<string> = v;
        for (let i = from; i < to; i++) s = s.add(self, `element-${i}`);
        return s;
      });
    }
    return (nowNs() - t0) / 1e9;
  },
  "bigset.waitSize": async (a: { size: number; timeoutMs: number }) => {
    const deadline = Date.now() + a.timeoutMs;
    while (sizeOf() < a.size) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${a.size} elements (have ${sizeOf()})`);
      await sleep(5);
    }
    return nowNs();
  },
  /** Wait until the digest refresh has hashed every change (its backlog, a private field, read for the bench only). */
  "bigset.digestIdle": async (a: { timeoutMs: number }) => {
    const digest = (node().r as unknown as { parts: { antiEntropy: { pendingRehash: number } } }).parts.antiEntropy;
    const deadline = Date.now() + a.timeoutMs;
    while (digest.pendingRehash > 0) {
      if (Date.now() > deadline) throw new Error(`the digest refresh still had ${digest.pendingRehash} keys to hash after ${a.timeoutMs} ms`);
      await sleep(20);
    }
  },
  "bigset.monitor": () => {
    histogram?.disable();
    watch?.stop();
    histogram = monitorEventLoopDelay({ resolution: 5 });
    histogram.enable();
    watch = new StepWatch();
  },
  /** The longest stall seen since `bigset.monitor` (ms), and the most CPU time used within one gap between ticks. */
  "bigset.maxStall": () => {
    const h = histogram!;
    h.disable();
    return { maxMs: h.max / 1e6, stepCpuMs: watch!.stop(), maxGcMs: watch!.maxGcMs };
  },
  "bigset.change": async (a: { i: number }) => {
    const t0 = nowNs();
    await node().r.update(KEY, (v, self) => v.add(self, `extra-${a.i}`));
    return (nowNs() - t0) / 1e6;
  },
  /** Hash costs on this node's current value, measured directly (see the module comment). */
  "bigset.hashCosts": (a: { runs: number }) => {
    const v = node().r.get(KEY)!;
    const time = (fn: () => unknown): number => {
      const t0 = nowNs();
      fn();
      return (nowNs() - t0) / 1e6;
    };
    const firstDigestMs = time(() => contentHash(v));
    const digest = fullDigest(v);
    const incremental: number[] = [];
    for (let i = 0; i < Math.max(20, a.runs); i++) {
      const next = v.add("bench", `probe-${i}`).resetDelta();
      incremental.push(time(() => setContentHash(advanceDigest(digest, next))));
    }
    const fullRehashMs = median(Array.from({ length: a.runs }, () => time(() => sha256(encodeValue(v)))));
    return { firstDigestMs, incrementalHashMs: median(incremental), fullRehashMs };
  },
};

// ================================================================== orchestrator side

export async function runBigSet(ctx: BenchContext): Promise<BigSetResult> {
  const elements = ctx.full ? 1_000_000 : 200_000;
  const changes = ctx.full ? 20 : 10;
  const server = await ctx.server();
  const [writer, peer] = await ctx.workers(["bigset-writer", "bigset-peer"]);
  await writer!.call("node.start", { url: server.url, nodeId: "writer" });
  await peer!.call("node.start", { url: server.url, nodeId: "peer" });
  await writer!.call("node.waitMembers", { count: 2 });
  await peer!.call("node.waitMembers", { count: 2 });
  const heap0 = { writer: await writer!.call<number>("node.heap"), peer: await peer!.call<number>("node.heap") };

  ctx.progress.step(`building a ${elements.toLocaleString("en")}-element ORSet on the writer, replicated to the peer over NATS`, ctx.full ? 120_000 : 25_000);
  const t0 = nowNs();
  const buildSeconds = await writer!.call<number>("bigset.build", { elements });
  await peer!.call("bigset.waitSize", { size: elements, timeoutMs: 600_000 });
  const peerSeconds = (nowNs() - t0) / 1e9;
  // The digests' first hash of the set (in slices; slow when the machine is loaded).
  await writer!.call("bigset.digestIdle", { timeoutMs: 600_000 });
  await peer!.call("bigset.digestIdle", { timeoutMs: 600_000 });
  await sleep(1_000);

  ctx.progress.step(`${changes} changes of one element each, ${CHANGE_SPACING_MS} ms apart, event loops monitored`, changes * CHANGE_SPACING_MS + 2_000);
  await writer!.call("bigset.monitor");
  await peer!.call("bigset.monitor");
  const updateMs: number[] = [];
  for (let i = 0; i < changes; i++) {
    updateMs.push(await writer!.call<number>("bigset.change", { i }));
    await peer!.call("bigset.waitSize", { size: elements + i + 1, timeoutMs: 60_000 });
    await sleep(CHANGE_SPACING_MS);
  }
  await sleep(500); // the last change's rehash
  const w = await writer!.call<{ maxMs: number; stepCpuMs: number; maxGcMs: number }>("bigset.maxStall");
  const p = await peer!.call<{ maxMs: number; stepCpuMs: number; maxGcMs: number }>("bigset.maxStall");
  const maxGcMs = { writer: w.maxGcMs, peer: p.maxGcMs };
  const maxStallMs = { writer: w.maxMs, peer: p.maxMs };
  const stepCpuMs = { writer: w.stepCpuMs, peer: p.stepCpuMs };
  const heapBytesPerElement = {
    writer: ((await writer!.call<number>("node.heap")) - heap0.writer) / elements,
    peer: ((await peer!.call<number>("node.heap")) - heap0.peer) / elements,
  };

  ctx.progress.step("hash costs on the writer's set: incremental vs the full rehash (baseline)", ctx.full ? 60_000 : 10_000);
  const costs = await writer!.call<{ firstDigestMs: number; incrementalHashMs: number; fullRehashMs: number }>("bigset.hashCosts", { runs: ctx.runs });
  const result: BigSetResult = {
    elements,
    changes,
    maxStallMs,
    stepCpuMs,
    maxGcMs,
    updateMs: median(updateMs),
    ...costs,
    speedup: costs.fullRehashMs / costs.incrementalHashMs,
    buildSeconds,
    peerSeconds,
    heapBytesPerElement,
  };
  ctx.progress.note(
    `big set (${elements.toLocaleString("en")}): longest synchronous step writer ${stepCpuMs.writer.toFixed(1)} ms, peer ${stepCpuMs.peer.toFixed(1)} ms (goal < ${STALL_GOAL_MS}); ` +
      `max event-loop delay writer ${maxStallMs.writer.toFixed(1)} ms, peer ${maxStallMs.peer.toFixed(1)} ms; ` +
      `longest GC writer ${maxGcMs.writer.toFixed(1)} ms, peer ${maxGcMs.peer.toFixed(1)} ms; ` +
      `heap per element writer ${Math.round(heapBytesPerElement.writer)} B, peer ${Math.round(heapBytesPerElement.peer)} B; ` +
      `hash per change ${(costs.incrementalHashMs * 1000).toFixed(0)} µs vs full rehash ${costs.fullRehashMs.toFixed(0)} ms (${Math.round(result.speedup)}×)`,
  );
  return result;
}

export { STALL_GOAL_MS };
