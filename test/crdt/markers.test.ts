/**
 * A removed node's ids absorbed by the leader under a marker `node#i.t` (writer-ids.ts, each type's
 * `absorbRemoved`): counters move the node's amount into the leader's slot, sets and registers
 * re-issue under the marker; values never change, the node's ids go everywhere the marker arrives —
 * with the absorption's delta or with any later delta of the leader's — and markers expire.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { GCounter, gcounterType } from "../../src/crdt/gcounter.js";
import { MVRegister } from "../../src/crdt/mv-register.js";
import { ORSet } from "../../src/crdt/orset.js";
import { PNCounter, pncounterType } from "../../src/crdt/pncounter.js";
import { absorbedBy, coverageOf, coveredAmong, isCovered, isMarker, latestMarkerTime, markerFor, markerTime, mayBeFoldId, parseWriter, supersededMarkers } from "../../src/crdt/writer-ids.js";
import { fcParams } from "./laws.js";

describe("marker ids", () => {
  test("node#i.t ranks below every other id of its incarnation and covers the node's older ids, of every kind", () => {
    assert.deepEqual(parseWriter("n1#a.b"), { node: "n1", incarnation: 10, fold: true, marker: true, rank: 40, madeAtMs: 11 });
    assert.equal(parseWriter("n1#a"), undefined, "a marker names when it was made");
    assert.equal(parseWriter("n1~a.b"), undefined);
    assert.ok(parseWriter("n1#a.a")!.rank < parseWriter("n1!a")!.rank && parseWriter("n1^9")!.rank < parseWriter("n1#a.a")!.rank);
    for (const id of ["n1~9", "n1^9", "n1!9", "n1#9.9"]) assert.ok(absorbedBy("n1#a.a", id), id);
    for (const id of ["n1~a", "n1^a", "n1!a", "n1#a.a", "n2~1", "n1", "a"]) assert.ok(!absorbedBy("n1#a.a", id), id);
    assert.ok(!absorbedBy("n1~a", "n1~1"), "only a marker absorbs");
    assert.deepEqual([...coveredAmong(["n1#a.a", "n1~9", "n1~a", "n2~1"])], ["n1~9"]);
    assert.ok(isMarker("n1#a.a") && !isMarker("n1~a") && !isMarker("a#b#c"));
    assert.equal(markerTime("n1#a.b"), 11);
    assert.equal(markerTime("n1~a"), undefined);
  });

  test("supersededMarkers: a later fold id of the node supersedes a marker, unless a marker of the node made after that fold covers it; markers never supersede each other", () => {
    const superseded = (ids: string[], marker: string): boolean => supersededMarkers(ids)(marker);
    assert.equal(superseded(["x^6"], "x#2.5"), true, "x folded (at 6) after the absorption (at 5)");
    assert.equal(superseded(["x^6", "x#2.5"], "x#2.5"), true);
    assert.equal(superseded(["x^6"], "x#2.9"), false, "the marker, made at 9, covers the fold made at 6: it folded before, and its fold covers nothing");
    assert.equal(superseded(["x^6", "x#3.9"], "x#2.5"), false, "a later marker covers the fold id");
    assert.equal(superseded(["x#7.20"], "x#2.5"), false, "a later marker carries the earlier one's share: not superseded");
    assert.equal(superseded(["x~6", "y^9"], "x#2.5"), false, "a writer id, or another node's fold, supersedes nothing");
    assert.equal(superseded(["x^6"], "x~1"), false, "only markers are asked about");
  });

  test("markerFor: one above the node's highest incarnation in the key, made now; none without an id of the node holding effects", () => {
    assert.equal(markerFor(["x~5", "x^7", "a~1"], "x", 3), "x#8.3");
    assert.equal(markerFor(["x~5", "a~1"], "x", 100), `x#6.${(100).toString(36)}`, "not above 6: a later process of x the absorber never saw keeps its own writes");
    assert.equal(markerFor(["x#5.1", "a~1"], "x", 100), undefined, "a lone marker holds nothing to absorb");
    assert.equal(markerFor(["a~1"], "x", 100), undefined);
  });
});

describe("GCounter", () => {
  const before = GCounter.empty().increment("a~1", 2).increment("x~1", 5).increment("x^3", 4).resetDelta();

  test("the node's amount moves into the leader's slot; the marker records it and does not count", () => {
    const absorbed = before.absorbRemoved("x#9.9", "a~1");
    assert.equal(absorbed.value, 11);
    assert.deepEqual(absorbed.resetDelta().toState().slots, [
      { node: "a~1", value: 11 },
      { node: "x#9.9", value: 9 },
    ]);
    assert.deepEqual(absorbed.delta!.toState().slots, absorbed.resetDelta().toState().slots);
    assert.equal(before.absorbRemoved("y#9.9", "a~1"), before, "nothing of y: unchanged");
    assert.equal(before.absorbRemoved("x#1.1", "a~1"), before, "x#1 covers none of x's ids");
  });

  test("a replica still holding the node's slots merges the absorption, or only a later write of the leader, without counting twice", () => {
    const absorbed = before.absorbRemoved("x#9.9", "a~1").resetDelta();
    const later = absorbed.increment("a~1", 1);
    assert.ok(later.delta!.holds("x#9.9"), "the leader's later delta carries the marker");
    for (const incoming of [absorbed, later.delta!, later.resetDelta()]) {
      const merged = before.merge(incoming);
      assert.equal(merged.value, incoming === absorbed ? 11 : 12);
      assert.ok(!merged.holds("x~1") && !merged.holds("x^3"));
    }
    // A late slot of the removed node (a copy from before) is dropped wherever the marker is.
    assert.equal(later.resetDelta().merge(GCounter.empty().increment("x~1", 6)).value, 12);
  });

  test("a marker expires: dropped before the cutoff, kept from it on; the value never changes", () => {
    const absorbed = before.absorbRemoved("x#9.9", "a~1").resetDelta();
    assert.equal(absorbed.withoutMarkersBefore(9), absorbed);
    const expired = absorbed.withoutMarkersBefore(10);
    assert.deepEqual(expired.writers, ["a~1"]);
    assert.equal(expired.value, absorbed.value);
    assert.equal(before.withoutMarkersBefore(1e12), before, "no marker: unchanged");
  });

  test("latestMarkerTime: the latest marker's time, as latestMarkerTime of its writer ids says (0: none), a lone slot too", () => {
    const absorbed = before.absorbRemoved("x#9.9", "a~1").resetDelta();
    const twice = absorbed.absorbRemoved("y#2.20", "a~1").merge(GCounter.empty().increment("y~1", 1).absorbRemoved("y#2.20", "b~1")).resetDelta();
    const lone = absorbed.withoutMarkersBefore(10).merge(GCounter.empty().absorbRemoved("x#9.9", "a~1"));
    const cases: [GCounter, number][] = [[before, 0], [GCounter.empty(), 0], [GCounter.empty().increment("a~1", 1).resetDelta(), 0], [absorbed, markerTime("x#9.9")!], [twice, markerTime("y#2.20")!]];
    for (const [counter, expected] of cases) {
      assert.equal(counter.latestMarkerTime(), expected, JSON.stringify(counter.writers));
      assert.equal(counter.latestMarkerTime(), latestMarkerTime(counter.writers));
    }
    assert.equal(lone.latestMarkerTime(), latestMarkerTime(lone.writers));
    const onlyMarker = GCounter.fromState({ slots: [{ node: "x#9.9", value: 9 }] });
    assert.deepEqual(onlyMarker.writers, ["x#9.9"]);
    assert.equal(onlyMarker.latestMarkerTime(), markerTime("x#9.9"), "a lone slot that is a marker");
  });

  test("mayHoldFoldId: as its writer ids say (mayBeFoldId), lone slot or many, counters and both halves of a PNCounter", () => {
    const ids = ["a~1", "b~2", "x^3", "y!4", "z#5.6", "plain"];
    fc.assert(
      fc.property(fc.subarray(ids), fc.subarray(ids), (up, down) => {
        const gc = up.reduce((c, id, i) => c.increment(id, i + 1), GCounter.empty()).resetDelta();
        assert.equal(gcounterType.pruning!.mayHoldFoldId!(gc), gc.writers.some(mayBeFoldId), JSON.stringify(gc.writers));
        let pn = up.reduce((c, id, i) => c.increment(id, i + 1), PNCounter.empty());
        pn = down.reduce((c, id, i) => c.decrement(id, i + 1), pn).resetDelta();
        assert.equal(pncounterType.pruning!.mayHoldFoldId!(pn), pn.writers.some(mayBeFoldId), JSON.stringify(pn.writers));
      }),
      fcParams(),
    );
    assert.equal(GCounter.fromState({ slots: [{ node: "x#9.9", value: 9 }] }).mayHoldFoldId(), true, "a lone marker");
    assert.equal(GCounter.empty().increment("x^3", 1).resetDelta().mayHoldFoldId(), true, "a lone fold id");
    assert.equal(GCounter.empty().increment("a~1", 1).resetDelta().mayHoldFoldId(), false, "a lone writer id");
  });

  test("the node's own later fold drops an old marker without adding its amount", () => {
    // x came back as x~a (above the marker) and re-issued what the leader lacked; its fold then takes in the marker.
    const back = before.absorbRemoved("x#9.9", "a~1").resetDelta().increment("x~a", 1).resetDelta();
    const folded = back.foldRetired("x~a").resetDelta();
    assert.equal(folded.value, back.value);
    assert.deepEqual(folded.writers.sort(), ["a~1", "x^a"]);
  });

  test("PNCounter: both halves", () => {
    const pn = PNCounter.empty().increment("x~1", 5).decrement("x~1", 2).increment("a~1", 1).resetDelta();
    const absorbed = pn.absorbRemoved("x#9.9", "a~1").resetDelta();
    assert.equal(absorbed.value, 4);
    assert.deepEqual(absorbed.writers.sort(), ["a~1", "x#9.9"]);
    assert.equal(pn.merge(absorbed.decrement("a~1", 1).delta!).value, 3);
    assert.deepEqual(absorbed.withoutMarkersBefore(10).writers, ["a~1"]);
  });
});

describe("a fold just before a partition, absorbed again by the leader (the marker covers the fold id)", () => {
  // x's process x~5 (started at 5) folded its retired x~1 into x^5 and was cut off at once; its fold
  // reached nobody. The leader a, holding x~1 only, absorbed it at 10: marker x#2.a (i = 2, t = 10).
  const leader = GCounter.empty().increment("a~1", 2).increment("x~1", 3).resetDelta().absorbRemoved("x#2.a", "a~1").resetDelta();
  const cutOff = GCounter.empty().increment("a~1", 2).increment("x^5", 3 + 4).resetDelta(); // x~1's 3 and 4 of its own writes

  test("coverage: a marker covers its node's fold ids of processes started before it was made, and those cover nothing", () => {
    const c = coverageOf(["x#2.a", "x^5", "x~5"])!;
    assert.ok(isCovered("x^5", c), "x^5: its process started (5) before the marker (10)");
    assert.ok(!isCovered("x#2.a", c), "the marker stays: x^5 covers nothing");
    assert.ok(isCovered("x~5", c) && isCovered("x~3", c), "x^5 goes with the ids it took in (x comes back with what they held)");
    assert.ok(!isCovered("x~5", coverageOf(["x#2.a", "x~5"])!), "where x did not fold, its live id stays its own");
    const later = coverageOf(["x#2.a", "x^b"])!;
    assert.ok(!isCovered("x^b", later) && isCovered("x#2.a", later), "a process started after the marker: its fold covers the marker, as before");
    assert.ok(!isCovered("x!5", coverageOf(["x#2.a", "x!5"])!), "only a node's own fold ids (^): a removed node's fold (!) is another leader's");
  });

  test("either order of arrival: the fold id goes, the marker's share stays, nothing counts twice", () => {
    for (const merged of [leader.merge(cutOff), cutOff.merge(leader)]) {
      assert.equal(merged.value, 5, "a's 2 + x~1's 3 in a's slot; x^5 dropped until x comes back");
      assert.deepEqual(merged.writers.sort(), ["a~1", "x#2.a"]);
    }
  });
});

describe("ORSet and MVRegister", () => {
  test("an element only the node held is re-issued under the marker, which stays while an element holds its dot", () => {
    const s = ORSet.empty<number>().add("x~1", 1).add("x~1", 2).add("a~1", 2).resetDelta();
    const absorbed = s.absorbRemoved("x#9.9").resetDelta();
    assert.deepEqual([...absorbed.elements].sort(), [1, 2]);
    assert.deepEqual(absorbed.writers.sort(), ["a~1", "x#9.9"]);
    assert.deepEqual(absorbed.toState().entries.map((e) => e.dots), [[{ node: "x#9.9", counter: 1 }], [{ node: "a~1", counter: 1 }]]);
    assert.deepEqual([...s.merge(absorbed).elements].sort(), [1, 2]);
    assert.ok(!s.merge(absorbed).writers.includes("x~1"));
    assert.equal(absorbed.withoutMarkersBefore(1e12), absorbed, "element 1 holds the marker's dot");
    const removed = absorbed.remove(1).resetDelta();
    assert.deepEqual(removed.withoutMarkersBefore(1e12).writers, ["a~1"]);
    assert.deepEqual(removed.withoutMarkersBefore(9).writers.sort(), ["a~1", "x#9.9"]);
  });

  test("an expired marker's entry stays in a remove's delta while the receiving value holds an element under it", () => {
    const s = ORSet.empty<number>().add("x~1", 1).resetDelta().absorbRemoved("x#9.9").resetDelta();
    const removal = s.remove(1).delta!;
    assert.deepEqual([...s.merge(removal.withoutMarkersBefore(1e12, s)).elements], [], "the remove applies");
    assert.deepEqual(removal.withoutMarkersBefore(1e12, ORSet.empty<number>()).writers, [], "nothing held under it there: the entry goes");
    const r = MVRegister.empty<number>().set("x~1", 7).resetDelta().absorbRemoved("x#9.9").resetDelta();
    const overwrite = r.set("a~1", 8).delta!;
    assert.deepEqual([...r.merge(overwrite.withoutMarkersBefore(1e12, r)).values], [8]);
  });

  test("a register's value written by the node is re-issued under the marker", () => {
    const r = MVRegister.empty<number>().set("x~1", 7).resetDelta();
    const absorbed = r.absorbRemoved("x#9.9").resetDelta();
    assert.deepEqual([...absorbed.values], [7]);
    assert.deepEqual(absorbed.writers, ["x#9.9"]);
    assert.deepEqual(r.merge(absorbed).writers, ["x#9.9"]);
    const overwritten = absorbed.set("a~1", 8).resetDelta();
    assert.deepEqual(overwritten.withoutMarkersBefore(1e12).writers, ["a~1"]);
  });
});

// ------------------------------------------------------------------ the protocol, in the small

/**
 * Replicas a (the leader), b, c and x; x writes, then is removed for good. Before the absorption
 * every replica's state reaches a (the readiness the pruner waits for); a absorbs x under a marker
 * and spreads either the absorption's delta or only a later write's delta, in random order with more
 * writes and merges. A shadow cluster never absorbs: every value equals its shadow's at every step,
 * and once everything is exchanged no replica holds an id of x but the marker.
 */
type Step = { t: "write"; r: number; v: number } | { t: "merge"; from: number; to: number } | { t: "deltaOnly"; to: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant("write" as const), r: fc.nat({ max: 2 }), v: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ t: fc.constant("merge" as const), from: fc.nat({ max: 2 }), to: fc.nat({ max: 2 }) }),
  fc.record({ t: fc.constant("deltaOnly" as const), to: fc.nat({ max: 2 }) }),
);

test("counters: absorbed while writes and merges go on, every replica reads what a cluster that never absorbs reads", () => {
  const ids = ["a~1", "b~1", "c~1"];
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }), fc.array(stepArb, { maxLength: 40 }), (xWrites, steps) => {
      let x = PNCounter.empty();
      for (const v of xWrites) x = x.increment("x~1", v).resetDelta();
      // x's writes reached b and c, and through them a (the readiness); a absorbs.
      const real: PNCounter[] = [x, x, x];
      const shadow: PNCounter[] = [x, x, x];
      const absorbed = real[0]!.absorbRemoved("x#5.5", "a~1");
      real[0] = absorbed.resetDelta();
      let lastDelta: PNCounter = absorbed.delta!;
      let shadowDelta = PNCounter.empty(); // the same write's delta in the shadow: a's slot alone
      for (const s of steps) {
        if (s.t === "write") {
          const next = real[s.r]!.increment(ids[s.r]!, s.v);
          const shadowNext = shadow[s.r]!.increment(ids[s.r]!, s.v);
          if (s.r === 0 && next.delta !== undefined) [lastDelta, shadowDelta] = [next.delta, shadowNext.delta!];
          real[s.r] = next.resetDelta();
          shadow[s.r] = shadowNext.resetDelta();
        } else if (s.t === "merge") {
          real[s.to] = real[s.to]!.merge(real[s.from]!);
          shadow[s.to] = shadow[s.to]!.merge(shadow[s.from]!);
        } else {
          // Only the leader's latest delta arrives (the absorption's own may be lost).
          real[s.to] = real[s.to]!.merge(lastDelta);
          shadow[s.to] = shadow[s.to]!.merge(shadowDelta);
        }
        for (let r = 0; r < 3; r++) assert.equal(real[r]!.value, shadow[r]!.value, `replica ${r} after ${JSON.stringify(s)}`);
      }
      const all = real.reduce((m, v) => m.merge(v));
      assert.equal(all.value, shadow.reduce((m, v) => m.merge(v)).value);
      assert.deepEqual(all.writers.filter((w) => w.startsWith("x")), ["x#5.5"]);
    }),
    fcParams({ numRuns: 300 }),
  );
});
