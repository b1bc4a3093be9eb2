/**
 * A coordinated write made the moment a node starts — before the members it knows of are admitted
 * in its view — waits for them within its timeout instead of failing at once, and a write whose
 * quorum cannot be met fails only at its deadline (never in a tight loop of instant rejections).
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Key, ReadTimeoutError, Replicator, WriteTimeoutError } from "../../src/index.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";

let cluster: TestCluster | undefined;
after(async () => {
  await cluster?.close();
});

test("a majority write issued right after start resolves once the peers are admitted", { timeout: 60_000 }, async () => {
  cluster = await startCluster(["a", "b"]);
  const c = await cluster.add("c", { coordinationTimeoutMs: 10_000 });
  const k = Key.gcounter("admission");
  // No await in between: c has not heard a single heartbeat yet.
  const counted = c.members().filter((m) => m.counted && !m.self).length;
  const written = await c.update(k, (v, self) => v.increment(self, 1), { writeTo: "all" });
  assert.equal(counted, 0, "the write was issued before any peer counted in c's view");
  assert.equal(written.value, 1);
  for (const n of cluster.nodes) assert.equal(n.get(k)?.value, 1, `${n.nodeId} acknowledged the write`);
});

test("a quorum that cannot be met fails at the deadline, not before", { timeout: 60_000 }, async () => {
  const c = cluster!.nodes[2]!;
  const started = performance.now();
  await assert.rejects(c.update(Key.gcounter("unreachable"), (v, self) => v.increment(self, 1), { writeTo: { count: 9 }, timeoutMs: 700 }), WriteTimeoutError);
  const took = performance.now() - started;
  assert.ok(took >= 650, `rejected after ${took.toFixed(0)} ms, before its 700 ms deadline`);
});

test("minClusterSize: a node that knows no member cannot acknowledge a majority write alone", { timeout: 60_000 }, async () => {
  const server = cluster!.server;
  const k = Key.gcounter("floor");
  // Its own bus subject space: it hears none of the running members, as if cut off from them all.
  const lone = await Replicator.start({ nodeId: "lone", nats: { servers: server.url }, subject: "floor.deltas", minClusterSize: 3 });
  try {
    assert.equal(lone.members().length, 1);
    await assert.rejects(lone.update(k, (v, self) => v.increment(self, 1), { writeTo: "majority", timeoutMs: 500 }), WriteTimeoutError);
    await assert.rejects(lone.get(k, { readFrom: "majority", timeoutMs: 500 }), ReadTimeoutError);
    assert.equal(lone.get(k)?.value, 1, "the local write stands");
  } finally {
    await lone.close();
  }
  // Without the floor the same node is its own majority (N = 1): the documented assumption.
  const bare = await Replicator.start({ nodeId: "bare", nats: { servers: server.url }, subject: "bare.deltas" });
  try {
    const v = await bare.update(k, (c, self) => c.increment(self, 1), { writeTo: "majority", timeoutMs: 500 });
    assert.equal(v.value, 1);
  } finally {
    await bare.close();
  }
});
