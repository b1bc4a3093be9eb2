/**
 * Folding retired writer ids (writer-ids.ts, `foldRetired` per type): merge stays a semilattice
 * with fold ids around, and a fold done the way the replicator does it (after every replica's
 * knowledge reached the owner, then spread) changes no value at any step while bounding the ids.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { GCounter } from "../../src/crdt/gcounter.js";
import { ORSet } from "../../src/crdt/orset.js";
import { MVRegister } from "../../src/crdt/mv-register.js";
import { PNCounter } from "../../src/crdt/pncounter.js";
import { ORMap } from "../../src/crdt/ormap.js";
import { LWWMap } from "../../src/crdt/lww-map.js";
import { PNCounterMap } from "../../src/crdt/pncounter-map.js";
import { ORMultiMap } from "../../src/crdt/ormultimap.js";
import "../../src/crdt/index.js"; // the registry ORMap resolves its value kinds through
import type { Crdt } from "../../src/crdt/types.js";
import { adoptionsAmong, coveredAmong, foldIdOf, parseWriter, retiredBy } from "../../src/crdt/writer-ids.js";
import { checkDeltaLaws, checkMergeLaws, fcParams, NODES, stateJson, type TypeSpec } from "./laws.js";

describe("writer ids", () => {
  test("a fold id covers the older ids of its node and adopts its own writer id, and nothing else", () => {
    assert.deepEqual(parseWriter("n1~a"), { node: "n1", incarnation: 10, fold: false, marker: false, rank: 42 });
    assert.ok(parseWriter("n1!a")!.rank < parseWriter("n1~a")!.rank && parseWriter("n1~a")!.rank < parseWriter("n1^a")!.rank && parseWriter("n1^9")!.rank < parseWriter("n1!a")!.rank);
    assert.equal(foldIdOf("n1~a"), "n1^a");
    assert.equal(foldIdOf("n1^a"), "n1^a", "a writer that adopted its fold id keeps it");
    assert.equal(foldIdOf("a"), undefined);
    assert.ok(retiredBy("n1~a", "n1~9"));
    assert.ok(retiredBy("n1~a", "n1^9"));
    assert.ok(retiredBy("n1~a", "n1~a"), "the live writer folds its own id too, then writes under the fold id");
    assert.ok(!retiredBy("n1~a", "n1^a"));
    assert.ok(!retiredBy("n1^a", "n1^a"));
    assert.ok(!retiredBy("n1~a", "n1~b"));
    assert.ok(!retiredBy("n1~a", "n2~1"));
    assert.deepEqual([...coveredAmong(["n1~1", "n1^5", "n1~5", "n1~6", "n2~1", "b"])], ["n1~1", "n1~5"]);
    assert.deepEqual([...adoptionsAmong(["n1~1", "n1^5", "n1~5", "n1~6", "n2~1", "b"])], [["n1~5", "n1^5"]]);
    assert.deepEqual([...adoptionsAmong(["n1^5", "n1^6", "n1~5"])], [], "a newer fold id covers what an older one adopted");
    assert.deepEqual([...adoptionsAmong(["n1~5", "n2~1"])], []);
    // A removed node's fold id covers the older ids and adopts none, not even its own incarnation's writer id.
    assert.equal(foldIdOf("n1!5"), "n1!5");
    assert.ok(retiredBy("n1!5", "n1~4") && retiredBy("n1!5", "n1^4") && !retiredBy("n1!5", "n1~5") && !retiredBy("n1!5", "n1^5"));
    assert.deepEqual([...coveredAmong(["n1!5", "n1~4", "n1~5"])], ["n1~4"]);
    assert.deepEqual([...adoptionsAmong(["n1!5", "n1~5"])], []);
    assert.deepEqual([...coveredAmong(["n1!5", "n1^5", "n1~5"])], ["n1!5", "n1~5"], "a node's own fold takes in the removed fold of its incarnation");
  });
});

// ------------------------------------------------------------------ merge laws with fold ids

/**
 * An op as a node of the law harness: write under incarnation `inc`, fold as that incarnation, or
 * (`absorb`, with an absorbing fold) absorb the next node's ids under the marker `next#inc.1`.
 */
type Op<W> = { fold: boolean; removed: boolean; absorb: boolean; inc: number; write: W };
const writer = (node: string, inc: number): string => `${node}~${inc}`;
function withFolds<T extends Crdt<T>, W>(spec: TypeSpec<T, W>, fold: (v: T, writerId: string) => T, absorb?: (v: T, marker: string, into: string) => T): TypeSpec<T, Op<W>> {
  /** The id `node` writes under at `inc` in `v`: its fold id where one adopts it; undefined when covered (it takes a fresh one). */
  const writesAs = (v: T, node: string, inc: number): string | undefined => {
    const id = writer(node, inc);
    const ids = [...(v as unknown as { writers: string[] }).writers, id];
    return adoptionsAmong(ids).get(id) ?? (coveredAmong(ids).has(id) ? undefined : id);
  };
  return {
    name: `${spec.name} with folds${absorb === undefined ? "" : " and markers"}`,
    empty: spec.empty,
    op: fc.record({ fold: fc.boolean(), removed: fc.boolean(), absorb: fc.boolean(), inc: fc.integer({ min: 1, max: 4 }), write: spec.op }),
    // A covered id never writes again (its node takes a fresh one): such a write is skipped; a
    // writer id its fold id adopts writes under that fold id.
    apply: (v, node, op) => {
      if (op.fold && op.absorb && absorb !== undefined) {
        const into = writesAs(v, node, op.inc);
        const other = NODES[(NODES.indexOf(node as never) + 1) % NODES.length]!;
        return into === undefined ? v : absorb(v, `${other}#${op.inc}.1`, into);
      }
      // A fold by the node itself, or one of a removed node's ids by another (`node!inc`, as the leader's).
      if (op.fold) return fold(v, op.removed ? `${node}!${op.inc}` : writer(node, op.inc));
      const id = writesAs(v, node, op.inc);
      return id === undefined ? v : spec.apply(v, id, op.write);
    },
  };
}

const gcounterSpec: TypeSpec<GCounter, number> = { name: "GCounter", empty: () => GCounter.empty(), op: fc.nat({ max: 9 }), apply: (c, n, by) => c.increment(n, by) };
const pncounterSpec: TypeSpec<PNCounter, number> = {
  name: "PNCounter",
  empty: () => PNCounter.empty(),
  op: fc.integer({ min: -9, max: 9 }),
  apply: (c, n, by) => (by >= 0 ? c.increment(n, by) : c.decrement(n, -by)),
};
const orsetSpec: TypeSpec<ORSet<number>, number> = {
  name: "ORSet",
  empty: () => ORSet.empty<number>(),
  op: fc.integer({ min: -3, max: 3 }),
  apply: (s, n, x) => (x >= 0 ? s.add(n, x) : s.remove(-x)),
};

const mvSpec: TypeSpec<MVRegister<number>, number> = { name: "MVRegister", empty: () => MVRegister.empty<number>(), op: fc.nat({ max: 3 }), apply: (r, n, x) => r.set(n, x) };

// The maps: two keys, so that removes, re-adds and folds meet in one key and pass by another.
type MapOp = { k: "k1" | "k2"; v: number };
const mapOp: fc.Arbitrary<MapOp> = fc.record({ k: fc.constantFrom("k1" as const, "k2" as const), v: fc.integer({ min: -4, max: 9 }) });
const orMapOfCountersSpec: TypeSpec<ORMap<GCounter, string>, MapOp> = {
  name: "ORMap<GCounter>",
  empty: () => ORMap.empty<GCounter, string>("gcounter"),
  op: mapOp,
  apply: (m, n, op) => (op.v < 0 ? m.remove(n, op.k) : m.update(n, op.k, (c, w) => c.increment(w, op.v))),
};
const orMapOfSetsSpec: TypeSpec<ORMap<ORSet<number>, string>, MapOp> = {
  name: "ORMap<ORSet>",
  empty: () => ORMap.empty<ORSet<number>, string>("orset"),
  op: mapOp,
  apply: (m, n, op) => (op.v === -4 ? m.remove(n, op.k) : m.update(n, op.k, (s, w) => (op.v >= 0 ? s.add(w, op.v % 4) : s.remove(-op.v)))),
};
const orMapOfRegistersSpec: TypeSpec<ORMap<MVRegister<number>, string>, MapOp> = {
  name: "ORMap<MVRegister>",
  empty: () => ORMap.empty<MVRegister<number>, string>("mvRegister"),
  op: mapOp,
  apply: (m, n, op) => (op.v < 0 ? m.remove(n, op.k) : m.update(n, op.k, (r, w) => r.set(w, op.v % 3))),
};
// A map in a map: the inner map's parts and dots fold through the outer one.
const orMapOfMapsSpec: TypeSpec<ORMap<PNCounterMap<string>, string>, MapOp> = {
  name: "ORMap<PNCounterMap>",
  empty: () => ORMap.empty<PNCounterMap<string>, string>("pncounterMap"),
  op: mapOp,
  apply: (m, n, op) =>
    op.v === -4 ? m.remove(n, op.k) : m.update(n, op.k, (inner, w) => (op.v < 0 ? inner.remove(w, `f${-op.v % 2}`) : inner.increment(w, `f${op.v % 2}`, op.v))),
};
const lwwMapSpec: TypeSpec<LWWMap<number, string>, MapOp> = {
  name: "LWWMap",
  empty: () => LWWMap.empty<number, string>(),
  op: mapOp,
  apply: (m, n, op) => (op.v < 0 ? m.remove(n, op.k) : m.put(n, op.k, op.v, op.v)),
};
const pncounterMapSpec: TypeSpec<PNCounterMap<string>, MapOp> = {
  name: "PNCounterMap",
  empty: () => PNCounterMap.empty<string>(),
  op: mapOp,
  apply: (m, n, op) => (op.v === -4 ? m.remove(n, op.k) : op.v < 0 ? m.decrement(n, op.k, -op.v) : m.increment(n, op.k, op.v)),
};
const orMultiMapSpec: TypeSpec<ORMultiMap<number, string>, MapOp> = {
  name: "ORMultiMap",
  empty: () => ORMultiMap.empty<number, string>(),
  op: mapOp,
  apply: (m, n, op) => (op.v === -4 ? m.remove(n, op.k) : op.v < 0 ? m.removeBinding(n, op.k, -op.v) : m.addBinding(n, op.k, op.v % 4)),
};

describe("merge laws with fold ids", () => {
  for (const spec of [
    withFolds(gcounterSpec, (v, w) => v.foldRetired(w)),
    withFolds(pncounterSpec, (v, w) => v.foldRetired(w)),
    withFolds(orsetSpec, (v, w) => v.foldRetired(w)),
    withFolds(mvSpec, (v, w) => v.foldRetired(w)),
    withFolds(gcounterSpec, (v, w) => v.foldRetired(w), (v, m, into) => v.absorbRemoved(m, into)),
    withFolds(pncounterSpec, (v, w) => v.foldRetired(w), (v, m, into) => v.absorbRemoved(m, into)),
    withFolds(orsetSpec, (v, w) => v.foldRetired(w), (v, m) => v.absorbRemoved(m)),
    withFolds(mvSpec, (v, w) => v.foldRetired(w), (v, m) => v.absorbRemoved(m)),
    withFolds(orMapOfCountersSpec, (v, w) => v.foldRetired(w)),
    withFolds(orMapOfSetsSpec, (v, w) => v.foldRetired(w)),
    withFolds(orMapOfRegistersSpec, (v, w) => v.foldRetired(w)),
    withFolds(orMapOfMapsSpec, (v, w) => v.foldRetired(w)),
    withFolds(lwwMapSpec, (v, w) => v.foldRetired(w)),
    withFolds(pncounterMapSpec, (v, w) => v.foldRetired(w)),
    withFolds(orMultiMapSpec, (v, w) => v.foldRetired(w)),
    withFolds(orMapOfCountersSpec, (v, w) => v.foldRetired(w), (v, m, into) => v.absorbRemoved(m, into)),
    withFolds(orMapOfSetsSpec, (v, w) => v.foldRetired(w), (v, m, into) => v.absorbRemoved(m, into)),
    withFolds(orMapOfRegistersSpec, (v, w) => v.foldRetired(w), (v, m, into) => v.absorbRemoved(m, into)),
    withFolds(orMapOfMapsSpec, (v, w) => v.foldRetired(w), (v, m, into) => v.absorbRemoved(m, into)),
    withFolds(lwwMapSpec, (v, w) => v.foldRetired(w), (v, m, into) => v.absorbRemoved(m, into)),
    withFolds(pncounterMapSpec, (v, w) => v.foldRetired(w), (v, m, into) => v.absorbRemoved(m, into)),
    withFolds(orMultiMapSpec, (v, w) => v.foldRetired(w), (v, m, into) => v.absorbRemoved(m, into)),
  ] as TypeSpec<any, any>[]) {
    describe(spec.name, () => {
      checkMergeLaws(spec);
      checkDeltaLaws(spec);
    });
  }
});

// ------------------------------------------------------------------ the protocol, in the small

/**
 * Replicas 0..2 are stable nodes ("s0".."s2"); replica 3 is node "x", which crash-restarts (losing
 * its state, or going back to an older copy of it, as from a stale snapshot) and then writes under
 * a fresh incarnation. A fold step is the protocol: every replica's state reaches x, x folds, and
 * the result reaches every replica. A shadow cluster runs the same history without folds: every
 * replica's value must equal its shadow's after every step.
 */
type Step =
  | { t: "write"; r: number; v: number }
  | { t: "merge"; from: number; to: number }
  | { t: "restart"; stale: boolean }
  | { t: "fold" };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant("write" as const), r: fc.nat({ max: 3 }), v: fc.integer({ min: -4, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("merge" as const), from: fc.nat({ max: 3 }), to: fc.nat({ max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("restart" as const), stale: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("fold" as const) }) },
);

interface Model<T extends Crdt<T>> {
  empty(): T;
  write(value: T, writerId: string, v: number): T;
  fold(value: T, writerId: string): T;
  read(value: T): unknown;
  writers(value: T): string[];
}

function runProtocol<T extends Crdt<T>>(model: Model<T>, steps: Step[]): void {
  const ids = ["s0~1", "s1~1", "s2~1"];
  let inc = 1;
  let adopted = false; // x folded under this incarnation: it writes under its fold id
  const xId = (): string => (adopted ? `x^${inc}` : `x~${inc}`);
  const real: T[] = [0, 1, 2, 3].map(() => model.empty());
  const shadow: T[] = [0, 1, 2, 3].map(() => model.empty());
  const xHistory: [T, T][] = [];
  const writerOf = (r: number): string => (r === 3 ? xId() : ids[r]!);
  for (const s of steps) {
    if (s.t === "write") {
      real[s.r] = model.write(real[s.r]!, writerOf(s.r), s.v).resetDelta();
      shadow[s.r] = model.write(shadow[s.r]!, s.r === 3 ? `x~${inc}` : ids[s.r]!, s.v).resetDelta(); // no fold id there
      if (s.r === 3) xHistory.push([real[3]!, shadow[3]!]);
    } else if (s.t === "merge") {
      real[s.to] = real[s.to]!.merge(real[s.from]!);
      shadow[s.to] = shadow[s.to]!.merge(shadow[s.from]!);
    } else if (s.t === "restart") {
      // Nothing written is lost: x's state reached s0 before the crash (the bus delivered it).
      real[0] = real[0]!.merge(real[3]!);
      shadow[0] = shadow[0]!.merge(shadow[3]!);
      const old = s.stale && xHistory.length > 0 ? xHistory[Math.floor(xHistory.length / 2)]! : [model.empty(), model.empty()];
      [real[3], shadow[3]] = old;
      inc++;
      adopted = false;
    } else {
      for (const r of [0, 1, 2]) real[3] = real[3]!.merge(real[r]!); // seen by all
      const folded = model.fold(real[3]!, xId());
      const delta = folded.delta;
      real[3] = folded.resetDelta();
      adopted = true;
      // Spread as the replicator does: the delta (as published), then the state (anti-entropy).
      for (const r of [0, 1, 2]) real[r] = real[r]!.merge(delta ?? real[3]!).merge(real[3]!);
      for (const r of [0, 1, 2]) shadow[3] = shadow[3]!.merge(shadow[r]!);
      for (const r of [0, 1, 2]) shadow[r] = shadow[r]!.merge(shadow[3]!);
      for (const v of real) {
        const xIds = model.writers(v).filter((w) => w.startsWith("x"));
        assert.ok(xIds.length <= 1, `after the fold, x's only id is its fold id, which it writes under: ${xIds.join(", ")}`);
      }
    }
    for (let r = 0; r < 4; r++) {
      assert.deepEqual(model.read(real[r]!), model.read(shadow[r]!), `replica ${r} after ${JSON.stringify(s)}: ${stateJson(real[r]!)} vs ${stateJson(shadow[r]!)}`);
    }
  }
}

describe("fold after every replica's knowledge reached the owner", () => {
  test("PNCounter: every value equals the unfolded cluster's at every step", () => {
    const model: Model<PNCounter> = {
      empty: () => PNCounter.empty(),
      write: (c, w, v) => (v >= 0 ? c.increment(w, v) : c.decrement(w, -v)),
      fold: (c, w) => c.foldRetired(w),
      read: (c) => c.value,
      writers: (c) => c.writers,
    };
    fc.assert(fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => runProtocol(model, steps)), fcParams());
  });

  test("ORSet: every value equals the unfolded cluster's at every step", () => {
    const model: Model<ORSet<number>> = {
      empty: () => ORSet.empty<number>(),
      write: (s, w, v) => (v >= 0 ? s.add(w, v) : s.remove(-v)),
      fold: (s, w) => s.foldRetired(w),
      read: (s) => [...s.elements],
      writers: (s) => s.writers,
    };
    fc.assert(fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => runProtocol(model, steps)), fcParams());
  });

  test("MVRegister: every value equals the unfolded cluster's at every step", () => {
    const model: Model<MVRegister<number>> = {
      empty: () => MVRegister.empty<number>(),
      write: (r, w, v) => r.set(w, Math.abs(v)),
      fold: (r, w) => r.foldRetired(w),
      read: (r) => [...r.values],
      writers: (r) => r.writers,
    };
    fc.assert(fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => runProtocol(model, steps)), fcParams());
  });

  // The maps: v picks the key (two of them) and the write; 0 removes the key.
  const mapKey = (v: number): string => `k${Math.abs(v) % 2}`;
  const mapModels: [string, Model<any>][] = [
    [
      "ORMap<GCounter>",
      {
        empty: () => ORMap.empty<GCounter, string>("gcounter"),
        write: (m: ORMap<GCounter, string>, w, v) => (v === 0 ? m.remove(w, "k0") : m.update(w, mapKey(v), (c, n) => c.increment(n, Math.abs(v)))),
        fold: (m: ORMap<GCounter, string>, w) => m.foldRetired(w),
        read: (m: ORMap<GCounter, string>) => m.entries.map(([k, c]) => [k, c.value]),
        writers: (m: ORMap<GCounter, string>) => m.writers,
      } satisfies Model<ORMap<GCounter, string>>,
    ],
    [
      "ORMap<ORSet>",
      {
        empty: () => ORMap.empty<ORSet<number>, string>("orset"),
        write: (m: ORMap<ORSet<number>, string>, w, v) =>
          v === 0 ? m.remove(w, "k0") : m.update(w, mapKey(v), (s, n) => (v > 0 ? s.add(n, v % 3) : s.remove(-v % 3))),
        fold: (m: ORMap<ORSet<number>, string>, w) => m.foldRetired(w),
        read: (m: ORMap<ORSet<number>, string>) => m.entries.map(([k, s]) => [k, [...s.elements]]),
        writers: (m: ORMap<ORSet<number>, string>) => m.writers,
      } satisfies Model<ORMap<ORSet<number>, string>>,
    ],
    [
      "ORMap<PNCounterMap>",
      {
        empty: () => ORMap.empty<PNCounterMap<string>, string>("pncounterMap"),
        write: (m: ORMap<PNCounterMap<string>, string>, w, v) =>
          v === 0 ? m.remove(w, "k0") : m.update(w, mapKey(v), (inner, n) => (v === -4 ? inner.remove(n, "f") : v > 0 ? inner.increment(n, `f${v % 2}`, v) : inner.decrement(n, "f", -v))),
        fold: (m: ORMap<PNCounterMap<string>, string>, w) => m.foldRetired(w),
        read: (m: ORMap<PNCounterMap<string>, string>) => m.entries.map(([k, inner]) => [k, inner.entries]),
        writers: (m: ORMap<PNCounterMap<string>, string>) => m.writers,
      } satisfies Model<ORMap<PNCounterMap<string>, string>>,
    ],
    [
      "LWWMap",
      {
        empty: () => LWWMap.empty<number, string>(),
        // Explicit timestamps (the same in both clusters); equal ones are broken by writer id.
        write: (m: LWWMap<number, string>, w, v) => (v === 0 ? m.remove(w, "k0") : m.put(w, mapKey(v), v, 4 + v)),
        fold: (m: LWWMap<number, string>, w) => m.foldRetired(w),
        read: (m: LWWMap<number, string>) => m.entries,
        writers: (m: LWWMap<number, string>) => m.writers,
      } satisfies Model<LWWMap<number, string>>,
    ],
    [
      "PNCounterMap",
      {
        empty: () => PNCounterMap.empty<string>(),
        write: (m: PNCounterMap<string>, w, v) => (v === 0 ? m.remove(w, "k0") : v > 0 ? m.increment(w, mapKey(v), v) : m.decrement(w, mapKey(v), -v)),
        fold: (m: PNCounterMap<string>, w) => m.foldRetired(w),
        read: (m: PNCounterMap<string>) => m.entries,
        writers: (m: PNCounterMap<string>) => m.writers,
      } satisfies Model<PNCounterMap<string>>,
    ],
    [
      "ORMultiMap",
      {
        empty: () => ORMultiMap.empty<number, string>(),
        write: (m: ORMultiMap<number, string>, w, v) =>
          v === 0 ? m.remove(w, "k0") : v > 0 ? m.addBinding(w, mapKey(v), v % 3) : m.removeBinding(w, mapKey(v), -v % 3),
        fold: (m: ORMultiMap<number, string>, w) => m.foldRetired(w),
        read: (m: ORMultiMap<number, string>) => m.entries,
        writers: (m: ORMultiMap<number, string>) => m.writers,
      } satisfies Model<ORMultiMap<number, string>>,
    ],
  ];
  for (const [name, model] of mapModels) {
    test(`${name}: every value equals the unfolded cluster's at every step`, () => {
      fc.assert(fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => runProtocol(model, steps)), fcParams());
    });
  }

  test("a late slot of a retired writer is dropped wherever the fold id is", () => {
    const before = GCounter.empty().increment("x~1", 5).increment("s~1", 2);
    const folded = before.increment("x~2", 1).foldRetired("x~2");
    assert.deepEqual(folded.resetDelta().toState().slots.map((s) => s.node), ["s~1", "x^2"]);
    assert.equal(folded.value, 8);
    // A copy from before the fold (an old snapshot) merges in without counting x~1 twice.
    assert.equal(folded.merge(before).value, 8);
    assert.equal(before.merge(folded.delta!).value, 8); // the delta replaces x~1 and brings x~2's own write
    assert.equal(GCounter.fromState({ slots: [{ node: "x^2", value: 5 }, { node: "x~1", value: 9 }] }).value, 5);
  });

  test("the live writer's own dots are renamed, not re-issued: a remove concurrent with the fold stays a remove", () => {
    const s = ORSet.empty<string>().add("x~1", "a").add("x~2", "b").add("x~2", "c").resetDelta();
    const folded = s.foldRetired("x~2");
    assert.deepEqual(folded.writers, ["x^2"]);
    assert.deepEqual(folded.resetDelta().dotsOf(folded.resetDelta().sortedCanonicals()[1]!), [{ node: "x^2", counter: 1 }], "b keeps its counter under the fold id");
    // Elsewhere, b was removed (having seen x~2's dot) before the fold arrived; c is untouched.
    const elsewhere = s.remove("b").resetDelta();
    for (const merged of [elsewhere.merge(folded.delta!), folded.delta!.merge(elsewhere), elsewhere.merge(folded.resetDelta()), folded.resetDelta().merge(elsewhere)]) {
      assert.deepEqual([...merged.elements], ["a", "c"]);
      assert.deepEqual(merged.writers, ["x^2"]);
    }
    // x goes on writing under its fold id; a late delta under x~2 merges in as the same dot.
    const next = folded.resetDelta().add("x^2", "d");
    assert.deepEqual(next.dotsOf(next.sortedCanonicals()[3]!)!.map((d) => d.node), ["x^2"]);
    assert.ok(ORSet.empty<string>().add("x~2", "b").merge(next).equals(next.resetDelta()));
  });

  test("a map: the live writer's part keeps its dot under the fold id; a remove that saw it stays a remove", () => {
    const m = PNCounterMap.empty<string>().increment("x~1", "a", 5).increment("x~2", "a", 1).increment("x~2", "b", 2).resetDelta();
    const folded = m.foldRetired("x~2");
    assert.deepEqual(folded.entries, [["a", 6], ["b", 2]]);
    assert.deepEqual(folded.writers, ["x^2"]);
    const elsewhere = m.remove("y~1", "b").resetDelta();
    for (const merged of [elsewhere.merge(folded.delta!), folded.resetDelta().merge(elsewhere)]) {
      assert.deepEqual(merged.entries, [["a", 6]]);
      assert.deepEqual(merged.writers, ["x^2"]);
    }
    assert.deepEqual(folded.resetDelta().increment("x^2", "a", 1).entries, [["a", 7], ["b", 2]]);
  });

  test("an element only a retired writer's dots held is re-added under the fold id", () => {
    const s = ORSet.empty<string>().add("x~1", "a").add("x~1", "b").remove("b").resetDelta();
    const folded = s.foldRetired("x~2");
    assert.deepEqual([...folded.elements], ["a"]);
    assert.deepEqual(folded.writers, ["x^2"]);
    const elsewhere = s.merge(folded.delta!);
    assert.deepEqual([...elsewhere.elements], ["a"]);
    assert.deepEqual(elsewhere.writers, ["x^2"]);
  });

  test("a map: a retired writer's part of a key is re-issued under the fold id; an old copy merges in without counting twice", () => {
    const before = PNCounterMap.empty<string>().increment("x~1", "a", 5).decrement("x~1", "b", 2).increment("s~1", "a", 1).resetDelta();
    const folded = before.increment("x~2", "a", 3).foldRetired("x~2");
    assert.deepEqual(folded.entries, [["a", 9], ["b", -2]]);
    assert.deepEqual(folded.writers.sort(), ["s~1", "x^2"]);
    assert.ok(folded.derivesFrom(before), "a fold derives from the value it started from (update's check)");
    // An old copy (x~1's part still there) merged after the fold; the delta (x~2's write and the fold) merged into the old copy.
    assert.deepEqual(folded.merge(before).entries, [["a", 9], ["b", -2]]);
    assert.deepEqual(before.merge(folded.delta!).entries, [["a", 9], ["b", -2]]);
    assert.deepEqual(before.merge(folded.delta!).writers.sort(), ["s~1", "x^2"]);
    assert.ok(PNCounterMap.fromState(folded.merge(before).toState()).equals(folded.resetDelta()));
  });

  test("a map of sets: what another writer removed stays removed; what only the retired writer held is re-added", () => {
    const m = ORMap.empty<ORSet<number>, string>("orset")
      .update("x~1", "k", (s, w) => s.add(w, 1).add(w, 2))
      .update("y~1", "k", (s) => s.remove(1))
      .update("x~1", "gone", (s, w) => s.add(w, 3))
      .resetDelta();
    const removed = m.remove("y~1", "gone").resetDelta();
    const folded = removed.foldRetired("x~2");
    assert.deepEqual(folded.get("k")!.elements, [2]);
    assert.equal(folded.has("gone"), false);
    assert.ok(folded.writers.every((id) => !id.startsWith("x~1")), folded.writers.join(","));
    // Merged into a replica that still holds x~1's parts (and the removed key): the same value.
    const elsewhere = m.merge(folded.delta!);
    assert.deepEqual(elsewhere.get("k")!.elements, [2]);
    assert.ok(elsewhere.merge(removed).equals(folded.resetDelta()));
  });
});
