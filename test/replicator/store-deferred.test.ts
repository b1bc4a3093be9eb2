/**
 * Deferred values (issue 13): a restore may put values into the store undecoded. Each is decoded
 * once, on its first read or by `settleDeferred`; a write or a delete replaces it without decoding;
 * one that turns out corrupt drops its key and announces the change (so the digest lets peers
 * repair it). What a restore puts in first wins: a deferred value for a key the store holds
 * already is dropped, named by `indexRestored`, and never decoded.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GCounter } from "../../src/crdt/index.js";
import type { DeferredValues } from "../../src/extension/store-view.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { Store } from "../../src/replicator/store.js";

/** Deferred values numbered in order: a count (the GCounter's value) or corrupt bytes; counts its decodes. */
class Fake implements DeferredValues {
  readonly decoded: number[] = [];
  constructor(private readonly contents: (number | "corrupt")[]) {}
  decode(n: number): GCounter {
    this.decoded[n] = (this.decoded[n] ?? 0) + 1;
    const c = this.contents[n]!;
    if (c === "corrupt") throw new Error("corrupt bytes");
    return GCounter.empty().increment("a~1", c).resetDelta();
  }
}

function storeWith(values: Record<string, number | "corrupt">): { store: Store; changes: string[]; fake: Fake; n: Record<string, number> } {
  const store = new Store();
  const changes: string[] = [];
  store.onChange((key, source) => changes.push(`${key}:${source}`));
  const fake = new Fake(Object.values(values));
  store.deferTo(fake);
  const n: Record<string, number> = {};
  for (const [i, key] of Object.keys(values).entries()) {
    store.setDeferred(key, i);
    n[key] = i;
  }
  return { store, changes, fake, n };
}

describe("deferred values in the store", () => {
  test("decoded once, on the first read; kept after", () => {
    const { store, changes, fake } = storeWith({ a: 3, b: 4 });
    assert.deepEqual(changes, ["a:restore", "b:restore"]);
    assert.equal(store.unsettled, 2);
    assert.deepEqual(fake.decoded, []);
    assert.equal((store.value("a") as GCounter).value, 3);
    assert.equal((store.get("a")?.value as GCounter).value, 3);
    assert.deepEqual(fake.decoded, [1]);
    assert.equal(store.unsettled, 1);
    assert.equal(store.size, 2);
  });

  test("a write or a delete replaces a deferred value without decoding it", () => {
    const { store, fake } = storeWith({ a: 3, b: 4 });
    store.set("a", "gcounter", GCounter.empty().increment("z~1", 9), "remote");
    store.addTombstone({ key: "b", kind: "gcounter", deletedAtMs: 1, originNode: "n" }, "remote");
    assert.deepEqual(fake.decoded, []);
    assert.equal(store.unsettled, 0);
    assert.equal((store.value("a") as GCounter).value, 9);
    assert.equal(store.value("b"), undefined);
  });

  test("iterating entries decodes; settleDeferred decodes the rest in slices", () => {
    const values = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i + 1]));
    const { store, fake } = storeWith(values);
    const first = store.entries().next().value!;
    assert.equal((first[1].value as GCounter).value, 1);
    assert.equal(store.unsettled, 1_999);
    while (!store.settleDeferred(0)) assert.ok(store.unsettled > 0);
    assert.equal(store.unsettled, 0);
    assert.deepEqual(fake.decoded, new Array<number>(2_000).fill(1));
    assert.equal([...store.entries()].reduce((s, [, v]) => s + (v.value as GCounter).value, 0), (2_000 * 2_001) / 2);
  });

  test("a corrupt one drops its key, announced, wherever it is found", () => {
    const { store, changes } = storeWith({ a: 1, bad: "corrupt", c: 2, worse: "corrupt" });
    changes.length = 0;
    assert.equal(store.value("bad"), undefined);
    assert.deepEqual(changes, ["bad:restore"]);
    assert.deepEqual(
      [...store.entries()].map(([k]) => k),
      ["a", "c"],
    );
    assert.deepEqual(changes, ["bad:restore", "worse:restore"]);
    assert.equal(store.size, 2);
    assert.equal(store.unsettled, 0);
    assert.equal(store.settleDeferred(10), true);
  });

  test("a key restored twice holds the first value: the later one is named by indexRestored and never decoded", () => {
    const store = new Store();
    const fake = new Fake([1, 2, 3]);
    store.deferTo(fake);
    store.setDeferred("k", 0);
    store.setDeferred("other", 1);
    store.setDeferred("k", 2);
    assert.deepEqual(store.indexRestored(), [2]);
    assert.deepEqual(store.indexRestored(), [], "named once");
    assert.equal(store.size, 2);
    assert.deepEqual([...store.keys()], ["k", "other"]);
    assert.equal(store.unsettled, 2);
    assert.equal((store.value("k") as GCounter).value, 1);
    assert.equal((store.value("other") as GCounter).value, 2);
    assert.equal(fake.decoded[2], undefined, "the dropped one is never decoded");
    assert.equal(store.unsettled, 0);
  });

  test("a value set before (a loose entry's) stays; the deferred one is dropped, and when it was the only one the count reaches 0", () => {
    const store = new Store();
    const fake = new Fake([7]);
    store.deferTo(fake);
    store.set("k", "gcounter", GCounter.empty().increment("a~1", 5).resetDelta(), "restore");
    store.setDeferred("k", 0);
    assert.deepEqual(store.indexRestored(), [0]);
    assert.equal(store.unsettled, 0);
    assert.equal((store.value("k") as GCounter).value, 5);
    assert.equal(fake.decoded[0], undefined);
    store.deferTo(new Fake([1])); // nothing deferred is left: a next restore may defer its own
  });

  test("misuse: deferred values need their source first, and one restore's at a time", () => {
    const store = new Store();
    assert.throws(() => store.setDeferred("k", 0), InvalidArgumentError);
    store.deferTo(new Fake([1]));
    store.setDeferred("k", 0);
    assert.throws(() => store.deferTo(new Fake([2])), InvalidArgumentError);
    assert.equal((store.value("k") as GCounter).value, 1);
    store.deferTo(new Fake([2])); // all decoded: a next restore may defer its own
  });
});
