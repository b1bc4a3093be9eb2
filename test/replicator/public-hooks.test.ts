/**
 * The public hooks tools build on instead of the replicator's internals (issue 9; the daemon uses
 * them): `onChange` (every accepted change, with its origin), `entry`/`deletion` (a key id read
 * whatever its type), `stats.onRecord` (histogram samples) and `resolveOptions`. In-memory bus.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, DEFAULTS, GCounter, Key, MemoryNetwork, Replicator, ReplicatorClosedError, resolveOptions, type Change } from "../../src/index.js";
import { waitFor } from "../helpers/wait.js";

const hits = Key.gcounter("hits");
const timings = { heartbeatIntervalMs: 60_000, failureTimeoutMs: 120_000, removalTimeoutMs: 240_000, antiEntropyIntervalMs: 600_000 };

async function pair(): Promise<{ net: MemoryNetwork; a: Replicator; b: Replicator }> {
  const net = new MemoryNetwork({ seed: 3 });
  const a = await Replicator.start({ nodeId: "a", transport: net.connect("a"), ...timings });
  const b = await Replicator.start({ nodeId: "b", transport: net.connect("b"), ...timings });
  await net.settle();
  return { net, a, b };
}

describe("public hooks", () => {
  test("onChange hears a local write as local and the same write on a peer as dc; stopping it stops it", async () => {
    const { net, a, b } = await pair();
    try {
      const onA: Change[] = [];
      const onB: Change[] = [];
      const stopA = a.onChange((c) => onA.push(c));
      b.onChange((c) => onB.push(c));
      await a.update(hits, (v, self) => v.increment(self, 2));
      await net.settle();
      await waitFor(() => onB.length === 1, { timeoutMs: 10_000, message: "b heard the delta" });
      assert.deepEqual(onA.map((c) => [c.key, c.kind, c.origin, (c.value as GCounter).value]), [["hits", "gcounter", "local", 2]]);
      assert.deepEqual(onB.map((c) => [c.key, c.origin, c.node, (c.value as GCounter).value]), [["hits", "dc", "a", 2]]);
      stopA();
      await a.update(hits, (v, self) => v.increment(self, 1));
      assert.equal(onA.length, 1, "stopped: no more changes");
      assert.throws(() => a.onChange(undefined as never), /needs a callback/);
    } finally {
      await a.close();
      await b.close();
    }
    assert.throws(() => a.onChange(() => {}), ReplicatorClosedError);
  });

  test("entry and deletion read a key id whatever its type", async () => {
    const { a, b } = await pair();
    try {
      assert.equal(a.entry("hits"), undefined);
      await a.update(hits, (v, self) => v.increment(self, 5));
      const e = a.entry("hits");
      assert.equal(e?.kind, "gcounter");
      assert.equal((e?.value as GCounter).value, 5);
      assert.equal(a.deletion("hits"), undefined);
      await a.delete(hits);
      assert.equal(a.entry("hits"), undefined);
      const d = a.deletion("hits");
      assert.equal(d?.key, "hits");
      assert.equal(d?.kind, "gcounter");
      assert.equal(d?.originNode, "a");
      assert.ok(typeof d?.deletedAtMs === "number" && d.deletedAtMs > 0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("stats.onRecord hears replication-lag samples beside the metrics, until stopped", async () => {
    const { net, a, b } = await pair();
    try {
      const lags: number[] = [];
      const stop = b.stats.onRecord((name, value) => {
        if (name === "replication.lag") lags.push(value);
      });
      await a.update(hits, (v, self) => v.increment(self, 1));
      await net.settle();
      await waitFor(() => lags.length === 1, { timeoutMs: 10_000, message: "b recorded the lag of a's delta" });
      assert.ok(lags[0]! >= 0);
      stop();
      await a.update(hits, (v, self) => v.increment(self, 1));
      await net.settle();
      await waitFor(() => b.get(hits)?.value === 2, { timeoutMs: 10_000, message: "b merged the second delta" });
      assert.equal(lags.length, 1, "stopped: no more samples");
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("resolveOptions checks options and fills in the defaults without starting", () => {
    const resolved = resolveOptions({ nodeId: "n1", nats: { servers: "nats://127.0.0.1:1" }, snapshot: { dir: "/tmp/x" } });
    assert.equal(resolved.antiEntropyIntervalMs, DEFAULTS.antiEntropyIntervalMs);
    assert.deepEqual(resolved.snapshot, { dir: "/tmp/x", intervalMs: DEFAULTS.snapshotIntervalMs, writeThrough: false, sync: false });
    assert.throws(() => resolveOptions({ nodeId: "n1", nats: { servers: "nats://127.0.0.1:1" }, dataCenterReplication: { remotes: [] } }), ConfigError);
  });
});
