/**
 * Delete: a tombstone everywhere, subscribers told `undefined`, updates rejected with
 * KeyDeletedError on every node, deltas for the key ignored (and counted), and the prune tick
 * expiring the tombstone after `tombstoneTtlMs`, after which the key can be written afresh.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GCounter, Key, KeyDeletedError, type Replicator } from "../../src/index.js";
import { encodeDeltaEnvelope } from "../../src/wire/codec.js";
import { clusterWithRaw } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

const TTL_MS = 4_000;

describe("delete", () => {
  const cluster = clusterWithRaw(["a", "b", "c"], { pruneIntervalMs: 200, tombstoneTtlMs: TTL_MS });

  test("tombstone everywhere, KeyDeletedError everywhere, late deltas ignored, then expiry", async () => {
    const nodes = cluster.c.nodes as [Replicator, Replicator, Replicator];
    const [a, b] = nodes;
    const k = Key.gcounter("doomed");
    const other = Key.gcounter("survivor");
    await a.update(k, (v, self) => v.increment(self, 5));
    await b.update(other, (v, self) => v.increment(self, 1));
    await waitFor(() => nodes.every((n) => n.get(k)?.value === 5 && n.get(other)?.value === 1));

    const seen = nodes.map(() => [] as (number | undefined)[]);
    nodes.forEach((n, i) => n.subscribe(k, (v) => seen[i]!.push(v?.value)));

    const deletedAt = Date.now();
    await a.delete(k, { writeTo: "all" });
    // writeTo "all": every node holds the tombstone when the call resolves.
    for (const [i, n] of nodes.entries()) {
      assert.equal(n.get(k), undefined, `${n.nodeId}: value gone`);
      assert.ok(!n.keys().includes("doomed"), `${n.nodeId}: not listed`);
      assert.equal(n.tombstoneCount, 1, `${n.nodeId}: one tombstone`);
      assert.deepEqual(seen[i], [undefined], `${n.nodeId}: subscriber told undefined once`);
      await assert.rejects(
        n.update(k, (v, self) => v.increment(self, 1)),
        (e: unknown) => e instanceof KeyDeletedError && e.name === "KeyDeletedError",
      );
      assert.equal(n.get(other)?.value, 1, "other keys untouched");
    }
    // A delete of a deleted key is a no-op, and does not notify again.
    await b.delete(k);
    assert.deepEqual(seen[1], [undefined]);

    // A delta for the deleted key from a (raw) publisher: ignored and counted by every node.
    const before = nodes.map((n) => n.stats.rejected.get("deleted-key") ?? 0);
    const stray = GCounter.empty().increment("ghost", 42);
    cluster.raw.publish(
      "crdt.deltas",
      encodeDeltaEnvelope({
        origin: "ghost",
        incarnation: 1,
        sequence: 1,
        deltas: [{ key: "doomed", kind: "gcounter", originNode: "ghost", value: stray.delta! }],
        tombstones: [],
        sentAtMs: Date.now(),
      }),
    );
    await waitFor(() => nodes.every((n, i) => (n.stats.rejected.get("deleted-key") ?? 0) > before[i]!), {
      message: "every node rejected the stray delta",
    });
    for (const n of nodes) assert.equal(n.get(k), undefined);
    for (const s of seen) assert.deepEqual(s, [undefined], "no resurrection notified");
    assert.ok(Date.now() - deletedAt < TTL_MS, "checks ran before the tombstone could expire (raise TTL_MS if this fails)");

    // Expiry: the prune tick drops the tombstone everywhere after the TTL; nothing resurrects it.
    await waitFor(() => nodes.every((n) => n.tombstoneCount === 0), { timeoutMs: TTL_MS + 10_000, message: "tombstones expired" });
    assert.ok(Date.now() - deletedAt >= TTL_MS, "not before the TTL");
    await a.sync("b");
    await cluster.c.nodes[2]!.sync("a");
    for (const n of nodes) assert.equal(n.get(k), undefined, `${n.nodeId}: still absent after anti-entropy`);

    // The key can be used again, from empty.
    await b.update(k, (v, self) => v.increment(self, 2));
    await waitFor(() => nodes.every((n) => n.get(k)?.value === 2), { message: "re-created key replicates" });
  });
});
