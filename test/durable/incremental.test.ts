/**
 * Incremental snapshots: each write holds only the keys changed since the previous one (counted
 * on the LevelDB batch itself through a spy), a failed write is counted and its keys go out with
 * the next one, and a large write yields to the event loop while it encodes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Snapshots } from "../../src/durable/snapshots.js";
import { GCounter, Key, Replicator } from "../../src/index.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { openDirect, readSnapshotDir, removeTempDirs, tempDir } from "./helpers.js";

interface Spy {
  puts: string[];
  dels: string[];
  /** Make the next batch's write fail. */
  failNext: boolean;
}

/** Wrap the database's chained batches to record every put/del (and inject a failure). */
function spyOn(s: Snapshots): Spy {
  const spy: Spy = { puts: [], dels: [], failNext: false };
  type Batch = { put(k: string, v: Uint8Array): Batch; del(k: string): Batch; write(o?: object): Promise<void> };
  const db = (s as unknown as { db: { batch(): Batch } }).db;
  const original = db.batch.bind(db);
  db.batch = () => {
    spy.puts = [];
    spy.dels = [];
    const b = original();
    const put = b.put.bind(b);
    const del = b.del.bind(b);
    b.put = (k, v) => (spy.puts.push(k), put(k, v));
    b.del = (k) => (spy.dels.push(k), del(k));
    if (spy.failNext) {
      spy.failNext = false;
      b.write = () => Promise.reject(new Error("injected: no space left on device"));
    }
    return b;
  };
  return spy;
}

const counter = (n: number): GCounter => GCounter.empty().increment("n", n).resetDelta();

describe("incremental snapshots", () => {
  let server: NatsServer | undefined;
  after(async () => {
    await server?.stop();
    removeTempDirs();
  });

  test("each write holds only the keys changed since the last one", async () => {
    const dir = join(tempDir(), "inc");
    const { store, stats, snaps, handle } = await openDirect(dir);
    const spy = spyOn(snaps);
    for (let i = 0; i < 1000; i++) store.set(`k${i}`, "gcounter", counter(i + 1), "local");
    assert.equal(await handle.flush(), true);
    assert.equal(spy.puts.filter((k) => k.startsWith("v/")).length, 1000);
    assert.equal(stats.snapshotWriteCount, 1);

    // Three changes: one value, one deletion, one new key → 2 value puts, 1 tombstone, 1 delete.
    store.set("k5", "gcounter", counter(500), "remote");
    store.addTombstone({ key: "k7", kind: "gcounter", deletedAtMs: 1_000, originNode: "m" }, "remote");
    store.set("new", "gcounter", counter(1), "local");
    assert.equal(await handle.flush(), true);
    assert.deepEqual(spy.puts.sort(), ["m/meta", "t/k7", "v/k5", "v/new"]);
    assert.deepEqual(spy.dels, ["v/k7"]);
    assert.deepEqual(snaps.lastWrite && [snaps.lastWrite.values, snaps.lastWrite.tombstones, snaps.lastWrite.deletes], [2, 1, 1]);

    // Nothing changed: no write at all.
    assert.equal(await handle.flush(), true);
    assert.equal(stats.snapshotWriteCount, 2);

    // Restored keys are not "changes": a restore does not rewrite what it just read.
    store.set("k9", "gcounter", counter(9), "restore");
    assert.equal(snaps.pending, 0);

    // The tombstone expires → its entry goes; the key is written again later → value back, no t/.
    store.expireTombstones(2_000);
    assert.equal(await handle.flush(), true);
    assert.deepEqual(spy.puts, ["m/meta"]);
    assert.deepEqual(spy.dels.sort(), ["t/k7", "v/k7"]);
    store.addTombstone({ key: "k8", kind: "gcounter", deletedAtMs: 1_000, originNode: "m" }, "remote");
    await handle.flush();
    store.expireTombstones(2_000);
    store.set("k8", "gcounter", counter(88), "remote");
    await handle.flush();
    assert.deepEqual(spy.puts.sort(), ["m/meta", "v/k8"]);
    assert.deepEqual(spy.dels, ["t/k8"]);

    await handle.close();
    const entries = await readSnapshotDir(dir);
    assert.equal([...entries.keys()].filter((k) => k.startsWith("v/")).length, 1000);
    assert.equal([...entries.keys()].filter((k) => k.startsWith("t/")).length, 0);
    const meta = entries.get("m/meta");
    assert.ok(meta?.type === "meta" && meta.cleanShutdown && meta.writerId === "n~w" && meta.incarnation === 42);
  });

  test("a failed write is counted and its keys go out with the next one", async () => {
    const dir = join(tempDir(), "fail");
    const { store, stats, snaps, handle, errors } = await openDirect(dir);
    const spy = spyOn(snaps);
    store.set("a", "gcounter", counter(1), "local");
    store.set("b", "gcounter", counter(2), "local");
    spy.failNext = true;
    assert.equal(await handle.flush(), false);
    assert.equal(stats.snapshotFailureCount, 1);
    assert.equal(stats.snapshotWriteCount, 0);
    assert.equal(errors.length, 1);
    assert.equal(snaps.pending, 2, "the keys stay dirty");
    store.set("c", "gcounter", counter(3), "local");
    assert.equal(await handle.flush(), true);
    assert.deepEqual(spy.puts.sort(), ["m/meta", "v/a", "v/b", "v/c"]);
    assert.equal(stats.snapshotWriteCount, 1);
    await handle.close();
    const back = await openDirect(dir);
    assert.deepEqual([...back.store.keys()].sort(), ["a", "b", "c"]);
    assert.equal(back.snaps.restore.values, 3);
    await back.handle.close();
  });

  test("a 100k-key write yields to the event loop while it encodes", async () => {
    const dir = join(tempDir(), "big");
    const { store, handle } = await openDirect(dir);
    for (let i = 0; i < 100_000; i++) store.set(`key-${i}`, "gcounter", counter(i + 1), "local");
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      assert.equal(await handle.flush(), true);
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks >= 3, `timers ran ${ticks} times during the write`);
    await handle.close();
  });

  test("a running replicator writes its changes at its interval", async () => {
    server = await startNatsServer();
    const dir = join(tempDir(), "rep");
    const r = await Replicator.start({ nodeId: "r", nats: { servers: server.url }, ...FAST, snapshot: { dir, intervalMs: 50 } });
    try {
      for (let i = 0; i < 200; i++) await r.update(Key.gcounter(`c${i}`), (v, self) => v.increment(self, 1));
      await waitFor(() => r.stats.snapshotWriteCount >= 1, { message: "first periodic write" });
      const before = r.stats.snapshotWriteCount;
      await r.update(Key.gcounter("c0"), (v, self) => v.increment(self, 1));
      await waitFor(() => r.stats.snapshotWriteCount > before, { message: "another write after a change" });
      assert.equal(r.stats.snapshotFailureCount, 0);
    } finally {
      await r.close();
    }
    const entries = await readSnapshotDir(dir);
    assert.equal([...entries.keys()].filter((k) => k.startsWith("v/")).length, 200);
  });
});
