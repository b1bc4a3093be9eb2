// A bulk-pull page reads each value where the digest tree says the store keeps it (no lookup per
// key), checked: a place that no longer holds the key (the store squeezed out its holes) is looked
// up instead, and noted. With a rehash backlog too large to hash before answering, a changed key
// goes without a hash, never with the one the tree holds for its old value.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GROUPS } from "../../src/cluster/digest-tree.js";
import { GCounter } from "../../src/crdt/index.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { AntiEntropy, RANGE_LEVEL } from "../../src/replicator/anti-entropy.js";
import { Store } from "../../src/replicator/store.js";
import { decodeNodeReply } from "../../src/wire/codec.js";
import { VirtualClock } from "../sim/virtual-clock.js";

/** More than a digest answer rehashes before it answers (store-digest.ts, ANSWER_REFRESH_MAX). */
const KEYS = 60_000;

function holder(): { store: Store; ae: AntiEntropy; clock: VirtualClock } {
  const store = new Store();
  const clock = new VirtualClock(0);
  const ae = new AntiEntropy({
    nodeId: "a",
    store,
    stats: new ReplicatorStats(),
    maxPayload: 1 << 20,
    // Virtual: the background rehash runs only when the test says so.
    clock,
    ask: () => Promise.reject(new Error("not used")),
    merge: () => undefined,
    onError: (e) => assert.fail(String(e)),
  });
  return { store, ae, clock };
}

/** Every entry of every page of a bulk pull of the whole store: key → [counter value, hash]. */
function pullAll(ae: AntiEntropy): Map<string, [number, bigint]> {
  const out = new Map<string, [number, bigint]>();
  const buckets = Array.from({ length: GROUPS }, (_, bucket) => ({ bucket, hash: 0n }));
  let bucket = 0;
  let after: string | undefined;
  for (;;) {
    const reply = decodeNodeReply(ae.rangePage({ from: "b", level: RANGE_LEVEL, buckets, keys: after === undefined ? [] : [{ key: after, hash: 0n }], bucket }, undefined));
    assert.ok(reply.type === "digest" && reply.state !== undefined);
    const hashes = new Map(reply.keys.map((k) => [k.key, k.hash]));
    for (const e of reply.state.entries) {
      assert.ok(!out.has(e.key), `${e.key} sent twice`);
      out.set(e.key, [(e.value as GCounter).value, hashes.get(e.key)!]);
    }
    if (reply.differing.length === 0) return out;
    bucket = reply.differing[0]!;
    after = reply.keys.at(-1)!.key;
  }
}

describe("bulk-pull pages", () => {
  it("carry the store's current values, unhashed, while a large backlog waits to be rehashed", async () => {
    const { store, ae, clock } = holder();
    const key = (i: number): string => `key-${i}`;
    for (let i = 0; i < KEYS; i++) store.set(key(i), "gcounter", GCounter.empty().increment("a~1", 1).resetDelta(), "local");
    assert.ok(await clock.until(() => ae.pendingRehash === 0, 60_000), "the background rehash catches up");
    const before = pullAll(ae);
    assert.equal(before.size, KEYS);
    for (const [k, [count, hash]] of before) {
      assert.equal(count, 1, k);
      assert.notEqual(hash, 0n, `${k} hashed`);
    }

    // Every key changes: the tree still lists the old values (and their hashes) until rehashed.
    for (let i = 0; i < KEYS; i++) store.set(key(i), "gcounter", store.value(key(i))!.merge(GCounter.empty().increment("a~1", 2).resetDelta()) as GCounter, "local");
    assert.equal(ae.pendingRehash, KEYS);
    const during = pullAll(ae);
    assert.equal(during.size, KEYS);
    for (const [k, [count, hash]] of during) {
      assert.equal(count, 2, `${k}: the store's value, not the one the tree was hashed from`);
      assert.equal(hash, 0n, `${k}: no hash while it waits to be rehashed`);
    }
  });

  it("carry each key's own value after the store moved its entries (a place is checked, then looked up)", async () => {
    const { store, ae, clock } = holder();
    const n = 1_000;
    const key = (i: number): string => `key-${i}`;
    for (let i = 0; i < n; i++) store.set(key(i), "gcounter", GCounter.empty().increment("a~1", i + 1).resetDelta(), "local");
    assert.ok(await clock.until(() => ae.pendingRehash === 0, 60_000));
    // Most keys deleted: the store squeezes its holes out, and the rest move to other places.
    for (let i = 0; i < n; i++) if (i % 5 !== 0) store.addTombstone({ key: key(i), kind: "gcounter", deletedAtMs: 1, originNode: "a" }, "local");
    assert.ok(await clock.until(() => ae.pendingRehash === 0, 60_000));
    for (let pass = 0; pass < 2; pass++) {
      const pulled = pullAll(ae);
      assert.equal(pulled.size, n / 5);
      for (let i = 0; i < n; i += 5) assert.equal(pulled.get(key(i))?.[0], i + 1, `pass ${pass}: ${key(i)} has its own value`);
    }
  });
});
