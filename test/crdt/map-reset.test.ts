/**
 * Reset-remove for every map type and every kind an ORMap holds: removing a key drops its value,
 * re-adding starts from the empty value, and an update concurrent with the remove keeps only its
 * own effect — merged as states in both orders and as deltas in both orders.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  Flag,
  GCounter,
  GSet,
  LWWMap,
  LWWRegister,
  MVRegister,
  ORMap,
  ORMultiMap,
  ORSet,
  PNCounter,
  PNCounterMap,
  emptyOf,
  type Crdt,
  type DataKind,
  type Element,
} from "../../src/crdt/index.js";
import { view } from "../../packages/crdt-node/src/codec-json.js";
import { checkDeltaLaws, checkMergeLaws, type TypeSpec } from "./laws.js";

type Modify = (v: Crdt, node: string) => Crdt;

/** For each kind: an old write (made before the remove) and a new one (after, or concurrent). */
const WRITES: Record<string, { old: Modify; fresh: Modify }> = {
  gcounter: { old: (c, n) => (c as GCounter).increment(n, 5), fresh: (c, n) => (c as GCounter).increment(n, 1) },
  pncounter: { old: (c, n) => (c as PNCounter).increment(n, 5), fresh: (c, n) => (c as PNCounter).decrement(n, 1) },
  gset: { old: (s, n) => (s as GSet).add(n, "old"), fresh: (s, n) => (s as GSet).add(n, "new") },
  orset: { old: (s, n) => (s as ORSet).add(n, "old"), fresh: (s, n) => (s as ORSet).add(n, "new") },
  lwwRegister: { old: (r, n) => (r as LWWRegister).set(n, "old", 500), fresh: (r, n) => (r as LWWRegister).set(n, "new", 600) },
  mvRegister: { old: (r, n) => (r as MVRegister).set(n, "old"), fresh: (r, n) => (r as MVRegister).set(n, "new") },
  flag: { old: (f, n) => (f as Flag).enable(n), fresh: (f) => f },
  lwwMap: { old: (m, n) => (m as LWWMap).put(n, "f", "old", 500), fresh: (m, n) => (m as LWWMap).put(n, "g", "new", 100) },
  pncounterMap: { old: (m, n) => (m as PNCounterMap).increment(n, "f", 5), fresh: (m, n) => (m as PNCounterMap).increment(n, "g", 1) },
  orMultiMap: { old: (m, n) => (m as ORMultiMap).addBinding(n, "f", "old"), fresh: (m, n) => (m as ORMultiMap).addBinding(n, "g", "new") },
};

// The JSON view (null-prototype objects), as plain JSON for deepEqual.
const read = (v: Crdt | undefined): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(view(v).value)));

describe("ORMap of every kind: reset-remove", () => {
  for (const [kind, { old, fresh }] of Object.entries(WRITES)) {
    const expected = read(fresh(emptyOf(kind as DataKind), "b"));
    const base = ORMap.empty(kind as DataKind).update("a", "k", old).update("x", "k", old).resetDelta();

    test(`${kind}: remove then update shows only the update`, () => {
      const removed = base.remove("a", "k");
      assert.equal(removed.get("k"), undefined);
      assert.deepEqual(removed.toState().values, []);
      assert.deepEqual(read(removed.update("b", "k", fresh).get("k")), expected);
      assert.deepEqual(read(removed.update("a", "k", fresh).get("k")), read(fresh(emptyOf(kind as DataKind), "a")));
    });

    test(`${kind}: an update concurrent with the remove survives with only its own effect`, () => {
      const removed = base.remove("c", "k");
      const updated = base.update("b", "k", fresh);
      const results = [
        removed.merge(updated),
        updated.merge(removed),
        base.merge(removed.delta!).merge(updated.delta!),
        base.merge(updated.delta!).merge(removed.delta!),
      ];
      for (const m of results) {
        assert.ok(m.has("k"));
        assert.deepEqual(read(m.get("k")), expected);
        assert.ok(m.equals(results[0]!));
      }
    });
  }
});

describe("map types: reset-remove", () => {
  const maps: [string, Crdt, (m: Crdt, n: string) => Crdt, (m: Crdt, n: string) => Crdt, (m: Crdt, n: string) => Crdt, unknown][] = [
    [
      "LWWMap",
      LWWMap.empty<string, string>(),
      (m, n) => (m as LWWMap).put(n, "k", "old", 500),
      (m, n) => (m as LWWMap).put(n, "k", "new", 600),
      (m, n) => (m as LWWMap).remove(n, "k"),
      { k: "new" },
    ],
    [
      "PNCounterMap",
      PNCounterMap.empty<string>(),
      (m, n) => (m as PNCounterMap).increment(n, "k", 5),
      (m, n) => (m as PNCounterMap).increment(n, "k", 1),
      (m, n) => (m as PNCounterMap).remove(n, "k"),
      { k: 1 },
    ],
    [
      "ORMultiMap",
      ORMultiMap.empty<string, string>(),
      (m, n) => (m as ORMultiMap).addBinding(n, "k", "old"),
      (m, n) => (m as ORMultiMap).addBinding(n, "k", "new"),
      (m, n) => (m as ORMultiMap).remove(n, "k"),
      { k: ["new"] },
    ],
  ];
  for (const [name, empty, old, fresh, remove, expected] of maps) {
    test(`${name}: remove-then-add starts from empty; concurrent update vs remove keeps only the update`, () => {
      const base = old(old(empty, "a"), "x").resetDelta();
      assert.deepEqual(read(fresh(remove(base, "a"), "b")), expected);
      assert.deepEqual(read(fresh(remove(base, "a"), "a")), expected);
      const removed = remove(base, "c");
      const updated = fresh(base, "b");
      for (const m of [removed.merge(updated), updated.merge(removed), base.merge(removed.delta!).merge(updated.delta!)]) {
        assert.deepEqual(read(m), expected);
      }
    });
  }
});

// Laws for the nested kinds the ORMap tests do not cover.
const key: fc.Arbitrary<Element> = fc.constantFrom<Element>("k1", "k2");
type NestedOp = { t: "write"; k: Element; f: Element; v: number } | { t: "remove"; k: Element };
const nestedOp: fc.Arbitrary<NestedOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant("write" as const), k: key, f: fc.constantFrom("f", "g"), v: fc.integer({ min: 0, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("remove" as const), k: key }) },
);
function nestedSpec(name: string, kind: DataKind, write: (v: Crdt, n: string, op: { f: Element; v: number }) => Crdt): TypeSpec<ORMap, NestedOp> {
  return {
    name,
    empty: () => ORMap.empty(kind),
    op: nestedOp,
    apply: (m, node, op) => (op.t === "write" ? m.update(node, op.k, (v, n) => write(v, n, op)) : m.remove(node, op.k)),
  };
}
const nested = [
  nestedSpec("ORMap<LWWMap>", "lwwMap", (m, n, op) => (m as LWWMap).put(n, op.f, op.v, op.v)),
  nestedSpec("ORMap<PNCounterMap>", "pncounterMap", (m, n, op) => (op.v % 3 === 0 ? (m as PNCounterMap).remove(n, op.f) : (m as PNCounterMap).increment(n, op.f, op.v))),
  nestedSpec("ORMap<LWWRegister>", "lwwRegister", (r, n, op) => (r as LWWRegister).set(n, op.v, op.v)),
  nestedSpec("ORMap<Flag>", "flag", (f, n, op) => (op.v % 2 === 0 ? (f as Flag).enable(n) : f)),
  nestedSpec("ORMap<ORMultiMap>", "orMultiMap", (m, n, op) => (op.v % 3 === 0 ? (m as ORMultiMap).removeBinding(n, op.f, op.v) : (m as ORMultiMap).addBinding(n, op.f, op.v))),
];
describe("ORMap laws, nested kinds", () => {
  for (const spec of nested) {
    checkMergeLaws(spec);
    checkDeltaLaws(spec);
  }
});
