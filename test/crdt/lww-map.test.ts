import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { LWWMap } from "../../src/crdt/lww-map.js";
import type { Element, ORMapState } from "../../src/crdt/types.js";
import { DecodeError, InvalidArgumentError } from "../../src/errors.js";
import { checkDeltaLaws, checkMergeLaws, fcParams, type TypeSpec } from "./laws.js";

const key: fc.Arbitrary<Element> = fc.constantFrom<Element>("k1", "k2", "k3", 42);
const value: fc.Arbitrary<Element> = fc.constantFrom<Element>("v1", "v2", 3, { nested: [true] }, null);

type Op = { t: "put"; k: Element; v: Element; ts: number | undefined } | { t: "remove"; k: Element };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("put" as const),
      k: key,
      v: value,
      // Small explicit timestamps collide often (ties break by node, then value); undefined → clock.
      ts: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("remove" as const), k: key }) },
);

const lwwMapSpec: TypeSpec<LWWMap, Op> = {
  name: "LWWMap",
  empty: () => LWWMap.empty(),
  op: opArb,
  apply: (m, node, op) => (op.t === "put" ? m.put(node, op.k, op.v, op.ts) : m.remove(node, op.k)),
};

describe("LWWMap laws", () => {
  checkMergeLaws(lwwMapSpec);
  checkDeltaLaws(lwwMapSpec);
});

describe("LWWMap", () => {
  test("put, get, has, keys, entries, size", () => {
    const m = LWWMap.empty<Element, string>().put("a", "k2", { x: 1 }, 10).put("a", "k1", "one", 10).put("b", "k2", "two", 11);
    assert.equal(m.kind, "lwwMap");
    assert.equal(m.size, 2);
    assert.deepEqual(m.keys, ["k1", "k2"]);
    assert.equal(m.get("k2"), "two");
    assert.equal(m.get("nope"), undefined);
    assert.ok(m.has("k1") && !m.has("nope"));
    assert.deepEqual(m.entries, [
      ["k1", "one"],
      ["k2", "two"],
    ]);
    assert.equal(m.toState().valueKind, "lwwRegister");
  });

  test("put / remove / put with a later timestamp: the later put wins", () => {
    let m = LWWMap.empty<string, string>().put("a", "k", "v1", 100);
    m = m.remove("a", "k");
    assert.equal(m.get("k"), undefined);
    assert.ok(!m.has("k"));
    m = m.put("a", "k", "v2", 200);
    assert.equal(m.get("k"), "v2");
    // A peer receiving the three deltas in any order agrees.
    const d1 = LWWMap.empty<string, string>().put("a", "k", "v1", 100);
    const d2 = d1.resetDelta().remove("a", "k");
    const d3 = d2.resetDelta().put("a", "k", "v2", 200);
    for (const order of [[d1, d2, d3], [d3, d2, d1], [d2, d3, d1], [d3, d1, d2]]) {
      const peer = order.reduce((acc, v) => acc.merge(v.delta!), LWWMap.empty<string, string>());
      assert.equal(peer.get("k"), "v2");
      assert.ok(peer.equals(d3.resetDelta()));
    }
  });

  test("default timestamps: a local put always overwrites what it read", () => {
    const future = Date.now() + 60_000;
    const m = LWWMap.empty<string, string>().put("z", "k", "old", future).put("a", "k", "new");
    assert.equal(m.get("k"), "new");
    assert.equal(m.map.get("k")?.timestamp, future + 1);
  });

  test("concurrent puts: the higher timestamp wins, ties break by node", () => {
    const a = LWWMap.empty<string, string>().put("a", "k", "from-a", 5);
    const b = LWWMap.empty<string, string>().put("b", "k", "from-b", 5);
    assert.equal(a.merge(b).get("k"), "from-b");
    assert.equal(b.merge(a).get("k"), "from-b");
    const c = LWWMap.empty<string, string>().put("c", "k", "older", 4);
    assert.equal(a.merge(b).merge(c).get("k"), "from-b");
  });

  test("remove drops the value: a put after it shows its own value even with an older timestamp", () => {
    const m = LWWMap.empty<string, string>().put("a", "k", "newer", 500).remove("a", "k").put("b", "k", "older", 100);
    assert.equal(m.get("k"), "older");
    assert.deepEqual(LWWMap.empty<string, string>().put("a", "k", "v", 1).remove("a", "k").toState().values, []);
  });

  test("a put concurrent with a remove survives with its own value, even an older one", () => {
    const base = LWWMap.empty<string, string>().put("a", "k", "v", 500).resetDelta();
    const removed = base.remove("c", "k");
    const put = LWWMap.empty<string, string>().put("b", "k", "w", 100);
    assert.equal(removed.merge(base.merge(put)).get("k"), "w");
    assert.equal(base.merge(put).merge(removed).get("k"), "w");
  });

  test("concurrent put and remove: the put wins", () => {
    const base = LWWMap.empty<string, string>().put("a", "k", "v", 1).resetDelta();
    const removed = base.remove("a", "k");
    const put = LWWMap.empty<string, string>().merge(base).put("b", "k", "w", 2);
    assert.equal(removed.merge(put).get("k"), "w");
    assert.equal(base.merge(put.delta!).merge(removed.delta!).get("k"), "w");
  });

  test("fromState(toState(x)) equals x", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("a", "b"), opArb), { maxLength: 25 }), (ops) => {
        let m = LWWMap.empty();
        for (const [node, op] of ops) m = lwwMapSpec.apply(m, node, op);
        const state = m.toState();
        const back = LWWMap.fromState(JSON.parse(JSON.stringify(state)) as ORMapState);
        assert.ok(back.equals(m));
        assert.deepEqual(back.toState(), state);
      }),
      fcParams(),
    );
  });

  test("malformed states → DecodeError", () => {
    const good = LWWMap.empty().put("a", "k", "v", 1).toState();
    assert.throws(() => LWWMap.fromState(null as never), DecodeError);
    assert.throws(() => LWWMap.fromState({ ...good, valueKind: "pncounter" }), DecodeError);
    assert.throws(() => LWWMap.fromState({ ...good, values: [{ key: "s1:k", value: { timestamp: -1, node: "a", value: "s1:v" } }] }), DecodeError);
    assert.throws(() => LWWMap.fromState({ ...good, values: [{ key: "s1:k", value: { timestamp: 1, node: "a", value: "v" } }] }), DecodeError);
    assert.throws(() => LWWMap.fromState({ ...good, keys: { entries: good.keys.entries, context: { vector: [], cloud: [] } } }), DecodeError);
  });

  test("invalid arguments → InvalidArgumentError", () => {
    const m = LWWMap.empty<Element, Element>();
    assert.throws(() => m.put("", "k", "v"), InvalidArgumentError);
    assert.throws(() => m.put("a", undefined as never, "v"), InvalidArgumentError);
    assert.throws(() => m.put("a", "k", undefined as never), InvalidArgumentError);
    assert.throws(() => m.put("a", "k", new Map() as never), InvalidArgumentError);
    assert.throws(() => m.put("a", "k", "v", -1), InvalidArgumentError);
    assert.throws(() => m.put("a", "k", "v", 1.5), InvalidArgumentError);
    assert.throws(() => m.remove("", "k"), InvalidArgumentError);
    // Nothing changed on a rejected put.
    assert.equal(m.size, 0);
  });
});
