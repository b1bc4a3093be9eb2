/**
 * Random CRDT values for the wire tests, built the way a cluster builds them: random operations
 * on a few replicas (replica i writes as node NODES[i]) with random merges in between. Every value
 * is therefore a state the data types can really reach, including deltas and empty values.
 */
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
  type Crdt,
  type DataKind,
  type Element,
} from "../../src/crdt/index.js";
import { NODES } from "../crdt/laws.js";

export { NODES };

/** A small pool, so replicas often touch the same elements; plus a few structured values. */
export const element: fc.Arbitrary<Element> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom<Element>("x", "y", "z", "", "ünï", 1, -2.5, 0, true, false, null) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Element>(
      { a: 1, b: [2, "c"] },
      JSON.parse('{"__proto__": "data", "constructor": 1}') as Element,
      10n,
      -(2n ** 70n),
      new Uint8Array([1, 2, 255]),
      [],
      [[null]],
    ),
  },
);

const amount = fc.integer({ min: 0, max: 1000 });
const timestamp = fc.integer({ min: 1, max: 50 });
const key = fc.constantFrom<Element>("k1", "k2", "k3", 7, { id: 1 });

/** One type's random mutation: how to draw it and how to apply it as a node. */
export interface KindSpec {
  name: string;
  kind: DataKind;
  empty(): Crdt;
  op: fc.Arbitrary<unknown>;
  apply(value: Crdt, node: string, op: unknown): Crdt;
}

type Any = any; // the specs apply ops to values whose concrete class the switch knows

export const SPECS: readonly KindSpec[] = [
  {
    name: "GCounter",
    kind: "gcounter",
    empty: () => GCounter.empty(),
    op: amount,
    apply: (v, n, by) => (v as GCounter).increment(n, by as number),
  },
  {
    name: "PNCounter",
    kind: "pncounter",
    empty: () => PNCounter.empty(),
    op: fc.tuple(fc.boolean(), amount),
    apply: (v, n, op) => {
      const [up, by] = op as [boolean, number];
      return up ? (v as PNCounter).increment(n, by) : (v as PNCounter).decrement(n, by);
    },
  },
  {
    name: "GSet",
    kind: "gset",
    empty: () => GSet.empty(),
    op: element,
    apply: (v, n, x) => (v as GSet).add(n, x as Element),
  },
  {
    name: "ORSet",
    kind: "orset",
    empty: () => ORSet.empty(),
    op: fc.tuple(fc.boolean(), element),
    apply: (v, n, op) => {
      const [add, x] = op as [boolean, Element];
      return add ? (v as ORSet).add(n, x) : (v as ORSet).remove(x);
    },
  },
  {
    name: "LWWRegister",
    kind: "lwwRegister",
    empty: () => LWWRegister.empty(),
    op: fc.tuple(element, timestamp),
    apply: (v, n, op) => {
      const [x, ts] = op as [Element, number];
      return (v as LWWRegister).set(n, x, ts);
    },
  },
  {
    name: "MVRegister",
    kind: "mvRegister",
    empty: () => MVRegister.empty(),
    op: element,
    apply: (v, n, x) => (v as MVRegister).set(n, x as Element),
  },
  {
    name: "Flag",
    kind: "flag",
    empty: () => Flag.empty(),
    op: fc.boolean(),
    apply: (v, n, on) => (on ? (v as Flag).enable(n) : v),
  },
  {
    name: "LWWMap",
    kind: "lwwMap",
    empty: () => LWWMap.empty(),
    op: fc.tuple(fc.boolean(), key, element, timestamp),
    apply: (v, n, op) => {
      const [put, k, x, ts] = op as [boolean, Element, Element, number];
      return put ? (v as LWWMap).put(n, k, x, ts) : (v as LWWMap).remove(n, k);
    },
  },
  {
    name: "ORMap<ORSet>",
    kind: "orMap",
    empty: () => ORMap.empty("orset"),
    op: fc.tuple(fc.constantFrom("add", "remove", "drop"), key, element),
    apply: (v, n, op) => {
      const [t, k, x] = op as [string, Element, Element];
      const m = v as ORMap<ORSet>;
      if (t === "drop") return m.remove(n, k);
      return m.update(n, k, (s: Any, node: string) => (t === "add" ? s.add(node, x) : s.remove(x)));
    },
  },
  {
    name: "ORMap<GCounter>",
    kind: "orMap",
    empty: () => ORMap.empty("gcounter"),
    op: fc.tuple(fc.boolean(), key, amount),
    apply: (v, n, op) => {
      const [up, k, by] = op as [boolean, Element, number];
      const m = v as ORMap<GCounter>;
      return up ? m.update(n, k, (c: Any, node: string) => c.increment(node, by)) : m.remove(n, k);
    },
  },
  {
    name: "ORMap<MVRegister>",
    kind: "orMap",
    empty: () => ORMap.empty("mvRegister"),
    op: fc.tuple(fc.boolean(), key, element),
    apply: (v, n, op) => {
      const [set, k, x] = op as [boolean, Element, Element];
      const m = v as ORMap<MVRegister>;
      return set ? m.update(n, k, (r: Any, node: string) => r.set(node, x)) : m.remove(n, k);
    },
  },
  {
    name: "ORMap<LWWMap>",
    kind: "orMap",
    empty: () => ORMap.empty("lwwMap"),
    op: fc.tuple(fc.boolean(), key, key, element, timestamp),
    apply: (v, n, op) => {
      const [put, k, k2, x, ts] = op as [boolean, Element, Element, Element, number];
      const m = v as ORMap<LWWMap>;
      return put ? m.update(n, k, (inner: Any, node: string) => inner.put(node, k2, x, ts)) : m.remove(n, k);
    },
  },
  {
    name: "PNCounterMap",
    kind: "pncounterMap",
    empty: () => PNCounterMap.empty(),
    op: fc.tuple(fc.constantFrom("inc", "dec", "remove"), key, amount),
    apply: (v, n, op) => {
      const [t, k, by] = op as [string, Element, number];
      const m = v as PNCounterMap;
      return t === "inc" ? m.increment(n, k, by) : t === "dec" ? m.decrement(n, k, by) : m.remove(n, k);
    },
  },
  {
    name: "ORMultiMap",
    kind: "orMultiMap",
    empty: () => ORMultiMap.empty(),
    op: fc.tuple(fc.constantFrom("add", "unbind", "remove"), key, element),
    apply: (v, n, op) => {
      const [t, k, x] = op as [string, Element, Element];
      const m = v as ORMultiMap;
      return t === "add" ? m.addBinding(n, k, x) : t === "unbind" ? m.removeBinding(n, k, x) : m.remove(n, k);
    },
  },
];

export type Step = { t: "op"; r: number; op: unknown } | { t: "merge"; from: number; to: number };

export function steps(spec: KindSpec, maxLength = 20): fc.Arbitrary<Step[]> {
  const r = fc.nat({ max: NODES.length - 1 });
  return fc.array(
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ t: fc.constant("op" as const), r, op: spec.op }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("merge" as const), from: r, to: r }) },
    ),
    { maxLength },
  );
}

export interface History {
  /** Every replica's final value (deltas reset). */
  replicas: Crdt[];
  /** Every delta produced, in order. */
  deltas: Crdt[];
}

export function runHistory(spec: KindSpec, history: Step[]): History {
  const replicas: Crdt[] = NODES.map(() => spec.empty());
  const deltas: Crdt[] = [];
  for (const s of history) {
    if (s.t === "op") {
      const next = spec.apply(replicas[s.r]!, NODES[s.r]!, s.op);
      if (next.delta !== undefined) deltas.push(next.delta);
      replicas[s.r] = next.resetDelta();
    } else if (s.from !== s.to) {
      replicas[s.to] = replicas[s.to]!.merge(replicas[s.from]!);
    }
  }
  return { replicas, deltas };
}

/** Random values of one spec: replica states, deltas (single and accumulated), empties. */
export function values(spec: KindSpec): fc.Arbitrary<Crdt[]> {
  return fc.tuple(steps(spec), fc.array(spec.op, { maxLength: 4 }), fc.nat({ max: NODES.length - 1 })).map(([history, extra, n]) => {
    const { replicas, deltas } = runHistory(spec, history);
    let v = replicas[n]!;
    for (const op of extra) v = spec.apply(v, NODES[n]!, op);
    const out = [...replicas, ...deltas.slice(-3), spec.empty(), v.resetDelta()];
    if (v.delta !== undefined) out.push(v.delta); // an accumulated delta
    return out;
  });
}

/** The join of `xs` folded from `empty` in the given order. */
export function joinAll(empty: Crdt, xs: readonly Crdt[]): Crdt {
  let out = empty;
  for (const x of xs) out = out.merge(x);
  return out;
}
