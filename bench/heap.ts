/**
 * Heap bytes per key of a real Replicator store, quicker than the scale scenario (seconds, one
 * process, no nats-server): a writer and a receiver on an in-memory network, N GCounter keys written
 * on the writer (one increment each, as the scale scenario's load) and replicated to the receiver.
 * Memory is read after full GCs, as heap in use plus array buffers (typed arrays' contents live
 * outside the heap): receiver = memory once the writer is closed and dropped, less the memory
 * before either started; writer = what closing it freed. The heap share is printed too.
 *
 * `--parts` measures each per-key structure alone instead (key strings, the store's map, GCounters,
 * the digest tree), to see where a key's bytes go.
 *
 *   node --expose-gc --import tsx bench/heap.ts [keys=1000000] [--parts]
 */
import { DigestTree } from "../src/cluster/digest-tree.js";
import { keyEntryHash } from "../src/cluster/hashing.js";
import { GCounter, Key, Replicator } from "../src/index.js";
import { Store } from "../src/replicator/store.js";
import { MemoryNetwork } from "../src/transport/memory.js";
import { contentHash } from "../src/wire/codec.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");

const args = process.argv.slice(2);
const keys = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const keyName = (i: number): string => `k${i}`;

/** Heap in use and array buffers' bytes, after full GCs. */
async function memory(): Promise<{ heap: number; total: number }> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, total: m.heapUsed + m.arrayBuffers };
}

/** Bytes per key between two readings. */
function perKey(from: { heap: number; total: number }, to: { heap: number; total: number }): string {
  return `${((to.total - from.total) / keys).toFixed(1)} B/key (heap ${((to.heap - from.heap) / keys).toFixed(1)})`;
}

async function waitFor(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function replicated(): Promise<void> {
  const h0 = await memory();
  const net = new MemoryNetwork({ seed: 1 });
  let writer: Replicator | undefined = await Replicator.start({ nodeId: "writer", transport: net.connect("writer") });
  const receiver = await Replicator.start({ nodeId: "receiver", transport: net.connect("receiver") });
  const t0 = performance.now();
  for (let i = 0; i < keys; i++) {
    void writer.update(Key.gcounter(keyName(i)), (c, self) => c.increment(self, 1));
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor(() => receiver.size >= keys, `${keys} keys on the receiver`);
  const loadMs = performance.now() - t0;
  // Let the background rehash fill both digest trees, as a settled node's are.
  await receiver.sync("writer").catch(() => undefined);
  await writer.sync("receiver").catch(() => undefined);
  const both = await memory();
  await writer.close();
  writer = undefined;
  const h1 = await memory();
  console.log(`${keys} keys, loaded and replicated in ${(loadMs / 1000).toFixed(1)} s`);
  console.log(`receiver: ${perKey(h0, h1)}`);
  console.log(`writer:   ${perKey(h1, both)}`);
  await receiver.close();
}

/** Bytes per key that `build` holds (what it returns is kept alive until measured). */
async function measure(what: string, build: () => unknown): Promise<void> {
  const h0 = await memory();
  const kept = build();
  const h1 = await memory();
  console.log(`${what.padEnd(52)} ${perKey(h0, h1)}`);
  if (kept === undefined) throw new Error("unreachable");
}

async function parts(): Promise<void> {
  const names = await (async () => {
    const out: string[] = [];
    await measure("key strings", () => {
      for (let i = 0; i < keys; i++) out.push(keyName(i));
      return out;
    });
    return out;
  })();
  await measure("  (the array holding them, for reference)", () => new Array<string>(keys).fill(""));
  const counters: GCounter[] = [];
  await measure("GCounter, one slot (stored: no delta)", () => {
    for (let i = 0; i < keys; i++) counters.push(GCounter.empty().increment("writer", 1).resetDelta());
    return counters;
  });
  await measure("GCounter, one slot, decoded (GCounter.fromState)", () =>
    names.map(() => GCounter.fromState({ slots: [{ node: "writer", value: 1 }] })),
  );
  await measure("Store (map + wrapper) of those counters", () => {
    const store = new Store();
    for (let i = 0; i < keys; i++) store.set(names[i]!, "gcounter", counters[i]!, "local");
    return store;
  });
  await measure("Map<string, object> alone", () => {
    const m = new Map<string, unknown>();
    for (let i = 0; i < keys; i++) m.set(names[i]!, counters[i]);
    return m;
  });
  await measure("DigestTree (hashes included)", () => {
    const tree = new DigestTree();
    for (let i = 0; i < keys; i++) tree.set(names[i]!, keyEntryHash(names[i]!, contentHash(counters[i]!)));
    return tree;
  });
  await measure("Set<string> (a dirty set, when full)", () => new Set(names));
}

if (args.includes("--parts")) await parts();
else await replicated();
