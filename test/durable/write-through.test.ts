/**
 * Durable writes (issue 15): group commit on the snapshot's write queue, each write resolving only
 * after the LevelDB batch holding it; a failed batch rejects its waiting writes with
 * DurableWriteError (the change stays in memory and is retried at the next interval); `sync`
 * fsyncs every batch; with the option off, writes stay write-behind. Crash survival itself is
 * proven with real processes in write-through-crash.test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setImmediate as turn } from "node:timers/promises";
import { Level } from "level";
import type { Snapshots } from "../../src/durable/snapshots.js";
import { DurableWriteError, GCounter, InvalidArgumentError, Key, Replicator, type Crdt, type ReplicatorOptions } from "../../src/index.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { openDirect, readSnapshotDir, removeTempDirs, tempDir } from "./helpers.js";

interface Batch {
  put(k: string, v: Uint8Array): Batch;
  write(o?: { sync?: boolean }): Promise<void>;
}

interface BatchSpy {
  /** Every batch started: the keys put, the sync flag, whether its write completed. */
  batches: { puts: string[]; sync: boolean | undefined; written: boolean }[];
  /** While true, each batch's write waits until its release (in `held`) is called. */
  hold: boolean;
  held: (() => void)[];
}

/** Record the batches of one snapshot database, and hold their writes on demand. */
function spyOn(s: Snapshots): BatchSpy {
  const spy: BatchSpy = { batches: [], hold: false, held: [] };
  const db = (s as unknown as { db: { batch(): Batch } }).db;
  const original = db.batch.bind(db);
  db.batch = () => {
    const b = original();
    const record = { puts: [] as string[], sync: undefined as boolean | undefined, written: false };
    spy.batches.push(record);
    const put = b.put.bind(b);
    const write = b.write.bind(b);
    b.put = (k, v) => (record.puts.push(k), put(k, v));
    b.write = async (o) => {
      record.sync = o?.sync;
      if (spy.hold) await new Promise<void>((release) => spy.held.push(release));
      await write(o);
      record.written = true;
    };
    return b;
  };
  return spy;
}

/** Make every chained LevelDB batch fail to write until the returned function is called. */
function failBatches(): () => void {
  const proto = Level.prototype as unknown as { batch(this: unknown, ...args: unknown[]): unknown };
  const original = proto.batch;
  proto.batch = function (this: unknown, ...args: unknown[]) {
    const b = original.apply(this, args) as Batch & { close(): Promise<void> };
    if (args.length === 0) b.write = () => Promise.reject(new Error("injected: no space left on device"));
    return b;
  };
  return () => {
    delete (proto as { batch?: unknown }).batch; // back to the inherited one
    assert.equal(proto.batch, original);
  };
}

/** Track how many chained LevelDB batch writes run at once, across every database of this process. */
function countConcurrentWrites(): { max(): number; restore(): void } {
  const proto = Level.prototype as unknown as { batch(this: unknown, ...args: unknown[]): unknown };
  const original = proto.batch;
  let now = 0;
  let max = 0;
  proto.batch = function (this: unknown, ...args: unknown[]) {
    const b = original.apply(this, args) as Batch;
    const write = b.write.bind(b);
    b.write = async (o) => {
      max = Math.max(max, ++now);
      try {
        await write(o);
      } finally {
        now--;
      }
    };
    return b;
  };
  return {
    max: () => max,
    restore: () => void delete (proto as { batch?: unknown }).batch,
  };
}

const counter = (n: number): GCounter => GCounter.empty().increment("n", n).resetDelta();
const valuePuts = (puts: string[]): string[] => puts.filter((k) => k.startsWith("v/"));

describe("durable writes: group commit", () => {
  after(removeTempDirs);

  test("writes made while a batch is written wait, and all go together in the next batch", async () => {
    const dir = join(tempDir(), "group");
    const { store, snaps, handle } = await openDirect(dir);
    const spy = spyOn(snaps);
    spy.hold = true;
    const resolved: string[] = [];
    const write = (key: string, n: number): Promise<void> => {
      store.set(key, "gcounter", counter(n), "local");
      return handle.persist(key).then(() => void resolved.push(key));
    };

    const first = write("k0", 1);
    await waitFor(() => spy.held.length === 1, { message: "first batch being written" });
    const later: Promise<void>[] = [];
    for (let i = 1; i <= 100; i++) {
      later.push(write(`k${i}`, i));
      await turn(); // each in its own event-loop turn, all while the first batch is written
    }
    assert.equal(spy.batches.length, 1, "no second batch while the first is being written");
    assert.deepEqual(resolved, [], "nothing resolves before its batch is written");

    spy.held.shift()!();
    await first;
    assert.deepEqual(resolved, ["k0"]);
    await waitFor(() => spy.held.length === 1, { message: "second batch being written" });
    assert.equal(spy.batches.length, 2);
    assert.equal(valuePuts(spy.batches[1]!.puts).length, 100, "the 100 waiting writes share one batch");
    assert.ok(spy.batches[1]!.puts.includes("m/meta"), "with the meta, as the periodic writer writes it");
    assert.deepEqual(resolved, ["k0"], "they resolve only after their batch");

    spy.hold = false;
    spy.held.shift()!();
    await Promise.all(later);
    assert.equal(resolved.length, 101);
    assert.equal(spy.batches.length, 2);
    assert.ok(spy.batches.every((b) => b.written && b.sync === false), "written, not fsynced (sync is off)");

    await handle.close();
    const entries = await readSnapshotDir(dir);
    assert.equal(valuePuts([...entries.keys()]).length, 101);
  });

  test("a failed batch rejects its waiting writes with DurableWriteError; the keys are retried", async () => {
    const dir = join(tempDir(), "fail");
    const { store, stats, snaps, handle } = await openDirect(dir);
    const restore = failBatches();
    let rejections: PromiseSettledResult<void>[];
    try {
      store.set("a", "gcounter", counter(1), "local");
      store.set("b", "gcounter", counter(2), "local");
      rejections = await Promise.allSettled([handle.persist("a"), handle.persist("b")]);
    } finally {
      restore();
    }
    for (const r of rejections) {
      assert.ok(r.status === "rejected" && r.reason instanceof DurableWriteError, `rejected with DurableWriteError: ${String((r as PromiseRejectedResult).reason)}`);
      assert.match((r.reason as Error).message, /no space left on device/);
    }
    assert.equal(stats.snapshotFailureCount, 1);
    assert.equal(snaps.pending, 2, "the keys stay dirty for the next write");

    // One value that cannot be encoded: its write rejects, the others in the batch are durable.
    store.set("bad", "gcounter", { kind: "gcounter" } as unknown as Crdt, "local");
    store.set("c", "gcounter", counter(3), "local");
    const [bad, good] = await Promise.allSettled([handle.persist("bad"), handle.persist("c")]);
    assert.ok(bad.status === "rejected" && bad.reason instanceof DurableWriteError && /cannot be encoded/.test((bad.reason as Error).message));
    assert.equal(good.status, "fulfilled");
    store.set("bad", "gcounter", counter(4), "local"); // a good value again, written at close
    await handle.close();
    const back = await openDirect(dir);
    assert.deepEqual([...back.store.keys()].sort(), ["a", "b", "bad", "c"]);
    await back.handle.close();
  });

  test("with sync, every batch is fsynced; persist after close rejects", async () => {
    const { store, snaps, handle } = await openDirect(join(tempDir(), "sync"), "n", { sync: true });
    const spy = spyOn(snaps);
    store.set("a", "gcounter", counter(1), "local");
    await handle.persist("a");
    store.set("b", "gcounter", counter(1), "local");
    assert.equal(await handle.flush(), true); // a periodic write
    assert.deepEqual(spy.batches.map((b) => b.sync), [true, true]);
    await handle.close();
    await assert.rejects(handle.persist("a"), DurableWriteError);
  });
});

describe("durable writes through the replicator", () => {
  let server: NatsServer;
  const running: Replicator[] = [];
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await Promise.allSettled(running.map((r) => r.close()));
    await server?.stop();
    removeTempDirs();
  });
  const start = async (snapshot?: ReplicatorOptions["snapshot"], nodeId = `d${running.length}`): Promise<Replicator> => {
    const r = await Replicator.start({ nodeId, nats: { servers: server.url }, ...FAST, snapshot });
    running.push(r);
    return r;
  };
  const inc = (c: GCounter, self: string): GCounter => c.increment(self, 1);

  test("writeThrough: each update and delete resolves after a batch; a burst of 1000 shares few batches", async () => {
    const r = await start({ dir: join(tempDir(), "wt"), intervalMs: 3_600_000, writeThrough: true });
    const before = r.stats.snapshotWriteCount;
    await r.update(Key.gcounter("one"), inc);
    assert.equal(r.stats.snapshotWriteCount, before + 1, "resolved after its batch");
    await r.delete(Key.gcounter("one"));
    assert.equal(r.stats.snapshotWriteCount, before + 2);

    const burst = r.stats.snapshotWriteCount;
    await Promise.all(Array.from({ length: 1000 }, (_, i) => r.update(Key.gcounter(`c${i % 50}`), inc)));
    const batches = r.stats.snapshotWriteCount - burst;
    assert.ok(batches >= 1 && batches <= 2, `1000 concurrent updates in ${batches} batches`);

    // 20 clients, each waiting for its own write before the next: still far fewer batches than writes.
    const clients = r.stats.snapshotWriteCount;
    await Promise.all(
      Array.from({ length: 20 }, async (_, c) => {
        for (let i = 0; i < 25; i++) await r.update(Key.gcounter(`client-${c}`), inc);
      }),
    );
    const used = r.stats.snapshotWriteCount - clients;
    assert.ok(used <= 50, `500 writes of 20 sequential clients in ${used} batches`);

    // Per call, write-behind is still available.
    const quiet = r.stats.snapshotWriteCount;
    await r.update(Key.gcounter("fast"), inc, { durable: false });
    assert.equal(r.stats.snapshotWriteCount, quiet);
    assert.equal(r.stats.snapshotFailureCount, 0);
  });

  test("a failed LevelDB write rejects the update with DurableWriteError; the change stands and is written later", async () => {
    const dir = join(tempDir(), "wt-fail");
    const r = await start({ dir, intervalMs: 3_600_000, writeThrough: true });
    const k = Key.gcounter("hits");
    const restore = failBatches();
    try {
      await assert.rejects(r.update(k, inc), DurableWriteError);
      await assert.rejects(r.delete(Key.gcounter("other")), DurableWriteError);
      await assert.rejects(r.update(k, inc, { writeTo: "local" }), DurableWriteError);
    } finally {
      restore();
    }
    assert.equal(r.get(k)?.value, 2, "the local writes stand in memory");
    assert.ok(r.stats.snapshotFailureCount >= 1);
    await r.update(k, inc); // the next batch carries the earlier, failed changes too
    await r.close();
    const entries = await readSnapshotDir(dir);
    const v = entries.get("v/hits");
    assert.ok(v?.type === "value" && v.value instanceof GCounter && v.value.value === 3);
    assert.equal(entries.get("t/other")?.type, "tombstone");
  });

  test("durable and periodic batches never overlap; writes in flight at close resolve and the close stays clean", async () => {
    const dir = join(tempDir(), "race");
    const r = await start({ dir, intervalMs: 5, writeThrough: true }); // a periodic pass every 5 ms
    const { max, restore } = countConcurrentWrites();
    let inFlight: Promise<unknown>[] = [];
    try {
      for (let round = 0; round < 20; round++) {
        inFlight = Array.from({ length: 50 }, (_, i) => r.update(Key.gcounter(`k${i % 10}`), inc));
        await Promise.all(inFlight);
        await new Promise((res) => setTimeout(res, 2)); // let periodic passes fall between the rounds
      }
      // 200 more, not awaited, then close at once.
      inFlight = Array.from({ length: 200 }, (_, i) => r.update(Key.gcounter(`k${i % 10}`), inc));
      await r.close();
    } finally {
      restore();
    }
    const settled = await Promise.allSettled(inFlight);
    assert.ok(settled.every((x) => x.status === "fulfilled"), "writes in flight at close resolve (the final batch holds them)");
    assert.equal(max(), 1, "one batch at a time");
    const entries = await readSnapshotDir(dir);
    const meta = entries.get("m/meta");
    assert.ok(meta?.type === "meta" && meta.cleanShutdown && meta.writerId === r.writerId, "the final batch marks the close clean");
    const again = await start({ dir, intervalMs: 3_600_000, writeThrough: true }, r.nodeId);
    assert.equal(again.writerId, r.writerId, "a clean close keeps the writer id");
    let total = 0;
    for (let i = 0; i < 10; i++) total += again.get(Key.gcounter(`k${i}`))?.value ?? 0;
    assert.equal(total, 20 * 50 + 200, "exactly every write");
  });

  test("write-behind is unchanged when the option is off; durable: true per call; durable without snapshot is refused", async () => {
    const dir = join(tempDir(), "wb");
    const r = await start({ dir, intervalMs: 3_600_000 });
    for (let i = 0; i < 100; i++) await r.update(Key.gcounter(`k${i}`), inc);
    await r.delete(Key.gcounter("k0"));
    assert.equal(r.stats.snapshotWriteCount, 0, "no batch before the interval");
    await r.update(Key.gcounter("k1"), inc, { durable: true });
    assert.equal(r.stats.snapshotWriteCount, 1, "a durable call writes the pending changes in one batch");
    await r.close();
    const entries = await readSnapshotDir(dir);
    assert.equal(valuePuts([...entries.keys()]).length, 99);

    const plain = await start();
    await assert.rejects(plain.update(Key.gcounter("x"), inc, { durable: true }), (e) => e instanceof InvalidArgumentError && /needs the snapshot option/.test(e.message));
    assert.equal(plain.get(Key.gcounter("x")), undefined, "refused before anything is applied");
  });
});
