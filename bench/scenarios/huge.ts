/**
 * 16. Ten million keys on one node (issue 13): one node holds N GCounter keys (written locally,
 * 1,000 per event-loop turn; nobody else holds them); its heap after a full GC; a fresh node joins
 * and catches up from it alone (time from `Replicator.start` until it holds every key, bytes in);
 * an anti-entropy round between the two once nothing differs; a snapshot write and restore of N
 * keys (bench/snapshot.ts). Full: 10 M keys, one run each (a run takes minutes); quick: 200 k.
 *
 * The workers get an 8 GB heap limit, so the figure is what the store needs, not where Node's
 * default limit would stop it (the goal is ≤ 2 GB at 10 M keys).
 */
import type { BenchContext } from "../lib/context.js";
import { nowNs } from "../lib/node.js";
import { antiEntropyRound } from "./scale.js";

export interface HugeResult {
  keys: number;
  /** Local load: first write → every key handed to NATS, ms. */
  loadMs: number;
  /** Heap in use after a full GC, less the same node's heap right after start. */
  heapBytes: number;
  heapBytesPerKey: number;
  catchUpMs: number;
  /** Until the new node's digest tree holds every key's hash too, ms (absent in runs before it was measured). */
  digestMs?: number;
  joinerBytesIn: number;
  /** One round joiner → holder once both hold the same keys: both sides' bytes, heartbeats out. */
  idleRoundBytes: number;
  idleRoundMs: number;
  snapshot: { available: boolean; result?: Record<string, number>; note?: string };
}

const BIG_HEAP = { NODE_OPTIONS: `${process.env["NODE_OPTIONS"] ?? ""} --max-old-space-size=8192`.trim() };

export async function runHuge(ctx: BenchContext): Promise<HugeResult> {
  const keys = ctx.full ? 10_000_000 : 200_000;
  const server = await ctx.server();
  const [holder] = await ctx.workers(["huge"], BIG_HEAP);
  await holder!.call("node.start", { url: server.url, nodeId: "huge" });
  const heap0 = await holder!.call<number>("node.heap");

  ctx.progress.step(`loading ${keys.toLocaleString("en")} keys on one node`);
  const { ms: loadMs } = await holder!.call<{ ms: number }>("node.load", { prefix: "h", count: keys });
  const heapBytes = (await holder!.call<number>("node.heap")) - heap0;
  ctx.progress.note(`${keys} keys loaded in ${(loadMs / 1000).toFixed(1)} s; heap ${(heapBytes / 2 ** 20).toFixed(0)} MB (${(heapBytes / keys).toFixed(0)} B per key)`);

  ctx.progress.step(`a new node catches up with ${keys.toLocaleString("en")} keys`);
  const [joiner] = await ctx.workers(["huge-join"], BIG_HEAP);
  const join = await joiner!.call<{ ms: number; digestMs: number; bytesIn: number }>("scale.join", { url: server.url, nodeId: "huge-join", count: keys, timeoutMs: 1_800_000 });
  ctx.progress.note(`caught up in ${(join.ms / 1000).toFixed(2)} s (digest ready at ${(join.digestMs / 1000).toFixed(2)} s), ${(join.bytesIn / 1e6).toFixed(1)} MB in`);

  ctx.progress.step("anti-entropy round, nothing differs");
  // The joiner's first round after its catch-up rehashes what its background rehash has not reached.
  await joiner!.call("node.sync", { peer: "huge" });
  const idle = await antiEntropyRound(joiner!, holder!);
  await ctx.release(joiner!);
  await ctx.release(holder!);

  let snapshot: HugeResult["snapshot"];
  ctx.progress.step(`snapshot write and restore, ${keys.toLocaleString("en")} keys (bench/snapshot.ts)`);
  const [s] = await ctx.workers(["huge-snapshot"], BIG_HEAP);
  const t0 = nowNs();
  try {
    snapshot = { available: true, result: await s!.call<Record<string, number>>("scale.snapshot", { keys }) };
  } catch (error) {
    snapshot = { available: false, note: `runSnapshotBench failed after ${((nowNs() - t0) / 1e9).toFixed(0)} s: ${String(error).split("\n")[0]}` };
  }
  await ctx.release(s!);
  return { keys, loadMs, heapBytes, heapBytesPerKey: heapBytes / keys, catchUpMs: join.ms, digestMs: join.digestMs, joinerBytesIn: join.bytesIn, idleRoundBytes: idle.bytes, idleRoundMs: idle.ms, snapshot };
}

/** The report's section 16. */
export function renderHuge(h: HugeResult): string[] {
  const mb = (v: number): string => `${(v / 2 ** 20).toFixed(0)} MB`;
  const s = (v: number | undefined): string => (v === undefined ? "—" : `${(v / 1000).toFixed(2)} s`);
  const snap = h.snapshot.result;
  return [
    `## 16. ${h.keys.toLocaleString("en")} keys on one node`,
    "",
    `One node writes ${h.keys.toLocaleString("en")} GCounter keys locally (1,000 per event-loop turn); a fresh node then catches up from it alone (from \`Replicator.start\` until it holds every key); then one anti-entropy round between them when nothing differs; then bench/snapshot.ts at the same size (3 writer slots per counter) in a fresh process. Workers run with an 8 GB heap limit. One run each.`,
    "",
    "| measurement | result |",
    "| :-- | --: |",
    `| local load | ${s(h.loadMs)} (${Math.round(h.keys / (h.loadMs / 1000)).toLocaleString("en")} keys/s) |`,
    `| heap after a full GC | ${mb(h.heapBytes)} (${h.heapBytesPerKey.toFixed(0)} B per key) |`,
    `| new node catches up | ${s(h.catchUpMs)} (${(h.joinerBytesIn / 1e6).toFixed(1)} MB in; digest ready at ${s(h.digestMs)}) |`,
    `| anti-entropy round, nothing differs | ${(h.idleRoundBytes / 1024).toFixed(1)} KB in ${h.idleRoundMs.toFixed(1)} ms |`,
    snap === undefined
      ? `| snapshot | not measured: ${h.snapshot.note ?? ""} |`
      : `| snapshot: full write / restore (CPU) / size | ${s(snap["fullWriteMs"])} / ${s(snap["restoreMs"])} (${s(snap["restoreCpuMs"])}) / ${mb(snap["dbBytes"] ?? NaN)} |`,
    ...(snap?.["restoreDigestCpuMs"] === undefined ? [] : [`| snapshot: digest after the restore, CPU (keys rehashed) | ${s(snap["restoreDigestCpuMs"])} (${(snap["restoreRehashedKeys"] ?? NaN).toLocaleString("en")}) |`]),
    ...(snap?.["maxStallWriteMs"] === undefined ? [] : [`| snapshot: longest event-loop stall during the full write | ${(snap["maxStallWriteMs"] ?? NaN).toFixed(1)} ms |`]),
    "",
  ];
}
