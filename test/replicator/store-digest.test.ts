/**
 * The digest refresh on a large ORSet: the tree holds the same entry hash as a hash from scratch,
 * a change rehashes only the changed elements (counted), and the first digest of a large set is
 * done in slices (an answer does not wait for it).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { systemClock } from "../../src/clock.js";
import { keyEntryHash } from "../../src/cluster/hashing.js";
import { ORSet } from "../../src/crdt/orset.js";
import { GCounter } from "../../src/crdt/gcounter.js";
import { Store } from "../../src/replicator/store.js";
import { StoreDigest } from "../../src/replicator/store-digest.js";
import { contentHash } from "../../src/wire/hash.js";
import { bigSet } from "../helpers/big-set.js";


describe("StoreDigest on a large ORSet", () => {
  test("a change rehashes the elements it changed, and the tree agrees with a hash from scratch", async () => {
    const store = new Store();
    const errors: unknown[] = [];
    const digest = new StoreDigest(store, systemClock, (e) => errors.push(e));
    try {
      let v = bigSet(50_000);
      store.set("big", "orset", v, "local");
      // An answer refreshes synchronously, but never waits for a large set's first digest.
      digest.refreshForAnswer();
      assert.equal(digest.pending, 1, "the first digest of 50,000 elements takes more than one slice");
      await digest.refreshAll();
      assert.equal(digest.work.entries, 50_000, "the first digest hashes every element once");
      assert.equal(digest.hashOf("big"), keyEntryHash("big", contentHash(v)));

      v = v.add("n", "one more").resetDelta();
      store.set("big", "orset", v, "local");
      await digest.refreshAll();
      assert.equal(digest.work.entries, 50_001, "one added element: one element hashed");
      assert.equal(digest.hashOf("big"), keyEntryHash("big", contentHash(v)));

      for (let i = 0; i < 10; i++) {
        v = v.remove(`item-${i}`).add("n", `fresh-${i}`).resetDelta();
        store.set("big", "orset", v, "remote");
      }
      await digest.refreshAll();
      assert.equal(digest.work.entries, 50_021, "ten removes and ten adds: twenty elements hashed");
      assert.equal(digest.hashOf("big"), keyEntryHash("big", contentHash(v)));

      // Replaced by an unrelated value of the same state (e.g. decoded from a peer): still exact.
      const decoded = ORSet.fromState<string>(v.toState());
      store.set("big", "orset", decoded, "remote");
      await digest.refreshAll();
      assert.equal(digest.hashOf("big"), keyEntryHash("big", contentHash(v)));

      // Small values keep the whole-value hash; a tombstone replaces the digest.
      store.set("small", "gcounter", GCounter.empty().increment("a", 3), "local");
      store.addTombstone({ key: "big", kind: "orset", deletedAtMs: 1, originNode: "a" }, "local");
      await digest.refreshAll();
      assert.equal(digest.hashOf("small"), keyEntryHash("small", contentHash(GCounter.empty().increment("a", 3))));
      assert.notEqual(digest.hashOf("big"), keyEntryHash("big", contentHash(v)));
      assert.deepEqual(errors, []);
    } finally {
      digest.stop();
    }
  });
});

describe("StoreDigest.mergeSeeded (a bulk-pull page)", () => {
  test("takes the hashes it is given; every other key the merge changed is rehashed", async () => {
    const store = new Store();
    const digest = new StoreDigest(store, systemClock, (e) => assert.fail(String(e)));
    try {
      const counter = (n: number): GCounter => GCounter.empty().increment("p~1", n).resetDelta();
      store.set("before", "gcounter", counter(9), "local"); // changed before the page, not rehashed yet
      assert.equal(digest.pending, 1);
      const given = (key: string): bigint => BigInt(key.length) * 1_000_003n;
      digest.mergeSeeded(
        () => {
          for (const [i, key] of ["a", "not-taken", "before", "c"].entries()) store.set(key, "gcounter", counter(i + 1), "remote");
        },
        (take) => {
          for (const key of ["a", "before", "c"]) take(key, given(key));
        },
      );
      for (const key of ["a", "before", "c"]) assert.equal(digest.hashOf(key), given(key), key);
      assert.equal(digest.hashOf("not-taken"), undefined, "left to rehash");
      assert.equal(digest.pending, 1);

      // Taken in another order than the merge's: what is not matched is rehashed, never wrong.
      digest.mergeSeeded(
        () => {
          for (const key of ["x", "y"]) store.set(key, "gcounter", counter(5), "remote");
        },
        (take) => {
          for (const key of ["y", "x"]) take(key, given(key));
        },
      );
      assert.equal(digest.pending, 2, "not-taken and x");
      await digest.refreshAll();
      for (const key of ["not-taken", "x"]) assert.equal(digest.hashOf(key), keyEntryHash(key, contentHash(store.value(key)!)), key);
      assert.equal(digest.hashOf("y"), given("y"));
    } finally {
      digest.stop();
    }
  });
});
