import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GCounter, ORSet } from "../../src/index.js";
import { encodeCrdtDeltaBatch, type Tombstone } from "../../src/wire/codec.js";
import { BatchAccumulator } from "../../src/xdc/accumulator.js";
import { BATCH_OVERHEAD, halve, pack, toTaken } from "../../src/xdc/pack.js";

const inc = (node: string, n: number): GCounter => GCounter.empty().increment(node, n).delta!;
const tomb = (key: string, at: number, origin = "a"): Tombstone => ({ key, kind: "gcounter", deletedAtMs: at, originNode: origin });

describe("BatchAccumulator", () => {
  test("many deltas of one key cost one entry holding their merge", () => {
    const acc = new BatchAccumulator();
    let c = GCounter.empty();
    for (let i = 0; i < 100; i++) {
      c = c.increment("a", 1);
      acc.addDelta("hits", "gcounter", c.delta!);
      c = c.resetDelta();
    }
    assert.equal(acc.size, 1);
    const taken = acc.take();
    assert.equal(taken.deltas.length, 1);
    assert.equal((taken.deltas[0]!.value as GCounter).value, 100);
    assert.ok(acc.isEmpty, "take empties it");
  });

  test("a tombstone replaces the key's pending delta and blocks later deltas; the earlier tombstone wins", () => {
    const acc = new BatchAccumulator();
    acc.addDelta("k", "gcounter", inc("a", 1));
    acc.addTombstone(tomb("k", 20, "b"));
    acc.addDelta("k", "gcounter", inc("a", 2));
    acc.addTombstone(tomb("k", 10, "c"));
    acc.addTombstone(tomb("k", 30, "a"));
    const taken = acc.take();
    assert.equal(taken.deltas.length, 0);
    assert.deepEqual(taken.tombstones, [tomb("k", 10, "c")]);
  });

  test("restore merges what failed with what arrived meanwhile: nothing is lost", () => {
    const acc = new BatchAccumulator();
    acc.addDelta("x", "gcounter", inc("a", 5));
    acc.addDelta("s", "orset", ORSet.empty<string>().add("a", "one").delta!);
    const inflight = acc.take();
    acc.addDelta("x", "gcounter", inc("b", 7));
    acc.addDelta("s", "orset", ORSet.empty<string>().add("b", "two").delta!);
    acc.addTombstone(tomb("gone", 1));
    acc.restore(inflight);
    const again = acc.take();
    const byKey = new Map(again.deltas.map((d) => [d.key, d.value]));
    assert.equal((byKey.get("x") as GCounter).value, 12);
    assert.deepEqual([...(byKey.get("s") as ORSet<string>).elements].sort(), ["one", "two"]);
    assert.equal(again.tombstones.length, 1);
  });

  test("restore does not resurrect a key deleted meanwhile", () => {
    const acc = new BatchAccumulator();
    acc.addDelta("k", "gcounter", inc("a", 1));
    const inflight = acc.take();
    acc.addTombstone(tomb("k", 5));
    acc.restore(inflight);
    const taken = acc.take();
    assert.equal(taken.deltas.length, 0);
    assert.equal(taken.tombstones.length, 1);
  });
});

describe("pack", () => {
  const taken = (n: number, size = 0): ReturnType<BatchAccumulator["take"]> => {
    const acc = new BatchAccumulator();
    for (let i = 0; i < n; i++) {
      const s = ORSet.empty<string>().add("a", `${i}:${"x".repeat(size)}`);
      acc.addDelta(`key-${i}`, "orset", s.delta!);
    }
    for (let i = 0; i < Math.ceil(n / 10); i++) acc.addTombstone(tomb(`dead-${i}`, i));
    return acc.take();
  };

  test("every part encodes within the budget, and the parts hold everything exactly once", () => {
    const t = taken(300, 40);
    const budget = 4096;
    const { parts, oversized } = pack(t, "leader", budget);
    assert.equal(oversized.length, 0);
    assert.ok(parts.length > 1, "split into several parts");
    for (const p of parts) {
      const bytes = encodeCrdtDeltaBatch({ originDc: "east", originNode: "leader", batchId: 1, sentAtMs: Date.now(), ...p });
      assert.ok(bytes.length <= budget, `part of ${bytes.length} bytes > ${budget}`);
    }
    const back = toTaken(parts);
    assert.deepEqual(back.deltas.map((d) => d.key).sort(), t.deltas.map((d) => d.key).sort());
    assert.deepEqual(back.tombstones.map((d) => d.key).sort(), t.tombstones.map((d) => d.key).sort());
  });

  test("a value larger than the budget is set apart, the rest still travels", () => {
    const acc = new BatchAccumulator();
    acc.addDelta("small", "gcounter", inc("a", 1));
    acc.addDelta("huge", "orset", ORSet.empty<string>().add("a", "y".repeat(5000)).delta!);
    const { parts, oversized } = pack(acc.take(), "leader", 2048);
    assert.deepEqual(oversized.map((d) => d.key), ["huge"]);
    assert.deepEqual(parts.flatMap((p) => p.deltas.map((d) => d.key)), ["small"]);
  });

  test("halve splits into two non-empty parts, and refuses a single entry", () => {
    const { parts } = pack(taken(7), "leader", 1 << 20);
    assert.equal(parts.length, 1);
    const halves = halve(parts[0]!)!;
    const count = (p: { deltas: unknown[]; tombstones: unknown[] }): number => p.deltas.length + p.tombstones.length;
    assert.equal(count(halves[0]) + count(halves[1]), 8);
    assert.ok(count(halves[0]) > 0 && count(halves[1]) > 0);
    assert.equal(halve({ deltas: [], tombstones: [tomb("k", 1)] }), undefined);
    const two = halve({ deltas: parts[0]!.deltas.slice(0, 1), tombstones: [tomb("k", 1)] })!;
    assert.ok(count(two[0]) === 1 && count(two[1]) === 1);
    assert.ok(BATCH_OVERHEAD > 0);
  });
});
