/**
 * Digest hashes stored in snapshot packs and loose entries (issue 13): a restore seeds the
 * anti-entropy digest tree from them and rehashes only the keys restored without one, and the tree
 * it ends with equals the tree a rehash of every key builds — with loose entries newer than the
 * packs (with and without a hash), tombstones, markers, keys packed while awaiting a rehash, and a
 * large ORSet (element-sum hash). A snapshot written by
 * the release before (packs without hashes; a fixture written by that code) or under another hash
 * definition restores as before: every key is rehashed. A write after a bulk pull waits for the
 * pulled hashes to go into the digest (they go in after the pull), so it stores them too.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Level } from "level";
import * as G from "../../gen/crdt.js";
import { systemClock } from "../../src/clock.js";
import { keyEntryHash } from "../../src/cluster/hashing.js";
import { GCounter, LWWMap, ORSet } from "../../src/crdt/index.js";
import { Snapshots } from "../../src/durable/snapshots.js";
import type { DigestHashes, ReplicatorContext } from "../../src/extension/context.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { Store } from "../../src/replicator/store.js";
import { DIGEST_HASH_VERSION, RestoredDigest, StoreDigest } from "../../src/replicator/store-digest.js";
import { contentHash } from "../../src/wire/hash.js";
import { bigSet } from "../helpers/big-set.js";
import { removeTempDirs, tempDir } from "./helpers.js";

const SETTINGS = { intervalMs: 3_600_000 };
const counter = (n: number): GCounter => GCounter.empty().increment("n~w", n).resetDelta();

/** A digest over `store` (stopped when the test ends), and the errors it reported. */
function digestOf(store: Store, restored?: RestoredDigest): StoreDigest {
  const digest = new StoreDigest(store, systemClock, (e) => assert.fail(e as Error), restored);
  digests.push(digest);
  return digest;
}
const digests: StoreDigest[] = [];

/** The tree's entries in key order. */
function entriesOf(digest: StoreDigest): [string, bigint][] {
  return [...digest.tree.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The tree a rehash of every key of `store` builds. */
async function rehashed(store: Store): Promise<[string, bigint][]> {
  const scratch = digestOf(store);
  await scratch.refreshAll();
  return entriesOf(scratch);
}

/** Open `dir` as a writing replicator would: snapshots attached to a context that hands out `hashes`. */
async function openWriting(dir: string, hashes: (store: Store) => DigestHashes) {
  const target = { store: new Store(), stats: new ReplicatorStats(), writerId: undefined as string | undefined };
  const snaps = await Snapshots.open({ dir, ...SETTINGS }, target, "n");
  const ctx = { nodeId: "n", incarnation: 42, writerId: "n~w", reportError: (e: unknown) => assert.fail(e as Error), digests: hashes(target.store) };
  return { store: target.store, snaps, handle: snaps.attach(ctx as unknown as ReplicatorContext) };
}

/** Restore `dir` as a starting replicator does: values into a store, stored hashes into a RestoredDigest. */
async function restore(dir: string): Promise<{ store: Store; seeds: RestoredDigest; snaps: Snapshots }> {
  const seeds = new RestoredDigest();
  const target = { store: new Store(), stats: new ReplicatorStats(), writerId: undefined as string | undefined, digests: seeds };
  const snaps = await Snapshots.open({ dir, ...SETTINGS }, target, "n");
  return { store: target.store, seeds, snaps };
}

describe("digest hashes in snapshot packs", { timeout: 180_000 }, () => {
  after(() => {
    for (const d of digests) d.stop();
    removeTempDirs();
  });

  test("a restore seeds the digest tree from the packs, rehashes only the rest, and ends with the tree a full rehash builds", async () => {
    const dir = join(tempDir(), "hashed");
    let digest: StoreDigest | undefined;
    const w = await openWriting(dir, (store) => {
      digest = digestOf(store);
      return { version: DIGEST_HASH_VERSION, hashOf: (key) => digest!.hashOf(key) };
    });
    const n = 10_000;
    for (let i = 0; i < n; i++) w.store.set(`k${i}`, "gcounter", counter(i + 1), "local");
    const big = bigSet(2000);
    w.store.set("big", "orset", big, "local");
    w.store.set("set", "orset", ORSet.empty<string>().add("n~w", "x").resetDelta(), "local");
    w.store.set("map", "lwwMap", LWWMap.empty<string, string>().put("n~w", "f", "v", 5).resetDelta(), "local");
    await digest!.refreshAll();
    digest!.stop(); // no background rehash from here on: only the explicit ones below
    // Changed after the last rehash: packed without a hash.
    for (let i = 0; i < 50; i++) w.store.set(`late-${i}`, "gcounter", counter(i + 1), "local");
    assert.equal(await w.handle.flush(), true);
    assert.ok(w.snaps.lastWrite!.packs > 0, "the first write of 10,000 keys is packed");
    // After the packs: loose entries over packed keys, a tombstone over one, a marker over another.
    for (let i = 0; i < 30; i++) w.store.set(`k${i}`, "gcounter", counter(1000 + i), "local");
    w.store.addTombstone({ key: "k100", kind: "gcounter", deletedAtMs: Date.now(), originNode: "n" }, "local");
    w.store.addTombstone({ key: "k101", kind: "gcounter", deletedAtMs: 1, originNode: "n" }, "local");
    assert.deepEqual(w.store.expireTombstones(2), ["k101"]);
    await digest!.refreshAll();
    // Loose entries whose new value awaits its rehash: written without a hash.
    for (let i = 30; i < 35; i++) w.store.set(`k${i}`, "gcounter", counter(2000 + i), "local");
    await w.handle.close();

    const r = await restore(dir);
    assert.equal(r.snaps.restore.skipped, 0);
    assert.equal(r.store.size, n + 3 + 50 - 2);
    assert.equal(r.store.value("k7")?.equals(counter(1007)), true, "the loose entry wins over the pack");
    assert.equal(r.store.value("k33")?.equals(counter(2033)), true);
    const restored = digestOf(r.store, r.seeds);
    assert.equal(restored.pending, 50 + 5 + 1, "rehashed: the keys packed without a hash, the loose entries written without one, the tombstone");
    await restored.refreshAll();
    assert.equal(restored.work.entries, 0, "the large set's hash was seeded, not computed from its elements");
    const expected = await rehashed(r.store);
    assert.equal(expected.length, r.store.size + r.store.tombstoneCount);
    assert.deepEqual(entriesOf(restored), expected);
    assert.equal(restored.tree.rootHash, digests.at(-1)!.tree.rootHash);

    // A seeded large set follows its next change like any other (its first digest walks it once).
    const grown = big.add("n~w", "one more").resetDelta();
    r.store.set("big", "orset", grown, "local");
    await restored.refreshAll();
    assert.equal(restored.work.entries, 2001);
    assert.equal(restored.hashOf("big"), keyEntryHash("big", contentHash(grown)));
    await r.snaps.close();
  });

  test("a packed snapshot of the release before (no hashes; fixture written by that code) restores, and every key is rehashed", async () => {
    const fixture = JSON.parse(readFileSync(new URL("./fixtures/unhashed-packs.json", import.meta.url), "utf8")) as { writtenBy: string; entries: [string, string][] };
    assert.equal(fixture.writtenBy, "a97f374");
    const dir = join(tempDir(), "unhashed");
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
    await db.batch(fixture.entries.map(([key, b64]) => ({ type: "put" as const, key, value: new Uint8Array(Buffer.from(b64, "base64")) })));
    await db.close();

    const r = await restore(dir);
    assert.equal(r.snaps.restore.skipped, 0);
    assert.equal(r.snaps.restore.writerIdReused, false, "another node's snapshot");
    assert.equal(r.store.size, 20 + 5);
    assert.equal(r.store.value("over")?.equals(GCounter.empty().increment("old-node~3", 7)), true);
    assert.equal(r.store.value("gone"), undefined);
    assert.ok(r.store.tombstone("gone"));
    assert.equal(r.store.value("expired"), undefined);
    assert.equal((r.store.value("big") as ORSet<string> | undefined)?.size, 300);
    const restored = digestOf(r.store, r.seeds);
    assert.equal(restored.pending, r.store.size + r.store.tombstoneCount, "nothing to seed from: every key is rehashed");
    await restored.refreshAll();
    assert.deepEqual(entriesOf(restored), await rehashed(r.store));
    await r.snaps.close();
  });

  test("hashes stored under another hash definition are not used, nor any when the store changed before the digest took them (other keys, or as many but not the same)", async () => {
    const dir = join(tempDir(), "other-version");
    const w = await openWriting(dir, () => ({ version: DIGEST_HASH_VERSION + 1, hashOf: () => 12345n })); // wrong for this definition
    const n = 9000;
    for (let i = 0; i < n; i++) w.store.set(`k${i}`, "gcounter", counter(i + 1), "local");
    assert.equal(await w.handle.flush(), true);
    await w.handle.close();
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
    let stored = 0;
    for await (const [, bytes] of db.iterator({ gte: "p/", lt: "p0" })) {
      const pack = G.SnapshotPack.decode(bytes);
      assert.equal(pack.digestVersion, DIGEST_HASH_VERSION + 1);
      stored += pack.digestHashes.length / 8;
    }
    await db.close();
    assert.equal(stored, n, "the packs do hold hashes");

    let r = await restore(dir);
    let restored = digestOf(r.store, r.seeds);
    assert.equal(restored.pending, n);
    await restored.refreshAll();
    assert.deepEqual(entriesOf(restored), await rehashed(r.store));
    await r.snaps.close();

    // Hashes of this definition, but the store holds a key the restore did not: all rehashed.
    const dir2 = join(tempDir(), "changed");
    let digest: StoreDigest | undefined;
    const w2 = await openWriting(dir2, (store) => {
      digest = digestOf(store);
      return { version: DIGEST_HASH_VERSION, hashOf: (key) => digest!.hashOf(key) };
    });
    for (let i = 0; i < n; i++) w2.store.set(`k${i}`, "gcounter", counter(i + 1), "local");
    await digest!.refreshAll();
    await w2.handle.close();
    r = await restore(dir2);
    r.store.set("k5", "gcounter", counter(77), "local");
    r.store.set("extra", "gcounter", counter(1), "local");
    restored = digestOf(r.store, r.seeds);
    assert.equal(restored.pending, n + 1);
    await restored.refreshAll();
    assert.deepEqual(entriesOf(restored), await rehashed(r.store));
    await r.snaps.close();

    // As many keys as restored, but not the same ones (one deleted, one added; the seeds pair the
    // hashes with the store's keys in restore order): all rehashed too.
    r = await restore(dir2);
    r.store.addTombstone({ key: "k3", kind: "gcounter", deletedAtMs: Date.now(), originNode: "n" }, "local");
    r.store.set("extra", "gcounter", counter(1), "local");
    assert.equal(r.store.size, n);
    restored = digestOf(r.store, r.seeds);
    assert.equal(restored.pending, n + 1, "every value and the tombstone");
    await restored.refreshAll();
    assert.deepEqual(entriesOf(restored), await rehashed(r.store));
    await r.snaps.close();
  });

  test("a write after a bulk pull waits for the pulled hashes to go into the digest, and stores them", async () => {
    const dir = join(tempDir(), "pulled");
    let digest: StoreDigest | undefined;
    const w = await openWriting(dir, (store) => {
      digest = digestOf(store);
      return { version: DIGEST_HASH_VERSION, hashOf: (key) => digest!.hashOf(key), settled: () => digest!.settled() };
    });
    const page = Array.from({ length: 2000 }, (_, i): [string, GCounter] => [`p${i}`, counter(i + 1)]);
    // A bulk-pull page: the merge stores the peer's values, the seeding hands their hashes over.
    digest!.mergeSeeded(
      page.length,
      () => {
        for (const [key, value] of page) w.store.set(key, "gcounter", value, "remote");
      },
      (take) => {
        for (const [key, value] of page) {
          const hash = keyEntryHash(key, contentHash(value));
          take(key, value, Number(BigInt.asIntN(32, hash)), Number(BigInt.asIntN(32, hash >> 32n)));
        }
      },
    );
    assert.equal(digest!.seeding, true, "the seeds wait for the tree");
    assert.equal(await w.handle.flush(), true);
    assert.equal(digest!.seeding, false);
    await w.handle.close();

    const r = await restore(dir);
    assert.equal(r.store.size, page.length);
    const restored = digestOf(r.store, r.seeds);
    assert.equal(restored.pending, 0, "every key was written with its hash: nothing to rehash");
    assert.deepEqual(entriesOf(restored), await rehashed(r.store));
    await r.snaps.close();
  });
});
