import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { InvalidArgumentError } from "../../src/errors.js";
import {
  DigestTree,
  GROUPS,
  LEAVES,
  LeafList,
  NO_PLACE,
  diffHashes,
  groupOf,
  leafOf,
} from "../../src/cluster/digest-tree.js";
import { keyEntryHash } from "../../src/cluster/hashing.js";
import { KEY_POOL } from "./digest-keys.js";
import { assertProperty } from "./fc-seed.js";

const hash64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
/** "words": the hash given as 32-bit halves (setWords, a bulk pull's way), else as a bigint. */
type Op = { kind: "set" | "words"; key: string; hash: bigint } | { kind: "delete"; key: string };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom("set" as const, "words" as const), key: fc.constantFrom(...KEY_POOL), hash: hash64 }),
  fc.record({ kind: fc.constant("delete" as const), key: fc.constantFrom(...KEY_POOL) }),
);

function apply(tree: DigestTree, model: Map<string, bigint>, ops: readonly Op[]): void {
  for (const o of ops) {
    if (o.kind !== "delete") {
      if (o.kind === "set") tree.set(o.key, o.hash);
      else if (o.hash % 2n === 0n) tree.setWords(o.key, Number(o.hash & 0xffffffffn), Number(o.hash >> 32n));
      else tree.setWords(o.key, Number(BigInt.asIntN(32, o.hash)), Number(BigInt.asIntN(32, o.hash >> 32n))); // the same bits as int32s
      model.set(o.key, o.hash);
    } else {
      assert.equal(tree.delete(o.key), model.delete(o.key));
    }
  }
}

/** Every level of both trees is equal, and so is the content. */
function assertSameTree(a: DigestTree, b: DigestTree): void {
  assert.equal(a.size, b.size);
  assert.equal(a.rootHash, b.rootHash);
  assert.deepEqual(a.topLevel(), b.topLevel());
  const leaves = new Set([...a.entries(), ...b.entries()].map(([k]) => leafOf(k)));
  for (const leaf of leaves) {
    assert.deepEqual(a.groupLevel(groupOf(leaf)), b.groupLevel(groupOf(leaf)));
    const sorted = (t: DigestTree) => t.leafKeys(leaf).sort(([x], [y]) => (x < y ? -1 : 1));
    assert.deepEqual(sorted(a), sorted(b));
  }
}

describe("DigestTree", () => {
  it("incremental updates equal a from-scratch build of the final map", () => {
    assertProperty(
      "incremental == scratch",
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const tree = new DigestTree();
        const model = new Map<string, bigint>();
        apply(tree, model, ops);
        assertSameTree(tree, DigestTree.from(model));
        for (const [k, h] of model) assert.equal(tree.get(k), h);
        // An empty tree has all-zero levels: deleting everything must get back there exactly.
        for (const k of model.keys()) tree.delete(k);
        assertSameTree(tree, new DigestTree());
        assert.ok(tree.topLevel().every((h) => h === 0n));
      }),
    );
  });

  it("setWordsMany (a page of keys at once) equals setWords key by key, places included, through index growth", () => {
    const batch = fc.uniqueArray(fc.tuple(fc.constantFrom(...KEY_POOL), hash64, fc.integer({ min: -1, max: 1_000 })), { selector: ([k]) => k, maxLength: 120 });
    assertProperty(
      "setWordsMany == setWords",
      // Batches one after another on one tree (its scratch reused, a later batch larger), keys known or not.
      fc.property(fc.array(op, { maxLength: 80 }), fc.array(batch, { minLength: 1, maxLength: 3 }), (before, batches) => {
        const [many, one] = [new DigestTree(), new DigestTree()];
        apply(many, new Map(), before);
        apply(one, new Map(), before);
        for (const entries of batches) {
          const words = new Int32Array(2 * entries.length);
          const places = new Int32Array(entries.length);
          for (const [i, [key, hash, place]] of entries.entries()) {
            words[2 * i] = Number(BigInt.asIntN(32, hash));
            words[2 * i + 1] = Number(BigInt.asIntN(32, hash >> 32n));
            places[i] = place;
            one.setWords(key, words[2 * i]!, words[2 * i + 1]!, place);
          }
          many.setWordsMany(entries.map(([k]) => k), words, places, entries.length);
        }
        const entries = batches.flat();
        assertSameTree(many, one);
        for (const [key] of entries) assert.equal(many.get(key), one.get(key), key);
        const listed = (t: DigestTree, leaf: number): string[] => {
          const out = new LeafList();
          t.listLeaf(leaf, out);
          return Array.from({ length: out.count }, (_, i) => `${out.keys[i]}@${out.places[i]}`).sort();
        };
        for (const leaf of new Set(entries.map(([k]) => leafOf(k)))) assert.deepEqual(listed(many, leaf), listed(one, leaf));
      }),
    );
  });

  it("setWordsMany of a page larger than its probe runs (thousands of keys, some known) equals setWords key by key", () => {
    const [many, one] = [new DigestTree(), new DigestTree()];
    for (const t of [many, one]) for (let k = 0; k < 500; k++) t.setWords(`k${k * 7}`, k, -k, k);
    const keys = Array.from({ length: 3_500 }, (_, i) => `k${i}`);
    const words = new Int32Array(2 * keys.length);
    const places = new Int32Array(keys.length);
    for (const [i, key] of keys.entries()) {
      words[2 * i] = Math.imul(i, 0x9e3779b1);
      words[2 * i + 1] = i ^ 0x5bd1e995;
      places[i] = i + 1_000;
      one.setWords(key, words[2 * i]!, words[2 * i + 1]!, places[i]);
    }
    many.setWordsMany(keys, words, places, keys.length);
    assertSameTree(many, one);
    for (const key of keys) assert.equal(many.get(key), one.get(key), key);
  });

  it("a tree built in one pass (build) equals one set key by key, a key added twice keeping its last hash, and then changes like one", () => {
    const entry = fc.tuple(fc.constantFrom(...KEY_POOL), hash64.filter((h) => h !== 0n));
    assertProperty(
      "build == set",
      fc.property(fc.array(entry, { maxLength: 200 }), fc.integer({ min: 0, max: 300 }), fc.array(op, { maxLength: 60 }), (entries, capacity, later) => {
        const built = DigestTree.build(capacity, (add) => {
          for (const [key, hash] of entries) add(key, Number(hash & 0xffffffffn), Number(hash >> 32n));
        });
        const model = new Map(entries);
        assertSameTree(built, DigestTree.from(model));
        for (const [k, h] of model) assert.equal(built.get(k), h);
        // Its index, chains and free slots (a key added twice frees one) go on as a set-built tree's.
        apply(built, model, later);
        assertSameTree(built, DigestTree.from(model));
        for (const [k, h] of model) assert.equal(built.get(k), h);
      }),
    );
  });

  it("the same map reached through different histories has identical levels", () => {
    assertProperty(
      "order independence",
      fc.property(
        fc.array(op, { maxLength: 120 }),
        fc.array(op, { maxLength: 120 }),
        fc.array(fc.constantFrom(...KEY_POOL), { maxLength: 60 }),
        (history, noise, rewrites) => {
          const a = new DigestTree();
          const model = new Map<string, bigint>();
          apply(a, model, history);
          // b: other noise first, then re-set or drop keys in a shuffled order until it holds `model`.
          const b = new DigestTree();
          apply(b, new Map(), noise);
          for (const key of rewrites) b.delete(key);
          const target = [...model].reverse();
          for (const [k, h] of target) b.set(k, h ^ 1n); // a wrong value first, then the right one
          for (const key of [...KEY_POOL].reverse()) if (!model.has(key)) b.delete(key);
          for (const [k, h] of target) b.set(k, h);
          assertSameTree(a, b);
        },
      ),
    );
  });

  it("keeps a leaf → keys index and per-level views", () => {
    const t = new DigestTree();
    const [k1, k2] = KEY_POOL as [string, string]; // the pool starts with keys sharing a leaf
    assert.equal(leafOf(k1), leafOf(k2));
    t.set(k1, keyEntryHash(k1, 7n));
    t.set(k2, keyEntryHash(k2, 7n));
    const leaf = leafOf(k1);
    assert.deepEqual(t.leafKeys(leaf).sort(), [[k1, keyEntryHash(k1, 7n)], [k2, keyEntryHash(k2, 7n)]].sort());
    assert.equal(t.leafHash(leaf), keyEntryHash(k1, 7n) ^ keyEntryHash(k2, 7n));
    assert.notEqual(t.leafHash(leaf), 0n, "equal contents under two keys must not cancel");
    assert.equal(t.groupLevel(groupOf(leaf))[leaf % 256], t.leafHash(leaf));
    assert.equal(t.topLevel()[groupOf(leaf)], t.leafHash(leaf));
    assert.equal(t.delete("absent"), false);
    assert.equal(t.delete(k1), true);
    assert.deepEqual(t.leafKeys(leaf), [[k2, keyEntryHash(k2, 7n)]]);
    // Views are copies: writing to them cannot corrupt the tree.
    t.topLevel().fill(0n);
    assert.equal(t.topLevel()[groupOf(leaf)], t.leafHash(leaf));
  });

  it("re-indexing skips freed slots: a deleted key stays deleted when the index grows, even the empty key", () => {
    // A freed slot keeps "" as its key; were it re-indexed, the empty key would come back.
    const t = new DigestTree();
    t.set("", 5n);
    t.set("a", 1n);
    assert.equal(t.delete(""), true);
    t.reserve(10_000); // a larger index, every slot re-inserted
    assert.equal(t.has(""), false);
    assert.equal(t.get("a"), 1n);
    assert.equal(t.size, 1);
    t.set("", 6n); // the freed slot, reused
    assert.equal(t.get(""), 6n);
    assert.equal(t.delete(""), true);
    assert.equal(t.has(""), false);
  });

  it("thousands of keys, most deleted and slots reused: every key stays findable and every level matches a fresh build", () => {
    // Past the first index and slot growths, with deletes in the middle of probe runs and chains.
    const t = new DigestTree();
    const model = new Map<string, bigint>();
    const key = (i: number) => `key-${i}`;
    for (let i = 0; i < 5000; i++) {
      t.set(key(i), keyEntryHash(key(i), BigInt(i)));
      model.set(key(i), keyEntryHash(key(i), BigInt(i)));
    }
    for (let i = 0; i < 5000; i += 3) assert.equal(t.delete(key(i)), model.delete(key(i)));
    for (let i = 5000; i < 6000; i++) {
      t.set(key(i), keyEntryHash(key(i), 1n)); // into freed slots
      model.set(key(i), keyEntryHash(key(i), 1n));
    }
    for (let i = 0; i < 6000; i++) assert.equal(t.get(key(i)), model.get(key(i)), key(i));
    assertSameTree(t, DigestTree.from(model));
    assert.equal([...t.entries()].length, model.size);
    for (const k of model.keys()) assert.equal(t.delete(k), true);
    assertSameTree(t, new DigestTree());
  });

  it("reserve, between updates: every key stays findable and every level matches a fresh build", () => {
    assertProperty(
      "reserve keeps the tree",
      fc.property(fc.array(op, { maxLength: 200 }), fc.array(op, { maxLength: 200 }), fc.nat({ max: 5_000 }), (before, after, capacity) => {
        const tree = new DigestTree();
        const model = new Map<string, bigint>();
        apply(tree, model, before);
        tree.reserve(capacity);
        tree.reserve(capacity / 2); // smaller than what it holds room for: nothing changes
        apply(tree, model, after);
        for (const [k, h] of model) assert.equal(tree.get(k), h);
        assertSameTree(tree, DigestTree.from(model));
      }),
    );
  });

  it("lists a leaf with each key's hash and the place last set with it, unsorted or sorted", () => {
    type PlaceOp = { kind: "set"; key: string; hash: bigint; place: number | undefined } | { kind: "move"; key: string; place: number } | { kind: "delete"; key: string };
    const placeOp: fc.Arbitrary<PlaceOp> = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), key: fc.constantFrom(...KEY_POOL), hash: hash64, place: fc.option(fc.nat(2 ** 31 - 1), { nil: undefined }) }),
      fc.record({ kind: fc.constant("move" as const), key: fc.constantFrom(...KEY_POOL), place: fc.nat(2 ** 31 - 1) }),
      fc.record({ kind: fc.constant("delete" as const), key: fc.constantFrom(...KEY_POOL) }),
    );
    assertProperty(
      "listLeaf == leafKeys + places",
      fc.property(fc.array(placeOp, { maxLength: 300 }), (ops) => {
        const tree = new DigestTree();
        const model = new Map<string, { hash: bigint; place: number }>();
        const list = new LeafList();
        for (const o of ops) {
          if (o.kind === "set") {
            tree.set(o.key, o.hash, o.place);
            model.set(o.key, { hash: o.hash, place: o.place ?? NO_PLACE });
          } else if (o.kind === "move") {
            // Moved as a bulk-pull page does: through the slot its leaf's listing gives.
            const entry = model.get(o.key);
            if (entry === undefined) continue;
            tree.listLeaf(leafOf(o.key), list);
            const i = list.keys.slice(0, list.count).indexOf(o.key);
            tree.movePlace(list.slots[i]!, o.place);
            entry.place = o.place;
          } else {
            tree.delete(o.key);
            model.delete(o.key);
          }
        }
        for (const leaf of new Set([...KEY_POOL].map(leafOf))) {
          tree.listLeaf(leaf, list);
          for (const sorted of [false, true]) {
            if (sorted) list.sortByKey();
            const listed = Array.from({ length: list.count }, (_, i) => ({
              key: list.keys[i]!,
              hash: BigInt(list.hashes[2 * i]! >>> 0) | (BigInt(list.hashes[2 * i + 1]! >>> 0) << 32n),
              place: list.places[i],
            }));
            const expected = [...model].filter(([k]) => leafOf(k) === leaf).map(([key, e]) => ({ key, ...e }));
            const byKey = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
            if (sorted) assert.deepEqual(listed.map((e) => e.key), [...listed].sort(byKey).map((e) => e.key), "sorted by key");
            assert.equal(listed.length, expected.length);
            listed.sort(byKey);
            expected.sort(byKey);
            listed.forEach((e, i) => {
              assert.equal(e.key, expected[i]!.key);
              assert.equal(e.hash, expected[i]!.hash);
              assert.equal(e.place, expected[i]!.place, `the place set last with ${e.key}`);
            });
          }
        }
      }),
    );
  });

  it("lists slots in order from a position: every key of the groups asked for once, with hash and place, resumed where a run stopped, keys kept through changes listed once", () => {
    const setOp = fc.record({ key: fc.constantFrom(...KEY_POOL), hash: hash64, place: fc.nat(1_000) });
    assertProperty(
      "listSlots",
      fc.property(
        fc.array(fc.oneof(setOp, fc.record({ del: fc.constantFrom(...KEY_POOL) })), { maxLength: 300 }),
        fc.uint8Array({ minLength: GROUPS, maxLength: GROUPS }).map((g) => g.map((b) => b & 1)),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.oneof(setOp, fc.record({ del: fc.constantFrom(...KEY_POOL) })), { maxLength: 30 }),
        (ops, groups, run, meanwhile) => {
          const tree = new DigestTree();
          const model = new Map<string, { hash: bigint; place: number }>();
          const play = (o: { key: string; hash: bigint; place: number } | { del: string }): void => {
            if ("del" in o) {
              tree.delete(o.del);
              model.delete(o.del);
            } else {
              tree.set(o.key, o.hash, o.place);
              model.set(o.key, { hash: o.hash, place: o.place });
            }
          };
          ops.forEach(play);
          const before = new Map(model);
          const list = new LeafList();
          const seen = new Map<string, number>();
          let slot = 0;
          let lastSlot = -1;
          for (let step = 0; slot < tree.positions; step++) {
            const next = tree.listSlots(slot, groups, run, list);
            assert.ok(list.count <= run && next > slot, "a run lists at most its size and moves on");
            for (let i = 0; i < list.count; i++) {
              const key = list.keys[i]!;
              assert.ok(list.slots[i]! > lastSlot && list.slots[i]! < next, "in slot order, within the run");
              lastSlot = list.slots[i]!;
              assert.equal(groups[groupOf(leafOf(key))], 1, `${key} is of a group asked for`);
              seen.set(key, (seen.get(key) ?? 0) + 1);
              const entry = model.get(key)!;
              assert.equal(BigInt(list.hashes[2 * i]! >>> 0) | (BigInt(list.hashes[2 * i + 1]! >>> 0) << 32n), entry.hash);
              assert.equal(list.places[i], entry.place);
            }
            slot = next;
            if (step === 1) meanwhile.forEach(play); // the store changes between two pages
          }
          for (const [key, n] of seen) assert.equal(n, 1, `${key} listed once`);
          // Every key of those groups held from start to end was listed (one deleted or added meanwhile may be missing).
          for (const key of before.keys()) {
            if (groups[groupOf(leafOf(key))] === 1 && model.has(key) && !meanwhile.some((o) => ("del" in o ? o.del : o.key) === key)) {
              assert.ok(seen.has(key), `${key} listed`);
            }
          }
        },
      ),
    );
    assert.throws(() => new DigestTree().listSlots(-1, new Uint8Array(GROUPS), 1, new LeafList()), InvalidArgumentError);
  });

  it("rejects bad indices and non-bigint hashes", () => {
    const t = new DigestTree();
    assert.throws(() => t.groupLevel(GROUPS), InvalidArgumentError);
    assert.throws(() => t.leafKeys(LEAVES), InvalidArgumentError);
    assert.throws(() => t.leafHash(-1), InvalidArgumentError);
    assert.throws(() => t.leafKeys(1.5), InvalidArgumentError);
    assert.throws(() => t.listLeaf(LEAVES, new LeafList()), InvalidArgumentError);
    assert.throws(() => t.set("k", 1 as unknown as bigint), InvalidArgumentError);
    assert.throws(() => t.set("k", -1n), InvalidArgumentError);
    assert.throws(() => t.set("k", 2n ** 64n), InvalidArgumentError);
    for (const [lo, hi] of [[-(2 ** 31) - 1, 0], [0, 2 ** 32], [0.5, 0], [0, Number.NaN]] as const) assert.throws(() => t.setWords("k", lo, hi), InvalidArgumentError);
    assert.equal(t.size, 0);
  });

  it("diffHashes lists differing indices, a missing entry counting as zero", () => {
    assert.deepEqual(diffHashes([1n, 2n, 3n], [1n, 0n, 3n]), [1]);
    assert.deepEqual(diffHashes([1n, 0n], [1n]), []);
    assert.deepEqual(diffHashes([1n], [1n, 5n]), [1]);
  });
});
