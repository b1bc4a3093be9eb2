/**
 * 8. Map churn: heap and encoded bytes per key of a map after N keys were added and all removed
 * and N new keys added, next to the same N keys in a fresh map (goal: within 10 %), plus what the
 * emptied map keeps. Each map type runs in a process of its own with --expose-gc (the fixture of
 * test/crdt/map-churn.test.ts), so the heap figures are the map's, after a full gc.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { BenchContext } from "../lib/context.js";

const FIXTURE = fileURLToPath(new URL("../../test/crdt/fixtures/map-churn.ts", import.meta.url));
const run = promisify(execFile);

export interface ChurnRow {
  kind: string;
  keys: number;
  heapPerKeyFresh: number;
  heapPerKeyAfterChurn: number;
  bytesPerKeyFresh: number;
  bytesPerKeyAfterChurn: number;
  /** Heap the emptied map still held (after removing every key), in bytes. */
  heapLeftEmpty: number;
  /** Encoded state of the emptied map, in bytes. */
  bytesLeftEmpty: number;
}

export interface ChurnResult {
  rows: ChurnRow[];
}

interface Figures {
  keys: number;
  emptyHeap: number;
  fullHeap: number;
  churnedHeap: number;
  afterChurnHeap: number;
  churnedBytes: number;
  freshBytes: number;
  afterChurnBytes: number;
}

export async function runChurn(ctx: BenchContext): Promise<ChurnResult> {
  const keys = ctx.full ? 100_000 : 20_000;
  const rows: ChurnRow[] = [];
  for (const kind of ["pncounterMap", "lwwMap", "orMultiMap"]) {
    ctx.progress.step(`map churn: ${kind}, ${keys} keys`, ctx.full ? 120_000 : 30_000);
    const { stdout } = await run(process.execPath, ["--expose-gc", "--import", "tsx", FIXTURE, kind, String(keys)], { timeout: 600_000 });
    const f = JSON.parse(stdout.trim().split("\n").pop()!) as Figures;
    rows.push({
      kind,
      keys,
      heapPerKeyFresh: (f.fullHeap - f.emptyHeap) / keys,
      heapPerKeyAfterChurn: (f.afterChurnHeap - f.emptyHeap) / keys,
      bytesPerKeyFresh: f.freshBytes / keys,
      bytesPerKeyAfterChurn: f.afterChurnBytes / keys,
      heapLeftEmpty: f.churnedHeap - f.emptyHeap,
      bytesLeftEmpty: f.churnedBytes,
    });
  }
  const worst = Math.max(...rows.map((r) => Math.max(r.heapPerKeyAfterChurn / r.heapPerKeyFresh, r.bytesPerKeyAfterChurn / r.bytesPerKeyFresh)));
  ctx.progress.note(`map churn: after churn at most ${((worst - 1) * 100).toFixed(1)} % above fresh (heap or bytes per key)`);
  return { rows };
}
