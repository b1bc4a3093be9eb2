/**
 * A removed node that was in fact alive comes back after the leader folded its ids
 * (replicator/own-writer.ts, crdt/comeback.ts): against a shadow cluster that never prunes, every
 * value is the same once everything is merged, the counters exact, and the node's old id is gone.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import "../../src/crdt/index.js";
import { dataTypes } from "../../src/crdt/registry.js";
import { ORSet } from "../../src/crdt/orset.js";
import { GCounter } from "../../src/crdt/gcounter.js";
import { PNCounter } from "../../src/crdt/pncounter.js";
import { MVRegister } from "../../src/crdt/mv-register.js";
import { LWWMap } from "../../src/crdt/lww-map.js";
import { ORMultiMap } from "../../src/crdt/ormultimap.js";
import { PNCounterMap } from "../../src/crdt/pncounter-map.js";
import type { Crdt } from "../../src/crdt/types.js";
import { markerFor, parseWriter, removedFoldId } from "../../src/crdt/writer-ids.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { OwnWriter } from "../../src/replicator/own-writer.js";
import { lastIncarnationInProcess, reserveIncarnation } from "../../src/replicator/identity.js";
import { chooseIncarnation } from "../../src/cluster/incarnations.js";
import { fcParams } from "./laws.js";

interface Model<T extends Crdt<T>> {
  empty(): T;
  write(v: T, writerId: string, x: number): T;
  read(v: T): unknown;
}

/** A write by `a` (leader), `b` or `x` (the node removed), before or during x's partition. */
type Step = { node: "a" | "b" | "x"; x: number };
const stepArb = fc.record({ node: fc.constantFrom("a" as const, "b" as const, "x" as const), x: fc.integer({ min: -4, max: 9 }) });

const merge = <T extends Crdt<T>>(a: T, b: T): T => a.merge(b).resetDelta();

/** How the leader takes in x's ids: absorbed under a marker (every member reads them), or folded into `x!inc`. */
type FoldStyle = "absorb" | "fold";
const STYLES: FoldStyle[] = ["absorb", "fold"];

/** `value` with the removed node `x`'s ids taken in by the leader `a~1`, the way `style` does it; undefined id when it held none. */
function foldX<T extends Crdt<T>>(value: T, style: FoldStyle): { value: T; id: string | undefined } {
  const pruning = dataTypes.get(value.kind)!.pruning!;
  const id = style === "absorb" ? markerFor(pruning.writers(value), "x", 5) : removedFoldId(pruning.writers(value), "x");
  if (id === undefined) return { value, id };
  const folded = style === "absorb" ? pruning.absorbRemoved!(value, id, "a~1") : pruning.foldRetired(value, id);
  return { value: (folded as T).resetDelta(), id };
}

/**
 * Connected writes, then a partition {a, b} | {x} with writes on both sides, the leader's fold of x,
 * more writes, the heal (x merges the fold: comeback), writes under x's fresh id, full exchange.
 * The shadow gets the same writes under fixed ids and never folds.
 */
function run<T extends Crdt<T>>(model: Model<T>, before: Step[], during: Step[], after: Step[], style: FoldStyle): { stats: ReplicatorStats; ownWriter: OwnWriter; published: Crdt[] } {
  const stats = new ReplicatorStats();
  const published: Crdt[] = [];
  const ownWriter = new OwnWriter("x", "x~1", { publish: (_k, d) => published.push(d), renewed: () => {}, stats, reportError: () => {} });
  const v = { a: model.empty(), b: model.empty(), x: model.empty() };
  const shadow = { a: model.empty(), b: model.empty(), x: model.empty() };
  const ids = { a: "a~1", b: "b~1" };
  const write = (s: Step, connected: boolean): void => {
    const id = s.node === "x" ? ownWriter.id : ids[s.node];
    v[s.node] = model.write(v[s.node], id, s.x).resetDelta();
    shadow[s.node] = model.write(shadow[s.node], `${s.node}~1`, s.x).resetDelta();
    for (const [m, peers] of [[v, connected ? ["a", "b", "x"] : s.node === "x" ? ["x"] : ["a", "b"]], [shadow, connected ? ["a", "b", "x"] : s.node === "x" ? ["x"] : ["a", "b"]]] as const) {
      for (const p of peers) (m as Record<string, T>)[p] = merge((m as Record<string, T>)[p]!, (m as Record<string, T>)[s.node]!);
    }
  };
  for (const s of before) write(s, true);
  for (const s of during) write(s, false);
  // The leader folds x's ids, b gets the fold.
  const pruning = dataTypes.get(v.a.kind)!.pruning!;
  const { value: folded, id: w } = foldX(v.a, style);
  v.a = folded;
  v.b = merge(v.b, v.a);
  // Heal: x merges the leader's value (the comeback), then everyone exchanges.
  v.x = ownWriter.afterMerge("k", v.x.kind, v.x, v.a, v.x.merge(v.a)) as T;
  for (const d of published) (v.a = merge(v.a, d as T)), (v.b = merge(v.b, d as T));
  v.a = merge(v.a, v.x);
  v.b = merge(v.b, v.a);
  v.x = merge(v.x, v.b);
  shadow.a = shadow.b = shadow.x = merge(merge(shadow.a, shadow.b), shadow.x);
  for (const s of after) write(s, true);
  // x folds its own retired ids (the prune tick, every peer synced): what the fold's type left of its old id.
  v.x = (pruning.foldRetired(v.x, ownWriter.id) as T).resetDelta();
  v.a = merge(v.a, v.x);
  v.b = merge(v.b, v.x);
  for (const n of ["a", "b", "x"] as const) {
    assert.deepEqual(model.read(v[n]), model.read(merge(shadow.a, merge(shadow.b, shadow.x))), `${n} differs from the shadow cluster`);
    if (w !== undefined) assert.ok(!pruning.writers(v[n]).includes("x~1"), `${n} still holds x's folded id`);
  }
  return { stats, ownWriter, published };
}

const counter: Model<PNCounter> = {
  empty: () => PNCounter.empty(),
  write: (c, id, x) => (x >= 0 ? c.increment(id, x) : c.decrement(id, -x)),
  read: (c) => c.value,
};

const set: Model<ORSet<number>> = {
  empty: () => ORSet.empty<number>(),
  write: (s, id, x) => (x >= 0 ? s.add(id, x) : s.remove(-x)),
  read: (s) => [...s.elements].sort(),
};

const register: Model<MVRegister<number>> = {
  empty: () => MVRegister.empty<number>(),
  write: (r, id, x) => r.set(id, Math.abs(x)),
  read: (r) => [...r.values].sort(),
};

// Maps: two keys; x = -4 removes k0, other negatives decrement or unbind (see `noRemoves`).
const key = (x: number): string => `k${Math.abs(x) % 2}`;
const counterMap: Model<PNCounterMap<string>> = {
  empty: () => PNCounterMap.empty<string>(),
  write: (m, id, x) => (x === -4 ? m.remove(id, "k0") : x >= 0 ? m.increment(id, key(x), x) : m.decrement(id, key(x), -x)),
  read: (m) => m.entries,
};
const multiMap: Model<ORMultiMap<number, string>> = {
  empty: () => ORMultiMap.empty<number, string>(),
  write: (m, id, x) => (x === -4 ? m.remove(id, "k0") : x >= 0 ? m.addBinding(id, key(x), x % 4) : m.removeBinding(id, key(x), -x)),
  read: (m) => m.entries,
};
const lwwMap: Model<LWWMap<number, string>> = {
  empty: () => LWWMap.empty<number, string>(),
  // The timestamp is the value: writes of the real and the shadow cluster order alike (ties: by node).
  write: (m, id, x) => (x < 0 ? m.remove(id, "k0") : m.put(id, key(x), x, x)),
  read: (m) => m.entries,
};
/**
 * During the partition no key is removed and no binding unbound, by anyone: the absorption keeps no
 * trace of what the leader saw, so a remove on one side of what the other side wrote comes back as
 * an update concurrent with it would (the comeback reports what it cannot tell; tested below).
 */
const noRemoves = (steps: Step[]): Step[] => steps.filter((s) => s.x !== -4);
const addsOnly = (steps: Step[]): Step[] => steps.filter((s) => s.x >= 0);

for (const style of STYLES) describe(`comeback after a removed node's ids were taken in (${style})`, () => {
  test("PNCounter: exact against a cluster that never prunes; x takes a fresh id above the fold", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 20 }), fc.array(stepArb, { maxLength: 20 }), fc.array(stepArb, { maxLength: 8 }), (before, during, after) => {
        const { stats, ownWriter } = run(counter, before, during, after, style);
        assert.equal(stats.comebackLost, 0);
        const touched = before.some((s) => s.node === "x" && s.x !== 0);
        if (touched) assert.ok(parseWriter(ownWriter.id)!.incarnation > 2 && stats.writerIdRenewals === 1);
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  test("ORSet: every element the shadow holds, the removed node's own removes during the partition included", () => {
    // A remove by a or b during the partition of an element only x's dots held cannot be told from
    // x's later add by the comeback (the fold keeps no trace of what the leader saw): adds only there.
    const othersAddOnly = (steps: Step[]): Step[] => steps.map((s) => (s.node === "x" ? s : { node: s.node, x: Math.abs(s.x) }));
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 20 }), fc.array(stepArb, { maxLength: 20 }), fc.array(stepArb, { maxLength: 8 }), (before, during, after) => {
        const { stats, published } = run(set, before, othersAddOnly(during), after, style);
        // Each element re-added is reported (the node cannot tell it from one removed elsewhere).
        const readded = published.reduce((n, d) => n + (d as ORSet<number>).size, 0);
        assert.equal(stats.comebackLost, readded);
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  test("MVRegister: the shadow's values when only x wrote during the partition", () => {
    // An overwrite by a or b during the partition of x's value is undone by the comeback as the
    // ORSet remove above (x's value comes back next to theirs, as a concurrent write would).
    const xOnly = (steps: Step[]): Step[] => steps.filter((s) => s.node === "x");
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 10 }), fc.array(stepArb, { maxLength: 10 }), fc.array(stepArb, { maxLength: 4 }), (before, during, after) => {
        const { stats } = run(register, before, xOnly(during), after, style);
        assert.equal(stats.comebackLost, 0);
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  test("PNCounterMap: every key's count exact against a cluster that never prunes", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 20 }), fc.array(stepArb, { maxLength: 20 }), fc.array(stepArb, { maxLength: 8 }), (before, during, after) => {
        const { stats } = run(counterMap, before, noRemoves(during), after, style);
        // Only a key re-added whole (the leader's value lacked it: never seen, or removed) is reported.
        assert.ok(stats.comebackLost <= 2, `${stats.comebackLost}`);
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  test("ORMultiMap: every binding the shadow holds", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 20 }), fc.array(stepArb, { maxLength: 20 }), fc.array(stepArb, { maxLength: 8 }), (before, during, after) => {
        run(multiMap, before, addsOnly(during), after, style);
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  test("LWWMap: every value the shadow holds (x's later writes merged back, timestamps and all)", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 20 }), fc.array(stepArb, { maxLength: 20 }), fc.array(stepArb, { maxLength: 8 }), (before, during, after) => {
        run(lwwMap, before, addsOnly(during), after, style);
      }),
      fcParams({ numRuns: 200 }),
    );
  });

  test("a map key the node removed during the partition that the fold brought back is counted and reported", () => {
    const stats = new ReplicatorStats();
    const errors: unknown[] = [];
    const ownWriter = new OwnWriter("x", "x~1", { publish: () => {}, renewed: () => {}, stats, reportError: (e) => errors.push(e) });
    const both = PNCounterMap.empty<string>().increment("x~1", "k", 3).resetDelta(); // replicated before the partition
    const xNow = both.remove("x~1", "k").resetDelta(); // x removed it, cut off
    const folded = foldX(both, style).value; // the leader re-issued x's share under its own instance
    const back = ownWriter.afterMerge("m", "pncounterMap", xNow, folded, xNow.merge(folded)) as PNCounterMap<string>;
    assert.equal(back.get("k"), 3, "it comes back, as an update concurrent with the remove");
    assert.equal(stats.comebackLost, 1);
    assert.equal(errors.length, 1);
  });

  test("a remove the node cannot tell from an element it never saw is counted and reported, never silent", () => {
    const stats = new ReplicatorStats();
    const errors: unknown[] = [];
    // This process writes as x~2; its value still holds x~1, an earlier process's id it may know only in part.
    const ownWriter = new OwnWriter("x", "x~2", { publish: () => {}, renewed: () => {}, stats, reportError: (e) => errors.push(e) });
    const leaderBefore = ORSet.empty<number>().add("x~1", 7).add("x~2", 8).resetDelta();
    const xNow = leaderBefore.remove(7).resetDelta();
    const folded = foldX(leaderBefore, style).value;
    const back = ownWriter.afterMerge("k", "orset", xNow, folded, xNow.merge(folded)) as ORSet<number>;
    assert.deepEqual([...back.elements].sort(), [7, 8]); // 7 back: counted, reported
    assert.equal(stats.comebackLost, 1);
    assert.equal(errors.length, 1);
    // This process's own remove of an element is done again (it knows every dot of its own ids).
    const own = new OwnWriter("x", "x~1", { publish: () => {}, renewed: () => {}, stats: new ReplicatorStats(), reportError: () => assert.fail("nothing lost") });
    const l2 = ORSet.empty<number>().add("x~1", 7).resetDelta();
    const x2 = l2.remove(7).resetDelta();
    const f2 = foldX(l2, style).value;
    assert.deepEqual((own.afterMerge("k", "orset", x2, f2, x2.merge(f2)) as ORSet<number>).elements, []);
  });

  test("an element another node removed during the partition comes back, counted and reported", () => {
    const stats = new ReplicatorStats();
    const errors: unknown[] = [];
    const ownWriter = new OwnWriter("x", "x~1", { publish: () => {}, renewed: () => {}, stats, reportError: (e) => errors.push(e) });
    const both = ORSet.empty<number>().add("x~1", 7).resetDelta(); // replicated before the partition
    const leader = both.remove(7).resetDelta(); // b removed it; the leader then folds x
    const folded = foldX(leader, style).value;
    const back = ownWriter.afterMerge("k", "orset", both, folded, both.merge(folded)) as ORSet<number>;
    assert.deepEqual(back.elements, [7]);
    assert.equal(stats.comebackLost, 1);
    assert.match(String(errors[0]), /removed meanwhile/);
  });

  test("a replica that held another node's writes a fold did not include reports them (that node may never come back)", () => {
    const stats = new ReplicatorStats();
    const errors: unknown[] = [];
    // z was cut off with x; x's last writes reached z only, then x died; the leader folded x.
    const z = new OwnWriter("z", "z~1", { publish: () => assert.fail("z re-issues nothing of x's"), renewed: () => {}, stats, reportError: (e) => errors.push(e) });
    const leader = PNCounter.empty().increment("x~1", 3).resetDelta();
    const zHeld = leader.increment("x~1", 2).resetDelta();
    const folded = foldX(leader, style).value;
    const merged = z.afterMerge("k", "pncounter", zHeld, folded, zHeld.merge(folded)) as PNCounter;
    assert.equal(merged.value, 3);
    assert.equal(stats.comebackLost, 2);
    assert.match(String(errors[0]), /node x's writes/);
    // A set element only x's dropped dots held here is reported too; one the fold re-issued is not.
    const s = ORSet.empty<number>().add("x~1", 1).resetDelta();
    const sz = s.add("x~1", 2).resetDelta();
    const sf = foldX(s, style).value;
    const sm = z.afterMerge("s", "orset", sz, sf, sz.merge(sf)) as ORSet<number>;
    assert.deepEqual(sm.elements, [1]);
    assert.equal(stats.comebackLost, 3);
  });

  test("a merge without a fold of this node's ids changes nothing", () => {
    const stats = new ReplicatorStats();
    const ownWriter = new OwnWriter("x", "x~1", { publish: () => assert.fail("nothing to publish"), renewed: () => {}, stats, reportError: () => {} });
    const a = PNCounter.empty().increment("x~1", 3).resetDelta();
    const b = PNCounter.empty().increment("a~1", 2).foldRetired("a~1").resetDelta();
    const merged = a.merge(b);
    assert.equal(ownWriter.afterMerge("k", "pncounter", a, b, merged), merged);
    assert.equal(ownWriter.id, "x~1");
  });
});

test("a fold just before a partition that the leader absorbed again: x takes an id above the marker and re-issues what its fold held beyond the marker's share", () => {
  const stats = new ReplicatorStats();
  const renewed: number[] = [];
  const published: Crdt[] = [];
  const ownWriter = new OwnWriter("x", "x~5", { publish: (_k, d) => published.push(d), renewed: (n) => renewed.push(n), stats, reportError: () => assert.fail("nothing lost") });
  // x~5 folded x~1 (3) into x^5 and wrote 4 more; cut off at once, the fold reached nobody. The
  // leader a held x~1 only and absorbed it at t = 10 under x#2.a.
  const before = GCounter.empty().increment("a~1", 2).increment("x^5", 7).resetDelta();
  const leader = GCounter.empty().increment("a~1", 2).increment("x~1", 3).resetDelta().absorbRemoved("x#2.a", "a~1").resetDelta();
  const merged = before.merge(leader);
  assert.equal(merged.value, 5, "x^5 dropped: the marker covers the fold of a process started before it");
  const out = ownWriter.afterMerge("k", "gcounter", before, leader, merged) as GCounter;
  assert.equal(out.value, 9, "a's 2, x~1's 3 in a's slot, x's own 4 re-issued: exact");
  assert.equal(ownWriter.id, "x~b", "above the marker's time (10)");
  assert.deepEqual(renewed, [11]);
  assert.equal(published.length, 1);
  // Every other replica gets the same from the leader's value and the re-issue, in any order.
  assert.equal(leader.merge(published[0] as GCounter).merge(before).value, 9);
  assert.equal(before.merge(published[0] as GCounter).merge(leader).value, 9);
  // And x's later folds are above the marker: not covered.
  const folded = out.increment("x~b", 1).resetDelta().foldRetired("x~b").resetDelta();
  assert.equal(folded.merge(leader).value, 10);
});

test("this node's own fold (its live id adopted by its fold id in that key) is no comeback: no renewal, nothing re-issued, nothing reported", () => {
  const stats = new ReplicatorStats();
  const ownWriter = new OwnWriter("x", "x~2", { publish: () => assert.fail("nothing to publish"), renewed: () => {}, stats, reportError: () => assert.fail("nothing to report") });
  const before = PNCounter.empty().increment("x~1", 3).increment("x~2", 2).resetDelta();
  const folded = before.foldRetired("x~2");
  // The prune tick folds the key (its local write skips afterMerge); the fold then comes back from a peer.
  const merged = before.merge(folded.delta!);
  assert.equal(ownWriter.afterMerge("k", "pncounter", before, folded.delta!, merged), merged);
  assert.equal(merged.value, 5);
  assert.equal(ownWriter.id, "x~2");
  assert.equal(stats.comebackLost + stats.writerIdRenewals + stats.comebackReissues, 0);
});

test("the node writes under its fold id in the keys it folded, under its live id elsewhere (one id of the node per key)", () => {
  const ownWriter = new OwnWriter("x", "x~2", { publish: () => {}, renewed: () => {}, stats: new ReplicatorStats(), reportError: () => {} });
  const folded = PNCounter.empty().increment("x~1", 3).increment("x~2", 2).resetDelta().foldRetired("x~2").resetDelta();
  assert.equal(ownWriter.writerIn("pncounter", folded), "x^2");
  const next = folded.increment(ownWriter.writerIn("pncounter", folded), 1);
  assert.deepEqual(next.writers, ["x^2"]);
  assert.equal(next.value, 6);
  const untouched = PNCounter.empty().increment("x~2", 1).resetDelta();
  assert.equal(ownWriter.writerIn("pncounter", untouched), "x~2");
  const set = ORSet.empty<number>().add("x~1", 1).add("x~2", 2).resetDelta().foldRetired("x~2").resetDelta();
  assert.equal(ownWriter.writerIn("orset", set), "x^2");
  assert.deepEqual(set.add(ownWriter.writerIn("orset", set), 3).writers, ["x^2"]);
});

test("a renewed writer id reserves its incarnation: a later start in this process goes above it (seed 20242359: a restart took the incarnation its predecessor had renewed to)", () => {
  const renewed: number[] = [];
  const stats = new ReplicatorStats();
  const ownWriter = new OwnWriter("w0", "w0~6", { publish: () => {}, renewed: (n) => renewed.push(n), stats, reportError: () => {} });
  const before = PNCounter.empty().increment("w0~6", 1).resetDelta();
  const folded = PNCounter.empty().increment("w0~6", 1).resetDelta().foldRetired("w0!7").resetDelta();
  ownWriter.afterMerge("c1", "pncounter", before, folded, before.merge(folded));
  assert.equal(ownWriter.id, "w0~8");
  assert.deepEqual(renewed, [8]);
  reserveIncarnation(8);
  assert.ok(chooseIncarnation({ wallMs: 0, persisted: 0, learned: 0, lastInProcess: lastIncarnationInProcess() }) > 8);
});

test("a later process's fold of this node's ids is no comeback for a stale process: it supersedes and renews nothing (two-DC seed 20292899)", () => {
  // e2~a closed (or is a duplicate); its successor e2~b added e2-38 and folded e2~a's ids into e2^b.
  const stats = new ReplicatorStats();
  const stale = new OwnWriter("e2", "e2~a", { publish: () => assert.fail("nothing to publish"), renewed: () => assert.fail("no renewal"), stats, reportError: () => assert.fail("nothing to report") });
  const before = ORSet.empty<string>().add("e2~a", "e2-23").resetDelta();
  const successor = before.add("e2~b", "e2-38").resetDelta().foldRetired("e2~b").resetDelta();
  const merged = stale.afterMerge("s1", "orset", before, successor, before.merge(successor)) as ORSet<string>;
  assert.deepEqual([...merged.elements].sort(), ["e2-23", "e2-38"], "the successor's add survives");
  assert.equal(stale.id, "e2~a");
  assert.equal(stats.comebackReissues + stats.writerIdRenewals + stats.comebackLost, 0);
});

describe("removedFoldId", () => {
  test("`node!inc` one incarnation above the node's ids in the key: covers them, adopts none (a restart at that incarnation keeps its dots); none without a writer id of the node", () => {
    assert.equal(removedFoldId(["x~1", "x^3", "x~a", "y~z"], "x"), "x!b");
    const live = ORSet.empty<number>().add("x~b", 1).resetDelta(); // a restart of x that took incarnation b
    const folded = ORSet.empty<number>().add("x~a", 2).resetDelta().foldRetired("x!b");
    const merged = live.merge(folded.delta!);
    assert.deepEqual([...merged.elements].sort(), [1, 2]);
    assert.deepEqual(merged.writers.sort(), ["x!b", "x~b"]);
    assert.equal(removedFoldId(["x^3", "y~1"], "x"), undefined);
    assert.equal(removedFoldId(["y~1"], "x"), undefined);
  });
});
