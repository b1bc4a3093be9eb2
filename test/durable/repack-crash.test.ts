/**
 * A repack writes its packs in several LevelDB batches and commits them with a last one (issue 13:
 * one atomic batch of every value held the event loop for seconds at ten million keys). Whatever
 * happens between the first batch and the commit — the process SIGKILLed, a write failing — the
 * snapshot restores exactly what the last committed write held, and the packs left behind are
 * deleted by the next write.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Level } from "level";
import { GCounter } from "../../src/crdt/index.js";
import { encodeSnapshotEntry, type SnapshotMeta } from "../../src/wire/codec.js";
import { type ChainedBatch, chainedBatchPrototype, killAllNodes, openDirect, readSnapshotDir, removeTempDirs, startChildNode, tempDir, type DirectSnapshots } from "./helpers.js";

/** Counters the fixture writes; enough for a repack of several batches of packs. */
const KEYS = 150_000;

/** What the fixture's committed writes hold: k<i> = i + 1, and 1,000 more for k0…k999. */
const committedValue = (i: number): number => i + 1 + (i < 1000 ? 1000 : 0);

/** The meta and the pack names outside its range, of a closed directory. */
async function packsOnDisk(dir: string): Promise<{ meta: SnapshotMeta; inside: number; outside: string[] }> {
  const entries = await readSnapshotDir(dir);
  const meta = entries.get("m/meta");
  assert.ok(meta?.type === "meta" && meta.packs !== undefined, "the meta names the committed packs");
  const { first, end } = meta.packs;
  let inside = 0;
  const outside: string[] = [];
  for (const k of entries.keys()) {
    if (!k.startsWith("p/")) continue;
    const n = Number.parseInt(k.slice(2), 16);
    if (n >= first && n < end) inside++;
    else outside.push(k);
  }
  assert.equal(inside, end - first, "every committed pack is on disk");
  return { meta, inside, outside };
}

function assertValues(s: DirectSnapshots, value: (i: number) => number): void {
  assert.equal(s.store.size, KEYS);
  assert.equal(s.stats.snapshotSkippedEntries, 0);
  for (let i = 0; i < KEYS; i++) {
    const v = s.store.get(`k${i}`)?.value;
    assert.ok(v instanceof GCounter, `k${i} restored`);
    if (v.value !== value(i)) assert.fail(`k${i} = ${v.value}, expected ${value(i)}`);
  }
}

describe("a repack interrupted before its commit", () => {
  after(async () => {
    await killAllNodes();
    removeTempDirs();
  });

  for (const killAt of ["packs", "commit"] as const) {
    test(`SIGKILL at the ${killAt === "packs" ? "second batch of packs" : "commit batch"}: the restore is the last commit, the left packs go at the next write`, async () => {
      const dir = join(tempDir(), `killed-at-${killAt}`);
      const child = startChildNode({ dir, keys: KEYS, killAt }, "repack-crash.ts");
      await child.waitForEvent((e) => e.event === "committed", 60_000, "the committed writes");
      const { signal } = await child.exited;
      assert.equal(signal, "SIGKILL", `the fixture died in the repack (events: ${JSON.stringify(child.events.slice(-2))}; ${child.stderr()})`);

      // On disk: the committed packs, and new ones the meta does not name.
      const before = await packsOnDisk(dir);
      assert.ok(before.outside.length >= (killAt === "packs" ? 1 : 3), `packs left by the repack: ${before.outside.length}`);
      assert.ok(before.outside.length < before.inside * 2);

      // Exactly the commit: no value of the new packs, not even of keys only they hold (new0…).
      const s = await openDirect(dir);
      assertValues(s, committedValue);
      assert.equal(s.snaps.restore.values, KEYS);
      // The next write deletes them; what it writes restores.
      s.store.set("k0", "gcounter", (s.store.get("k0")!.value as GCounter).increment("n~w", 5).resetDelta(), "local");
      await s.handle.close();
      const afterWrite = await packsOnDisk(dir);
      assert.deepEqual(afterWrite.outside, [], "no pack outside the committed range after the next write");
      const again = await openDirect(dir);
      assertValues(again, (i) => committedValue(i) + (i === 0 ? 5 : 0));
      await again.handle.close();
    });
  }

  test("a batch of packs that fails: the write fails and is counted, the next one repacks and deletes what the failed one left", async () => {
    const dir = join(tempDir(), "failed-write");
    const s = await openDirect(dir);
    for (let i = 0; i < KEYS; i++) s.store.set(`k${i}`, "gcounter", GCounter.empty().increment("n~w", i + 1).resetDelta(), "local");
    // The second batch of packs fails once (a full disk, say); the first is on disk by then.
    const proto = await chainedBatchPrototype(s.snaps);
    const write = proto.write;
    let writes = 0;
    proto.write = function (this: ChainedBatch, options?: unknown) {
      if (++writes === 2) {
        void write.call(this, options).catch(() => undefined); // what the caller never sees completes or not
        return Promise.reject(new Error("injected: no space left on device"));
      }
      return write.call(this, options);
    };
    try {
      assert.equal(await s.handle.flush(), false);
      assert.equal(s.stats.snapshotFailureCount, 1);
      assert.match(String(s.errors.at(-1)), /no space left/);
      assert.equal(await s.handle.flush(), true, "the keys stay dirty and the next write repacks them");
      assert.ok(s.snaps.lastWrite!.packs > 1);
    } finally {
      proto.write = write;
    }
    await s.handle.close();
    const disk = await packsOnDisk(dir);
    assert.deepEqual(disk.outside, [], "the failed repack's packs are gone");
    const again = await openDirect(dir);
    assertValues(again, (i) => i + 1);
    await again.handle.close();
  });

  test("a snapshot whose meta names no pack range (the release before) restores every pack and records the range", async () => {
    const dir = join(tempDir(), "no-range");
    const s = await openDirect(dir);
    for (let i = 0; i < KEYS; i++) s.store.set(`k${i}`, "gcounter", GCounter.empty().increment("n~w", i + 1).resetDelta(), "local");
    assert.equal(await s.handle.flush(), true);
    await s.handle.close();
    // The meta as the release before wrote it: no `packs`.
    const { meta } = await packsOnDisk(dir);
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
    const { packs: _, ...older } = meta;
    await db.put("m/meta", encodeSnapshotEntry({ ...older, type: "meta" }));
    await db.close();
    const again = await openDirect(dir);
    assertValues(again, (i) => i + 1);
    await again.handle.close();
    const disk = await packsOnDisk(dir);
    assert.deepEqual(disk.meta.packs, meta.packs);
  });
});
