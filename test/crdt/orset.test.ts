import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { canonical } from "../../src/crdt/element.js";
import { ORSet } from "../../src/crdt/orset.js";
import type { Element, ORSetState } from "../../src/crdt/types.js";
import { DecodeError, InvalidArgumentError } from "../../src/errors.js";
import { checkDeltaLaws, checkMergeLaws, checkMergeReturnsThis, fcParams, type TypeSpec } from "./laws.js";

/** A small pool, so replicas often add and remove the same element. */
const element: fc.Arbitrary<Element> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<Element>("x", "y", "z", 1, true, null) },
  { weight: 1, arbitrary: fc.constantFrom<Element>({ a: 1, b: [2, "c"] }, { b: [2, "c"], a: 1 }, 10n, new Uint8Array([1, 2])) },
);

type Op = { t: "add"; x: Element } | { t: "remove"; x: Element };

const orsetSpec: TypeSpec<ORSet, Op> = {
  name: "ORSet",
  empty: () => ORSet.empty(),
  op: fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant("add" as const), x: element }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("remove" as const), x: element }) },
  ),
  apply: (s, node, op) => (op.t === "add" ? s.add(node, op.x) : s.remove(op.x)),
};

describe("ORSet laws", () => {
  checkMergeLaws(orsetSpec);
  checkDeltaLaws(orsetSpec);
});

describe("ORSet", () => {
  test("add, remove, has, elements (canonical order), size", () => {
    const s = ORSet.empty<string | number>().add("a", "b").add("a", "a").add("b", 3).add("c", "b");
    assert.equal(s.size, 3);
    assert.ok(s.has("a") && s.has("b") && s.has(3));
    assert.ok(!s.has("c") && !s.has("3"));
    assert.deepEqual(s.elements, [3, "a", "b"]);
    const r = s.remove("b");
    assert.deepEqual(r.elements, [3, "a"]);
    assert.equal(r.size, 2);
    assert.deepEqual(s.elements, [3, "a", "b"]); // the source is untouched
  });

  test("two sequential adds from one node, deltas delivered in reverse order: both stay (GoAkt's bug)", () => {
    const a0 = ORSet.empty<string>().add("a", "seed").resetDelta();
    const peer0 = ORSet.empty<string>().merge(a0);
    const a1 = a0.add("a", "first");
    const d1 = a1.delta!;
    const a2 = a1.resetDelta().add("a", "second");
    const d2 = a2.delta!;
    // A delta's context covers only its own dots.
    assert.deepEqual(d2.toState().context, { vector: [], cloud: [{ node: "a", counter: 3 }] });
    const peer = peer0.merge(d2).merge(d1);
    assert.deepEqual(peer.elements, ["seed", "first", "second"]); // canonical order: "s4:seed" < "s5:first"
    assert.ok(peer.equals(a2.resetDelta()));
    // And on a fresh peer that has seen nothing else.
    assert.deepEqual(ORSet.empty<string>().merge(d2).merge(d1).elements, ["first", "second"]);
  });

  test("concurrent add and remove: the add wins", () => {
    const base = ORSet.empty<string>().add("a", "x").resetDelta();
    const removed = base.remove("x"); // replica a
    const readded = ORSet.empty<string>().merge(base).add("b", "x"); // replica b, concurrently
    assert.ok(removed.merge(readded).has("x"));
    assert.ok(readded.merge(removed).has("x"));
    // Through deltas too.
    assert.ok(base.merge(removed.delta!).merge(readded.delta!).has("x"));
    assert.ok(base.merge(readded.delta!).merge(removed.delta!).has("x"));
  });

  test("observed remove: the element is gone everywhere", () => {
    const a = ORSet.empty<string>().add("a", "x").add("b", "x").resetDelta(); // two dots
    const b = ORSet.empty<string>().merge(a);
    const removed = b.remove("x");
    assert.equal(removed.delta!.size, 0);
    assert.ok(!removed.has("x"));
    assert.ok(!a.merge(removed).has("x"));
    assert.ok(!a.merge(removed.delta!).has("x"));
  });

  test("a remove delivered before the add it observed: still absent after both arrive", () => {
    const added = ORSet.empty<string>().add("a", "x");
    const addDelta = added.delta!;
    const removed = added.resetDelta().remove("x");
    const removeDelta = removed.delta!;
    const peer = ORSet.empty<string>().merge(removeDelta);
    assert.ok(!peer.has("x"));
    const after = peer.merge(addDelta);
    assert.ok(!after.has("x"));
    assert.ok(after.equals(removed.resetDelta()));
  });

  test("a re-add supersedes the old dots: one dot per element after local adds", () => {
    const s = ORSet.empty<string>().add("a", "x").add("b", "x").add("a", "x");
    assert.deepEqual(s.toState().entries, [{ element: "s1:x", dots: [{ node: "a", counter: 2 }] }]);
    // Its delta says which dots it superseded.
    const d = ORSet.empty<string>().add("a", "x").resetDelta().add("b", "x").delta!;
    assert.deepEqual(d.toState(), {
      entries: [{ element: "s1:x", dots: [{ node: "b", counter: 1 }] }],
      context: { vector: [{ node: "a", value: 1 }, { node: "b", value: 1 }], cloud: [] },
    });
  });

  test("removing an absent element is a no-op without delta", () => {
    const s = ORSet.empty<string>().add("a", "x").resetDelta();
    assert.equal(s.remove("y"), s);
    assert.equal(s.remove("y").delta, undefined);
  });

  test("delta accumulates until resetDelta, and merge keeps this value's pending delta", () => {
    const s = ORSet.empty<string>().add("a", "x").add("a", "y").remove("x");
    const d = s.delta!;
    assert.deepEqual(d.elements, ["y"]);
    assert.ok(ORSet.empty<string>().merge(d).equals(s.resetDelta()));
    const other = ORSet.empty<string>().add("b", "z").resetDelta();
    assert.equal(s.merge(other).delta, d);
    assert.equal(s.resetDelta().delta, undefined);
  });

  test("merge returns this when nothing new arrives", () => {
    const s = ORSet.empty<string>().add("a", "x").add("b", "y").resetDelta();
    assert.equal(s.merge(s.resetDelta()), s);
    assert.equal(s.merge(ORSet.empty()), s);
    const part = ORSet.empty<string>().add("a", "x").resetDelta();
    assert.equal(s.merge(part), s);
  });

  test("elements are frozen copies; added objects are copied", () => {
    const obj = { list: [1, 2] };
    const s = ORSet.empty<Element>().add("a", obj);
    obj.list.push(3);
    assert.deepEqual(s.elements, [{ list: [1, 2] }]);
    assert.ok(Object.isFrozen(s.elements));
    assert.throws(() => (s.elements[0] as { list: number[] }).list.push(4), TypeError);
    assert.ok(s.has({ list: [1, 2] }));
  });

  test("merge returns this exactly when the other side adds nothing", () => {
    checkMergeReturnsThis(orsetSpec);
  });

  test("fromState(toState(x)) equals x, also through JSON", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), orsetSpec.op), { maxLength: 30 }), (ops) => {
        let s = ORSet.empty();
        for (const [node, op] of ops) s = orsetSpec.apply(s, node, op);
        const state = s.toState();
        const back = ORSet.fromState(JSON.parse(JSON.stringify(state, (_k, v: unknown) => v)) as ORSetState);
        assert.ok(back.equals(s));
        assert.deepEqual(back.toState(), state);
        assert.deepEqual(back.elements.map(canonical), s.elements.map(canonical));
        const d = s.delta;
        if (d !== undefined) assert.ok(ORSet.fromState(d.toState()).equals(d));
      }),
      fcParams(),
    );
  });

  test("compact folds the cloud and changes nothing observable", () => {
    const s = ORSet.empty<string>().add("a", "x");
    const d = s.resetDelta().add("a", "y").delta!; // dot (a, 2) only
    assert.deepEqual(d.toState().context.cloud, [{ node: "a", counter: 2 }]);
    const peer = ORSet.empty<string>().merge(d);
    assert.equal(peer.compact(), peer); // already compact
    const full = peer.merge(s.delta!);
    assert.deepEqual(full.toState().context, { vector: [{ node: "a", value: 2 }], cloud: [] });
  });

  test("malformed states → DecodeError", () => {
    const ctx = { vector: [{ node: "a", value: 2 }], cloud: [] };
    const bad: unknown[] = [
      null,
      "x",
      { entries: "x", context: ctx },
      { entries: [{ element: "x", dots: [{ node: "a", counter: 1 }] }], context: ctx }, // not canonical
      { entries: [{ element: "s1:x", dots: [] }], context: ctx }, // no dots
      { entries: [{ element: "s1:x", dots: [{ node: "a", counter: 3 }] }], context: ctx }, // dot not in context
      { entries: [{ element: "s1:x", dots: [{ node: "", counter: 1 }] }], context: ctx },
      { entries: [{ element: "s1:x", dots: [{ node: "a", counter: -1 }] }], context: ctx },
      { entries: [{ element: "s1:x", dots: [{ node: "a", counter: 2 }, { node: "a", counter: 1 }] }], context: ctx },
      {
        entries: [
          { element: "s1:y", dots: [{ node: "a", counter: 1 }] },
          { element: "s1:x", dots: [{ node: "a", counter: 2 }] },
        ],
        context: ctx,
      }, // unsorted
      {
        entries: [
          { element: "s1:x", dots: [{ node: "a", counter: 1 }] },
          { element: "s1:x", dots: [{ node: "a", counter: 2 }] },
        ],
        context: ctx,
      }, // duplicate element
      {
        entries: [
          { element: "s1:x", dots: [{ node: "a", counter: 1 }] },
          { element: "s1:y", dots: [{ node: "a", counter: 1 }] },
        ],
        context: ctx,
      }, // one dot, two elements
      { entries: [], context: { vector: [{ node: "a", value: 2 ** 53 }], cloud: [] } },
    ];
    for (const s of bad) assert.throws(() => ORSet.fromState(s as never), DecodeError, JSON.stringify(s));
    // An absent context (proto3 omits empty sub-messages) is the empty one.
    assert.ok(ORSet.fromState({ entries: [] } as never).equals(ORSet.empty()));
  });

  test("invalid arguments → InvalidArgumentError", () => {
    const s = ORSet.empty<Element>();
    assert.throws(() => s.add("", "x"), InvalidArgumentError);
    assert.throws(() => s.add(undefined as never, "x"), InvalidArgumentError);
    assert.throws(() => s.add("a", undefined as never), InvalidArgumentError);
    assert.throws(() => s.add("a", new Date() as never), InvalidArgumentError);
    assert.throws(() => s.add("a", Number.NaN), InvalidArgumentError);
    assert.throws(() => s.add("a", (() => 1) as never), InvalidArgumentError);
    assert.throws(() => s.remove(Symbol("x") as never), InvalidArgumentError);
    assert.throws(() => s.has(new Map() as never), InvalidArgumentError);
  });

  test("large sets: mutations and delta merges do not touch every element", () => {
    const n = 50_000;
    let s = ORSet.empty<number>();
    for (let i = 0; i < n; i++) s = s.add("a", i);
    const full = s.resetDelta();
    let peer = ORSet.empty<number>().merge(full);
    assert.equal(peer.size, n);
    // 5,000 further writes shipped as deltas: cheap because each delta merge is O(delta).
    let writer = full;
    const started = performance.now();
    for (let i = 0; i < 5000; i++) {
      writer = i % 2 === 0 ? writer.add("a", n + i) : writer.remove(i);
      peer = peer.merge(writer.delta!);
      writer = writer.resetDelta();
    }
    const elapsed = performance.now() - started;
    assert.ok(peer.equals(writer));
    assert.equal(peer.size, n);
    // Generous bound: copying the set per merge would take tens of seconds here.
    assert.ok(elapsed < 5000, `5,000 delta merges into a ${n}-element set took ${elapsed.toFixed(0)} ms`);
  });
});
