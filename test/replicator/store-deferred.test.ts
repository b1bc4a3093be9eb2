/**
 * Deferred values (issue 13): a restore may put values into the store undecoded. Each is decoded
 * once, on its first read or by `settleDeferred`; a write or a delete replaces it without decoding;
 * one that turns out corrupt drops its key and announces the change (so the digest lets peers
 * repair it).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GCounter } from "../../src/crdt/index.js";
import { deferred, type DeferredValue } from "../../src/extension/store-view.js";
import { Store } from "../../src/replicator/store.js";

class Fake implements DeferredValue {
  readonly [deferred] = true as const;
  readonly kind = "gcounter" as const;
  decoded = 0;
  constructor(private readonly n: number | "corrupt") {}
  decode(): GCounter {
    this.decoded++;
    if (this.n === "corrupt") throw new Error("corrupt bytes");
    return GCounter.empty().increment("a~1", this.n).resetDelta();
  }
}

function storeWith(values: Record<string, Fake>): { store: Store; changes: string[] } {
  const store = new Store();
  const changes: string[] = [];
  store.onChange((key, source) => changes.push(`${key}:${source}`));
  for (const [key, v] of Object.entries(values)) store.setDeferred(key, v);
  return { store, changes };
}

describe("deferred values in the store", () => {
  test("decoded once, on the first read; kept after", () => {
    const a = new Fake(3);
    const { store, changes } = storeWith({ a, b: new Fake(4) });
    assert.deepEqual(changes, ["a:restore", "b:restore"]);
    assert.equal(store.unsettled, 2);
    assert.equal(a.decoded, 0);
    assert.equal((store.value("a") as GCounter).value, 3);
    assert.equal((store.get("a")?.value as GCounter).value, 3);
    assert.equal(a.decoded, 1);
    assert.equal(store.unsettled, 1);
    assert.equal(store.size, 2);
  });

  test("a write or a delete replaces a deferred value without decoding it", () => {
    const a = new Fake(3);
    const b = new Fake(4);
    const { store } = storeWith({ a, b });
    store.set("a", "gcounter", GCounter.empty().increment("z~1", 9), "remote");
    store.addTombstone({ key: "b", kind: "gcounter", deletedAtMs: 1, originNode: "n" }, "remote");
    assert.equal(a.decoded + b.decoded, 0);
    assert.equal(store.unsettled, 0);
    assert.equal((store.value("a") as GCounter).value, 9);
    assert.equal(store.value("b"), undefined);
  });

  test("iterating entries decodes; settleDeferred decodes the rest in slices", () => {
    const values = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, new Fake(i + 1)]));
    const { store } = storeWith(values);
    const first = store.entries().next().value!;
    assert.equal((first[1].value as GCounter).value, 1);
    assert.equal(store.unsettled, 1_999);
    while (!store.settleDeferred(0)) assert.ok(store.unsettled > 0);
    assert.equal(store.unsettled, 0);
    for (const v of Object.values(values)) assert.equal(v.decoded, 1);
    assert.equal([...store.entries()].reduce((s, [, v]) => s + (v.value as GCounter).value, 0), (2_000 * 2_001) / 2);
  });

  test("a corrupt one drops its key, announced, wherever it is found", () => {
    const { store, changes } = storeWith({ a: new Fake(1), bad: new Fake("corrupt"), c: new Fake(2), worse: new Fake("corrupt") });
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
});
