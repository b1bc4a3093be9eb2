/**
 * DirtyKeys (the digest's keys to rehash, marked in the store's table) behaves as a Set<string>
 * fed by the store's change announcements, whatever the store does meanwhile: values set and
 * overwritten, deleted into tombstones (the table squeezes its holes), tombstones expired.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { GCounter } from "../../src/crdt/index.js";
import { DirtyKeys } from "../../src/replicator/dirty-keys.js";
import { Store } from "../../src/replicator/store.js";

type Op =
  | { op: "set"; key: string }
  | { op: "tombstone"; key: string; at: number }
  | { op: "expire"; before: number }
  | { op: "delete"; key: string }
  | { op: "take"; count: number };

const key = fc.integer({ min: 0, max: 80 }).map((i) => `k${i}`);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("set" as const), key }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("tombstone" as const), key, at: fc.integer({ min: 0, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("expire" as const), before: fc.integer({ min: 0, max: 100 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("take" as const), count: fc.integer({ min: 1, max: 30 }) }) },
);

/** A store whose every announced change goes into `dirty` and into a Set kept beside it. */
function harness(): { store: Store; dirty: DirtyKeys; model: Set<string> } {
  const store = new Store();
  const dirty = new DirtyKeys(store);
  const model = new Set<string>();
  store.onChange((k) => {
    dirty.add(k);
    model.add(k);
  });
  return { store, dirty, model };
}

function check(dirty: DirtyKeys, model: Set<string>, keys: Iterable<string>): void {
  assert.equal(dirty.size, model.size);
  for (const k of keys) assert.equal(dirty.has(k), model.has(k), k);
}

describe("DirtyKeys", () => {
  test("answers as a Set fed by the store's announcements, under any sequence of changes, deletes and takes", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const { store, dirty, model } = harness();
        let n = 0;
        const seen = new Set<string>();
        for (const o of ops) {
          if (o.op === "set") store.set(o.key, "gcounter", GCounter.empty().increment("w~1", ++n), "local");
          else if (o.op === "tombstone") store.addTombstone({ key: o.key, kind: "gcounter", deletedAtMs: o.at, originNode: "a" }, "local");
          else if (o.op === "expire") store.expireTombstones(o.before);
          else if (o.op === "delete") {
            dirty.delete(o.key);
            model.delete(o.key);
          } else {
            for (let i = 0; i < o.count; i++) {
              const taken = dirty.take();
              if (taken === undefined) {
                assert.equal(model.size, 0, "undefined only once nothing is dirty");
                break;
              }
              assert.ok(model.delete(taken), `${taken} was dirty`);
            }
          }
          if ("key" in o) seen.add(o.key);
          check(dirty, model, seen);
        }
        // Taking until undefined hands out every dirty key exactly once.
        const rest = new Set<string>();
        for (let k = dirty.take(); k !== undefined; k = dirty.take()) {
          assert.ok(!rest.has(k), `${k} taken twice`);
          rest.add(k);
        }
        assert.deepEqual([...rest].sort(), [...model].sort());
        assert.equal(dirty.size, 0);
      }),
      { numRuns: 300 },
    );
  });

  test("many keys deleted from the dirty set and changed again, over and over: each is still taken once", () => {
    const { store, dirty, model } = harness();
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) {
        store.set(`k${i}`, "gcounter", GCounter.empty().increment("w~1", round + 1), "local");
        if (round < 49) {
          dirty.delete(`k${i}`); // what a seeded bulk-pull page does
          model.delete(`k${i}`);
        }
      }
    }
    check(dirty, model, model);
    const taken: string[] = [];
    for (let k = dirty.take(); k !== undefined; k = dirty.take()) taken.push(k);
    assert.deepEqual(taken.sort(), [...model].sort());
    assert.equal(taken.length, 100);
  });
});
