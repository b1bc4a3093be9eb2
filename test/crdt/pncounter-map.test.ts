import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { PNCounterMap } from "../../src/crdt/pncounter-map.js";
import type { Element, ORMapState } from "../../src/crdt/types.js";
import { DecodeError, InvalidArgumentError, PrecisionError } from "../../src/errors.js";
import { checkDeltaLaws, checkMergeLaws, fcParams, type TypeSpec } from "./laws.js";

const key: fc.Arbitrary<Element> = fc.constantFrom<Element>("a", "b", "c", 1);

type Op = { t: "inc" | "dec"; k: Element; by: number } | { t: "remove"; k: Element };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constantFrom("inc" as const, "dec" as const), k: key, by: fc.integer({ min: 0, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("remove" as const), k: key }) },
);

const spec: TypeSpec<PNCounterMap, Op> = {
  name: "PNCounterMap",
  empty: () => PNCounterMap.empty(),
  op: opArb,
  apply: (m, node, op) =>
    op.t === "inc" ? m.increment(node, op.k, op.by) : op.t === "dec" ? m.decrement(node, op.k, op.by) : m.remove(node, op.k),
};

describe("PNCounterMap laws", () => {
  checkMergeLaws(spec);
  checkDeltaLaws(spec);
});

describe("PNCounterMap", () => {
  test("known answers: t1 +2 on a, +3 on b, -1 on c → 4", () => {
    const m = PNCounterMap.empty<string>().increment("t1", "a", 2).increment("t1", "b", 3).decrement("t1", "c", 1);
    assert.equal(m.kind, "pncounterMap");
    assert.equal(m.get("a"), 2);
    assert.equal(m.get("b"), 3);
    assert.equal(m.get("c"), -1);
    assert.equal(m.get("d"), undefined);
    assert.equal(m.entries.reduce((sum, [, v]) => sum + v, 0), 4);
    assert.deepEqual(m.entries, [
      ["a", 2],
      ["b", 3],
      ["c", -1],
    ]);
    assert.deepEqual(m.keys, ["a", "b", "c"]);
    assert.equal(m.size, 3);
    assert.ok(m.has("a") && !m.has("d"));
    assert.equal(m.toState().valueKind, "pncounter");
    // default step is 1
    assert.equal(m.increment("t2", "a").decrement("t2", "b").get("a"), 3);
  });

  test("replicas converge through deltas whatever the order", () => {
    const t1 = PNCounterMap.empty<string>().increment("t1", "a", 2);
    const t2 = PNCounterMap.empty<string>().increment("t2", "a", 5).decrement("t2", "b", 1);
    const t1b = t1.resetDelta().decrement("t1", "a", 1);
    const deltas = [t1.delta!, t2.delta!, t1b.delta!];
    const forward = deltas.reduce((acc, d) => acc.merge(d), PNCounterMap.empty<string>());
    const backward = [...deltas].reverse().reduce((acc, d) => acc.merge(d), PNCounterMap.empty<string>());
    assert.ok(forward.equals(backward));
    assert.equal(forward.get("a"), 6);
    assert.equal(forward.get("b"), -1);
  });

  test("remove: a key removed at 5 and incremented reads 1; a concurrent increment survives alone", () => {
    const m = PNCounterMap.empty<string>().increment("t1", "a", 5).remove("t1", "a");
    assert.equal(m.get("a"), undefined);
    assert.equal(m.size, 0);
    assert.equal(m.increment("t1", "a").get("a"), 1);
    assert.equal(m.increment("t2", "a").get("a"), 1);
    // Concurrent increment and remove: the increment wins, with its own effect only.
    const base = PNCounterMap.empty<string>().increment("t1", "a", 5).resetDelta();
    const removed = base.remove("t1", "a");
    const incremented = base.increment("t2", "a", 1);
    assert.equal(removed.merge(incremented).get("a"), 1);
    assert.equal(incremented.merge(removed).get("a"), 1);
    assert.equal(base.merge(incremented.delta!).merge(removed.delta!).get("a"), 1);
    assert.equal(base.merge(removed.delta!).merge(incremented.delta!).get("a"), 1);
    // A decrement concurrent with the remove: likewise.
    assert.equal(removed.merge(base.decrement("t3", "a", 2)).get("a"), -2);
  });

  test("counter past 2^53: get throws PrecisionError, counter().bigValue is exact", () => {
    const max = Number.MAX_SAFE_INTEGER;
    const m = PNCounterMap.empty<string>().increment("t1", "a", max).increment("t2", "a", max);
    assert.throws(() => m.get("a"), PrecisionError);
    assert.equal(m.counter("a")?.bigValue, 2n * BigInt(max));
  });

  test("fromState(toState(x)) equals x", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("a", "b"), opArb), { maxLength: 25 }), (ops) => {
        let m = PNCounterMap.empty();
        for (const [node, op] of ops) m = spec.apply(m, node, op);
        const state = m.toState();
        const back = PNCounterMap.fromState(JSON.parse(JSON.stringify(state)) as ORMapState);
        assert.ok(back.equals(m));
        assert.deepEqual(back.toState(), state);
      }),
      fcParams(),
    );
  });

  test("malformed states → DecodeError", () => {
    const good = PNCounterMap.empty().increment("t1", "a", 1).toState();
    assert.throws(() => PNCounterMap.fromState(undefined as never), DecodeError);
    assert.throws(() => PNCounterMap.fromState({ ...good, valueKind: "lwwRegister" }), DecodeError);
    assert.throws(
      () => PNCounterMap.fromState({ ...good, values: [{ key: "s1:a", value: { increments: { slots: [{ node: "t1", value: -1 }] } } }] } as never),
      DecodeError,
    );
    assert.throws(() => PNCounterMap.fromState({ ...good, values: [{ key: "s1:a" }] } as never), DecodeError);
  });

  test("invalid arguments → InvalidArgumentError", () => {
    const m = PNCounterMap.empty<Element>();
    assert.throws(() => m.increment("", "a"), InvalidArgumentError);
    assert.throws(() => m.increment("t1", undefined as never), InvalidArgumentError);
    assert.throws(() => m.increment("t1", "a", -1), InvalidArgumentError);
    assert.throws(() => m.increment("t1", "a", 0.5), InvalidArgumentError);
    assert.throws(() => m.decrement("t1", "a", Number.NaN), InvalidArgumentError);
    assert.throws(() => m.decrement("t1", "a", 2 ** 53), InvalidArgumentError);
    assert.throws(() => m.remove("", "a"), InvalidArgumentError);
  });
});
