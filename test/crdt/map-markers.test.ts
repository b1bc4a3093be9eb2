/**
 * A removed node's ids absorbed in maps (ORMap.absorbRemoved, delegated by LWWMap, PNCounterMap and
 * ORMultiMap): every key reads the same, the node's ids are gone, the delta does the same on a
 * replica that never saw the absorption and drops the node's late instances there, and the marker
 * expires once no value holds a dot of it. The merge laws with markers are in prune.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import "../../src/crdt/index.js"; // the registry ORMap resolves its value kinds through
import { dataTypes } from "../../src/crdt/registry.js";
import { GCounter } from "../../src/crdt/gcounter.js";
import { LWWMap } from "../../src/crdt/lww-map.js";
import { MVRegister } from "../../src/crdt/mv-register.js";
import { ORMap } from "../../src/crdt/ormap.js";
import { ORMultiMap } from "../../src/crdt/ormultimap.js";
import { ORSet } from "../../src/crdt/orset.js";
import { PNCounterMap } from "../../src/crdt/pncounter-map.js";
import type { Crdt } from "../../src/crdt/types.js";
import { markerFor } from "../../src/crdt/writer-ids.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { OwnWriter } from "../../src/replicator/own-writer.js";

interface Case<T extends Crdt<T>> {
  name: string;
  empty(): T;
  /** `id` writes `n` (> 0) under `key`. */
  write(v: T, id: string, key: string, n: number): T;
  remove(v: T, id: string, key: string): T;
  /** Every key with its value, as plain data. */
  read(v: T): unknown;
  /** Whether a value of this type re-issues under the marker (a set element, a register value): the marker then stays while it does. */
  holdsMarkerDots: boolean;
}

let clock = 0; // LWW timestamps: each write later than the last
const cases: Case<any>[] = [
  {
    name: "PNCounterMap",
    empty: () => PNCounterMap.empty<string>(),
    write: (m: PNCounterMap<string>, id, k, n) => m.increment(id, k, n + 1).decrement(id, k, 1),
    remove: (m: PNCounterMap<string>, id, k) => m.remove(id, k),
    read: (m: PNCounterMap<string>) => m.entries,
    holdsMarkerDots: false,
  } satisfies Case<PNCounterMap<string>>,
  {
    name: "LWWMap",
    empty: () => LWWMap.empty<number, string>(),
    write: (m: LWWMap<number, string>, id, k, n) => m.put(id, k, n, ++clock),
    remove: (m: LWWMap<number, string>, id, k) => m.remove(id, k),
    read: (m: LWWMap<number, string>) => m.entries,
    holdsMarkerDots: false,
  } satisfies Case<LWWMap<number, string>>,
  {
    name: "ORMultiMap",
    empty: () => ORMultiMap.empty<number, string>(),
    write: (m: ORMultiMap<number, string>, id, k, n) => m.addBinding(id, k, n),
    remove: (m: ORMultiMap<number, string>, id, k) => m.remove(id, k),
    read: (m: ORMultiMap<number, string>) => m.entries,
    holdsMarkerDots: true,
  } satisfies Case<ORMultiMap<number, string>>,
  {
    name: "ORMap<GCounter>",
    empty: () => ORMap.empty<GCounter, string>("gcounter"),
    write: (m: ORMap<GCounter, string>, id, k, n) => m.update(id, k, (c, w) => c.increment(w, n)),
    remove: (m: ORMap<GCounter, string>, id, k) => m.remove(id, k),
    read: (m: ORMap<GCounter, string>) => m.entries.map(([k, c]) => [k, c.value]),
    holdsMarkerDots: false,
  } satisfies Case<ORMap<GCounter, string>>,
  {
    name: "ORMap<MVRegister>",
    empty: () => ORMap.empty<MVRegister<number>, string>("mvRegister"),
    write: (m: ORMap<MVRegister<number>, string>, id, k, n) => m.update(id, k, (r, w) => r.set(w, n)),
    remove: (m: ORMap<MVRegister<number>, string>, id, k) => m.remove(id, k),
    read: (m: ORMap<MVRegister<number>, string>) => m.entries.map(([k, r]) => [k, [...r.values].sort()]),
    holdsMarkerDots: true,
  } satisfies Case<ORMap<MVRegister<number>, string>>,
  {
    name: "ORMap<ORSet>",
    empty: () => ORMap.empty<ORSet<number>, string>("orset"),
    write: (m: ORMap<ORSet<number>, string>, id, k, n) => m.update(id, k, (s, w) => s.add(w, n)),
    remove: (m: ORMap<ORSet<number>, string>, id, k) => m.remove(id, k),
    read: (m: ORMap<ORSet<number>, string>) => m.entries.map(([k, s]) => [k, s.elements]),
    holdsMarkerDots: true,
  } satisfies Case<ORMap<ORSet<number>, string>>,
  {
    // A map in a map: the inner map absorbs through its own absorbRemoved, minting dots the outer one covers.
    name: "ORMap<PNCounterMap>",
    empty: () => ORMap.empty<PNCounterMap<string>, string>("pncounterMap"),
    write: (m: ORMap<PNCounterMap<string>, string>, id, k, n) => m.update(id, k, (inner, w) => inner.increment(w, `f${n % 2}`, n)),
    remove: (m: ORMap<PNCounterMap<string>, string>, id, k) => m.remove(id, k),
    read: (m: ORMap<PNCounterMap<string>, string>) => m.entries.map(([k, inner]) => [k, inner.entries]),
    holdsMarkerDots: false,
  } satisfies Case<ORMap<PNCounterMap<string>, string>>,
];

const MARKER = "x#2.5"; // made at t = 5
const pruningOf = (v: Crdt) => dataTypes.get(v.kind)!.pruning!;
const writers = (v: Crdt): string[] => pruningOf(v).writers(v).sort();
const ofX = (v: Crdt): string[] => writers(v).filter((id) => id.startsWith("x"));
const settle = <T extends Crdt<T>>(v: T): T => v.resetDelta();

/**
 * k1: written by x alone; k2: by x and the leader a~1 (its instance keeps its dot); k3: by x and b~1.
 * Every replica holds it all (the readiness the pruner waits for).
 */
function history<T extends Crdt<T>>(c: Case<T>): T {
  let v = c.empty();
  for (const [id, k, n] of [["x~1", "k1", 1], ["x~1", "k2", 2], ["a~1", "k2", 3], ["b~1", "k3", 4], ["x~1", "k3", 5], ["x~1", "k1", 6]] as const) v = settle(c.write(v, id, k, n));
  return v;
}

function absorb<T extends Crdt<T>>(v: T): T {
  return pruningOf(v).absorbRemoved!(v, MARKER, "a~1") as T;
}

for (const c of cases) {
  describe(c.name, () => {
    const before = history(c);
    const absorbed = absorb(before);
    const after = settle(absorbed);

    test("absorption keeps every key's value, and the node's ids go but for the marker", () => {
      assert.deepEqual(c.read(after), c.read(before));
      assert.ok(ofX(before).includes("x~1"));
      assert.deepEqual(ofX(after), [MARKER]);
      assert.ok(writers(after).every((id) => ["a~1", "b~1", MARKER].includes(id)), writers(after).join());
      assert.equal(absorb(after), after, "nothing left to absorb");
      // Dots minted inside the values (under the marker) are covered by the map's own context.
      const map = (after instanceof ORMap ? after : (after as unknown as { map: ORMap }).map) as ORMap;
      map.forEachStored((v) => {
        const state = v.toState() as { entries?: { dots?: { node: string; counter: number }[]; dot?: { node: string; counter: number } }[] };
        for (const e of state.entries ?? []) for (const d of e.dots ?? (e.dot ? [e.dot] : [])) assert.ok(map.context.contains(d), `${d.node}:${d.counter}`);
      });
      assert.equal(pruningOf(before).absorbRemoved!(before, "y#1.5", "a~1"), before, "nothing of y");
    });

    test("the delta does the same on a replica that never saw the absorption, and drops the node's late writes there", () => {
      const delta = absorbed.delta!;
      assert.ok(delta !== undefined);
      const b = before.merge(delta);
      assert.deepEqual(c.read(b), c.read(before));
      assert.deepEqual(ofX(b), [MARKER]);
      assert.ok(b.equals(after.merge(before)), "the delta does what the absorption did");
      // A late write of x's (a copy from before, arriving by any path), before or after the absorption.
      const late = c.write(before, "x~1", "k2", 7);
      for (const v of [b.merge(late.delta!), before.merge(late.delta!).merge(delta), late.merge(after), after.merge(late)]) {
        assert.deepEqual(c.read(v), c.read(before));
        assert.deepEqual(ofX(v), [MARKER]);
      }
      // A state that holds x's instances beside the marker decodes without them.
      const decoded = dataTypes.get(before.kind)!.fromState(before.merge(after).toState());
      assert.deepEqual(ofX(decoded), [MARKER]);
    });

    test("a remove concurrent with the absorption: a key whose leader instance it saw goes; a key the leader never wrote comes back with the absorbed value (as an update concurrent with a remove)", () => {
      const removal = settle(c.remove(c.remove(before, "b~1", "k1"), "b~1", "k2"));
      const [one, two] = [removal.merge(after), after.merge(removal)];
      assert.ok(one.equals(two));
      const read = c.read(one) as [unknown, unknown][];
      const keys = read.map(([k]) => k);
      assert.ok(!keys.includes("k2"), "k2: the remove saw a~1's instance, which kept its dot");
      assert.deepEqual(read.find(([k]) => k === "k1"), (c.read(before) as [unknown, unknown][]).find(([k]) => k === "k1"));
      assert.deepEqual(ofX(one), [MARKER]);
    });

    test("expiry: the marker goes once no value holds a dot of it; the values never change", () => {
      assert.equal(pruningOf(after).withoutMarkersBefore!(after, 5), after, "made at 5: not before 5");
      const expired = pruningOf(after).withoutMarkersBefore!(after, 6) as typeof after;
      assert.deepEqual(c.read(expired), c.read(after));
      if (!c.holdsMarkerDots) {
        assert.deepEqual(ofX(expired), [], "nothing is held under the marker");
        return;
      }
      assert.deepEqual(ofX(expired), [MARKER], "k1's values are held under the marker's dots");
      assert.ok(pruningOf(expired).holds(expired, MARKER), "and the map's context keeps covering those dots");
      const cleared = settle(["k1", "k2", "k3"].reduce((v, k) => c.remove(v, "a~1", k), after));
      assert.deepEqual(ofX(pruningOf(cleared).withoutMarkersBefore!(cleared, 6)), []);
    });

    test("later writes of the leader carry what a replica that missed the absorption needs: nothing counts twice", () => {
      let leader = after;
      let shadow = before;
      for (const k of ["k1", "k2"]) {
        leader = c.write(leader, "a~1", k, 8);
        shadow = c.write(shadow, "a~1", k, 8);
        assert.deepEqual(c.read(before.merge(leader.delta!)), c.read(before.merge(shadow.delta!)), k);
        [leader, shadow] = [settle(leader), settle(shadow)];
      }
    });
  });
}

describe("markers held in values", () => {
  test("an expired marker's entry stays in a removeBinding's delta while the receiving map holds the binding under it", () => {
    const m = settle(ORMultiMap.empty<number, string>().addBinding("x~1", "k", 1).addBinding("b~1", "k", 2)).absorbRemoved(MARKER, "a~1").resetDelta();
    const removal = m.removeBinding("b~1", "k", 1).delta!;
    assert.deepEqual(m.merge(removal.withoutMarkersBefore(1e12, m)).get("k"), [2], "the remove applies");
    const alone = removal.withoutMarkersBefore(1e12, ORMultiMap.empty<number, string>());
    assert.ok(!alone.writers.includes(MARKER), "nothing held under it there: the entry goes");
  });

  test("the absorbing node's earlier instance is superseded, and the old removed-node fold (x!n) still folds maps", () => {
    const m = settle(PNCounterMap.empty<string>().increment("x~1", "k", 5).increment("a~1", "k", 2));
    const absorbed = settle(m.absorbRemoved(MARKER, "a~1"));
    assert.equal(absorbed.get("k"), 7);
    assert.equal(absorbed.map.instanceCount, 1, "one instance: a~1's");
    assert.deepEqual(absorbed.counter("k")!.writers.sort(), ["a~1", MARKER]);
    const folded = settle(m.foldRetired("x!2"));
    assert.equal(folded.get("k"), 7);
    assert.deepEqual(folded.writers.sort(), ["a~1", "x!2"]);
  });
});

/** A process of `node` writing under `writerId`, and the re-issues its comebacks publish. */
function ownWriter(node: string, writerId: string): { own: OwnWriter; published: Crdt[] } {
  const published: Crdt[] = [];
  const own = new OwnWriter(node, writerId, { publish: (_k, d) => published.push(d), renewed: () => {}, stats: new ReplicatorStats(), reportError: () => {} });
  return { own, published };
}

test("a second absorption after the node's own fold: a first marker the map's fold id covers counts in neither the new share nor the comeback (two-DC seed 20295879)", () => {
  const settle = (m: PNCounterMap<string>): PNCounterMap<string> => m.resetDelta();
  // e1's first process wrote f0 +1; the leader e2 absorbed it (its first marker, made at 5).
  const first = settle(PNCounterMap.empty<string>().increment("e1~1", "f0", 1));
  const absorbed = settle(first.absorbRemoved(markerFor(first.writers, "e1", 5)!, "e2~1"));
  // e1's next process (e1~6) merged that and folded its retired ids (the marker among them): the
  // map's context holds e1^6, which covers the first marker. The leader merged the fold.
  const folded = settle(absorbed.foldRetired("e1~6"));
  assert.ok(folded.holdsWriter("e1^6"));
  // Cut off, e1 wrote f0 +2 under its fold id; the leader, which never saw it, absorbed e1 again.
  const atE1 = settle(folded.increment("e1^6", "f0", 2));
  assert.equal(atE1.get("f0"), 3);
  const second = settle(folded.absorbRemoved(markerFor(folded.writers, "e1", 20)!, "e2~1"));
  assert.equal(second.get("f0"), 1, "the leader: e1's first +1 in its slot");
  // e1 comes back: it merges the second absorption and re-issues what it lacks.
  const { own, published } = ownWriter("e1", "e1~6");
  const merged = atE1.merge(second);
  const back = own.afterMerge("m", "pncounterMap", atE1, second, merged) as PNCounterMap<string>;
  assert.equal(back.get("f0"), 3, "e1's +1 and +2, each once");
  assert.equal(published.length, 1);
  assert.equal(second.merge(published[0] as PNCounterMap<string>).get("f0"), 3, "the leader, with the re-issue");
});

test("the same in a map of maps: the outer map's fold id covers the first marker in the inner map's share too", () => {
  const settle = (m: ORMap<PNCounterMap<string>, string>): ORMap<PNCounterMap<string>, string> => m.resetDelta();
  const add = (m: ORMap<PNCounterMap<string>, string>, id: string, by: number) => settle(m.update(id, "k", (inner, w) => inner.increment(w, "f0", by)));
  const f0 = (m: ORMap<PNCounterMap<string>, string>): number | undefined => m.get("k")?.get("f0");
  const first = add(ORMap.empty<PNCounterMap<string>, string>("pncounterMap"), "e1~1", 1);
  const absorbed = settle(first.absorbRemoved(markerFor(first.writers, "e1", 5)!, "e2~1"));
  const folded = settle(absorbed.foldRetired("e1~6"));
  assert.equal(f0(folded), 1);
  const second = settle(folded.absorbRemoved(markerFor(folded.writers, "e1", 20)!, "e2~1"));
  assert.equal(f0(second), 1, "the leader: e1's first +1 in its slot, once");
  const atE1 = add(folded, "e1^6", 2);
  const { own, published } = ownWriter("e1", "e1~6");
  const back = own.afterMerge("m", "orMap", atE1, second, atE1.merge(second)) as ORMap<PNCounterMap<string>, string>;
  assert.equal(f0(back), 3, "e1's +1 and +2, each once");
  assert.equal(published.length, 1);
  assert.equal(f0(second.merge(published[0] as ORMap<PNCounterMap<string>, string>)), 3, "the leader, with the re-issue");
});

test("a fresh process whose first merge is a delta carrying a covered marker re-issues nothing when the full state follows (two-DC seed 20336279)", () => {
  const settle = (m: PNCounterMap<string>): PNCounterMap<string> => m.resetDelta();
  // e2 wrote f1 +3; the leader e0 absorbed it (marker made at 5); e2's next process folded (e2^6
  // covers the marker) and wrote f1 -3.
  const first = settle(PNCounterMap.empty<string>().increment("e2~1", "f1", 3));
  const absorbed = settle(first.absorbRemoved(markerFor(first.writers, "e2", 5)!, "e0~1"));
  const full = settle(settle(absorbed.foldRetired("e2~6")).decrement("e2^6", "f1", 3));
  assert.equal(full.get("f1"), 0);
  // e1 writes f1 +2: its delta's instance carries the marker's slot, its context not e2^6.
  const written = full.increment("e1~1", "f1", 2);
  const delta = written.delta as PNCounterMap<string>;
  // A process of e2 started afresh (no snapshot) merges that delta first, then the full state.
  const { own, published } = ownWriter("e2", "e2~9");
  const after = settle(written);
  const back = own.afterMerge("m", "pncounterMap", delta, after, delta.merge(after)) as PNCounterMap<string>;
  assert.deepEqual(published, [], "nothing of e2's is missing: the marker is covered, whichever side says so");
  assert.equal(back.get("f1"), 2);
});
