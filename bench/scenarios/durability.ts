/**
 * 7. Durability: local updates/s of a lone node with a snapshot directory, write-behind (the
 * default: LevelDB written every interval) against write-through (each update resolves once its
 * change is in LevelDB; concurrent updates share a batch), with and without `sync` (an fsync per
 * batch), in the same run and worker process, interleaved per run. Each mode has its own replicator
 * on its own subject (lone: no peer traffic) and its own LevelDB directory under the OS temp dir.
 *
 * Clients: `c` concurrent loops each awaiting its own update of its own GCounter before the next
 * (1 client: one write at a time, the latency bound; 64: group commit). As in the throughput
 * scenario, every loop yields one event-loop turn per 1,000 calls, so write-behind's outbox
 * publishes while it runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats } from "../../src/transport/nats.js";
import { Key, Replicator } from "../../src/index.js";
import type { BenchContext } from "../lib/context.js";
import { INCREMENT, nextTurn, nowNs } from "../lib/node.js";
import { median } from "../lib/stats.js";

export const DURABILITY_MODES = ["write-behind", "write-through", "write-through + sync"] as const;
export type DurabilityMode = (typeof DURABILITY_MODES)[number];

export interface DurabilityRow {
  clients: number;
  /** Median updates/s per mode. */
  perSecond: Record<DurabilityMode, number>;
  /** Median updates per LevelDB batch (write-through modes; write-behind writes none while measured). */
  updatesPerBatch: Record<DurabilityMode, number>;
  /** Write-through modes' rate over write-behind's. */
  ratio: { writeThrough: number; writeThroughSync: number };
}

export interface DurabilityResult {
  /** Time each measurement ran. */
  seconds: number;
  runs: number;
  rows: DurabilityRow[];
}

const CLIENTS = [1, 64];
const YIELD_EVERY = 1_000;

// ================================================================== worker side

async function measure(r: Replicator, clients: number, ms: number): Promise<{ perSecond: number; updatesPerBatch: number }> {
  const batches0 = r.stats.snapshotWriteCount;
  const t0 = nowNs();
  const end = t0 + ms * 1e6;
  let updates = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const key = Key.gcounter(`client-${c}`);
      for (let i = 1; nowNs() < end; i++) {
        await r.update(key, INCREMENT);
        updates++;
        if (i % YIELD_EVERY === 0) await nextTurn();
      }
    }),
  );
  const seconds = (nowNs() - t0) / 1e9;
  const batches = r.stats.snapshotWriteCount - batches0;
  return { perSecond: updates / seconds, updatesPerBatch: batches === 0 ? NaN : updates / batches };
}

export const durabilityWorker = {
  "durability.run": async (a: { url: string; full: boolean; runs: number }): Promise<DurabilityResult> => {
    const root = mkdtempSync(join(tmpdir(), "crdt-durability-bench-"));
    const nodes = new Map<DurabilityMode, Replicator>();
    const transport = await connectNats({ servers: a.url, name: "durability bench" });
    try {
      for (const [i, mode] of DURABILITY_MODES.entries()) {
        const snapshot = { dir: join(root, `n${i}`), intervalMs: 3_600_000, writeThrough: mode !== "write-behind", sync: mode === "write-through + sync" };
        nodes.set(mode, await Replicator.start({ nodeId: `durable-${i}`, transport, subject: `bench.durability.${i}`, snapshot }));
      }
      const ms = a.full ? 2_000 : 150;
      const rows: DurabilityRow[] = [];
      for (const clients of CLIENTS) {
        const runs = new Map<DurabilityMode, { perSecond: number; updatesPerBatch: number }[]>(DURABILITY_MODES.map((m) => [m, []]));
        for (const mode of DURABILITY_MODES) await measure(nodes.get(mode)!, clients, ms / 3); // warm-up
        for (let run = 0; run < a.runs; run++) {
          // Interleaved, starting with a different mode each run: drift in machine load hits all alike.
          for (let j = 0; j < DURABILITY_MODES.length; j++) {
            const mode = DURABILITY_MODES[(run + j) % DURABILITY_MODES.length]!;
            runs.get(mode)!.push(await measure(nodes.get(mode)!, clients, ms));
          }
        }
        const perSecond = Object.fromEntries(DURABILITY_MODES.map((m) => [m, median(runs.get(m)!.map((x) => x.perSecond))])) as Record<DurabilityMode, number>;
        const updatesPerBatch = Object.fromEntries(DURABILITY_MODES.map((m) => [m, median(runs.get(m)!.map((x) => x.updatesPerBatch))])) as Record<DurabilityMode, number>;
        rows.push({
          clients,
          perSecond,
          updatesPerBatch,
          ratio: {
            writeThrough: perSecond["write-through"] / perSecond["write-behind"],
            writeThroughSync: perSecond["write-through + sync"] / perSecond["write-behind"],
          },
        });
      }
      return { seconds: ms / 1000, runs: a.runs, rows };
    } finally {
      for (const r of nodes.values()) await r.close();
      await transport.close();
      rmSync(root, { recursive: true, force: true });
    }
  },
};

// ================================================================== orchestrator side

export async function runDurability(ctx: BenchContext): Promise<DurabilityResult> {
  const server = await ctx.server();
  ctx.progress.step("write-behind vs write-through (± sync), 1 and 64 clients, in a worker", ctx.full ? 45_000 : 5_000);
  const [w] = await ctx.workers(["durability"]);
  const r = await w!.call<DurabilityResult>("durability.run", { url: server.url, full: ctx.full, runs: ctx.runs });
  await ctx.release(w!);
  for (const row of r.rows) {
    ctx.progress.note(
      `durability, ${row.clients} client(s): write-through ${row.ratio.writeThrough.toFixed(3)}× write-behind, with sync ${row.ratio.writeThroughSync.toFixed(3)}×`,
    );
  }
  return r;
}
