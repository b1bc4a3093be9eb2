import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { CausalContext, joinDots, type Dot } from "../../src/crdt/causal.js";
import { PMap } from "../../src/crdt/pmap.js";
import { DecodeError, InvalidArgumentError } from "../../src/errors.js";
import { fcParams } from "./laws.js";

const dot = (node: string, counter: number): Dot => ({ node, counter });

const dotArb: fc.Arbitrary<Dot> = fc.record({ node: fc.constantFrom("a", "b", "c"), counter: fc.integer({ min: 1, max: 12 }) });
const contextArb: fc.Arbitrary<{ ctx: CausalContext; dots: Dot[] }> = fc
  .array(dotArb, { maxLength: 30 })
  .map((dots) => ({ ctx: CausalContext.of(dots), dots }));

function covered(ctx: CausalContext): string[] {
  return [...ctx.dots()].map((d) => `${d.node}${d.counter}`).sort();
}

describe("CausalContext", () => {
  test("next, add, contains; contiguous dots fold into the vector", () => {
    let c = CausalContext.empty();
    assert.deepEqual(c.next("a"), dot("a", 1));
    c = c.add(dot("a", 1)).add(dot("a", 2));
    assert.deepEqual(c.toState(), { vector: [{ node: "a", value: 2 }], cloud: [] });
    c = c.add(dot("a", 5)).add(dot("b", 2));
    assert.deepEqual(c.toState(), {
      vector: [{ node: "a", value: 2 }],
      cloud: [dot("a", 5), dot("b", 2)],
    });
    assert.deepEqual(c.next("a"), dot("a", 6)); // past the cloud too: dots are never reused
    assert.ok(c.contains(dot("a", 1)) && c.contains(dot("a", 5)) && c.contains(dot("b", 2)));
    assert.ok(!c.contains(dot("a", 3)) && !c.contains(dot("b", 1)) && !c.contains(dot("z", 1)));
    // Filling the gaps folds the cloud.
    c = c.add(dot("a", 3)).add(dot("a", 4)).add(dot("b", 1));
    assert.deepEqual(c.toState(), { vector: [{ node: "a", value: 5 }, { node: "b", value: 2 }], cloud: [] });
    assert.equal(c.add(dot("a", 2)), c); // already covered → same value
  });

  test("merge is the union of the dots, compact, and a semilattice", () => {
    fc.assert(
      fc.property(contextArb, contextArb, contextArb, (x, y, z) => {
        const xy = x.ctx.merge(y.ctx);
        assert.deepEqual(covered(xy), [...new Set([...covered(x.ctx), ...covered(y.ctx)])].sort());
        assert.ok(xy.equals(y.ctx.merge(x.ctx)));
        assert.deepEqual(xy.toState(), y.ctx.merge(x.ctx).toState());
        assert.ok(xy.merge(z.ctx).equals(x.ctx.merge(y.ctx.merge(z.ctx))));
        assert.ok(x.ctx.merge(x.ctx).equals(x.ctx));
        for (const d of x.dots) assert.ok(x.ctx.contains(d));
        // compact: no cloud dot right after the vector entry, none covered by it
        const state = xy.toState();
        for (const d of state.cloud) {
          const v = state.vector.find((s) => s.node === d.node)?.value ?? 0;
          assert.ok(d.counter > v + 1);
        }
        assert.equal(xy.compact(), xy);
        // round trip
        assert.ok(CausalContext.fromState(state).equals(xy));
        assert.equal(xy.dotCount, covered(xy).length);
      }),
      fcParams(),
    );
  });

  test("add, contains, next and dots agree with a plain set of dots", () => {
    fc.assert(
      fc.property(fc.array(dotArb, { maxLength: 40 }), (dots) => {
        let c = CausalContext.empty();
        const model = new Set<string>();
        for (const d of dots) {
          c = c.add(d);
          model.add(`${d.node}${d.counter}`);
          assert.ok(c.contains(d));
        }
        assert.deepEqual(covered(c), [...model].sort());
        assert.ok(c.equals(CausalContext.of(dots)));
        for (const node of ["a", "b", "c"]) {
          const max = Math.max(0, ...dots.filter((d) => d.node === node).map((d) => d.counter));
          assert.deepEqual(c.next(node), dot(node, max + 1));
        }
        for (let k = 1; k <= 13; k++) assert.equal(c.contains(dot("a", k)), model.has(`a${k}`));
      }),
      fcParams(),
    );
  });

  test("a lost dot followed by many later ones stays cheap, and filling the gap folds everything", () => {
    let c = CausalContext.empty();
    const started = performance.now();
    for (let k = 2; k <= 50_000; k++) c = c.merge(CausalContext.of([dot("a", k)]));
    assert.ok(performance.now() - started < 3000);
    assert.deepEqual(c.toState().vector, []);
    assert.equal(c.toState().cloud.length, 49_999);
    assert.equal(c.dotCount, 49_999);
    c = c.add(dot("a", 1));
    assert.deepEqual(c.toState(), { vector: [{ node: "a", value: 50_000 }], cloud: [] });
  });

  test("fromState folds a non-compact cloud and rejects malformed states", () => {
    const c = CausalContext.fromState({ vector: [{ node: "a", value: 1 }], cloud: [dot("a", 2), dot("a", 4)] });
    assert.deepEqual(c.toState(), { vector: [{ node: "a", value: 2 }], cloud: [dot("a", 4)] });
    const bad: unknown[] = [
      null,
      { vector: [], cloud: "x" },
      { vector: [{ node: "", value: 1 }], cloud: [] },
      { vector: [{ node: "a", value: 0 }], cloud: [] },
      { vector: [{ node: "a", value: 1.5 }], cloud: [] },
      { vector: [{ node: "a", value: 2 ** 53 }], cloud: [] },
      { vector: [{ node: "b", value: 1 }, { node: "a", value: 1 }], cloud: [] },
      { vector: [{ node: "a", value: 1 }, { node: "a", value: 2 }], cloud: [] },
      { vector: [], cloud: [dot("b", 3), dot("a", 3)] },
      { vector: [], cloud: [dot("a", 3), dot("a", 3)] },
      { vector: [], cloud: [dot("a", 0)] },
      { vector: [{ node: "a", value: 3 }], cloud: [dot("a", 2)] }, // covered by the vector
    ];
    for (const s of bad) assert.throws(() => CausalContext.fromState(s as never), DecodeError, JSON.stringify(s));
  });

  test("next rejects an empty node id", () => {
    assert.throws(() => CausalContext.empty().next(""), InvalidArgumentError);
  });

  test("joinDots keeps common dots and the dots the other side has not seen", () => {
    const c1 = CausalContext.of([dot("a", 1), dot("a", 2), dot("b", 1)]);
    const c2 = CausalContext.of([dot("a", 1), dot("c", 1)]);
    // a1 in both; a2 only left, unseen by right → kept; c1 only right, unseen by left → kept;
    // b1 seen by left only as context → (not in d) irrelevant.
    assert.deepEqual(joinDots([dot("a", 1), dot("a", 2)], c1, [dot("a", 1), dot("c", 1)], c2), [dot("a", 1), dot("a", 2), dot("c", 1)]);
    // right removed a1 (seen, not held)
    assert.deepEqual(joinDots([dot("a", 1)], c1, [], c2), []);
  });
});

describe("PMap (persistent hash map)", () => {
  type MapOp = { t: "set"; k: string; v: number } | { t: "del"; k: string } | { t: "batch"; ops: { k: string; v: number | null }[] };
  const key = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.string({ maxLength: 4 }));
  const opArb: fc.Arbitrary<MapOp> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ t: fc.constant("set" as const), k: key, v: fc.integer() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("del" as const), k: key }) },
    {
      weight: 1,
      arbitrary: fc.record({
        t: fc.constant("batch" as const),
        ops: fc.array(fc.record({ k: key, v: fc.option(fc.integer(), { nil: null }) }), { maxLength: 60 }),
      }),
    },
  );

  test("behaves like a Map, and every older version stays intact", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        let m = PMap.empty<number>();
        let model = new Map<string, number>();
        const history: [PMap<number>, Map<string, number>][] = [];
        for (const op of ops) {
          history.push([m, model]);
          model = new Map(model);
          if (op.t === "set") {
            m = m.set(op.k, op.v);
            model.set(op.k, op.v);
          } else if (op.t === "del") {
            m = m.delete(op.k);
            model.delete(op.k);
          } else {
            m = m.mutate((t) => {
              for (const { k, v } of op.ops) {
                if (v === null) {
                  t.delete(k);
                  model.delete(k);
                } else {
                  t.set(k, v);
                  model.set(k, v);
                }
                assert.equal(t.size, model.size);
              }
            });
          }
          assert.equal(m.size, model.size);
        }
        history.push([m, model]);
        for (const [pm, mm] of history) {
          assert.equal(pm.size, mm.size);
          for (const [k, v] of mm) assert.equal(pm.get(k), v);
          const seen = new Map<string, number>();
          pm.forEach((v, k) => seen.set(k, v));
          assert.deepEqual(seen, mm);
          assert.deepEqual(pm.keys().sort(), [...mm.keys()].sort());
        }
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  test("diff reports exactly the keys that differ between any two versions; entries lists every entry", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 8 }), (ops, pairs) => {
        let m = PMap.empty<number>();
        let model = new Map<string, number>();
        const history: [PMap<number>, Map<string, number>][] = [[m, model]];
        for (const op of ops) {
          model = new Map(model);
          const batch = op.t === "batch" ? op.ops : [{ k: op.k, v: op.t === "set" ? op.v : null }];
          m = m.mutate((t) => {
            for (const { k, v } of batch) {
              if (v === null) t.delete(k);
              else t.set(k, v);
            }
          });
          for (const { k, v } of batch) {
            if (v === null) model.delete(k);
            else model.set(k, v);
          }
          history.push([m, model]);
        }
        // Unrelated maps of the same contents too (other trie shapes).
        history.push([PMap.build<number>((t) => [...model].reverse().forEach(([k, v]) => t.set(k, v))), model]);
        for (const [pm, mm] of history) assert.deepEqual(new Map(pm.entries()), mm);
        for (const [i, j] of pairs) {
          const [a, am] = history[i % history.length]!;
          const [b, bm] = history[j % history.length]!;
          const reported = new Map<string, [number | undefined, number | undefined]>();
          PMap.diff(a, b, (k, before, after) => {
            assert.ok(!reported.has(k), `key ${k} reported twice`);
            reported.set(k, [before, after]);
          });
          const expected = new Map<string, [number | undefined, number | undefined]>();
          for (const k of new Set([...am.keys(), ...bm.keys()])) if (am.get(k) !== bm.get(k)) expected.set(k, [am.get(k), bm.get(k)]);
          assert.deepEqual(reported, expected);
        }
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  test("grows past many levels and shrinks back to empty", () => {
    let m = PMap.empty<number>();
    for (let i = 0; i < 20000; i++) m = m.set("k" + i, i);
    assert.equal(m.size, 20000);
    assert.equal(m.get("k12345"), 12345);
    const half = m.mutate((t) => {
      for (let i = 0; i < 20000; i += 2) t.delete("k" + i);
    });
    assert.equal(half.size, 10000);
    assert.equal(m.size, 20000); // the source is untouched
    assert.equal(half.get("k2"), undefined);
    assert.equal(half.get("k3"), 3);
    let e = half;
    for (let i = 1; i < 20000; i += 2) e = e.delete("k" + i);
    assert.equal(e.size, 0);
    assert.equal(e.get("k1"), undefined);
    assert.equal(m.set("k1", 1), m); // unchanged → same map
    assert.equal(m.delete("nope"), m);
  });

  test("a transient cannot be used after its batch", () => {
    let leaked: { set(k: string, v: number): void } | undefined;
    PMap.empty<number>().mutate((t) => {
      leaked = t;
    });
    assert.throws(() => leaked!.set("a", 1));
  });
});
