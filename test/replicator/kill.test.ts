/**
 * A member in its own OS process killed with SIGKILL (no leave, no flush): the survivors' majority
 * writes still succeed, `writeTo: "all"` rejects with WriteTimeoutError while the dead member is
 * still counted (removalTimeoutMs is far beyond the test), and that write still replicates to the
 * other live node.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Key, Replicator, WriteTimeoutError, type ReplicatorOptions } from "../../src/index.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { startChildNode, type ChildNode } from "./fixtures/child-node.js";

const TIMINGS: Partial<ReplicatorOptions> = {
  heartbeatIntervalMs: 200,
  failureTimeoutMs: 1_500,
  removalTimeoutMs: 120_000, // the dead member stays counted for the whole test
  coordinationTimeoutMs: 2_000,
};

describe("a member killed with SIGKILL", () => {
  let server: NatsServer;
  let child: ChildNode | undefined;
  const nodes: Replicator[] = [];
  before(async () => {
    server = await startNatsServer();
    const opts = (nodeId: string): ReplicatorOptions => ({ nodeId, nats: { servers: server.url }, ...TIMINGS });
    nodes.push(await Replicator.start(opts("a")), await Replicator.start(opts("b")));
    child = await startChildNode(opts("c"));
    await waitFor(() => nodes.every((n) => n.members().filter((m) => m.counted).length === 3), { timeoutMs: 15_000, message: "a and b admit c" });
  });
  after(async () => {
    await child?.kill();
    await Promise.allSettled(nodes.map((n) => n.close()));
    await server?.stop();
  });

  test("majority still succeeds, all times out, the local write replicates to the live node", async () => {
    const [a, b] = nodes as [Replicator, Replicator];
    const k = Key.gcounter("k");
    // The child takes part before it dies: its coordinated write reaches everyone.
    assert.equal(await child!.send({ op: "increment", key: "k", by: 100, writeTo: "all" }), 100);
    await waitFor(() => a.get(k)?.value === 100 && b.get(k)?.value === 100);

    await child!.kill();
    // Counted until removal: 3 known members, so majority = 2 and all = 3.
    assert.deepEqual(a.members().map((m) => m.node), ["a", "b", "c"]);

    await a.update(k, (v, self) => v.increment(self, 1), { writeTo: "majority" });
    assert.equal(b.get(k)?.value, 101, "b acknowledged, so it holds the write");
    await b.update(k, (v, self) => v.increment(self, 1), { writeTo: "majority", timeoutMs: 2_000 });
    assert.equal(a.get(k)?.value, 102);

    const started = Date.now();
    await assert.rejects(
      a.update(k, (v, self) => v.increment(self, 10), { writeTo: "all", timeoutMs: 3_000 }),
      (e: unknown) => e instanceof WriteTimeoutError && e.name === "WriteTimeoutError" && /2 of 3/.test(e.message),
    );
    assert.ok(Date.now() - started <= 3_000 + 1_000, "rejects within its timeout");
    assert.equal(a.get(k)?.value, 112, "the local write stands");
    await waitFor(() => b.get(k)?.value === 112, { message: "the timed-out write still replicates to b" });
    await assert.rejects(a.update(k, (v, self) => v.increment(self, 1), { writeTo: { count: 3 }, timeoutMs: 1_000 }), WriteTimeoutError);
    await waitFor(() => b.get(k)?.value === 113);

    // Once c is unreachable (not yet removed) nothing changes: it is still counted, majority still works.
    await waitFor(() => a.members().some((m) => m.node === "c" && !m.reachable), { message: "c unreachable" });
    assert.equal(a.members().length, 3);
    await b.update(k, (v, self) => v.increment(self, 1), { writeTo: "majority" });
    assert.equal(a.get(k)?.value, 114);
    await assert.rejects(b.update(k, (v, self) => v.increment(self, 1), { writeTo: "all", timeoutMs: 1_000 }), WriteTimeoutError);
    await waitFor(() => a.get(k)?.value === 115);
  });

  test("the member restarted (same id, new process) catches up, and its writes replicate", async () => {
    const [a, b] = nodes as [Replicator, Replicator];
    const k = Key.gcounter("k");
    const before = a.get(k)!.value;
    const old = child!.incarnation;
    child = await startChildNode({ nodeId: "c", nats: { servers: server.url }, ...TIMINGS });
    assert.ok(child.incarnation > old, "a new incarnation");
    // Its join round pulls what it missed; membership replaces the old incarnation at once.
    await waitFor(async () => (await child!.send({ op: "get", key: "k" })) === before, { message: "the restarted c caught up" });
    // It may have come back empty: it counts toward a's quorums again once re-admitted (after a round).
    await waitFor(() => a.members().filter((m) => m.node === "c" && m.reachable && m.counted).length === 1, { message: "a counts the restarted c" });
    assert.equal(await child.send({ op: "increment", key: "k", by: 1000 }), before + 1000);
    await waitFor(() => a.get(k)?.value === before + 1000 && b.get(k)?.value === before + 1000, { message: "c's new writes replicate" });
    // Nothing it sent was taken for an impostor: membership knew the new incarnation first.
    for (const n of [a, b]) assert.equal((n.stats.rejected.get("forged-origin") ?? 0) + (n.stats.rejected.get("stale-incarnation") ?? 0), 0);
    await a.update(k, (v, self) => v.increment(self, 1), { writeTo: "all" });
    assert.equal(await child.send({ op: "get", key: "k" }), before + 1001);
  });
});
