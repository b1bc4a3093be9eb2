/**
 * 12. Coordination: the JetStream lock (src/distributed/) on one `nats-server -js`, in this process.
 * - Uncontended acquire + release, one after the other, against the raw KV revision-checked
 *   `update` round trip the lock is built on: same client, same bucket (another key of the lock's
 *   own bucket), the same payloads (the two entries the pair writes), interleaved iteration by
 *   iteration so both sides see the same load. An acquire and a release are one revision-checked
 *   write each: the same JetStream request as `update` (subject, header, payload), published
 *   without the KV client's per-request machinery (src/distributed/cas-writer.ts).
 * - Handoffs per second: 5 handles (5 connections) acquire and release one lock in a loop.
 */
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { bucketName } from "../../src/distributed/buckets.js";
import { Distributed } from "../../src/distributed/distributed.js";
import { emptyEntry, encodeLeaseEntry, join, settle } from "../../src/distributed/lease-state.js";
import type { BenchContext } from "../lib/context.js";
import { median, medianSummary, summarize, type LatencySummary } from "../lib/stats.js";

export interface LocksResult {
  runs: number;
  iterations: number;
  /** One acquire + release, ms. */
  lock: LatencySummary;
  /** One KV `update(key, value, revision)`, ms. */
  kvUpdate: LatencySummary;
  /** lock p50 / KV update p50 (goal ≤ 2). */
  ratio: number;
  /** The bench process's CPU (user + system, all threads) per KV update and per acquire + release, µs (mean of a run, median of runs). */
  kvCpuMicros?: number;
  lockCpuMicros?: number;
  contenders: number;
  handoffSeconds: number;
  handoffsPerSecond: number;
}

/** The goal: an uncontended acquire + release costs at most two KV round trips. */
export const LOCK_RATIO_GOAL = 2;

export async function runLocks(ctx: BenchContext): Promise<LocksResult> {
  const iterations = ctx.full ? 2_000 : 300;
  const handoffSeconds = ctx.full ? 10 : 3;
  const contenders = 5;
  const server = await ctx.server({ jetstream: true });
  const ncs: NatsConnection[] = await Promise.all(Array.from({ length: contenders }, () => connect({ servers: server.url })));
  const ds = ncs.map((nc, i) => new Distributed({ connection: nc, nodeId: `bench-${i}`, subject: "bench" }));
  try {
    const lock = ds[0]!.lock("bench-uncontended");
    await lock.release((await lock.acquire()).fencingToken); // the bucket exists now
    const kv = await new Kvm(ncs[0]!).open(bucketName("bench", "locks"));
    // What the lock writes: the entry with one holder (acquire), then the empty entry (release).
    const { entry: joined } = join(emptyEntry(1), "bench-0/00000000", 1, lock.ttlMs);
    const payloads = [encodeLeaseEntry(settle(joined, 1000)), encodeLeaseEntry({ ...emptyEntry(1), nextTicket: 1000, fence: 1000 })];
    let revision = await kv.put("raw", payloads[1]!);
    const lockRuns: LatencySummary[] = [];
    const kvRuns: LatencySummary[] = [];
    const kvCpuRuns: number[] = [];
    const lockCpuRuns: number[] = [];
    const cpuSince = (from: NodeJS.CpuUsage): number => {
      const { user, system } = process.cpuUsage(from);
      return user + system;
    };
    for (let run = 0; run < ctx.runs; run++) {
      ctx.progress.step(`uncontended lock vs KV update — run ${run + 1}/${ctx.runs}`, 0);
      const kvMs: number[] = [];
      const lockMs: number[] = [];
      let kvCpu = 0;
      let lockCpu = 0;
      for (let i = 0; i < iterations; i++) {
        let cpu = process.cpuUsage();
        for (const payload of payloads) {
          const t = performance.now();
          revision = await kv.update("raw", payload, revision);
          kvMs.push(performance.now() - t);
        }
        kvCpu += cpuSince(cpu);
        cpu = process.cpuUsage();
        const t = performance.now();
        await lock.acquire();
        await lock.release();
        lockMs.push(performance.now() - t);
        lockCpu += cpuSince(cpu);
      }
      kvCpuRuns.push(kvCpu / (2 * iterations));
      lockCpuRuns.push(lockCpu / iterations);
      kvRuns.push(summarize(kvMs));
      lockRuns.push(summarize(lockMs));
    }
    const handoffRuns: number[] = [];
    for (let run = 0; run < ctx.runs; run++) {
      ctx.progress.step(`handoffs with ${contenders} contenders — run ${run + 1}/${ctx.runs}`, handoffSeconds * 1000);
      const handles = ds.map((d) => d.lock(`bench-contended-${run}`));
      let grants = 0;
      const end = performance.now() + handoffSeconds * 1000;
      await Promise.all(
        handles.map(async (h) => {
          while (performance.now() < end) {
            await h.acquire();
            grants++;
            await h.release();
          }
        }),
      );
      handoffRuns.push(grants / handoffSeconds);
      await Promise.all(handles.map((h) => h.close()));
    }
    const lockSummary = medianSummary(lockRuns);
    const kvSummary = medianSummary(kvRuns);
    return {
      runs: ctx.runs,
      iterations,
      lock: lockSummary,
      kvUpdate: kvSummary,
      ratio: lockSummary.p50 / kvSummary.p50,
      kvCpuMicros: median(kvCpuRuns),
      lockCpuMicros: median(lockCpuRuns),
      contenders,
      handoffSeconds,
      handoffsPerSecond: median(handoffRuns),
    };
  } finally {
    await Promise.all(ds.map((d) => d.close()));
    await Promise.all(ncs.map((nc) => nc.close()));
  }
}

/** The section of latest.md. */
export function renderLocks(r: LocksResult): string[] {
  const ms = (v: number): string => `${v.toFixed(2)} ms`;
  // Absent from results recorded before the CPU was measured.
  const cpu =
    r.kvCpuMicros === undefined || r.lockCpuMicros === undefined
      ? ""
      : ` Client CPU (the bench process, all threads, mean): ${Math.round(r.kvCpuMicros)} µs per KV update, ${Math.round(r.lockCpuMicros)} µs per acquire + release (${(r.lockCpuMicros / r.kvCpuMicros).toFixed(2)}×): on a loaded machine a round trip is mostly client CPU, so a write's client-side cost and the lock's bookkeeping show in the ratio.`;
  return [
    "## 14. Coordination: JetStream lock",
    "",
    `One \`nats-server -js\`, in one process. *Uncontended*: ${r.iterations} acquire + release pairs one after the other, against ${2 * r.iterations} raw KV \`update(key, value, revision)\` round trips (the write the lock is built on: same client, another key of the lock's bucket, the same two payloads), interleaved iteration by iteration, median of ${r.runs}. An acquire and a release are one revision-checked write each: the same JetStream request as \`update\` (subject, compare-and-set header, payload), published without the KV client's per-request machinery (one inbox per connection, one timer for all deadlines), so 2× is the cost of the pair through \`kv.update\`. *Handoffs*: ${r.contenders} handles on ${r.contenders} connections acquire and release one lock in a loop for ${r.handoffSeconds} s.`,
    "",
    "| | p50 | p90 | p99 |",
    "| --- | ---: | ---: | ---: |",
    `| lock acquire + release | ${ms(r.lock.p50)} | ${ms(r.lock.p90)} | ${ms(r.lock.p99)} |`,
    `| KV revision-checked update | ${ms(r.kvUpdate.p50)} | ${ms(r.kvUpdate.p90)} | ${ms(r.kvUpdate.p99)} |`,
    "",
    `Ratio (p50): ${r.ratio.toFixed(2)}× one round trip (goal ≤ ${LOCK_RATIO_GOAL}×), that is ${(r.ratio / 2).toFixed(2)}× per write: the pair makes exactly two revision-checked writes and no reads.${cpu} Handoffs with ${r.contenders} contenders: ${Math.round(r.handoffsPerSecond)}/s.`,
    "",
  ];
}
