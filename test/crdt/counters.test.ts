import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { GCounter } from "../../src/crdt/gcounter.js";
import { PNCounter } from "../../src/crdt/pncounter.js";
import { DecodeError, InvalidArgumentError, PrecisionError } from "../../src/errors.js";
import { checkDeltaLaws, checkMergeLaws, type TypeSpec } from "./laws.js";

const MAX = Number.MAX_SAFE_INTEGER;

const gcounterSpec: TypeSpec<GCounter, number> = {
  name: "GCounter",
  empty: () => GCounter.empty(),
  op: fc.nat({ max: 20 }),
  apply: (c, node, by) => c.increment(node, by),
};

const pncounterSpec: TypeSpec<PNCounter, { up: boolean; by: number }> = {
  name: "PNCounter",
  empty: () => PNCounter.empty(),
  op: fc.record({ up: fc.boolean(), by: fc.nat({ max: 20 }) }),
  apply: (c, node, { up, by }) => (up ? c.increment(node, by) : c.decrement(node, by)),
};

describe("GCounter laws", () => {
  checkMergeLaws(gcounterSpec);
  checkDeltaLaws(gcounterSpec);
});
describe("PNCounter laws", () => {
  checkMergeLaws(pncounterSpec);
  checkDeltaLaws(pncounterSpec);
});

describe("GCounter", () => {
  test("known answer (GoAkt): a=10,b=4 ⊔ a=10,b=5 = 15", () => {
    const x = GCounter.empty().increment("a", 10).increment("b", 4);
    const y = GCounter.empty().increment("a", 10).increment("b", 5);
    assert.equal(x.merge(y).value, 15);
    assert.equal(y.merge(x).value, 15);
    assert.deepEqual(x.merge(y).toState(), { slots: [{ node: "a", value: 10 }, { node: "b", value: 5 }] });
  });

  test("known answers (UnisonDB scenarios 3 and 5): per-replica counts add up", () => {
    const dc1 = GCounter.empty().increment("ad-campaign-dc1", 5);
    const dc2 = GCounter.empty().increment("ad-campaign-dc2", 3);
    assert.equal(dc1.merge(dc2).value, 8);
    const api = GCounter.empty().increment("ad-campaign-dc1", 100).merge(GCounter.empty().increment("ad-campaign-dc2", 75));
    const db = GCounter.empty().increment("ad-campaign-dc1", 250);
    assert.equal(api.value, 175);
    assert.equal(db.value, 250);
  });

  test("increment defaults to 1; 0 is a no-op returning the same value", () => {
    const c = GCounter.empty().increment("a").increment("a");
    assert.equal(c.value, 2);
    assert.equal(c.increment("a", 0), c);
    assert.equal(GCounter.empty().value, 0);
    assert.equal(GCounter.empty().bigValue, 0n);
    assert.equal(GCounter.empty().delta, undefined);
  });

  test("the delta of an increment holds only the written slot; deltas accumulate until resetDelta", () => {
    const base = GCounter.empty().increment("a", 7).increment("b", 2).resetDelta();
    const once = base.increment("a", 1);
    assert.deepEqual(once.delta?.toState(), { slots: [{ node: "a", value: 8 }] });
    const twice = once.increment("c", 3);
    assert.deepEqual(twice.delta?.toState(), { slots: [{ node: "a", value: 8 }, { node: "c", value: 3 }] });
    assert.equal(twice.resetDelta().delta, undefined);
    assert.ok(twice.resetDelta().equals(twice));
  });

  test("merge returns the same value when the other side adds nothing (idempotent merge is observable)", () => {
    const c = GCounter.empty().increment("a", 3);
    assert.equal(c.merge(GCounter.empty()), c);
    assert.equal(c.merge(GCounter.empty().increment("a", 2)), c);
  });

  test("never loses precision: past 2^53 `value` throws PrecisionError, `bigValue` is exact", () => {
    const c = GCounter.empty().increment("a", MAX).increment("b", MAX).increment("c", 10);
    assert.throws(() => c.value, (e: unknown) => e instanceof PrecisionError && /bigValue/.test(e.message) && e.name === "PrecisionError");
    assert.equal(c.bigValue, 2n * BigInt(MAX) + 10n);
    assert.equal(GCounter.empty().increment("a", MAX).value, MAX);
    assert.throws(() => GCounter.empty().increment("a", MAX).increment("b", 1).value, PrecisionError);
  });

  test("a slot cannot pass Number.MAX_SAFE_INTEGER", () => {
    const c = GCounter.empty().increment("a", MAX);
    assert.throws(() => c.increment("a", 1), (e: unknown) => e instanceof InvalidArgumentError && /MAX_SAFE_INTEGER/.test(e.message));
    assert.equal(c.increment("b", 1).bigValue, BigInt(MAX) + 1n);
  });

  test("invalid amounts and node ids throw InvalidArgumentError with a helpful message", () => {
    const c = GCounter.empty();
    for (const by of [-1, 1.5, NaN, Infinity, -Infinity, MAX + 1, "1", 1n, null]) {
      assert.throws(
        () => c.increment("a", by as number),
        (e: unknown) =>
          e instanceof InvalidArgumentError &&
          /increment must be a non-negative safe integer; use PNCounter.decrement to go down/.test(e.message),
        `increment by ${String(by)}`,
      );
    }
    for (const node of ["", 5, undefined, null, "\uD800"]) {
      assert.throws(() => c.increment(node as string, 1), (e: unknown) => e instanceof InvalidArgumentError && /node id/.test(e.message));
    }
  });

  test("node ids that look like Object.prototype members are just ids", () => {
    const c = GCounter.empty().increment("__proto__", 2).increment("constructor", 3).increment("toString", 4);
    assert.equal(c.value, 9);
    assert.equal(c.slot("__proto__"), 2);
    assert.ok(GCounter.fromState(c.toState()).equals(c));
  });

  test("fromState rejects malformed states with DecodeError", () => {
    const bad: unknown[] = [
      null,
      42,
      {},
      { slots: "x" },
      { slots: [null] },
      { slots: [{ node: "b", value: 1 }, { node: "a", value: 1 }] }, // unsorted
      { slots: [{ node: "a", value: 1 }, { node: "a", value: 2 }] }, // duplicate
      { slots: [{ node: "a", value: 0 }] }, // zero slot
      { slots: [{ node: "a", value: -1 }] },
      { slots: [{ node: "a", value: 1.5 }] },
      { slots: [{ node: "a", value: MAX + 1 }] },
      { slots: [{ node: "a", value: "1" }] },
      { slots: [{ node: "", value: 1 }] },
      { slots: [{ node: 7, value: 1 }] },
    ];
    for (const state of bad) {
      assert.throws(() => GCounter.fromState(state as never), DecodeError, JSON.stringify(state));
    }
    assert.ok(GCounter.fromState({ slots: [] }).equals(GCounter.empty()));
  });
});

describe("PNCounter", () => {
  test("increments and decrements across nodes add up in any merge order", () => {
    const a = PNCounter.empty().increment("a", 10).decrement("a", 3);
    const b = PNCounter.empty().increment("b", 5);
    const c = PNCounter.empty().decrement("c", 4).decrement("c");
    for (const [x, y, z] of [[a, b, c], [c, b, a], [b, a, c]] as const) {
      assert.equal(x.merge(y).merge(z).value, 7);
      assert.equal(x.merge(y.merge(z)).bigValue, 7n);
    }
    const negative = PNCounter.empty().decrement("a", 5).merge(PNCounter.empty().decrement("b", 2));
    assert.equal(negative.value, -7);
    assert.equal(negative.bigValue, -7n);
  });

  test("known answer (GoAkt): a rate limiter's gauge goes up and down", () => {
    let a = PNCounter.empty();
    let b = PNCounter.empty();
    a = a.increment("a", 3);
    b = b.increment("b", 2).decrement("b", 1);
    a = a.decrement("a", 1);
    assert.equal(a.merge(b).value, 3);
    assert.ok(a.merge(b).equals(b.merge(a)));
  });

  test("the delta of a mutation holds only what it changed", () => {
    const base = PNCounter.empty().increment("a", 4).decrement("b", 2).resetDelta();
    assert.equal(base.delta, undefined);
    const d = base.decrement("a", 1).delta;
    assert.deepEqual(d?.toState(), { increments: { slots: [] }, decrements: { slots: [{ node: "a", value: 1 }] } });
    assert.equal(base.increment("a", 0), base);
    assert.equal(base.decrement("a", 0), base);
  });

  test("never loses precision: exact when the difference is safe, PrecisionError otherwise", () => {
    const big = PNCounter.empty().increment("a", MAX).increment("b", 10).decrement("c", 20);
    assert.equal(big.value, MAX - 10); // P is past 2^53, P − N is not
    assert.equal(big.bigValue, BigInt(MAX) - 10n);
    const low = PNCounter.empty().decrement("a", MAX).decrement("b", MAX);
    assert.throws(() => low.value, (e: unknown) => e instanceof PrecisionError && /bigValue/.test(e.message));
    assert.equal(low.bigValue, -2n * BigInt(MAX));
    const high = PNCounter.empty().increment("a", MAX).increment("b", 1);
    assert.throws(() => high.value, PrecisionError);
  });

  test("invalid arguments throw InvalidArgumentError with a helpful message", () => {
    const c = PNCounter.empty();
    assert.throws(() => c.increment("a", -1), (e: unknown) => e instanceof InvalidArgumentError && /use decrement to go down/.test(e.message));
    assert.throws(() => c.decrement("a", -1), (e: unknown) => e instanceof InvalidArgumentError && /use increment to go up/.test(e.message));
    assert.throws(() => c.decrement("a", NaN), InvalidArgumentError);
    assert.throws(() => c.increment("a", 0.5), InvalidArgumentError);
    assert.throws(() => c.decrement("", 1), InvalidArgumentError);
    assert.throws(() => c.decrement("a", MAX).decrement("a", 1), InvalidArgumentError);
  });

  test("fromState rejects malformed states with DecodeError and accepts omitted empty halves", () => {
    for (const state of [null, "x", { increments: { slots: [{ node: "a", value: 0 }] } }, { decrements: { slots: 3 } }, { increments: null }]) {
      assert.throws(() => PNCounter.fromState(state as never), DecodeError, JSON.stringify(state));
    }
    assert.equal(PNCounter.fromState({ increments: { slots: [{ node: "a", value: 2 }] } } as never).value, 2);
    assert.ok(PNCounter.fromState({} as never).equals(PNCounter.empty()));
  });
});
