import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { canonical } from "../../src/crdt/element.js";
import { GSet } from "../../src/crdt/gset.js";
import type { Element } from "../../src/crdt/types.js";
import { DecodeError, InvalidArgumentError } from "../../src/errors.js";
import { checkDeltaLaws, checkMergeLaws, type TypeSpec } from "./laws.js";

/** A small pool, so replicas often add the same element. */
const element: fc.Arbitrary<Element> = fc.oneof(
  fc.constantFrom<Element>("x", "y", "z", "", "__proto__", 1, 2.5, true, null, 10n),
  fc.constantFrom<Element>({ a: 1, b: [2, "c"] }, { b: [2, "c"], a: 1 }, [1, 2], new Uint8Array([1, 2, 3])),
);

const gsetSpec: TypeSpec<GSet, Element> = {
  name: "GSet",
  empty: () => GSet.empty(),
  op: element,
  apply: (s, node, x) => s.add(node, x),
};

describe("GSet laws", () => {
  checkMergeLaws(gsetSpec);
  checkDeltaLaws(gsetSpec);
});

describe("GSet", () => {
  test("add, has, elements (canonical order), size", () => {
    const s = GSet.empty<string | number>().add("a", "b").add("a", "a").add("b", 3).add("c", "b");
    assert.equal(s.size, 3);
    assert.ok(s.has("a") && s.has("b") && s.has(3));
    assert.ok(!s.has("c") && !s.has("3"));
    assert.deepEqual(s.elements, [3, "a", "b"]); // "d3;" < "s1:a" < "s1:b"
    assert.deepEqual(s.elements.map(canonical), s.toState().elements);
    assert.deepEqual(s.toState(), { elements: ["d3;", "s1:a", "s1:b"] });
  });

  test("merge is union; replicas agree whatever the order (GoAkt: grow-only sets)", () => {
    const a = GSet.empty().add("a", "x").add("a", "y");
    const b = GSet.empty().add("b", "y").add("b", "z");
    assert.deepEqual(a.merge(b).elements, ["x", "y", "z"]);
    assert.ok(a.merge(b).equals(b.merge(a)));
    assert.equal(a.merge(GSet.empty().add("c", "x")), a); // nothing new → same value
  });

  test("structured elements are identified by value, whatever the key order", () => {
    const s = GSet.empty().add("a", { a: 1, b: { c: [1n, null] } });
    assert.ok(s.has({ b: { c: [1n, null] }, a: 1 }));
    assert.equal(s.add("b", { b: { c: [1n, null] }, a: 1 }), s);
    assert.ok(s.has(new Uint8Array([])) === false);
  });

  test("the set keeps its own copy of added objects", () => {
    const obj = { list: [1, 2] };
    const s = GSet.empty().add("a", obj);
    obj.list.push(3);
    assert.deepEqual(s.elements, [{ list: [1, 2] }]);
    assert.ok(s.has({ list: [1, 2] }));
  });

  test("__proto__ and constructor keys are data", () => {
    const evil = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}') as Element;
    const s = GSet.empty().add("a", evil);
    const back = GSet.fromState(JSON.parse(JSON.stringify(s.toState())));
    assert.ok(back.has(evil));
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
    const [only] = back.elements as Record<string, unknown>[];
    assert.equal(Object.getPrototypeOf(only), Object.prototype);
    assert.ok(Object.hasOwn(only!, "__proto__"));
  });

  test("delta: one add's delta is that element; deltas accumulate until resetDelta", () => {
    const base = GSet.empty().add("a", "x").resetDelta();
    assert.equal(base.delta, undefined);
    const one = base.add("a", "y");
    assert.deepEqual(one.delta?.elements, ["y"]);
    assert.deepEqual(one.add("b", "z").delta?.elements, ["y", "z"]);
    assert.equal(one.add("a", "x").delta, one.delta); // re-adding changes nothing
  });

  test("invalid elements and node ids throw InvalidArgumentError", () => {
    const s = GSet.empty();
    for (const bad of [undefined, () => 1, Symbol("s"), NaN, Infinity, new Date(0), new Map(), "\uDC00", { a: undefined }]) {
      assert.throws(() => s.add("a", bad as never), InvalidArgumentError, String(typeof bad));
      assert.throws(() => s.has(bad as never), InvalidArgumentError);
    }
    assert.throws(() => s.add("", "x"), (e: unknown) => e instanceof InvalidArgumentError && /node id/.test(e.message));
    assert.throws(() => s.add(undefined as never, "x"), InvalidArgumentError);
  });

  test("fromState rejects malformed states with DecodeError", () => {
    for (const state of [
      null,
      {},
      { elements: "s1:a" },
      { elements: ["s1:b", "s1:a"] }, // unsorted
      { elements: ["s1:a", "s1:a"] }, // duplicate
      { elements: ["a"] }, // not canonical
      { elements: ["d1.0;"] }, // decodable but not canonical
      { elements: ["{s1:bts1:af}"] }, // object keys out of order
      { elements: [7] },
    ]) {
      assert.throws(() => GSet.fromState(state as never), DecodeError, JSON.stringify(state));
    }
    assert.deepEqual(GSet.fromState({ elements: ["d1;", "s1:a"] }).elements, [1, "a"]);
  });
});
