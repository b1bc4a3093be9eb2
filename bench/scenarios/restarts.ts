/**
 * 8. Restarts: what a replica holds per key after one writer restarted 100 times without a snapshot
 * (each start writes under a fresh writer id; the prune folds the retired ones and the live one
 * into the fold id the writer then writes under, see src/crdt/writer-ids.ts: one id per key once
 * it settled), next to the same writes by a writer that never restarted.
 *
 * Two replicators (a stable holder and the writer) on the in-memory bus, in virtual time, in one
 * worker process. Each run of the writer increments every counter key once, (re-)adds the same
 * element to every set key and increments one field of every PNCounterMap key. Measured on the holder once the prune settled: the writer ids per key,
 * the encoded bytes per key (what a snapshot stores) and the heap per key of its values as decoded
 * (a restore or a pull builds them so; 20,000 values per kind so that the GC difference holds, the median of five such measurements).
 */
import type { Replicator as ReplicatorType } from "../../src/index.js";
import type { BenchContext } from "../lib/context.js";
import { median } from "../lib/stats.js";

export interface RestartsRow {
  restarts: number;
  keys: number;
  /** Writer ids of the writer's node per key, at most (after the prune). */
  writerIdsPerKey: number;
  /** Per kind (gcounter, orset, pncounterMap): encoded bytes per key (what a snapshot stores) and heap per key. */
  kinds: Record<string, { keys: number; bytesPerKey: number; heapBytesPerKey: number }>;
}

export interface RestartsResult {
  fresh: RestartsRow;
  restarted: RestartsRow;
  /** Restarted / fresh, the worst kind. */
  ratio: { bytes: number; heap: number };
}

const RUNS = 101;

/** Values decoded per kind for the heap figure: enough that a GC difference is not noise. */
const HEAP_SAMPLE = 20_000;
const HEAP_TRIES = 5;

async function measure(restarts: number, counters: number, sets: number, maps: number): Promise<RestartsRow> {
  const { fromState } = await import("../../src/crdt/registry.js");
  const gc = (globalThis as { gc?: () => void }).gc;
  const run = await writeThrough(restarts, counters, sets, maps);
  const kinds: RestartsRow["kinds"] = {};
  // Heap per value as a replica holds it once decoded (as a restore or a pull builds it): the
  // holder's states decoded HEAP_SAMPLE times over, measured as what a full GC frees when they are
  // let go (a difference taken before and after building them also counted unrelated garbage
  // collected meanwhile, which made the figure of a 40-byte counter come out negative).
  if (gc === undefined) throw new Error("the restarts scenario needs node --expose-gc (npm run bench passes it)");
  // The median of HEAP_TRIES such measurements: one now and then counts memory a collection freed
  // late (a full run once gave 293 B for a 50-byte counter, 1.03× the fresh one when run again).
  const heapOf = (kind: string, states: unknown[]): number => {
    let copies: unknown[] | undefined = Array.from({ length: HEAP_SAMPLE }, (_, i) => fromState(kind as never, states[i % states.length] as never));
    gc();
    const held = process.memoryUsage().heapUsed;
    const count = copies.length;
    copies = undefined;
    gc();
    return (held - process.memoryUsage().heapUsed) / count;
  };
  for (const [kind, states] of run.states) {
    const heap = median(Array.from({ length: HEAP_TRIES }, () => heapOf(kind, states)));
    kinds[kind] = { keys: states.length, bytesPerKey: run.bytes.get(kind)! / states.length, heapBytesPerKey: heap };
  }
  return { restarts, keys: counters + sets + maps, writerIdsPerKey: run.ids, kinds };
}

/** The runs; returns the holder's values once the prune settled, their encoded size and ids per key. */
async function writeThrough(restarts: number, counters: number, sets: number, maps: number): Promise<{ states: Map<string, unknown[]>; bytes: Map<string, number>; ids: number }> {
  const { Key, MemoryNetwork, Replicator } = await import("../../src/index.js");
  const { encodeValue } = await import("../../src/wire/codec.js");
  const { dataTypes } = await import("../../src/crdt/registry.js");
  const { VirtualClock } = await import("../../test/sim/virtual-clock.js");
  const clock = new VirtualClock(Date.UTC(2025, 0, 1));
  const net = new MemoryNetwork({ seed: 1, clock });
  const options = { heartbeatIntervalMs: 100, failureTimeoutMs: 500, removalTimeoutMs: 3_600_000, antiEntropyIntervalMs: 1_000, pruneIntervalMs: 500, clock };
  const drive = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    void p.finally(() => (done = true)).catch(() => undefined);
    await clock.until(() => done, 60_000);
    return p;
  };
  const start = (nodeId: string) => drive(Replicator.start({ ...options, nodeId, transport: net.connect(nodeId) }));
  const holder = await start("holder");
  let writer = await start("writer");
  for (let run = 0; run < RUNS; run++) {
    if (run > 0 && run <= restarts) {
      await writer.close();
      writer = await start("writer");
    }
    for (let i = 0; i < counters; i++) void writer.update(Key.gcounter(`c${i}`), (c, self) => c.increment(self, 1));
    for (let i = 0; i < sets; i++) void writer.update(Key.orset<string>(`s${i}`), (s, self) => s.add(self, "x"));
    for (let i = 0; i < maps; i++) void writer.update(Key.pncounterMap(`m${i}`), (m, self) => m.increment(self, "f", 1));
    await clock.advance(200);
  }
  const writerIds = (r: ReplicatorType): number =>
    Math.max(0, ...r.entries().map((e) => (dataTypes.get(e.kind)?.pruning?.writers(e.value) ?? []).filter((id) => id.startsWith("writer")).length));
  const settled = (): boolean => holder.size === counters + sets + maps && writerIds(holder) <= 1 && writerIds(writer) <= 1 && holder.entries().every((e) => e.value.equals(writer.entry(e.key)?.value as never));
  for (let waited = 0; waited < 120_000 && !settled(); waited += 500) await clock.advance(500);
  if (!settled()) throw new Error(`restarts bench: the prune did not settle (${writerIds(holder)} writer ids per key on the holder)`);
  const states = new Map<string, unknown[]>();
  const bytes = new Map<string, number>();
  for (const e of holder.entries()) {
    if (!states.has(e.kind)) states.set(e.kind, []);
    states.get(e.kind)!.push(e.value.toState());
    bytes.set(e.kind, (bytes.get(e.kind) ?? 0) + encodeValue(e.value).length);
  }
  const result = { states, bytes, ids: writerIds(holder) };
  await writer.close();
  await holder.close();
  return result;
}

export const restartsWorker = {
  "restarts.run": async (a: { full: boolean }) => {
    const counters = a.full ? 4_000 : 400;
    const sets = counters / 4;
    const maps = counters / 4;
    await measure(0, counters / 10, sets / 10, maps / 10); // warm-up: modules, JIT, interned ids
    const fresh = await measure(0, counters, sets, maps);
    const restarted = await measure(RUNS - 1, counters, sets, maps);
    const worst = (f: "bytesPerKey" | "heapBytesPerKey"): number => Math.max(...Object.keys(fresh.kinds).map((k) => restarted.kinds[k]![f] / fresh.kinds[k]![f]));
    return { fresh, restarted, ratio: { bytes: worst("bytesPerKey"), heap: worst("heapBytesPerKey") } };
  },
};

export async function runRestarts(ctx: BenchContext): Promise<RestartsResult> {
  ctx.progress.step("a writer restarted 100 times without snapshots vs a fresh one (in-memory bus, virtual time)", ctx.full ? 900_000 : 120_000);
  const [w] = await ctx.workers(["restarts"]);
  const r = await w!.call<RestartsResult>("restarts.run", { full: ctx.full });
  await ctx.release(w!);
  ctx.progress.note(`restarts: ${r.restarted.writerIdsPerKey} writer ids per key; worst kind ${r.ratio.bytes.toFixed(2)}× the fresh bytes per key, ${r.ratio.heap.toFixed(2)}× the heap`);
  return r;
}
