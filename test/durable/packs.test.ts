/**
 * Packed snapshots (issue 13): a large batch repacks every value into "p/" entries, small batches
 * add loose "v/" entries that win over the packs (durable writes never wait for a repack), an expired tombstone of a packed key leaves an
 * "x/" marker, a repack clears loose entries and markers, a corrupt pack costs only its own keys,
 * and a snapshot written by the per-key layout of the release before packs (a fixture written by
 * that code) still restores, and is carried on.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Level } from "level";
import { GCounter, ORSet, PNCounter } from "../../src/crdt/index.js";
import { shouldRepack, Snapshots } from "../../src/durable/snapshots.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { Store } from "../../src/replicator/store.js";
import { readPack } from "../../src/wire/codec.js";
import { waitFor } from "../helpers/wait.js";
import { openDirect, readSnapshotDir, removeTempDirs, tempDir } from "./helpers.js";

const counter = (n: number): GCounter => GCounter.empty().increment("n~w", n).resetDelta();

/** The LevelDB keys of a closed snapshot directory, by prefix. */
async function keysOf(dir: string): Promise<{ packs: string[]; loose: string[]; gone: string[]; tombstones: string[] }> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
  const out = { packs: [] as string[], loose: [] as string[], gone: [] as string[], tombstones: [] as string[] };
  for await (const k of db.keys()) {
    if (k.startsWith("p/")) out.packs.push(k);
    else if (k.startsWith("v/")) out.loose.push(k.slice(2));
    else if (k.startsWith("x/")) out.gone.push(k.slice(2));
    else if (k.startsWith("t/")) out.tombstones.push(k.slice(2));
  }
  await db.close();
  return out;
}

/** A closed snapshot directory of `n` counters `k0`… written by one packed batch. */
async function packedSnapshot(name: string, n: number): Promise<string> {
  const dir = join(tempDir(), name);
  const s = await openDirect(dir);
  for (let i = 0; i < n; i++) s.store.set(`k${i}`, "gcounter", counter(i + 1), "local");
  assert.equal(await s.handle.flush(), true);
  await s.handle.close();
  return dir;
}

describe("packed snapshots", () => {
  after(() => removeTempDirs());

  test("when a batch repacks: loose entries past max(8192, store/8)", () => {
    assert.equal(shouldRepack(0, 1000, 1000), false);
    assert.equal(shouldRepack(0, 8193, 8193), true);
    assert.equal(shouldRepack(100_000, 10, 1_000_000), false);
    assert.equal(shouldRepack(124_990, 11, 1_000_000), true);
  });

  test("a repack leaves LevelDB's log by the time the snapshot closes: the next open has nothing to replay", async () => {
    const dir = await packedSnapshot("written-out", 20_000);
    const logBytes = readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    // The repack is ~0.5 MB of packs; what a log may hold after it is the final batch's meta.
    assert.ok(logBytes < 4096, `the log holds ${logBytes} bytes`);
    const back = await openDirect(dir);
    assert.equal(back.store.size, 20_000);
    assert.equal((back.store.value("k19999") as GCounter).value, 20_000);
    await back.handle.close();
  });

  test("packs, loose entries over them, a gone marker, and a repack that clears both", async () => {
    const dir = join(tempDir(), "packs");
    const n = 20_000;
    let s = await openDirect(dir);
    for (let i = 0; i < n; i++) s.store.set(`k${i}`, "gcounter", counter(i + 1), "local");
    assert.equal(await s.handle.flush(), true);
    assert.ok(s.snaps.lastWrite!.packs > 0, "a 20,000-key first write is packed");
    assert.equal(s.snaps.lastWrite!.values, n);
    // A few changes: loose entries. A packed key deleted, then its tombstone expired: a marker.
    for (let i = 0; i < 10; i++) s.store.set(`k${i}`, "gcounter", counter(1000 + i), "local");
    s.store.addTombstone({ key: "k500", kind: "gcounter", deletedAtMs: 1, originNode: "n" }, "local");
    s.store.addTombstone({ key: "k501", kind: "gcounter", deletedAtMs: Date.now(), originNode: "n" }, "local");
    assert.equal(await s.handle.flush(), true);
    assert.equal(s.snaps.lastWrite!.packs, 0);
    assert.deepEqual(s.store.expireTombstones(2), ["k500"]);
    await s.handle.close();
    let on = await keysOf(dir);
    assert.equal(on.loose.length, 10);
    assert.deepEqual(on.gone, ["k500"]);
    assert.deepEqual(on.tombstones, ["k501"]);
    const packs = on.packs;

    s = await openDirect(dir);
    assert.equal(s.snaps.restore.skipped, 0);
    assert.equal(s.store.size, n - 2);
    assert.equal(s.store.get("k3")?.value.equals(counter(1003)), true, "the loose entry wins over the pack");
    assert.equal(s.store.get("k4000")?.value.equals(counter(4001)), true);
    assert.equal(s.store.get("k500"), undefined, "the marker hides the packed value");
    assert.equal(s.store.get("k501"), undefined, "the tombstone wins over the packed value");
    assert.ok(s.store.tombstone("k501"));

    // Enough changes to outgrow max(8192, store/8): the batch repacks.
    for (let i = 1000; i < 10_000; i++) s.store.set(`k${i}`, "gcounter", counter(5000 + i), "local");
    assert.equal(await s.handle.flush(), true);
    assert.ok(s.snaps.lastWrite!.packs > 0);
    await s.handle.close();
    on = await keysOf(dir);
    assert.deepEqual([on.loose, on.gone], [[], []], "a repack deletes the loose entries and the markers");
    assert.ok(on.packs.every((p) => !packs.includes(p)), "the old packs are gone");

    s = await openDirect(dir);
    assert.equal(s.store.size, n - 2);
    assert.equal(s.store.get("k3")?.value.equals(counter(1003)), true, "a loose entry's value moved into the packs");
    assert.equal(s.store.get("k1003")?.value.equals(counter(6003)), true);
    assert.equal(s.store.get("k12000")?.value.equals(counter(12001)), true);
    assert.equal(s.store.get("k500"), undefined);
    await s.handle.close();
  });

  test("a batch durable writes wait for never repacks; the next periodic or final one does", async () => {
    const dir = join(tempDir(), "durable");
    const s = await openDirect(dir);
    for (let i = 0; i < 20_000; i++) s.store.set(`k${i}`, "gcounter", counter(i + 1), "local");
    await s.snaps.persist("k7");
    assert.equal(s.snaps.lastWrite!.values, 20_000);
    assert.equal(s.snaps.lastWrite!.packs, 0, "the durable batch wrote loose entries");
    await s.handle.close();
    assert.ok(s.snaps.lastWrite!.packs > 0, "the final batch repacked");
    const on = await keysOf(dir);
    assert.deepEqual(on.loose, []);
  });

  test("a corrupt pack is skipped and counted; the other packs restore", async () => {
    const n = 20_000;
    const dir = await packedSnapshot("corrupt-pack", n);
    const { packs } = await keysOf(dir);
    assert.ok(packs.length >= 2);
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
    await db.put(packs[0]!, new Uint8Array([0x0a, 0xff, 0xff, 0x01, 0x02]));
    await db.close();
    const s = await openDirect(dir);
    assert.equal(s.snaps.restore.skipped, 1);
    assert.ok(s.store.size > 0 && s.store.size < n, `some keys restored (${s.store.size})`);
    assert.equal(s.store.get(`k${n - 1}`)?.value.equals(counter(n)), true);
    await s.handle.close();
  });

  test("a loose entry wins over the packed value of its key; a corrupt one leaves the key out rather than restore the older packed state", async () => {
    const n = 20_000;
    const dir = await packedSnapshot("loose-over-packs", n);
    let s = await openDirect(dir);
    s.store.set("k6", "gcounter", counter(1_000), "local");
    s.store.addTombstone({ key: "k8", kind: "gcounter", deletedAtMs: Date.now(), originNode: "n" }, "local");
    assert.equal(await s.handle.flush(), true);
    await s.handle.close();
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
    await db.put("v/k5", new Uint8Array([0x0a, 0xff, 0xff, 0x01, 0x02]));
    await db.close();
    s = await openDirect(dir);
    assert.equal(s.snaps.restore.skipped, 1);
    assert.equal(s.store.value("k5"), undefined, "the older packed state of a key whose loose entry is corrupt stays out");
    assert.equal((s.store.value("k6") as GCounter).value, 1_000);
    assert.equal(s.store.value("k8"), undefined);
    assert.ok(s.store.tombstone("k8") !== undefined);
    assert.equal((s.store.value("k7") as GCounter).value, 8);
    assert.equal(s.store.size, n - 2);
    await s.handle.close();
  });

  test("the meta counts the values; packed values restore undecoded; one corrupt inside a sound pack is dropped when decoded, counted and announced", async () => {
    const n = 20_000;
    const dir = await packedSnapshot("corrupt-value", n);
    const meta = (await readSnapshotDir(dir)).get("m/meta");
    assert.equal(meta?.type === "meta" && meta.values, n, "the meta says how many values to make room for");
    // In the first pack, a value whose slot amount is one byte (field 2, then 1–127): make it 0, which no GCounter holds.
    const { packs } = await keysOf(dir);
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
    const pack = Uint8Array.from(await db.get(packs[0]!));
    let broken: string | undefined;
    readPack(pack, 0, (key, _type, bytes, _start, end) => {
      if (broken === undefined && bytes[end - 2] === 0x10 && bytes[end - 1]! > 0 && bytes[end - 1]! < 0x80) {
        broken = key;
        pack[end - 1] = 0;
      }
    });
    assert.ok(broken !== undefined);
    await db.put(packs[0]!, pack);
    await db.close();

    const target = { store: new Store(), stats: new ReplicatorStats(), writerId: undefined as string | undefined };
    const announced: string[] = [];
    target.store.onChange((key, source) => key === broken && announced.push(source));
    const snaps = await Snapshots.open({ dir, intervalMs: 3_600_000 }, target, "n");
    try {
      assert.equal(snaps.restore.skipped, 0, "the pack itself is sound");
      assert.equal(snaps.restore.values, n);
      // Decoded in the background (or here, on a read: the same path).
      await waitFor(() => target.store.unsettled === 0, { message: "every deferred value decoded" });
      assert.equal(target.store.value(broken), undefined);
      assert.equal(target.store.size, n - 1);
      assert.equal(target.stats.snapshotSkippedEntries, 1);
      assert.deepEqual(announced, ["restore", "restore"], "put back, then dropped: the digest hears both");
      assert.equal(target.store.get("k12345")?.value.equals(counter(12_346)), true);
    } finally {
      await snaps.close();
    }
  });

  test("a snapshot written by the per-key layout (before packs) restores and is carried on", async () => {
    const fixture = JSON.parse(readFileSync(new URL("./fixtures/legacy-snapshot.json", import.meta.url), "utf8")) as { entries: [string, string][] };
    const dir = join(tempDir(), "legacy");
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
    await db.batch(fixture.entries.map(([key, b64]) => ({ type: "put" as const, key, value: new Uint8Array(Buffer.from(b64, "base64")) })));
    await db.close();

    let s = await openDirect(dir, "old-node");
    assert.equal(s.snaps.restore.skipped, 0);
    assert.equal(s.snaps.restore.writerIdReused, true, "the old clean close's writer id is reused");
    assert.equal(s.snaps.restore.previous?.incarnation, 3);
    assert.equal(s.store.size, 42);
    for (let i = 0; i < 40; i++) {
      assert.equal(s.store.get(`count-${i}`)?.value.equals(GCounter.empty().increment("old-node~3", i + 1).increment("peer~1", 2)), true);
    }
    assert.equal((s.store.get("pn")?.value as PNCounter).value, 7);
    assert.deepEqual([...(s.store.get("set")?.value as ORSet<string>).elements].sort(), ["a", "b", "ünï"]);
    assert.equal(s.store.get("gone"), undefined);
    assert.equal(s.store.tombstone("gone")?.originNode, "old-node");

    // Carried on by the new code: a change and a close, then everything restores again.
    s.store.set("count-0", "gcounter", counter(99), "local");
    await s.handle.close();
    s = await openDirect(dir, "old-node");
    assert.equal(s.store.size, 42);
    assert.equal(s.store.get("count-0")?.value.equals(counter(99)), true);
    assert.equal(s.store.get("count-7")?.value.equals(GCounter.empty().increment("old-node~3", 8).increment("peer~1", 2)), true);
    await s.handle.close();
  });
});
