/**
 * The ORSet and GSet content hashes as an order-free sum (src/wire/set-hash.ts): a function of the state
 * only, whichever history, merge order or delta path built it; different states hash differently;
 * the incremental digest always equals the hash computed from scratch; and a change to a large set
 * hashes only the elements it changed (counted, not timed).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { GSet } from "../../src/crdt/gset.js";
import { ORSet } from "../../src/crdt/orset.js";
import type { ORSetState } from "../../src/crdt/types.js";
import { contentHash } from "../../src/wire/hash.js";
import { advanceDigest, DigestJob, fullDigest, setContentHash, type HashWork, type SetDigest } from "../../src/wire/set-hash.js";
import { assertProperty } from "../cluster/fc-seed.js";
import { NODES, stateJson } from "../crdt/laws.js";
import { bigSet } from "../helpers/big-set.js";

type Op = { t: "add"; x: number } | { t: "remove"; x: number } | { t: "merge"; from: number };
interface Step {
  r: number;
  op: Op;
}

const POOL = 12;
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant("add" as const), x: fc.nat({ max: POOL - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("remove" as const), x: fc.nat({ max: POOL - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("merge" as const), from: fc.nat({ max: NODES.length - 1 }) }) },
);
const steps = fc.array(fc.record({ r: fc.nat({ max: NODES.length - 1 }), op }), { maxLength: 40 });

/** Runs a history on every replica, checking after each step that the replica's incremental digest matches its full hash. */
function run(history: readonly Step[]): { replicas: ORSet<number>[]; deltas: ORSet<number>[] } {
  const replicas = NODES.map(() => ORSet.empty<number>());
  const digests: SetDigest[] = replicas.map((v) => fullDigest(v));
  const deltas: ORSet<number>[] = [];
  for (const { r, op } of history) {
    const before = replicas[r]!;
    let next: ORSet<number>;
    if (op.t === "merge") next = before.merge(replicas[op.from]!);
    else {
      const changed = op.t === "add" ? before.add(NODES[r]!, op.x) : before.remove(op.x);
      if (changed.delta !== undefined) deltas.push(changed.delta);
      next = changed.resetDelta();
    }
    replicas[r] = next;
    digests[r] = advanceDigest(digests[r]!, next);
    assert.equal(setContentHash(digests[r]!), contentHash(next), `incremental ≠ full after ${JSON.stringify(op)}: ${stateJson(next)}`);
  }
  return { replicas, deltas };
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function joinAll(xs: readonly ORSet<number>[]): ORSet<number> {
  return xs.reduce((acc, x) => acc.merge(x), ORSet.empty<number>());
}

/** A set of `n` elements written by "w" (built through fromState: fast, and not sharing structure with anything). */

describe("ORSet content hash: an order-free sum of element hashes", () => {
  test("the incremental digest equals the hash from scratch after every add, remove and merge", () => {
    assertProperty("incremental = full", fc.property(steps, (history) => void run(history)), 200);
  });

  test("equal states hash alike whatever built them: merge orders, deltas in any order, states and deltas mixed", () => {
    assertProperty(
      "state-only",
      fc.property(steps, fc.integer(), (history, seed) => {
        const { replicas, deltas } = run(history);
        const forward = joinAll(replicas);
        const h = contentHash(forward);
        const others = [joinAll([...replicas].reverse()), joinAll(shuffled(replicas, seed)), joinAll(shuffled(deltas, seed + 1)), joinAll(shuffled([...deltas, ...replicas], seed + 2))];
        for (const other of others) {
          assert.ok(other.equals(forward), "the test's histories must reach one state");
          assert.equal(contentHash(other), h);
        }
        // The same state decoded from its plain form: other structure, same hash, and a digest
        // advanced across the two unrelated maps agrees too.
        const decoded = ORSet.fromState<number>(forward.toState());
        assert.equal(contentHash(decoded), h);
        assert.equal(setContentHash(advanceDigest(fullDigest(replicas[0]!), decoded)), h);
      }),
      200,
    );
  });

  test("different states hash differently", () => {
    const seen = new Map<bigint, ORSet<number>>();
    assertProperty(
      "no collisions",
      fc.property(steps, (history) => {
        const { replicas, deltas } = run(history);
        for (const v of [...replicas, ...deltas]) {
          const h = contentHash(v);
          const other = seen.get(h);
          if (other === undefined) seen.set(h, v);
          else assert.ok(other.equals(v), `collision:\n  ${stateJson(other)}\n  ${stateJson(v)}`);
        }
      }),
      200,
    );
    assert.ok(seen.size > 200, `only ${seen.size} distinct states`);
  });

  test("each element is hashed with its own dots, and the context counts", () => {
    // x holds (a,1) and y (a,2), or the other way round: same elements, same context.
    const xy: ORSetState = { entries: [{ element: "s1:x", dots: [{ node: "a", counter: 1 }] }, { element: "s1:y", dots: [{ node: "a", counter: 2 }] }], context: { vector: [{ node: "a", value: 2 }], cloud: [] } };
    const yx: ORSetState = { entries: [{ element: "s1:x", dots: [{ node: "a", counter: 2 }] }, { element: "s1:y", dots: [{ node: "a", counter: 1 }] }], context: { vector: [{ node: "a", value: 2 }], cloud: [] } };
    assert.notEqual(contentHash(ORSet.fromState(xy)), contentHash(ORSet.fromState(yx)));
    // Same entries, one more dot seen (a removed element), in the vector or in the cloud.
    const seenMore: ORSetState = { ...xy, context: { vector: [{ node: "a", value: 3 }], cloud: [] } };
    const cloud: ORSetState = { ...xy, context: { vector: [{ node: "a", value: 2 }], cloud: [{ node: "a", counter: 4 }] } };
    const hashes = new Set([xy, seenMore, cloud].map((s) => contentHash(ORSet.fromState(s))));
    assert.equal(hashes.size, 3);
    // The same dot under another writer id.
    const otherWriter: ORSetState = { entries: [{ element: "s1:x", dots: [{ node: "b", counter: 1 }] }], context: { vector: [{ node: "b", value: 1 }], cloud: [] } };
    const one: ORSetState = { entries: [{ element: "s1:x", dots: [{ node: "a", counter: 1 }] }], context: { vector: [{ node: "a", value: 1 }], cloud: [] } };
    assert.notEqual(contentHash(ORSet.fromState(one)), contentHash(ORSet.fromState(otherWriter)));
  });

  test("a first digest done in slices equals the one done at once", () => {
    const s = bigSet(3_000);
    const job = new DigestJob(s);
    let digest: SetDigest | undefined;
    let slices = 0;
    while ((digest = job.run(-Infinity)) === undefined) slices++; // a deadline already past: 256 elements per slice
    assert.ok(slices >= 10, `${slices} slices`);
    assert.equal(setContentHash(digest), contentHash(s));
  });

  for (const size of [10_000, 200_000]) {
    test(`a change to a ${size.toLocaleString("en")}-element set hashes only the elements it changed`, () => {
      const base = bigSet(size);
      const digest = fullDigest(base);
      let compared = 0;
      const counted = (next: ORSet<string>): number => {
        const work: HashWork = { entries: 0 };
        const advanced = advanceDigest(digest, next, work);
        // Against the hash from scratch once here (the properties above check it everywhere).
        if (compared++ === 0) assert.equal(setContentHash(advanced), contentHash(next));
        return work.entries;
      };
      const added = base.add("v", "new").resetDelta();
      assert.equal(counted(added), 1, "one new element");
      assert.equal(counted(base.remove("item-7").resetDelta()), 1, "one removed element");
      assert.equal(counted(base.add("v", "item-7").resetDelta()), 2, "one element re-added: its old entry out, the new one in");
      // A peer's one-element delta merged in, as the replicator does.
      const peer = base.add("p", "from-peer");
      assert.equal(counted(base.merge(peer.delta!)), 1, "a merged delta");
      // A hundred changes in a row, hashed once.
      let many = added;
      for (let i = 0; i < 100; i++) many = many.add("v", `more-${i}`).resetDelta();
      assert.equal(counted(many), 101);
    });
  }
});

describe("GSet content hash: an order-free sum of element hashes", () => {
  const adds = fc.array(fc.record({ r: fc.nat({ max: NODES.length - 1 }), x: fc.nat({ max: 30 }), mergeFrom: fc.option(fc.nat({ max: NODES.length - 1 })) }), { maxLength: 40 });

  test("incremental = from scratch after every add and merge; equal states hash alike in any merge order", () => {
    assertProperty(
      "gset",
      fc.property(adds, fc.integer(), (history, seed) => {
        const replicas = NODES.map(() => GSet.empty<number>());
        const digests = replicas.map((v) => fullDigest(v));
        const deltas: GSet<number>[] = [];
        for (const { r, x, mergeFrom } of history) {
          let next: GSet<number>;
          if (mergeFrom !== null) next = replicas[r]!.merge(replicas[mergeFrom]!);
          else {
            const added = replicas[r]!.add(NODES[r]!, x);
            if (added.delta !== undefined) deltas.push(added.delta);
            next = added.resetDelta();
          }
          replicas[r] = next;
          digests[r] = advanceDigest(digests[r]!, next);
          assert.equal(setContentHash(digests[r]!), contentHash(next));
        }
        const join = (xs: readonly GSet<number>[]): GSet<number> => xs.reduce((a, b) => a.merge(b), GSet.empty<number>());
        const forward = join(replicas);
        for (const other of [join(shuffled(replicas, seed)), join(shuffled(deltas, seed + 1)), GSet.fromState<number>(forward.toState())]) {
          assert.ok(other.equals(forward));
          assert.equal(contentHash(other), contentHash(forward));
        }
        if (forward.size > 0) assert.notEqual(contentHash(forward), contentHash(forward.add("z", -1)));
      }),
      200,
    );
  });

  test("an add to a 50,000-element set hashes one element", () => {
    let s = GSet.fromState<string>({ elements: Array.from({ length: 50_000 }, (_, i) => `s${String(i).length + 5}:item-${i}`).sort() });
    const digest = fullDigest(s);
    s = s.add("a", "one more").resetDelta();
    const work: HashWork = { entries: 0 };
    const advanced = advanceDigest(digest, s, work);
    assert.equal(work.entries, 1);
    assert.equal(setContentHash(advanced), contentHash(s));
  });
});
