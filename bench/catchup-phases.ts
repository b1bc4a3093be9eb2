/**
 * Where a bulk pull's CPU goes (issue 13), in one process and without a bus: a node holding
 * `--keys` GCounter keys answers an empty node's join round, page by page. CPU time (not wall
 * time: the machine is shared) of building the pages (the answering side), decoding them, merging
 * them, and the rest of the joiner's round (seeding and sizing its digest tree, the opening and
 * closing digest exchanges). The transport and start-up are what bench/catchup.ts adds on top.
 * With `--alloc`: also the bytes allocated per key during the round (both sides), by allocating
 * function and its caller (V8's sampling heap profiler, garbage included): what the young
 * generation's collections cost is driven by these. With `--profile <file>`: a V8 CPU profile of the
 * round alone (both sides; not of filling the holder), for a profiler's view of where it goes.
 *
 *   node --import tsx bench/catchup-phases.ts --keys 1000000 [--alloc] [--profile round.cpuprofile]
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { systemClock } from "../src/clock.js";
import { HybridClock } from "../src/cluster/hlc.js";
import { GCounter } from "../src/crdt/index.js";
import { ReplicatorStats } from "../src/extension/stats.js";
import { AntiEntropy, RANGE_LEVEL } from "../src/replicator/anti-entropy.js";
import { ChangeStream } from "../src/replicator/changes.js";
import { Merger } from "../src/replicator/merge.js";
import { PulledValues } from "../src/replicator/pulled-values.js";
import { cpuTimeMs } from "../src/replicator/rate-limit.js";
import { Store } from "../src/replicator/store.js";
import { Subscriptions } from "../src/replicator/subscriptions.js";
import { PAYLOAD_HEADROOM } from "../src/transport/types.js";
import { decodeNodeReply, decodeNodeRequest, encodeNodeRequest, type FullState, type NodeReply, type NodeRequest } from "../src/wire/codec.js";

/** The value given after `flag` on the command line, if the flag is there. */
const option = (flag: string): string | undefined => {
  const at = process.argv.indexOf(flag);
  return at < 0 ? undefined : process.argv[at + 1];
};
const keys = Number(option("--keys") ?? 1_000_000);
const MAX_PAYLOAD = 1024 * 1024; // nats-server's default

const spent = { build: 0, decode: 0, merge: 0, pages: 0, bytes: 0 };
const timed = <T>(phase: "build" | "decode" | "merge", work: () => T): T => {
  const started = cpuTimeMs();
  const result = work();
  spent[phase] += cpuTimeMs() - started;
  return result;
};

function node(id: string, ask: (request: NodeRequest) => Promise<NodeReply>, onError: (e: unknown) => void): { store: Store; ae: AntiEntropy; merger: Merger } {
  const store = new Store();
  const stats = new ReplicatorStats();
  const merger = new Merger(store, stats, new Subscriptions(() => undefined), new ChangeStream(() => undefined), id, new HybridClock(Date.now, 60_000), () => 0);
  // As a replicator's (parts.ts): a page's plain counters are kept undecoded, decoded in the background later.
  merger.pulled = new PulledValues({ store, clock: systemClock, onCorrupt: () => undefined });
  const merge = (state: FullState): void => void timed("merge", () => merger.fullState(state, "sync"));
  const ae = new AntiEntropy({ nodeId: id, store, stats, maxPayload: MAX_PAYLOAD - PAYLOAD_HEADROOM, clock: systemClock, ask: (_, r) => ask(r), merge, onError });
  return { store, ae, merger };
}

// The holder's only round (below) is one to hash its store: it asks nobody, and fails after that.
const holder = node("holder", () => Promise.reject(new Error("the holder asks nobody")), () => undefined);
const joiner = node("joiner", async (sent) => {
  const request = decodeNodeRequest(encodeNodeRequest(sent));
  if (request.type === "digest" && request.level === RANGE_LEVEL) {
    const page = timed("build", () => holder.ae.rangePage(request, undefined));
    spent.pages++;
    spent.bytes += page.length;
    return timed("decode", () => decodeNodeReply(page));
  }
  if (request.type === "digest") return { type: "digest", ...holder.ae.answer(request) };
  if (request.type === "push") return { type: "write", ok: holder.merger.fullState(request, "sync") === 0, error: "" };
  throw new Error(`unexpected ${request.type}`);
}, (e) => console.error(e));

for (let k = 0; k < keys; k++) holder.merger.write(`k${k}`, "gcounter", GCounter.empty().increment("holder~1", 1).resetDelta(), GCounter.empty());
// A settled holder: its digest tree has hashed everything (a loaded cluster's has, long before a join).
await holder.ae.sync("nobody", "manual");
if (holder.ae.pendingRehash > 0) throw new Error("the holder has keys left to hash");

const allocations = process.argv.includes("--alloc") ? await sampleAllocations() : undefined;
const profileTo = option("--profile");
const profile = profileTo === undefined ? undefined : await profileCpu(profileTo);
const started = cpuTimeMs();
const faults0 = process.resourceUsage().minorPageFault;
const ok = await joiner.ae.sync("holder", "join");
const total = cpuTimeMs() - started;
// First touches of fresh memory (4 KiB pages), both sides: bench/lib/machine.ts says what a byte of it costs here.
const freshMb = ((process.resourceUsage().minorPageFault - faults0) * 4096) / 1e6;
if (allocations !== undefined) await allocations.report();
if (profile !== undefined) await profile.write();
if (!ok || joiner.store.size !== keys) throw new Error(`the join round failed: ${joiner.store.size}/${keys} keys`);
const joinerMs = total - spent.build;
const rest = joinerMs - spent.decode - spent.merge;
// What the pull left undecoded (pulled-values.ts), decoded at once here: the background's work after the join.
const kept = joiner.store.unsettled;
const settleStarted = cpuTimeMs();
joiner.store.settleDeferred(Infinity);
const settleMs = cpuTimeMs() - settleStarted;
const us = (ms: number): string => ((ms * 1000) / keys).toFixed(2);
console.log(
  `${keys} keys in ${spent.pages} pages (${(spent.bytes / 1e6).toFixed(1)} MB), CPU ms (µs/key): building pages ${spent.build.toFixed(0)} (${us(spent.build)}); ` +
    `joiner ${joinerMs.toFixed(0)} (${us(joinerMs)}) = decoding ${spent.decode.toFixed(0)} + merging ${spent.merge.toFixed(0)} + digest seeding and the rest ${rest.toFixed(0)}; ${freshMb.toFixed(0)} MB of fresh memory touched; ` +
    `afterwards, decoding the ${kept} values the pull kept undecoded ${settleMs.toFixed(0)} (${us(settleMs)})`,
);

/** Start V8's CPU profiler; `write` stops it and writes the profile (JSON, as `node --cpu-prof` writes) to `file`. */
async function profileCpu(file: string): Promise<{ write(): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return {
    async write() {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      writeFileSync(file, JSON.stringify(profile));
    },
  };
}

interface SampleNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: SampleNode[];
}

/** Start V8's sampling heap profiler; `report` stops it and prints bytes per key by function and caller. */
async function sampleAllocations(): Promise<{ report(): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.enable");
  // Every 256 bytes, and what the collections freed too: the allocation rate, not what is left.
  await session.post("HeapProfiler.startSampling", { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return {
    async report() {
      const { profile } = await session.post("HeapProfiler.stopSampling");
      session.disconnect();
      const bytes = new Map<string, number>();
      const name = (n: SampleNode): string => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").slice(-2).join("/")}`;
      const walk = (n: SampleNode, caller: string): void => {
        const here = name(n);
        if (n.selfSize > 0) bytes.set(`${here} <- ${caller}`, (bytes.get(`${here} <- ${caller}`) ?? 0) + n.selfSize);
        for (const c of n.children) walk(c, here);
      };
      walk(profile.head as unknown as SampleNode, "");
      let all = 0;
      for (const b of bytes.values()) all += b;
      console.log(`allocated ${(all / keys).toFixed(0)} B a key (both sides), by function <- caller:`);
      for (const [where, b] of [...bytes].sort((x, y) => y[1] - x[1]).slice(0, 20)) console.log(`${(b / keys).toFixed(1).padStart(8)}  ${where}`);
    },
  };
}
