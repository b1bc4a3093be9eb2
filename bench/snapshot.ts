/**
 * Snapshot benchmark: LevelDB write and restore times for N GCounter keys (src/durable/).
 *
 *   npx tsx bench/snapshot.ts                 100k and 1M keys, table + JSON
 *   npx tsx bench/snapshot.ts 50000 --json    given sizes, JSON only
 *
 * Per size, in a fresh temp directory (removed afterwards):
 * - digest: the anti-entropy digest hashes every key (as a running replicator does in the
 *   background), so the packs store each key's hash;
 * - full write: every key dirty (a first snapshot of a full store), one batch;
 * - incremental write: 1 % of the keys changed since the last write;
 * - close: the final clean snapshot (nothing dirty: just the meta) and the database close;
 * - restore, in a fresh process (as a restarting node does: not beside the heap that wrote it):
 *   `Snapshots.open` on the directory into an empty store (iterate, fill; packed values are
 *   decoded later), the background decoding of the values it deferred (until every one is
 *   decoded, the node serving meanwhile), and the digest a replicator then builds: seeded from
 *   the stored hashes, the rest rehashed;
 * - the longest event-loop stall seen during the full write and during the restore (a 2 ms probe
 *   timer's lateness), i.e. how long the node cannot serve anything else.
 * Each counter has 3 writer slots (as in a 3-node cluster). Single run per size: the figures are
 * seconds long, and dominated by encoding/decoding and LevelDB, not by timer noise.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { GCounter } from "../src/crdt/index.js";
import { systemClock } from "../src/clock.js";
import { Snapshots } from "../src/durable/snapshots.js";
import type { ReplicatorContext } from "../src/extension/context.js";
import { ReplicatorStats } from "../src/extension/stats.js";
import { Store } from "../src/replicator/store.js";
import { DIGEST_HASH_VERSION, RestoredDigest, StoreDigest } from "../src/replicator/store-digest.js";

export interface SnapshotBenchResult {
  keys: number;
  /** CPU time of the digest hashing every key (what a restore without stored hashes makes a node redo). */
  digestCpuMs: number;
  /** First snapshot of a full store (every key dirty): total, and the encoding part of it. */
  fullWriteMs: number;
  fullEncodeMs: number;
  /** 1 % of the keys changed. */
  incrementalKeys: number;
  incrementalWriteMs: number;
  /** Final clean snapshot + database close. */
  closeMs: number;
  /**
   * Restore into an empty store: wall time of reading, decoding and filling (`RestoreReport.ms`; not
   * LevelDB's own open, which replays the log of a batch written just before the close), and the
   * process's CPU time over the whole `Snapshots.open`, open included (user + system, all threads;
   * steadier than wall time on a loaded machine).
   */
  restoreMs: number;
  restoreCpuMs: number;
  restoredValues: number;
  /** After the restore: until every deferred value is decoded in the background (wall), and that work's CPU. */
  settleMs: number;
  settleCpuMs: number;
  /** After the restore: the digest's construction (seeded from the stored hashes) and its rehash of the keys left, CPU; and how many were left. */
  restoreDigestCpuMs: number;
  restoreRehashedKeys: number;
  /** Size of the LevelDB directory after close. */
  dbBytes: number;
  /** Longest event-loop stall during the full write and during the restore. */
  maxStallWriteMs: number;
  maxStallRestoreMs: number;
}

/** Measure snapshot write and restore for `keys` GCounter keys. */
export async function runSnapshotBench(keys: number): Promise<SnapshotBenchResult> {
  const root = mkdtempSync(join(tmpdir(), "crdt-snapshot-bench-"));
  const dir = join(root, "db");
  try {
    const target = { store: new Store(), stats: new ReplicatorStats(), writerId: undefined as string | undefined };
    const snaps = await Snapshots.open({ dir, intervalMs: 3_600_000 }, target, "bench");
    const store = target.store;
    const counters: GCounter[] = [];
    for (let i = 0; i < keys; i++) {
      const c = GCounter.empty().increment("bench~1", i + 1).increment("peer-b~1", 2).increment("peer-c~1", 3).resetDelta();
      counters.push(c);
      store.set(`counter-${i}`, "gcounter", c, "local");
    }
    const digest = new StoreDigest(store, systemClock, (e) => console.error(e));
    const hashing = await measured(() => digest.refreshAll());
    const digests = { version: DIGEST_HASH_VERSION, hashOf: (key: string) => digest.hashOf(key) };
    const ctx = { nodeId: "bench", incarnation: 1, writerId: "bench~1", reportError: (e: unknown) => console.error(e), digests };
    const handle = snaps.attach(ctx as unknown as ReplicatorContext);

    const full = await measured(() => handle.flush());
    const fullEncodeMs = snaps.lastWrite?.encodeMs ?? NaN;
    const changed = Math.max(1, Math.floor(keys / 100));
    const step = Math.floor(keys / changed);
    for (let j = 0; j < changed; j++) {
      const i = j * step;
      store.set(`counter-${i}`, "gcounter", counters[i]!.increment("bench~1", 1).resetDelta(), "local");
    }
    const incremental = await measured(() => handle.flush());
    const close = await measured(() => handle.close());
    digest.stop();
    const dbBytes = dirBytes(dir);

    const { stdout } = await promisify(execFile)(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--restore", dir, String(keys)], {
      maxBuffer: 1 << 20,
    });
    const restore = JSON.parse(stdout) as RestoreFigures;

    return {
      keys,
      digestCpuMs: hashing.cpuMs,
      fullWriteMs: full.ms,
      fullEncodeMs,
      incrementalKeys: changed,
      incrementalWriteMs: incremental.ms,
      closeMs: close.ms,
      ...restore,
      dbBytes,
      maxStallWriteMs: full.maxStallMs,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

type RestoreFigures = Pick<
  SnapshotBenchResult,
  "restoreMs" | "restoreCpuMs" | "restoredValues" | "settleMs" | "settleCpuMs" | "restoreDigestCpuMs" | "restoreRehashedKeys" | "maxStallRestoreMs"
>;

/** The restore half, run in a process of its own (`--restore <dir> <keys>`). */
async function restoreFrom(dir: string, keys: number): Promise<RestoreFigures> {
  const back = { store: new Store(), stats: new ReplicatorStats(), writerId: undefined as string | undefined, digests: new RestoredDigest() };
  const restore = await measured(() => Snapshots.open({ dir, intervalMs: 3_600_000 }, back, "bench"));
  const restored = restore.value;
  if (back.store.size !== keys) throw new Error(`restored ${back.store.size} of ${keys} keys`);
  // The background decoding Snapshots.open started: wait for it (a turn at a time) before closing.
  const settle = await measured(async () => {
    while (back.store.unsettled > 0) await nextTurn();
  });
  await restored.close();
  let rehashed = 0;
  const seeding = await measured(async () => {
    const d = new StoreDigest(back.store, systemClock, (e) => console.error(e), back.digests);
    rehashed = d.pending;
    await d.refreshAll();
    d.stop();
  });
  return {
    restoreMs: restored.restore.ms,
    restoreCpuMs: restore.cpuMs,
    restoredValues: restored.restore.values,
    settleMs: settle.ms,
    settleCpuMs: settle.cpuMs,
    restoreDigestCpuMs: seeding.cpuMs,
    restoreRehashedKeys: rehashed,
    maxStallRestoreMs: Math.max(restore.maxStallMs, settle.maxStallMs),
  };
}

/** Time `fn` and watch the event loop: a 2 ms probe timer's worst lateness. */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number; maxStallMs: number }> {
  const period = 2;
  let last = performance.now();
  let maxStallMs = 0;
  const probe = setInterval(() => {
    const t = performance.now();
    maxStallMs = Math.max(maxStallMs, t - last - period);
    last = t;
  }, period);
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    const value = await fn();
    const end = performance.now();
    const cpu = process.cpuUsage(cpu0);
    maxStallMs = Math.max(maxStallMs, end - last - period);
    return { value, ms: end - start, cpuMs: (cpu.user + cpu.system) / 1000, maxStallMs: Math.max(0, maxStallMs) };
  } finally {
    clearInterval(probe);
  }
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(join(dir, f)).size;
  return n;
}

function row(r: SnapshotBenchResult): string {
  const f = (x: number): string => x.toFixed(0).padStart(8);
  return [
    String(r.keys).padStart(9),
    f(r.fullWriteMs),
    f(r.fullEncodeMs),
    `${String(r.incrementalKeys).padStart(7)}/${r.incrementalWriteMs.toFixed(0).padStart(5)}`,
    f(r.closeMs),
    f(r.restoreMs),
    f(r.restoreCpuMs),
    f(r.settleMs),
    f(r.restoreDigestCpuMs),
    (r.dbBytes / 1e6).toFixed(1).padStart(7),
    f(r.maxStallWriteMs),
    f(r.maxStallRestoreMs),
  ].join(" ");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--restore") {
    console.log(JSON.stringify(await restoreFrom(args[1]!, Number(args[2]))));
    return;
  }
  const json = args.includes("--json");
  const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number);
  const results: SnapshotBenchResult[] = [];
  if (!json) console.log("     keys  full ms  encode   incr keys/ms  close ms restore  cpu ms  settle digest-cpu   MB  stall-w  stall-r");
  for (const keys of sizes.length > 0 ? sizes : [100_000, 1_000_000]) {
    const r = await runSnapshotBench(keys);
    results.push(r);
    if (!json) console.log(row(r));
  }
  console.log(JSON.stringify(results, null, json ? 2 : 0));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
