import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ORMultiMap } from "../../src/crdt/index.js";
import type { Element, ORMapState } from "../../src/crdt/types.js";
import { DecodeError } from "../../src/errors.js";
import { checkDeltaLaws, checkMergeLaws, checkMergeReturnsThis, type TypeSpec } from "./laws.js";

type Op = { t: "add" | "unbind"; k: Element; x: string } | { t: "remove"; k: Element };
const key: fc.Arbitrary<Element> = fc.constantFrom<Element>("k1", "k2", 3);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant("add" as const), k: key, x: fc.constantFrom("x", "y", "z") }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("unbind" as const), k: key, x: fc.constantFrom("x", "y", "z") }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("remove" as const), k: key }) },
);
const spec: TypeSpec<ORMultiMap<string>, Op> = {
  name: "ORMultiMap",
  empty: () => ORMultiMap.empty<string>(),
  op,
  apply: (m, node, o) =>
    o.t === "add" ? m.addBinding(node, o.k, o.x) : o.t === "unbind" ? m.removeBinding(node, o.k, o.x) : m.remove(node, o.k),
};

describe("ORMultiMap laws", () => {
  checkMergeLaws(spec);
  checkDeltaLaws(spec);
  test("merge returns this exactly when the other side adds nothing", () => checkMergeReturnsThis(spec));
});

describe("ORMultiMap", () => {
  test("addBinding / removeBinding / get / entries; the key goes with its last binding", () => {
    let m = ORMultiMap.empty<string, string>().addBinding("a", "fruit", "pear").addBinding("a", "fruit", "apple").addBinding("b", "veg", "leek");
    assert.equal(m.kind, "orMultiMap");
    assert.deepEqual(m.get("fruit"), ["pear", "apple"]); // canonical order: length first
    assert.ok(m.hasBinding("fruit", "pear") && !m.hasBinding("fruit", "leek"));
    assert.deepEqual(m.entries, [
      ["veg", ["leek"]],
      ["fruit", ["pear", "apple"]],
    ]);
    m = m.removeBinding("a", "fruit", "pear");
    assert.deepEqual(m.get("fruit"), ["apple"]);
    m = m.removeBinding("b", "fruit", "apple");
    assert.ok(!m.has("fruit"));
    assert.equal(m.get("fruit"), undefined);
    assert.deepEqual(m.keys, ["veg"]);
    const unchanged = m.resetDelta();
    assert.equal(unchanged.removeBinding("a", "veg", "nope"), unchanged); // absent binding: no-op, no delta
    assert.equal(unchanged.removeBinding("a", "nokey", "x").delta, undefined);
  });

  test("a concurrent addBinding wins over removeBinding of the same element (add wins)", () => {
    const base = ORMultiMap.empty<string, string>().addBinding("a", "k", "x").resetDelta();
    const unbound = base.removeBinding("b", "k", "x");
    const readded = base.addBinding("c", "k", "x");
    assert.deepEqual(unbound.merge(readded).get("k"), ["x"]);
    assert.deepEqual(readded.merge(unbound).get("k"), ["x"]);
  });

  test("remove then addBinding starts from an empty set; a concurrent addBinding survives alone", () => {
    const base = ORMultiMap.empty<string, string>().addBinding("a", "k", "x").addBinding("b", "k", "y").resetDelta();
    assert.deepEqual(base.remove("a", "k").addBinding("a", "k", "z").get("k"), ["z"]);
    const removed = base.remove("c", "k");
    const added = base.addBinding("d", "k", "w");
    for (const m of [removed.merge(added), added.merge(removed), base.merge(removed.delta!).merge(added.delta!)]) {
      assert.deepEqual(m.get("k"), ["w"]);
    }
  });

  test("state round trip and validation", () => {
    const m = ORMultiMap.empty<string, string>().addBinding("a", "k", "x").addBinding("b", "j", "y");
    const state = JSON.parse(JSON.stringify(m.toState())) as ORMapState;
    assert.ok(ORMultiMap.fromState(state).equals(m.resetDelta()));
    assert.equal(state.valueKind, "orset");
    assert.throws(() => ORMultiMap.fromState({ ...state, valueKind: "gcounter" }), DecodeError);
    assert.throws(() => ORMultiMap.fromState(null as never), DecodeError);
  });
});
