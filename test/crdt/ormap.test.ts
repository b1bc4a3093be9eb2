import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { GCounter } from "../../src/crdt/gcounter.js";
import type { LWWMap } from "../../src/crdt/lww-map.js";
import { MVRegister } from "../../src/crdt/mv-register.js";
import { ORMap } from "../../src/crdt/index.js"; // the package entry: it loads the registry ORMap resolves value kinds through
import { ORSet } from "../../src/crdt/orset.js";
import type { Element, ORMapState } from "../../src/crdt/types.js";
import { DecodeError, InvalidArgumentError } from "../../src/errors.js";
import { checkDeltaLaws, checkMergeLaws, checkMergeReturnsThis, fcParams, type TypeSpec } from "./laws.js";

const key: fc.Arbitrary<Element> = fc.constantFrom<Element>("k1", "k2", "k3", 7, { id: 1 });

// ------------------------------------------------------------------ ORMap of GCounters

type CounterOp = { t: "inc"; k: Element; by: number } | { t: "remove"; k: Element };
const counterOp: fc.Arbitrary<CounterOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant("inc" as const), k: key, by: fc.integer({ min: 0, max: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("remove" as const), k: key }) },
);
const gcounterMapSpec: TypeSpec<ORMap<GCounter>, CounterOp> = {
  name: "ORMap<GCounter>",
  empty: () => ORMap.empty<GCounter>("gcounter"),
  op: counterOp,
  apply: (m, node, op) => (op.t === "inc" ? m.update(node, op.k, (c, n) => c.increment(n, op.by)) : m.remove(node, op.k)),
};

// ------------------------------------------------------------------ ORMap of ORSets

type SetOp = { t: "add" | "del"; k: Element; x: string } | { t: "remove"; k: Element };
const setOp: fc.Arbitrary<SetOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant("add" as const), k: key, x: fc.constantFrom("x", "y", "z") }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("del" as const), k: key, x: fc.constantFrom("x", "y", "z") }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("remove" as const), k: key }) },
);
const orsetMapSpec: TypeSpec<ORMap<ORSet<string>>, SetOp> = {
  name: "ORMap<ORSet>",
  empty: () => ORMap.empty<ORSet<string>>("orset"),
  op: setOp,
  apply: (m, node, op) => {
    switch (op.t) {
      case "add":
        return m.update(node, op.k, (s, n) => s.add(n, op.x));
      case "del":
        return m.update(node, op.k, (s) => s.remove(op.x));
      case "remove":
        return m.remove(node, op.k);
    }
  },
};

// ------------------------------------------------------------------ ORMap of MVRegisters

type MvOp = { t: "set"; k: Element; v: string } | { t: "remove"; k: Element };
const mvMapSpec: TypeSpec<ORMap<MVRegister<string>>, MvOp> = {
  name: "ORMap<MVRegister>",
  empty: () => ORMap.empty<MVRegister<string>>("mvRegister"),
  op: fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant("set" as const), k: key, v: fc.constantFrom("p", "q") }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("remove" as const), k: key }) },
  ),
  apply: (m, node, op) => (op.t === "set" ? m.update(node, op.k, (r, n) => r.set(n, op.v)) : m.remove(node, op.k)),
};

describe("ORMap laws", () => {
  checkMergeLaws(gcounterMapSpec);
  checkDeltaLaws(gcounterMapSpec);
  checkMergeLaws(orsetMapSpec);
  checkDeltaLaws(orsetMapSpec);
  checkMergeLaws(mvMapSpec);
  checkDeltaLaws(mvMapSpec);
});

const inc = (by: number) => (c: GCounter, n: string) => c.increment(n, by);

describe("ORMap", () => {
  test("update, get, has, keys, entries, size", () => {
    const m = ORMap.empty<GCounter, string>("gcounter").update("a", "k2", inc(2)).update("b", "k1", inc(1)).update("a", "k2", inc(3));
    assert.equal(m.size, 2);
    assert.deepEqual(m.keys, ["k1", "k2"]);
    assert.equal(m.get("k2")?.value, 5);
    assert.equal(m.get("k3"), undefined);
    assert.ok(m.has("k1") && !m.has("k3"));
    assert.deepEqual(
      m.entries.map(([k, v]) => [k, v.value]),
      [
        ["k1", 1],
        ["k2", 5],
      ],
    );
    assert.equal(m.valueKind, "gcounter");
    assert.equal(m.kind, "orMap");
  });

  test("values of another kind: ORSet values merge per key", () => {
    const base = ORMap.empty<ORSet<string>>("orset").update("a", "cart", (s, n) => s.add(n, "apple")).resetDelta();
    const a = base.update("a", "cart", (s, n) => s.add(n, "pear"));
    const b = ORMap.empty<ORSet<string>>("orset").merge(base).update("b", "cart", (s) => s.remove("apple"));
    assert.deepEqual(a.merge(b).get("cart")?.elements, ["pear"]);
    assert.deepEqual(base.merge(b.delta!).merge(a.delta!).get("cart")?.elements, ["pear"]);
  });

  test("concurrent update and remove: the key stays (add wins) with only the update's effect", () => {
    const base = ORMap.empty<GCounter>("gcounter").update("a", "k", inc(1)).resetDelta();
    const removed = base.remove("a", "k");
    const updated = ORMap.empty<GCounter>("gcounter").merge(base).update("b", "k", inc(10));
    for (const m of [removed.merge(updated), updated.merge(removed), base.merge(removed.delta!).merge(updated.delta!)]) {
      assert.ok(m.has("k"));
      assert.equal(m.get("k")?.value, 10);
    }
  });

  test("observed remove: the key is gone everywhere", () => {
    const a = ORMap.empty<GCounter>("gcounter").update("a", "k", inc(1)).update("b", "k", inc(1)).resetDelta();
    const removed = ORMap.empty<GCounter>("gcounter").merge(a).remove("c", "k");
    assert.ok(!removed.has("k"));
    assert.equal(removed.get("k"), undefined);
    assert.ok(!a.merge(removed).has("k"));
    assert.ok(!a.merge(removed.delta!).has("k"));
    assert.equal(a.merge(removed).size, 0);
  });

  test("a remove delivered before the update it observed: still absent after both arrive", () => {
    const updated = ORMap.empty<GCounter>("gcounter").update("a", "k", inc(4));
    const removed = updated.resetDelta().remove("a", "k");
    const peer = ORMap.empty<GCounter>("gcounter").merge(removed.delta!).merge(updated.delta!);
    assert.ok(!peer.has("k"));
    assert.ok(peer.equals(removed.resetDelta()));
  });

  test("two sequential updates from one node, deltas in reverse order: both keys stay", () => {
    const m1 = ORMap.empty<GCounter>("gcounter").update("a", "k1", inc(1));
    const m2 = m1.resetDelta().update("a", "k2", inc(1));
    const peer = ORMap.empty<GCounter>("gcounter").merge(m2.delta!).merge(m1.delta!);
    assert.deepEqual(peer.keys, ["k1", "k2"]);
  });

  test("remove drops the value: a re-added key starts from empty, here and on every peer", () => {
    const m = ORMap.empty<GCounter>("gcounter").update("a", "k", inc(5)).remove("a", "k");
    assert.equal(m.get("k"), undefined);
    assert.deepEqual(m.toState().values, []); // gone from the state
    assert.deepEqual(m.toState().keys.entries, []);
    const readded = m.update("a", "k", inc(1));
    assert.equal(readded.get("k")?.value, 1);
    // A peer that saw the old value, then the remove and the re-add in any order, agrees.
    const old = ORMap.empty<GCounter>("gcounter").update("a", "k", inc(5));
    const removal = old.resetDelta().remove("a", "k");
    const again = removal.resetDelta().update("a", "k", inc(1));
    for (const order of [
      [old.delta!, removal.delta!, again.delta!],
      [again.delta!, old.delta!, removal.delta!],
      [removal.delta!, again.delta!, old.delta!],
    ]) {
      const peer = order.reduce((acc, d) => acc.merge(d), ORMap.empty<GCounter>("gcounter"));
      assert.equal(peer.get("k")?.value, 1);
      assert.ok(peer.equals(again.resetDelta()));
    }
  });

  test("an update concurrent with a remove keeps its writer's own count only (one dot per writer and key)", () => {
    const base = ORMap.empty<GCounter>("gcounter").update("a", "k", inc(3)).update("b", "k", inc(4)).resetDelta();
    const removed = base.remove("c", "k"); // saw a's 3 and b's 4
    const updated = base.update("a", "k", inc(1)); // concurrent: a's instance now holds a's 3 + 1
    assert.equal(removed.merge(updated).get("k")?.value, 4);
    assert.equal(updated.merge(removed).get("k")?.value, 4);
    // A writer that had not written the key before keeps exactly its update.
    const fresh = base.update("d", "k", inc(1));
    assert.equal(removed.merge(fresh).get("k")?.value, 1);
  });

  test("the join is associative with a remove and a concurrent re-add", () => {
    const x = ORMap.empty<GCounter>("gcounter").update("a", "k", inc(1)).resetDelta();
    const y = x.remove("a", "k").resetDelta(); // saw x's add, removes
    const z = ORMap.empty<GCounter>("gcounter").update("b", "k", inc(2)).resetDelta(); // concurrent re-add
    const left = x.merge(y).merge(z);
    const right = x.merge(y.merge(z));
    assert.ok(left.equals(right));
    assert.equal(left.get("k")?.value, 2);
  });

  test("ORSet values: a remove erases the elements it saw; a concurrent add survives alone; re-add starts empty", () => {
    const base = ORMap.empty<ORSet<string>>("orset")
      .update("a", "cart", (s, n) => s.add(n, "apple"))
      .update("b", "cart", (s, n) => s.add(n, "pear"))
      .resetDelta();
    const removed = base.remove("c", "cart");
    const added = base.update("d", "cart", (s, n) => s.add(n, "fig"));
    for (const m of [removed.merge(added), added.merge(removed), base.merge(added.delta!).merge(removed.delta!)]) {
      assert.deepEqual(m.get("cart")?.elements, ["fig"]);
    }
    assert.deepEqual(removed.update("c", "cart", (s, n) => s.add(n, "kiwi")).get("cart")?.elements, ["kiwi"]);
  });

  test("a key removed and re-added by one writer never reuses a dot inside its value", () => {
    // b's update concurrent with the remove holds a context that covers a's old element dot; a's
    // re-add after the remove must mint above it, or b's context would hide the new element.
    const base = ORMap.empty<ORSet<string>>("orset").update("a", "k", (s, n) => s.add(n, "x")).resetDelta();
    const bRemovesX = base.update("b", "k", (s) => s.remove("x")).resetDelta(); // b's part covers a's dot of x
    const aReadds = base.remove("a", "k").resetDelta().update("a", "k", (s, n) => s.add(n, "y")).resetDelta();
    const m = aReadds.merge(bRemovesX);
    assert.deepEqual(m.get("k")?.elements, ["y"]);
    assert.ok(m.equals(bRemovesX.merge(aReadds)));
  });

  test("MVRegister and nested LWWMap values: remove then update shows only the new write", () => {
    const mv = ORMap.empty<MVRegister<string>>("mvRegister").update("a", "k", (r, n) => r.set(n, "old")).remove("a", "k");
    assert.deepEqual(mv.update("b", "k", (r, n) => r.set(n, "new")).get("k")?.values, ["new"]);
    const nested = ORMap.empty<LWWMap<string, string>>("lwwMap")
      .update("a", "k", (m, n) => m.put(n, "f", "old", 100).put(n, "g", "old", 100))
      .resetDelta();
    const removed = nested.remove("a", "k");
    const concurrent = nested.update("b", "k", (m, n) => m.put(n, "h", "new", 200));
    assert.deepEqual(removed.merge(concurrent).get("k")?.entries, [["h", "new"]]);
    assert.deepEqual(removed.update("a", "k", (m, n) => m.put(n, "f", "again", 1)).get("k")?.entries, [["f", "again"]]);
  });

  test("10,000 keys added then removed: the map holds no instance, its state is its context only", () => {
    let m = ORMap.empty<GCounter, number>("gcounter");
    for (let i = 0; i < 10_000; i++) m = m.update("a", i, inc(1)).resetDelta();
    assert.equal(m.instanceCount, 10_000);
    for (let i = 0; i < 10_000; i++) m = m.remove("a", i).resetDelta();
    assert.equal(m.size, 0);
    assert.equal(m.instanceCount, 0);
    const state = m.toState();
    assert.deepEqual(state.values, []);
    assert.deepEqual(state.keys, { entries: [], context: { vector: [{ node: "a", value: 10_000 }], cloud: [] } });
  });

  test("an update whose modify changes nothing adds the key with the empty value and stores no value", () => {
    const m = ORMap.empty<GCounter>("gcounter").update("a", "k", (c) => c);
    assert.ok(m.has("k"));
    assert.equal(m.get("k")?.value, 0);
    assert.deepEqual(m.toState().values, []);
    assert.deepEqual(m.delta!.toState().values, []);
  });

  test("a modify that returns a value without a delta still ships the change", () => {
    const other = GCounter.empty().increment("z", 7);
    const m = ORMap.empty<GCounter>("gcounter").update("a", "k", (c) => c.merge(other.resetDelta()));
    assert.equal(m.get("k")?.value, 7);
    assert.equal(ORMap.empty<GCounter>("gcounter").merge(m.delta!).get("k")?.value, 7);
  });

  test("merge returns this when nothing new arrives; keeps the pending delta", () => {
    const m = ORMap.empty<GCounter>("gcounter").update("a", "k", inc(1)).update("a", "j", inc(2));
    const plain = m.resetDelta();
    assert.equal(plain.merge(m), plain);
    assert.equal(plain.merge(ORMap.empty("gcounter")), plain);
    assert.equal(m.merge(ORMap.empty<GCounter>("gcounter").update("b", "x", inc(1))).delta, m.delta);
  });

  test("merge returns this exactly when the other side adds nothing", () => {
    checkMergeReturnsThis(orsetMapSpec);
  });

  test("fromState(toState(x)) equals x", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("a", "b"), setOp), { maxLength: 25 }), (ops) => {
        let m = orsetMapSpec.empty();
        for (const [node, op] of ops) m = orsetMapSpec.apply(m, node, op);
        const state = m.toState();
        const back = ORMap.fromState<ORSet<string>>(JSON.parse(JSON.stringify(state)) as ORMapState);
        assert.ok(back.equals(m));
        assert.deepEqual(back.toState(), state);
        if (m.delta !== undefined) assert.ok(ORMap.fromState(m.delta.toState()).equals(m.delta as never));
      }),
      fcParams(),
    );
  });

  test("malformed states → DecodeError", () => {
    const good = ORMap.empty<GCounter>("gcounter").update("a", "k", inc(1)).update("a", "j", inc(1)).toState();
    const clone = (): ORMapState => JSON.parse(JSON.stringify(good)) as ORMapState;
    const mutations: ((s: ORMapState) => unknown)[] = [
      () => null,
      (s) => ({ ...s, valueKind: "nope" }),
      (s) => ({ ...s, valueKind: "orMap" }),
      (s) => ({ ...s, values: "x" }),
      (s) => ({ ...s, values: [...s.values].reverse() }), // unsorted
      (s) => ({ ...s, values: [s.values[0], s.values[0]] }), // duplicate key
      (s) => ({ ...s, values: [{ key: "k", value: s.values[0]!.value }] }), // not canonical
      (s) => ({ ...s, values: [{ ...s.values[0]!, dot: { node: "z", counter: 1 } }] }), // a dot its key does not hold
      (s) => ({ ...s, values: [{ ...s.values[0]!, dot: { node: "a", counter: 0 } }] }), // a bad dot
      (s) => ({ ...s, values: [{ key: "s1:k", value: { slots: [{ node: "", value: 1 }] } }] }), // bad value state
      (s) => ({ ...s, values: [{ key: "s1:k", value: null }] }),
      (s) => ({ ...s, valueKind: "lwwRegister" }), // values are not LWWRegister states
      (s) => ({ ...s, keys: { entries: [{ element: "s1:k", dots: [{ node: "a", counter: 9 }] }], context: s.keys.context } }),
    ];
    for (const mutate of mutations) {
      const s = mutate(clone());
      assert.throws(() => ORMap.fromState(s as never), DecodeError, JSON.stringify(s));
    }
    // Empty values are dropped (an absent and an empty value are the same state).
    const withEmpty = clone();
    withEmpty.values = [{ key: "s1:a", value: { slots: [] } }, ...withEmpty.values];
    assert.ok(ORMap.fromState(withEmpty).equals(ORMap.fromState(good)));
    // States written before values were kept per writer (no dot): a present key's value goes to
    // its dot; the value of a removed key is dropped.
    const legacy = clone();
    legacy.values = [...legacy.values.map(({ key, value }) => ({ key, value })), { key: "s4:gone", value: { slots: [{ node: "a", value: 9 }] } }];
    assert.ok(ORMap.fromState(legacy).equals(ORMap.fromState(good)));
  });

  test("invalid arguments → InvalidArgumentError", () => {
    assert.throws(() => ORMap.empty("orMap"), InvalidArgumentError);
    assert.throws(() => ORMap.empty("bogus" as never), InvalidArgumentError);
    const m = ORMap.empty<GCounter>("gcounter");
    assert.throws(() => m.update("", "k", inc(1)), InvalidArgumentError);
    assert.throws(() => m.update("a", undefined as never, inc(1)), InvalidArgumentError);
    assert.throws(() => m.update("a", new Date() as never, inc(1)), InvalidArgumentError);
    assert.throws(() => m.update("a", "k", "nope" as never), InvalidArgumentError);
    assert.throws(() => m.update("a", "k", () => ORSet.empty() as never), InvalidArgumentError);
    assert.throws(() => m.update("a", "k", () => undefined as never), InvalidArgumentError);
    assert.throws(() => m.remove("", "k"), InvalidArgumentError);
    assert.throws(() => m.get(Symbol() as never), InvalidArgumentError);
    assert.throws(() => m.merge(ORMap.empty("pncounter") as never), InvalidArgumentError);
  });
});
