/**
 * KeyTable (the store's index) behaves as a Map<string, V>: same answers, same iteration order,
 * and iterators that run while the table changes visit what a Map's iterators would. An append
 * (indexed at the next lookup) behaves as a Map's set of a key it does not hold, and drops the
 * value of one it holds.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { KeyTable } from "../../src/replicator/key-table.js";

type Op =
  | { op: "set" | "append"; key: string; value: number }
  | { op: "appendMany"; entries: { key: string; value: number }[] }
  | { op: "recall"; key: string; place: number }
  | { op: "delete"; key: string }
  | { op: "get"; key: string }
  | { op: "step" }
  | { op: "reserve"; entries: number }
  | { op: "clear" }
  | { op: "mark" | "unmark"; key: string };

// Few distinct keys, so sets overwrite and deletes hit; some non-ASCII (hashed over UTF-8).
const key = fc.oneof(
  fc.integer({ min: 0, max: 60 }).map((i) => `k${i}`),
  fc.constantFrom("", "é", "ключ", "🔑", "k1\u0000"),
);
// More keys, and (below) more deletes than sets: enough holes at once for squeezes (at least 16, and half the entries).
const manyKeys = fc.integer({ min: 0, max: 150 }).map((i) => `k${i}`);
const opOn = (key: fc.Arbitrary<string>, deletes = 4): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant("set" as const), key, value: fc.integer() }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("append" as const), key, value: fc.integer() }) },
    // A run of keys (some held, some twice), and a claim that a place holds a key (true or not).
    { weight: 1, arbitrary: fc.record({ op: fc.constant("appendMany" as const), entries: fc.array(fc.record({ key, value: fc.integer() }), { maxLength: 40 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("recall" as const), key, place: fc.integer({ min: -1, max: 200 }) }) },
    { weight: deletes, arbitrary: fc.record({ op: fc.constant("delete" as const), key }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("get" as const), key }) },
    { weight: 3, arbitrary: fc.constant({ op: "step" as const }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("reserve" as const), entries: fc.integer({ min: 0, max: 500 }) }) },
  );
/** `ops`, now and then a clear (rare: squeezes need many holes at once). */
const withClear = (ops: fc.Arbitrary<Op>): fc.Arbitrary<Op> => fc.oneof({ weight: 60, arbitrary: ops }, { weight: 1, arbitrary: fc.constant({ op: "clear" as const }) });
const op = opOn(key);
const markOp = (key: fc.Arbitrary<string>): fc.Arbitrary<Op> => fc.record({ op: fc.constantFrom("mark" as const, "unmark" as const), key });

describe("KeyTable", () => {
  test("answers, sizes, marks and iteration order match a Map (and a set of marked keys) under any sequence of operations", () => {
    // Many keys and deletes too, so that squeezes happen under marked entries.
    const anyOp = withClear(fc.oneof(op, opOn(manyKeys, 12), markOp(key), markOp(manyKeys)));
    fc.assert(
      fc.property(fc.array(anyOp, { maxLength: 400, size: "max" }), (ops) => {
        const dropped: number[] = [];
        const table = new KeyTable<number>((value) => dropped.push(value));
        const map = new Map<string, number>();
        const droppedByMap: number[] = [];
        const marked = new Set<string>(); // a mark goes with its entry: a delete drops it
        for (const o of ops) {
          if (o.op === "set") {
            table.set(o.key, o.value);
            map.set(o.key, o.value);
          } else if (o.op === "append") {
            // Several in a row go in unindexed: the next lookup indexes them together.
            table.append(o.key, o.value);
            if (map.has(o.key)) droppedByMap.push(o.value);
            else map.set(o.key, o.value);
            continue;
          } else if (o.op === "appendMany") {
            // Put in at once with the hashes a page of lookups gave.
            const keys = o.entries.map((e) => e.key);
            const hashes = new Int32Array(keys.length);
            table.placesOf(keys, 0, keys.length, new Int32Array(keys.length), hashes);
            table.appendMany(keys, o.entries.map((e) => e.value), hashes, keys.length);
            for (const e of o.entries) {
              if (map.has(e.key)) droppedByMap.push(e.value);
              else map.set(e.key, e.value);
            }
          } else if (o.op === "recall") {
            table.recall(o.key, o.place);
            assert.equal(table.get(o.key), map.get(o.key));
          } else if (o.op === "delete") {
            assert.equal(table.delete(o.key), map.delete(o.key));
            marked.delete(o.key);
          } else if (o.op === "get") {
            assert.equal(table.get(o.key), map.get(o.key));
            assert.equal(table.has(o.key), map.has(o.key));
          } else if (o.op === "reserve") table.reserve(o.entries);
          else if (o.op === "clear") {
            table.clear();
            map.clear();
            marked.clear();
          } else if (o.op === "mark") {
            assert.equal(table.mark(o.key), map.has(o.key) ? !marked.has(o.key) : undefined);
            if (map.has(o.key)) marked.add(o.key);
          } else if (o.op === "unmark") assert.equal(table.unmark(o.key), marked.delete(o.key));
          assert.equal(table.size, map.size);
          assert.equal(table.marks, marked.size);
        }
        // A page of lookups at once, in two runs, answers as one at a time (appended keys indexed first), held keys or not.
        const asked = [...map.keys(), "absent", "k999"];
        const places = new Int32Array(asked.length).fill(-2);
        const hashes = new Int32Array(asked.length);
        table.placesOf(asked, 0, asked.length >> 1, places, hashes);
        table.placesOf(asked, asked.length >> 1, asked.length, places, hashes);
        for (const [i, k] of asked.entries()) assert.equal(places[i], table.placeOf(k), k);
        for (const k of map.keys()) assert.equal(table.marked(k), marked.has(k), k);
        assert.deepEqual([...table.entries()], [...map.entries()]);
        assert.deepEqual(dropped, droppedByMap, "the appended values not taken, in order");
        assert.deepEqual([...table.keys()], [...map.keys()]);
        assert.deepEqual([...table.values()], [...map.values()]);
        const visited: [string, number][] = [];
        table.forEach((value, k) => visited.push([k, value]));
        assert.deepEqual(visited, [...map.entries()]);
      }),
      { numRuns: 300 },
    );
  });

  test("an iterator running while the table changes (squeezes included) yields what a Map's yields", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(manyKeys, fc.integer()), { maxLength: 200, size: "max" }), fc.array(withClear(opOn(manyKeys, 12)), { maxLength: 400, size: "max" }), (initial, ops) => {
        const table = new KeyTable<number>();
        const map = new Map<string, number>();
        for (const [k, v] of initial) {
          table.set(k, v);
          map.set(k, v);
        }
        const fromTable = table.entries();
        const fromMap = map.entries();
        const step = (): void => assert.deepEqual(fromTable.next(), fromMap.next());
        for (const o of ops) {
          if (o.op === "set") {
            table.set(o.key, o.value);
            map.set(o.key, o.value);
          } else if (o.op === "append") {
            table.append(o.key, o.value);
            if (!map.has(o.key)) map.set(o.key, o.value);
          } else if (o.op === "delete") {
            table.delete(o.key);
            map.delete(o.key);
          } else if (o.op === "reserve") table.reserve(o.entries);
          else if (o.op === "clear") {
            table.clear();
            map.clear();
          } else if (o.op === "step") step();
        }
        for (let i = 0; i < 200; i++) step();
      }),
      { numRuns: 300 },
    );
  });

  test("forEach visits what Map.forEach visits when the callback changes the table", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(manyKeys, fc.integer()), { maxLength: 100 }), fc.array(withClear(opOn(manyKeys, 12)), { maxLength: 300 }), (initial, ops) => {
        const table = new KeyTable<number>();
        const map = new Map<string, number>();
        for (const [k, v] of initial) {
          table.set(k, v);
          map.set(k, v);
        }
        // Each visit applies the next few operations to both (bounded: a set per visit would never end).
        const visits = (t: { forEach(fn: (v: number, k: string) => void): void }, apply: (o: Op) => void): string[] => {
          const seen: string[] = [];
          let next = 0;
          t.forEach((v, k) => {
            seen.push(`${k}=${v}`);
            for (const end = next + 3; next < end && next < ops.length; next++) apply(ops[next]!);
          });
          return seen;
        };
        const onTable = visits(table, (o) => {
          if (o.op === "set") table.set(o.key, o.value);
          else if (o.op === "append") table.append(o.key, o.value);
          else if (o.op === "delete") table.delete(o.key);
          else if (o.op === "clear") table.clear();
        });
        const onMap = visits(map, (o) => {
          if (o.op === "set" || (o.op === "append" && !map.has(o.key))) map.set(o.key, o.value);
          else if (o.op === "delete") map.delete(o.key);
          else if (o.op === "clear") map.clear();
        });
        assert.deepEqual(onTable, onMap);
      }),
      { numRuns: 300 },
    );
  });

  test("marks stay with their entries when a squeeze moves them", () => {
    const table = new KeyTable<number>();
    for (let i = 0; i < 100; i++) table.set(`k${i}`, i);
    for (let i = 0; i < 100; i += 3) table.mark(`k${i}`);
    for (let i = 0; i < 80; i++) if (i % 5 !== 0) table.delete(`k${i}`); // 64 holes: squeezed at the 50th
    for (let i = 0; i < 100; i++) {
      const alive = i >= 80 || i % 5 === 0;
      assert.equal(table.marked(`k${i}`), alive && i % 3 === 0, `k${i}`);
    }
    assert.equal(table.marks, [...table.keys()].filter((k) => Number(k.slice(1)) % 3 === 0).length);
    table.set("new", -1);
    assert.equal(table.marked("new"), false, "a new entry starts unmarked, wherever the squeeze left marks");
  });

  test("a large table: growth, mass deletion and re-insertion keep every answer", () => {
    const table = new KeyTable<number>();
    const n = 50_000;
    for (let i = 0; i < n; i++) table.set(`key-${i}`, i);
    assert.equal(table.size, n);
    // An iterator halfway through when the deletions squeeze the table.
    const walking = table.keys();
    for (let i = 0; i < n / 2; i++) assert.equal(walking.next().value, `key-${i}`);
    for (let i = 0; i < n; i += 4) if (i % 3 !== 0) table.delete(`key-${i}`);
    for (let i = 1; i < n; i += 2) table.delete(`key-${i}`);
    for (let i = 0; i < 100; i++) table.set(`new-${i}`, -i);
    // The iterator that ran across all of it: every survivor of the second half once, in order, then the new keys.
    const expected = [...table.keys()].filter((k) => !k.startsWith("key-") || Number(k.slice(4)) >= n / 2);
    assert.deepEqual([...walking], expected);
    for (let i = 0; i < n; i++) {
      const alive = i % 2 === 0 && (i % 4 !== 0 || i % 3 === 0);
      assert.equal(table.get(`key-${i}`), alive ? i : undefined, `key-${i}`);
    }
    assert.equal(table.get("new-7"), -7);
  });
});
