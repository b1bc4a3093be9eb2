/**
 * Figures for the digest tree at 1 M keys: build time, memory, per-update cost, and the bytes a
 * round exchanges, encoded with the real proto (proto/crdt.proto via protobufjs).
 * Run: node --expose-gc --import tsx test/cluster/digest-bench.ts [keys] [differing]
 */
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { DigestTree, groupOf, leafOf } from "../../src/cluster/digest-tree.js";
import {
  answerDigest,
  concatDiffs,
  nextStep,
  openRound,
  type DigestReply,
  type DigestRequest,
  type KeyDiff,
} from "../../src/cluster/digest-round.js";
import { keyEntryHash } from "../../src/cluster/hashing.js";

const N = Number(process.argv[2] ?? 1_000_000);
const DIFFERING = Number(process.argv[3] ?? 100);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");

const root = protobuf.loadSync(fileURLToPath(new URL("../../proto/crdt.proto", import.meta.url)));
const NodeRequest = root.lookupType("crdt.v1.NodeRequest");
const NodeReply = root.lookupType("crdt.v1.NodeReply");
const u64 = (h: bigint) => h.toString(); // protobufjs takes 64-bit fields as decimal strings

function requestBytes(req: DigestRequest): number {
  const msg = NodeRequest.fromObject({
    digest: { from: "node-a", level: req.level, buckets: req.buckets.map((b) => ({ bucket: b.bucket, hash: u64(b.hash) })) },
  });
  return NodeRequest.encode(msg).finish().length;
}
function replyBytes(rep: DigestReply): number {
  const msg = NodeReply.fromObject({
    digest: { differing: rep.differing, keys: rep.keys.map((k) => ({ key: k.key, hash: u64(k.hash) })) },
  });
  return NodeReply.encode(msg).finish().length;
}

const heapMB = () => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

// Keys like a real store's; content hashes stand in for the wire layer's value hashes.
// Flat strings, as decoded from the wire (template literals make rope strings that V8 flattens
// lazily, which would blur the memory figure).
const keys = Array.from({ length: N }, (_, i) =>
  Buffer.from(`tenant-${i % 97}/user:${i}:profile`, "latin1").toString("latin1"),
);
const contents = Array.from({ length: N }, (_, i) => BigInt.asUintN(64, BigInt(i + 1) * 0x9e3779b97f4a7c15n));
const seen = new Map<string, number>();
for (const k of keys) seen.set(k, 0); // a real store already hashed its key strings once
seen.clear();

// Wall time is what a user waits; CPU time (this thread and GC helpers) is less sensitive to other
// processes sharing the machine.
const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};
const before = heapMB(); // keys and content hashes exist already: the store owns them
let t0 = performance.now();
let c0 = process.cpuUsage();
let entryHashes: bigint[] | undefined = keys.map((k, i) => keyEntryHash(k, contents[i]!));
const entryMs = performance.now() - t0;
const entryCpuMs = cpuMs(c0);

t0 = performance.now();
c0 = process.cpuUsage();
const a = new DigestTree();
for (let i = 0; i < N; i++) a.set(keys[i]!, entryHashes[i]!);
const buildMs = performance.now() - t0;
const buildCpuMs = cpuMs(c0);
entryHashes = undefined; // from now on only the tree holds the entry hashes
const treeMB = heapMB() - before;

// Incremental cost: overwrite 100k existing keys, then delete and re-insert them.
const M = Math.min(100_000, N);
const saved = keys.slice(0, M).map((k) => a.get(k)!);
const flipped = saved.map((h) => h ^ 1n);
t0 = performance.now();
for (let i = 0; i < M; i++) a.set(keys[i]!, flipped[i]!);
const setUs = ((performance.now() - t0) * 1000) / M;
t0 = performance.now();
for (let i = 0; i < M; i++) a.delete(keys[i]!);
for (let i = 0; i < M; i++) a.set(keys[i]!, saved[i]!);
const delSetUs = ((performance.now() - t0) * 1000) / (2 * M);

const b = DigestTree.from(a.entries());

interface RoundStats { trips: number; requestBytes: number; replyBytes: number; computeMs: number; diff: KeyDiff }
function round(requester: DigestTree, replier: DigestTree): RoundStats {
  const s: RoundStats = { trips: 1, requestBytes: 0, replyBytes: 0, computeMs: 0, diff: concatDiffs([]) };
  const timed = <T>(f: () => T): T => {
    const t = performance.now();
    const r = f();
    s.computeMs += performance.now() - t;
    return r;
  };
  const open = timed(() => openRound(requester));
  const r0 = timed(() => answerDigest(replier, open));
  s.requestBytes += requestBytes(open);
  s.replyBytes += replyBytes(r0);
  const step = timed(() => nextStep(requester, open, r0));
  if (step.kind === "diff") return { ...s, diff: step.diff };
  s.trips++;
  const diffs: KeyDiff[] = [];
  for (const req of step.requests) {
    const rep = timed(() => answerDigest(replier, req));
    s.requestBytes += requestBytes(req);
    s.replyBytes += replyBytes(rep);
    const last = timed(() => nextStep(requester, req, rep));
    if (last.kind === "diff") diffs.push(last.diff);
  }
  return { ...s, diff: concatDiffs(diffs) };
}

const same = round(a, b);

// DIFFERING keys changed on b, spread at random: a third changed, a third missing, a third new.
let x = 12345;
const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
const touched = new Set<number>();
while (touched.size < DIFFERING) touched.add(Math.floor(rand() * N));
let j = 0;
for (const i of touched) {
  const k = keys[i]!;
  if (j % 3 === 0) b.set(k, keyEntryHash(k, 42n));
  else if (j % 3 === 1) b.delete(k);
  else b.set(`new-${i}`, keyEntryHash(`new-${i}`, 1n));
  j++;
}
const groupsTouched = new Set([...touched].map((i) => groupOf(leafOf(keys[i]!)))).size;
const coldRound = round(a, b); // first run includes JIT warm-up of the round code
const diffRound = round(a, b);
const found = diffRound.diff.theyLack.length + diffRound.diff.iLack.length + diffRound.diff.differ.length;

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`keys: ${N.toLocaleString("en")}`);
console.log(`load average: ${(await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ")}`);
console.log(`keyEntryHash for all keys: ${entryMs.toFixed(0)} ms wall, ${entryCpuMs.toFixed(0)} ms CPU`);
console.log(`build (set × N): ${buildMs.toFixed(0)} ms wall, ${buildCpuMs.toFixed(0)} ms CPU; tree heap ≈ ${treeMB.toFixed(1)} MiB incl. the entry-hash bigints (key strings not counted: the store owns them)`);
console.log(`incremental: overwrite ${setUs.toFixed(2)} µs/op, delete+insert ${delSetUs.toFixed(2)} µs/op`);
console.log(
  `round, nothing differs: ${same.trips} trip, request ${same.requestBytes} B, reply ${same.replyBytes} B, compute ${same.computeMs.toFixed(1)} ms`,
);
console.log(
  `round, ${DIFFERING} keys differ (${groupsTouched} groups): ${diffRound.trips} trips, requests ${kib(diffRound.requestBytes)}, replies ${kib(diffRound.replyBytes)}, total ${kib(diffRound.requestBytes + diffRound.replyBytes)}, compute ${diffRound.computeMs.toFixed(1)} ms (first run ${coldRound.computeMs.toFixed(1)} ms); found ${found} (theyLack ${diffRound.diff.theyLack.length}, iLack ${diffRound.diff.iLack.length}, differ ${diffRound.diff.differ.length})`,
);
if (found !== DIFFERING) throw new Error(`expected ${DIFFERING} differing keys, found ${found}`);
