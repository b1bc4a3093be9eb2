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

/** A 64-bit hash as the (lo, hi) halves seeding takes. */
const halves = (h: bigint): [number, number] => [Number(BigInt.asIntN(32, h)), Number(BigInt.asIntN(32, h >> 32n))];
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
  const counter = (n: number): GCounter => GCounter.empty().increment("p~1", n).resetDelta();
  const given = (key: string): bigint => BigInt(key.length) * 1_000_003n;
  const rehashed = (store: Store, key: string): bigint => keyEntryHash(key, contentHash(store.value(key)!));

  test("takes the hashes it is given for the values the merge stored; every other key it changed is rehashed", async () => {
    const store = new Store();
    const digest = new StoreDigest(store, systemClock, (e) => assert.fail(String(e)));
    try {
      store.set("before", "gcounter", counter(9), "local"); // changed before the page, not rehashed yet
      store.set("held", "gcounter", counter(7), "local");
      await digest.refreshAll();
      const heldHash = digest.hashOf("held");
      store.set("before", "gcounter", counter(9), "local");
      assert.equal(digest.pending, 1);
      const page = new Map(["a", "no-hash", "held", "before", "merged", "c"].map((key, i) => [key, counter(i + 1)]));
      digest.mergeSeeded(
        page.size,
        () => {
          for (const [key, value] of page) {
            if (key === "held") continue; // the merge left it alone: not announced
            // The merge of "merged" stores another object than the page's (a merge result).
            store.set(key, "gcounter", key === "merged" ? counter(99) : value, "remote");
          }
        },
        (take) => {
          for (const [key, value] of page) take(key, value, ...halves(key === "no-hash" ? 0n : given(key)));
        },
      );
      // The seeds wait for the tree (out of the pull's way): no key's hash is answered meanwhile.
      assert.equal(digest.seeding, true);
      assert.equal(digest.pending, 5, "three seeds, two keys to rehash");
      for (const key of page.keys()) assert.equal(digest.hashOf(key), undefined, key);
      await digest.settled();
      assert.equal(digest.seeding, false);
      for (const key of ["a", "before", "c"]) assert.equal(digest.hashOf(key), given(key), key);
      assert.equal(digest.hashOf("held"), heldHash, "a key the merge left alone keeps its hash");
      for (const key of ["no-hash", "merged"]) assert.equal(digest.hashOf(key), undefined, `${key}: left to rehash`);
      assert.equal(digest.pending, 2);
      await digest.refreshAll();
      for (const key of ["no-hash", "merged"]) assert.equal(digest.hashOf(key), rehashed(store, key), key);
    } finally {
      digest.stop();
    }
  });

  test("a key changed after its page, before the seeds went in, ends with its current hash: seeds go in before any rehash", async () => {
    const store = new Store();
    const digest = new StoreDigest(store, systemClock, (e) => assert.fail(String(e)));
    try {
      store.set("k", "gcounter", counter(1), "local");
      store.set("other", "gcounter", counter(1), "local");
      await digest.refreshAll();
      const older = digest.hashOf("k");
      const pulled = counter(2);
      digest.mergeSeeded(
        2,
        () => {
          store.set("k", "gcounter", pulled, "remote");
          store.set("fresh", "gcounter", pulled, "remote");
        },
        (take) => {
          take("k", pulled, ...halves(given("k")));
          take("fresh", pulled, ...halves(given("fresh")));
        },
      );
      assert.equal(digest.isStale("other"), true, "while seeds wait, no hash in the tree is vouched for");
      assert.equal(digest.hashOf("k"), undefined, `not the tree's older hash (${older})`);
      store.set("k", "gcounter", counter(5), "local"); // a write after the page
      await digest.refreshAll();
      assert.equal(digest.hashOf("k"), rehashed(store, "k"), "the write's hash, not the page's");
      assert.equal(digest.hashOf("fresh"), given("fresh"));
      assert.equal(digest.hashOf("other"), rehashed(store, "other"));
      assert.equal(digest.pending, 0);
    } finally {
      digest.stop();
    }
  });

  test("a key changed again later in the page, or offered out of the merge's order, is rehashed: never a wrong hash", async () => {
    const store = new Store();
    const digest = new StoreDigest(store, systemClock, (e) => assert.fail(String(e)));
    try {
      const x = counter(1);
      const y = counter(2);
      // Two values, three changes: more changes than the page said it held.
      digest.mergeSeeded(
        2,
        () => {
          store.set("x", "gcounter", x, "remote");
          store.set("y", "gcounter", y, "remote");
          store.set("x", "gcounter", counter(3), "remote"); // e.g. a subscriber's write during the merge
        },
        (take) => {
          take("y", y, ...halves(given("y"))); // the merge changed x first: y is not matched
          take("x", x, ...halves(given("x")));
        },
      );
      assert.equal(digest.pending, 3, "x's seed, then x (changed again) and y (out of order) to rehash");
      await digest.refreshAll();
      for (const key of ["x", "y"]) assert.equal(digest.hashOf(key), rehashed(store, key), key);
    } finally {
      digest.stop();
    }
  });
});
