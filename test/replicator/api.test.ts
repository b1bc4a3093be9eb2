/**
 * The API's guard rails against a real nats-server: typed keys, option validation, use after close,
 * and a borrowed NATS connection that `close()` leaves open.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import {
  ConfigError,
  GCounter,
  Key,
  KeyTypeMismatchError,
  Replicator,
  ReplicatorClosedError,
  type ReplicatorOptions,
} from "../../src/index.js";
import { FAST, startCluster, type TestCluster } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";

describe("typed keys", () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster(["a", "b"]);
  });
  after(() => c.close());

  test("a key used with another type than the stored one throws KeyTypeMismatchError, locally and on peers", async () => {
    const [a, b] = c.nodes as [Replicator, Replicator];
    const counter = Key.gcounter("typed");
    await a.update(counter, (v, self) => v.increment(self, 3));
    await waitFor(() => b.get(counter)?.value === 3);
    const asSet = Key.orset<string>("typed");
    for (const n of [a, b]) {
      assert.throws(() => n.get(asSet), (e: unknown) => e instanceof KeyTypeMismatchError && e.name === "KeyTypeMismatchError" && /gcounter/.test(e.message));
      await assert.rejects(n.update(asSet, (v, self) => v.add(self, "x")), KeyTypeMismatchError);
      await assert.rejects(n.get(asSet, { readFrom: "majority" }), KeyTypeMismatchError);
      await assert.rejects(n.delete(asSet), KeyTypeMismatchError);
      assert.equal(n.get(counter)?.value, 3, "the stored value is untouched");
    }
  });

  test("an ORMap key with another value kind is a mismatch too", async () => {
    const [a] = c.nodes as [Replicator, Replicator];
    const m = Key.orMap<GCounter>("typed-map", "gcounter");
    await a.update(m, (v, self) => v.update(self, "x", (g) => g.increment(self, 1)));
    assert.throws(() => a.get(Key.orMap("typed-map", "orset")), KeyTypeMismatchError);
    assert.equal(a.get(m)?.size, 1);
  });
});

describe("options validation", () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer();
  });
  after(() => server.stop());

  const cases: [string, Partial<ReplicatorOptions>, RegExp][] = [
    ["nodeId with a space", { nodeId: "bad id" }, /nodeId/],
    ["nodeId with a dot (a NATS token separator)", { nodeId: "a.b" }, /nodeId/],
    ["empty nodeId", { nodeId: "" }, /nodeId/],
    ["zero heartbeatIntervalMs", { heartbeatIntervalMs: 0 }, /heartbeatIntervalMs/],
    ["fractional antiEntropyIntervalMs", { antiEntropyIntervalMs: 1.5 }, /antiEntropyIntervalMs/],
    ["negative coordinationTimeoutMs", { coordinationTimeoutMs: -1 }, /coordinationTimeoutMs/],
    ["NaN flushIntervalMs", { flushIntervalMs: Number.NaN }, /flushIntervalMs/],
    ["failureTimeoutMs not above heartbeatIntervalMs", { heartbeatIntervalMs: 1000, failureTimeoutMs: 1000 }, /failureTimeoutMs/],
    ["removalTimeoutMs below failureTimeoutMs", { failureTimeoutMs: 5000, removalTimeoutMs: 4000 }, /removalTimeoutMs/],
    ["tiny maxDeltaSize", { maxDeltaSize: 10 }, /maxDeltaSize/],
    ["string pruneIntervalMs", { pruneIntervalMs: "5" as unknown as number }, /pruneIntervalMs/],
    ["subject with a wildcard", { subject: "crdt.*" }, /subject/],
  ];
  for (const [name, bad, pattern] of cases) {
    test(`${name} → ConfigError naming the option`, async () => {
      await assert.rejects(
        Replicator.start({ nodeId: "ok", nats: { servers: server.url }, ...bad }),
        (e: unknown) => e instanceof ConfigError && e.name === "ConfigError" && pattern.test(e.message),
      );
    });
  }

  test("neither nats nor transport → ConfigError", async () => {
    await assert.rejects(Replicator.start({ nodeId: "ok" }), ConfigError);
  });
});

describe("lifecycle", () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer();
  });
  after(() => server.stop());

  test("every call after close rejects with ReplicatorClosedError; close is idempotent", async () => {
    const r = await Replicator.start({ nodeId: "closing", nats: { servers: server.url }, ...FAST });
    const k = Key.gcounter("k");
    await r.update(k, (v, self) => v.increment(self, 1));
    await r.close();
    await r.close();
    const closed = (e: unknown): boolean => e instanceof ReplicatorClosedError && e.name === "ReplicatorClosedError";
    assert.throws(() => r.get(k), closed);
    await assert.rejects(r.update(k, (v, self) => v.increment(self, 1)), closed);
    await assert.rejects(r.delete(k), closed);
    await assert.rejects(r.sync("x"), closed);
    assert.throws(() => r.subscribe(k, () => {}), closed);
    assert.throws(() => r.prune(), closed);
  });

  test("a borrowed connection works and close() leaves it open", async () => {
    const nc = await connect({ servers: server.url });
    let borrowed: Replicator | undefined;
    let other: Replicator | undefined;
    try {
      borrowed = await Replicator.start({ nodeId: "borrower", nats: { connection: nc }, ...FAST });
      other = await Replicator.start({ nodeId: "owner", nats: { servers: server.url }, ...FAST });
      const k = Key.orset<string>("shared");
      await borrowed.update(k, (v, self) => v.add(self, "from-borrower"));
      await other.update(k, (v, self) => v.add(self, "from-owner"));
      for (const n of [borrowed, other]) {
        await waitFor(() => [...(n.get(k)?.elements ?? [])].sort().join() === "from-borrower,from-owner", { message: `${n.nodeId} converges` });
      }
      await borrowed.close();
      assert.equal(nc.isClosed(), false, "the borrowed connection is still open");
      // Still usable: a request/reply round trip of our own on it.
      const sub = nc.subscribe("echo", { callback: (_e, m) => void m.respond(m.data) });
      const reply = await nc.request("echo", new TextEncoder().encode("ping"), { timeout: 2000 });
      assert.equal(new TextDecoder().decode(reply.data), "ping");
      sub.unsubscribe();
      // The closed replicator's subscriptions are gone from it: the other node sees it leave.
      await waitFor(() => other!.members().length === 1, { message: "borrower left" });
      // Its request subject has no responder any more.
      await assert.rejects(nc.request("crdt.deltas.node.borrower", new Uint8Array([1]), { timeout: 1000 }));
    } finally {
      await borrowed?.close();
      await other?.close();
      await nc.close();
    }
  });
});
