import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { MVRegister } from "../../src/crdt/mv-register.js";
import type { Element, MVRegisterState } from "../../src/crdt/types.js";
import { DecodeError, InvalidArgumentError } from "../../src/errors.js";
import { checkDeltaLaws, checkMergeLaws, checkMergeReturnsThis, fcParams, type TypeSpec } from "./laws.js";

const value: fc.Arbitrary<Element> = fc.constantFrom<Element>("x", "y", "z", 1, null, { a: [1, 2] }, { b: true });

const mvSpec: TypeSpec<MVRegister, Element> = {
  name: "MVRegister",
  empty: () => MVRegister.empty(),
  op: value,
  apply: (r, node, v) => r.set(node, v),
};

describe("MVRegister laws", () => {
  checkMergeLaws(mvSpec);
  checkDeltaLaws(mvSpec);
});

describe("MVRegister", () => {
  test("empty, set, values", () => {
    assert.deepEqual(MVRegister.empty().values, []);
    const r = MVRegister.empty<string>().set("a", "x").set("a", "y");
    assert.deepEqual(r.values, ["y"]);
  });

  test("concurrent writes are all kept; a later write that saw them replaces them", () => {
    const base = MVRegister.empty<string>().set("a", "v0").resetDelta();
    const a = base.set("a", "from-a");
    const b = MVRegister.empty<string>().merge(base).set("b", "from-b");
    const both = a.merge(b);
    assert.deepEqual(both.values, ["from-a", "from-b"]);
    assert.ok(both.equals(b.merge(a)));
    // Through deltas, in either order.
    assert.deepEqual(base.merge(b.delta!).merge(a.delta!).values, ["from-a", "from-b"]);
    // c saw both and overwrites: everyone converges on the one value.
    const c = both.resetDelta().set("c", "final");
    assert.deepEqual(c.values, ["final"]);
    assert.deepEqual(a.merge(c.delta!).values, ["final"]);
    assert.deepEqual(b.merge(c).values, ["final"]);
    // A write that saw only a's value leaves b's concurrent one in place.
    const onlyA = a.resetDelta().set("a", "a-again");
    assert.deepEqual(onlyA.merge(b).values, ["from-b", "a-again"]); // "s6:from-b" < "s7:a-again"
  });

  test("equal concurrent values are reported once", () => {
    const a = MVRegister.empty().set("a", { k: 1 });
    const b = MVRegister.empty().set("b", { k: 1 });
    assert.deepEqual(a.merge(b).values, [{ k: 1 }]);
    assert.equal(a.merge(b).toState().entries.length, 2);
  });

  test("deltas: context covers only the dots it saw; reverse delivery converges", () => {
    const r1 = MVRegister.empty<string>().set("a", "1");
    const d1 = r1.delta!;
    const r2 = r1.resetDelta().set("a", "2");
    const d2 = r2.delta!;
    assert.deepEqual(d2.toState(), {
      entries: [{ dot: { node: "a", counter: 2 }, value: "s1:2" }],
      context: { vector: [{ node: "a", value: 2 }], cloud: [] },
    });
    const peer = MVRegister.empty<string>().merge(d2).merge(d1);
    assert.deepEqual(peer.values, ["2"]);
    assert.ok(peer.equals(r2.resetDelta()));
  });

  test("values are frozen copies", () => {
    const obj = { list: [1] };
    const r = MVRegister.empty<Element>().set("a", obj);
    obj.list.push(2);
    assert.deepEqual(r.values, [{ list: [1] }]);
    assert.ok(Object.isFrozen(r.values) && Object.isFrozen(r.values[0]));
  });

  test("merge returns this exactly when the other side adds nothing", () => {
    checkMergeReturnsThis(mvSpec);
  });

  test("fromState(toState(x)) equals x", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), value, fc.boolean()), { maxLength: 20 }), (ops) => {
        // Three replicas that write and occasionally merge each other.
        const rs = { a: MVRegister.empty(), b: MVRegister.empty(), c: MVRegister.empty() };
        for (const [node, v, merge] of ops) {
          const n = node as keyof typeof rs;
          rs[n] = merge ? rs[n].merge(rs.a).merge(rs.b) : rs[n].set(node, v);
        }
        for (const r of [rs.a, rs.b, rs.c, rs.a.merge(rs.b).merge(rs.c)]) {
          const state = r.toState();
          const back = MVRegister.fromState(JSON.parse(JSON.stringify(state)) as MVRegisterState);
          assert.ok(back.equals(r));
          assert.deepEqual(back.toState(), state);
        }
      }),
      fcParams(),
    );
  });

  test("malformed states → DecodeError", () => {
    const ctx = { vector: [{ node: "a", value: 2 }], cloud: [] };
    const e = (node: string, counter: number, value: string): unknown => ({ dot: { node, counter }, value });
    const bad: unknown[] = [
      null,
      { entries: null, context: ctx },
      { entries: [e("a", 1, "x")], context: ctx }, // not canonical
      { entries: [e("a", 3, "s1:x")], context: ctx }, // not covered
      { entries: [e("", 1, "s1:x")], context: ctx },
      { entries: [e("a", 0, "s1:x")], context: ctx },
      { entries: [e("a", 2, "s1:x"), e("a", 1, "s1:y")], context: ctx }, // unsorted
      { entries: [e("a", 1, "s1:x"), e("a", 1, "s1:y")], context: ctx }, // duplicate dot
      { entries: [{ value: "s1:x" }], context: ctx },
      { entries: [], context: { vector: [{ node: "a" }], cloud: [] } },
    ];
    for (const s of bad) assert.throws(() => MVRegister.fromState(s as never), DecodeError, JSON.stringify(s));
  });

  test("invalid arguments → InvalidArgumentError", () => {
    const r = MVRegister.empty<Element>();
    assert.throws(() => r.set("", "x"), InvalidArgumentError);
    assert.throws(() => r.set("a", undefined as never), InvalidArgumentError);
    assert.throws(() => r.set("a", new Set() as never), InvalidArgumentError);
    assert.throws(() => r.set("a", Infinity), InvalidArgumentError);
  });
});
