/**
 * `status(key)` tells a deleted key from one never written (as the HTTP API's 410 and 404 do),
 * and `subscribe(key, fn, { initial: true })` delivers the current value first. In-memory bus.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GCounter, Key, KeyTypeMismatchError, MemoryNetwork, Replicator, type KeyStatus } from "../../src/index.js";
import { waitFor } from "../helpers/wait.js";

describe("status and subscribe { initial }", () => {
  let net: MemoryNetwork;
  let a: Replicator;
  let b: Replicator;
  before(async () => {
    net = new MemoryNetwork({ seed: 11 });
    a = await Replicator.start({ nodeId: "a", transport: net.connect("a"), pruneIntervalMs: 100, tombstoneTtlMs: 1_500 });
    b = await Replicator.start({ nodeId: "b", transport: net.connect("b"), pruneIntervalMs: 100, tombstoneTtlMs: 1_500 });
    await net.settle();
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  test("status: absent → present → deleted (on every replica) → absent once the tombstone expires", async () => {
    const k = Key.gcounter("status-key");
    const status: KeyStatus = a.status(k);
    assert.equal(status, "absent");
    assert.equal(a.isDeleted(k), false);
    await a.update(k, (v, self) => v.increment(self, 2));
    assert.equal(a.status(k), "present");
    await waitFor(() => b.status(k) === "present", { message: "b has the value" });
    await a.delete(k);
    assert.equal(a.status(k), "deleted");
    assert.ok(a.isDeleted(k));
    assert.equal(a.get(k), undefined); // get alone cannot tell: status can
    await waitFor(() => b.status(k) === "deleted", { message: "b has the tombstone" });
    assert.equal(b.get(k), undefined);
    await waitFor(() => a.status(k) === "absent" && b.status(k) === "absent", { timeoutMs: 30_000, message: "tombstones expire" });
    assert.equal(a.status(Key.gcounter("never-written")), "absent");
  });

  test("status checks the key's type like get", async () => {
    const k = Key.gcounter("typed-status");
    await a.update(k, (v, self) => v.increment(self, 1));
    assert.throws(() => a.status(Key.orset("typed-status")), KeyTypeMismatchError);
  });

  test("subscribe { initial: true }: the current value first, then every change; without it, changes only", async () => {
    const k = Key.gcounter("initial-key");
    await a.update(k, (v, self) => v.increment(self, 3));
    const seen: (number | undefined)[] = [];
    const plain: (number | undefined)[] = [];
    const stop = a.subscribe(k, (v) => seen.push(v?.value), { initial: true });
    const stopPlain = a.subscribe(k, (v) => plain.push(v?.value));
    assert.deepEqual(seen, [3], "delivered before subscribe returned");
    assert.deepEqual(plain, []);
    await a.update(k, (v, self) => v.increment(self, 1));
    assert.deepEqual(seen, [3, 4]);
    assert.deepEqual(plain, [4]);
    stop();
    stopPlain();
    // Absent key: the initial call says undefined.
    const none: (GCounter | undefined)[] = [];
    a.subscribe(Key.gcounter("initial-absent"), (v) => none.push(v), { initial: true })();
    assert.deepEqual(none, [undefined]);
    // A throwing subscriber is counted, as for any change, and stays subscribed.
    const errors = a.stats.subscriberErrorCount;
    const calls: number[] = [];
    const stopThrowing = a.subscribe(
      k,
      (v) => {
        calls.push(v!.value);
        throw new Error("boom");
      },
      { initial: true },
    );
    assert.equal(a.stats.subscriberErrorCount, errors + 1);
    await a.update(k, (v, self) => v.increment(self, 1));
    assert.deepEqual(calls, [4, 5]);
    stopThrowing();
    // The wrong type throws before subscribing.
    assert.throws(() => a.subscribe(Key.orset("initial-key"), () => {}, { initial: true }), KeyTypeMismatchError);
  });
});
