/**
 * Corrupt snapshot entries are skipped and counted, never fatal: the other keys restore and the
 * node runs. A corrupt meta entry counts too and costs only the writer-id reuse.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DecodeError, Key, KeyDeletedError, Replicator, type ReplicatorOptions } from "../../src/index.js";
import { GCounter } from "../../src/crdt/index.js";
import { Snapshots } from "../../src/durable/snapshots.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { Store } from "../../src/replicator/store.js";
import { decodeSnapshotEntry, encodeSnapshotEntry } from "../../src/wire/codec.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { putRaw, readSnapshotDir, removeTempDirs, tempDir } from "./helpers.js";

const garbage = new TextEncoder().encode("not a protobuf \xff\xff\xff");

describe("corrupt snapshot entries", () => {
  let server: NatsServer;
  const nodes: Replicator[] = [];
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await server?.stop();
    removeTempDirs();
  });
  const start = async (nodeId: string, dir: string, extra: Partial<ReplicatorOptions> = {}): Promise<Replicator> => {
    const r = await Replicator.start({ nodeId, nats: { servers: server.url }, ...FAST, snapshot: { dir, intervalMs: 60_000 }, ...extra });
    nodes.push(r);
    return r;
  };

  test("garbage under v/x is skipped and counted; every other key restores", async () => {
    assert.throws(() => decodeSnapshotEntry(garbage), DecodeError, "the garbage really is undecodable");
    const dir = join(tempDir(), "n1");
    const r = await start("n1", dir);
    for (const id of ["x", "y", "z"]) await r.update(Key.gcounter(id), (v, self) => v.increment(self, id.charCodeAt(0)));
    await r.update(Key.orset<string>("s"), (v, self) => v.add(self, "e"));
    await r.update(Key.gcounter("d"), (v, self) => v.increment(self, 1));
    await r.delete(Key.gcounter("d"));
    const writerId = r.writerId;
    await r.close();

    const y = (await readSnapshotDir(dir)).get("v/y");
    assert.ok(y?.type === "value");
    await putRaw(dir, [
      ["v/x", garbage], // corrupt value
      ["t/q", garbage], // corrupt tombstone
      ["v/e", new Uint8Array(0)], // empty entry
      ["v/w", encodeSnapshotEntry(y)], // a valid entry under the wrong key (it says "y")
      ["v/t", encodeSnapshotEntry({ type: "tombstone", key: "t", kind: "gcounter", deletedAtMs: 1, originNode: "n1" })], // wrong type for v/
      ["zz/future", garbage], // not one of ours (a newer version's): ignored, not counted
    ]);

    const back = await start("n1", dir);
    assert.equal(back.stats.snapshotSkippedEntries, 5);
    assert.equal(back.get(Key.gcounter("x")), undefined);
    assert.equal(back.get(Key.gcounter("y"))?.value, "y".charCodeAt(0));
    assert.equal(back.get(Key.gcounter("z"))?.value, "z".charCodeAt(0));
    assert.deepEqual(back.get(Key.orset<string>("s"))?.elements, ["e"]);
    assert.deepEqual(back.keys().sort(), ["s", "y", "z"]);
    await assert.rejects(back.update(Key.gcounter("d"), (v, self) => v.increment(self, 1)), KeyDeletedError);
    assert.equal(back.writerId, writerId, "the meta was intact: the clean close's writer id is reused");
    // The node works normally, and a rewritten key replaces its corrupt entry.
    await back.update(Key.gcounter("x"), (v, self) => v.increment(self, 7));
    await back.close();
    const entries = await readSnapshotDir(dir);
    assert.ok(entries.get("v/x")?.type === "value", "x rewritten");
    const again = await start("n1", dir);
    assert.equal(again.get(Key.gcounter("x"))?.value, 7);
    assert.equal(again.stats.snapshotSkippedEntries, 4, "the other corrupt entries are still there, counted again");
    await again.close();
  });

  test("a corrupt meta entry is counted and only costs the writer-id reuse", async () => {
    const dir = join(tempDir(), "n2");
    const r = await start("n2", dir);
    await r.update(Key.gcounter("c"), (v, self) => v.increment(self, 3));
    const writerId = r.writerId;
    await r.close();
    await putRaw(dir, [["m/meta", garbage]]);
    const back = await start("n2", dir);
    assert.equal(back.stats.snapshotSkippedEntries, 1);
    assert.equal(back.get(Key.gcounter("c"))?.value, 3);
    assert.notEqual(back.writerId, writerId, "without a readable clean meta the node writes under a fresh id");
    await back.close();
  });

  test("a snapshot written by another node id restores its data but not its writer id", async () => {
    const dir = join(tempDir(), "n3");
    const r = await start("n3", dir);
    await r.update(Key.gcounter("c"), (v, self) => v.increment(self, 4));
    await r.close();
    const other = await start("n4", dir);
    assert.equal(other.get(Key.gcounter("c"))?.value, 4);
    assert.ok(other.writerId.startsWith("n4~"));
    await other.close();
  });
});

describe("corrupt value entries on the restore fast path", () => {
  after(() => removeTempDirs());

  test("counter entries that are well-framed but wrong are skipped and counted; the rest restore", async () => {
    const dir = join(tempDir(), "fast");
    const entry = (key: string, value: GCounter): Uint8Array =>
      encodeSnapshotEntry({ type: "value", key, kind: "gcounter", originNode: "n1", value });
    const good = entry("good", GCounter.empty().increment("a~1", 5).increment("b~1", 6));
    const zero = entry("zero", GCounter.empty().increment("a~1", 9));
    zero[zero.length - 1] = 0; // the slot's value becomes 0: not a valid GCounter
    const truncated = entry("cut", GCounter.empty().increment("a~1", 300));
    const unsorted = entry("unsorted", GCounter.empty().increment("a~1", 1).increment("b~1", 2));
    unsorted[unsorted.indexOf(0x61 /* "a" */, 20)] = 0x63; // "c~1" before "b~1": slots out of order
    const fresh = () => ({ store: new Store(), stats: new ReplicatorStats(), writerId: undefined as string | undefined });
    await (await Snapshots.open({ dir, intervalMs: 60_000 }, fresh(), "n1")).close(); // create the database
    await putRaw(dir, [
      ["v/good", good],
      ["v/zero", zero],
      ["v/cut", truncated.subarray(0, truncated.length - 1)],
      ["v/unsorted", unsorted],
      ["v/other", good], // a valid entry under the wrong key (it says "good")
      ["v/ünï", entry("ünï", GCounter.empty().increment("a~1", 3))], // non-ASCII key: the generic path
    ]);
    const target = fresh();
    const snaps = await Snapshots.open({ dir, intervalMs: 60_000 }, target, "n1");
    try {
      assert.equal(snaps.restore.skipped, 4);
      assert.equal(target.stats.snapshotSkippedEntries, 4);
      assert.deepEqual([...target.store.keys()].sort(), ["good", "ünï"]);
      assert.equal((target.store.get("good")?.value as GCounter).value, 11);
      assert.equal((target.store.get("ünï")?.value as GCounter).value, 3);
    } finally {
      await snaps.close();
    }
  });
});
