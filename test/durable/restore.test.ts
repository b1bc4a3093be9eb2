/**
 * Whole-cluster restore: three nodes write, close cleanly, the broker is replaced by a new, empty
 * nats-server, and the nodes come back from their snapshot directories alone — data, deletions
 * and writer ids intact. And: data restored from a snapshot reaches a node that joins afterwards.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { GSet, Key, KeyDeletedError, LWWRegister, ORSet, PNCounter, Replicator, type ReplicatorOptions } from "../../src/index.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { removeTempDirs, tempDir } from "./helpers.js";

const hits = Key.gcounter("hits");
const balance = Key.pncounter("balance");
const tags = Key.orset<string>("tags");
const seen = Key.gset<number>("seen");
const owner = Key.lwwRegister<string>("owner");
const gone = Key.gcounter("gone");
const goneSet = Key.orset<string>("gone-set");

describe("restore from snapshots", () => {
  const servers: NatsServer[] = [];
  const nodes: Replicator[] = [];
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await Promise.allSettled(servers.map((s) => s.stop()));
    removeTempDirs();
  });
  const start = async (server: NatsServer, nodeId: string, extra: Partial<ReplicatorOptions> = {}): Promise<Replicator> => {
    const r = await Replicator.start({ nodeId, nats: { servers: server.url }, ...FAST, ...extra });
    nodes.push(r);
    return r;
  };
  const closeAll = async (): Promise<void> => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  };

  test("a 3-node cluster restarts on a new, empty broker with every node's data and deletions", async () => {
    const root = tempDir();
    const ids = ["a", "b", "c"];
    const snapshot = (id: string): ReplicatorOptions["snapshot"] => ({ dir: join(root, id), intervalMs: 60_000 });
    const first = await startNatsServer();
    servers.push(first);
    for (const id of ids) await start(first, id, { snapshot: snapshot(id) });
    await waitFor(() => nodes.every((n) => n.members().filter((m) => m.counted).length === 3), { timeoutMs: 15_000, message: "members" });

    const [a, b, c] = nodes as [Replicator, Replicator, Replicator];
    await Promise.all(nodes.map((n, i) => n.update(hits, (v, self) => v.increment(self, (i + 1) * 10))));
    await a.update(balance, (v, self) => v.increment(self, 100));
    await b.update(balance, (v, self) => v.decrement(self, 30));
    for (const [i, n] of nodes.entries()) await n.update(tags, (v, self) => v.add(self, `t${i}`));
    await waitFor(() => c.get(tags)?.size === 3, { message: "c sees every tag" });
    await c.update(tags, (v) => v.remove("t0"));
    await a.update(seen, (v, self) => v.add(self, 1).add(self, 2));
    await b.update(owner, (v, self) => v.set(self, "bob"));
    await a.update(gone, (v, self) => v.increment(self, 5));
    await b.update(goneSet, (v, self) => v.add(self, "x"));
    await waitFor(() => nodes.every((n) => n.get(gone)?.value === 5 && n.get(goneSet)?.has("x") === true), { message: "before delete" });
    await c.delete(gone, { writeTo: "all" });
    await a.delete(goneSet);

    const expectAll = (n: Replicator): void => {
      assert.equal(n.get(hits)?.value, 60, `${n.nodeId} hits`);
      assert.equal(n.get(balance)?.value, 70, `${n.nodeId} balance`);
      assert.deepEqual(n.get(tags)?.elements, ["t1", "t2"], `${n.nodeId} tags`);
      assert.deepEqual(n.get(seen)?.elements, [1, 2], `${n.nodeId} seen`);
      assert.equal(n.get(owner)?.value, "bob", `${n.nodeId} owner`);
      assert.equal(n.get(gone), undefined, `${n.nodeId} gone`);
      assert.equal(n.get(goneSet), undefined, `${n.nodeId} gone-set`);
      assert.equal(n.tombstoneCount, 2, `${n.nodeId} tombstones`);
    };
    await waitFor(
      () => {
        nodes.forEach(expectAll);
        return true;
      },
      { timeoutMs: 15_000, message: "converged before close" },
    );
    const writerIds = new Map(nodes.map((n) => [n.nodeId, n.writerId]));
    await closeAll();
    await first.stop();

    // A new broker: it holds nothing (no JetStream, no retained messages), nor do the peers yet.
    const second = await startNatsServer();
    servers.push(second);
    for (const id of ids) {
      const n = await start(second, id, { snapshot: snapshot(id) });
      // Checked at once, before any peer could have sent anything: the data came from disk.
      expectAll(n);
      assert.equal(n.writerId, writerIds.get(id), `${id} reuses its writer id after a clean close`);
      assert.equal(n.stats.snapshotSkippedEntries, 0);
      assert.ok(n.get(tags) instanceof ORSet && n.get(balance) instanceof PNCounter);
      assert.ok(n.get(seen) instanceof GSet && n.get(owner) instanceof LWWRegister);
    }
    await waitFor(() => nodes.every((n) => n.members().filter((m) => m.counted).length === 3), { timeoutMs: 15_000, message: "members again" });

    // Deleted keys stay deleted on every node.
    for (const n of nodes) {
      await assert.rejects(n.update(gone, (v, self) => v.increment(self, 1)), KeyDeletedError);
      await assert.rejects(n.update(goneSet, (v, self) => v.add(self, "y")), KeyDeletedError);
    }
    // And writing goes on from where it was (the reused writer ids hide nothing).
    await Promise.all(nodes.map((n) => n.update(hits, (v, self) => v.increment(self, 1))));
    await waitFor(() => nodes.every((n) => n.get(hits)?.value === 63), {
      message: "63 everywhere",
      describe: () => nodes.map((n) => n.get(hits)?.value),
    });
    await closeAll();
  });

  test("data restored from a snapshot reaches a node that joins afterwards (digests include it)", async () => {
    const dir = join(tempDir(), "solo");
    const first = await startNatsServer();
    servers.push(first);
    const solo = await start(first, "solo", { snapshot: { dir, intervalMs: 60_000 } });
    for (let i = 0; i < 50; i++) await solo.update(Key.gcounter(`k${i}`), (v, self) => v.increment(self, i + 1));
    await solo.delete(Key.gcounter("k0"));
    await closeAll();
    await first.stop();

    const second = await startNatsServer();
    servers.push(second);
    const back = await start(second, "solo", { snapshot: { dir, intervalMs: 60_000 } });
    assert.equal(back.size, 49);
    const fresh = await start(second, "fresh");
    await waitFor(() => fresh.size === 49 && fresh.tombstoneCount === 1, {
      timeoutMs: 20_000,
      message: "the joiner pulled the restored data",
      describe: () => [fresh.size, fresh.tombstoneCount],
    });
    assert.equal(fresh.get(Key.gcounter("k49"))?.value, 50);
    await assert.rejects(fresh.update(Key.gcounter("k0"), (v, self) => v.increment(self, 1)), KeyDeletedError);
    assert.equal(back.size, 49);
    await closeAll();
  });
});
