/**
 * `PMap`, a small persistent hash map (hash array mapped trie) with string keys, so that a
 * mutation of a large set or map copies O(log n) small nodes instead of the whole collection, and a
 * merge of a small delta into a large state costs O(size of the delta).
 */

/*
 * A hash array mapped trie keyed by strings. Branches have 32 slots indexed by 5 bits of the
 * key's hash; leaves hold up to LEAF_MAX entries and split into a branch when they grow past it
 * (past the hash's 30 bits leaves never split: they are collision buckets). A persistent update
 * copies the path from the root (≤ 6 arrays of ≤ 32 slots, and a leaf). A transient
 * (`PMap.build` / `mutate`) owns the nodes it copied and updates them in place, so a batch of n
 * updates costs O(n) node copies at most, not O(n log n); a leaf it adds to or removes from is
 * still copied, at its new length (a few entries: a push or splice in place keeps spare room).
 *
 * A leaf is one flat array, `[owner, hash0, key0, value0, hash1, key1, value1, …]`, made exactly
 * as long as it needs: at a million entries most leaves hold one or two (the fan-out of the last
 * split), and a leaf as an object over three arrays, each copied with a push's spare room, was
 * most of the ~1,000 bytes an element of a million-element ORSet took (~320 now). Hashes are 30
 * bits, so that they stay small integers in a generic array (past 2^30 a number there is a heap
 * object of its own).
 */
import { InvalidArgumentError } from "../errors.js";

const SHIFT = 5;
const MASK = 31;
const LEAF_MAX = 16;
/** Bits of a key's hash (see the comment above): a leaf at this depth has none left to split by. */
const HASH_BITS = 30;

type Owner = object;

/** `[owner, hash, key, value, hash, key, value, …]` (see the comment above); a value may be anything. */
type Leaf = unknown[];

interface Branch<V> {
  owner: Owner | null;
  children: (PNode<V> | undefined)[];
}

type PNode<V> = Leaf | Branch<V>;

/** Entry i of a leaf is at ENTRY + STRIDE * i: its hash, key and value. */
const ENTRY = 1;
const STRIDE = 3;

const EMPTY_LEAF: Leaf = Object.freeze([null]) as Leaf;

function isLeaf<V>(node: PNode<V>): node is Leaf {
  return Array.isArray(node);
}

/** FNV-1a over UTF-16 code units, avalanched, 30 bits. Internal only: never leaves the process. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // A final avalanche so that the low bits (the first level) depend on every character.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h & 0x3fffffff;
}

function pget<V>(node: PNode<V>, shift: number, hash: number, key: string): V | undefined {
  for (;;) {
    if (isLeaf(node)) {
      for (let i = ENTRY; i < node.length; i += STRIDE) if (node[i] === hash && node[i + 1] === key) return node[i + 2] as V;
      return undefined;
    }
    const child = node.children[(hash >>> shift) & MASK];
    if (child === undefined) return undefined;
    node = child;
    shift += SHIFT;
  }
}

/** Sets `key`; `added.v` becomes true when the key was new. Returns `node` itself when nothing changed. */
function pset<V>(
  node: PNode<V>,
  shift: number,
  hash: number,
  key: string,
  value: V,
  owner: Owner | null,
  added: { v: boolean },
): PNode<V> {
  if (isLeaf(node)) {
    for (let i = ENTRY; i < node.length; i += STRIDE) {
      if (node[i] === hash && node[i + 1] === key) {
        if (node[i + 2] === value) return node;
        const out = editableLeaf(node, owner);
        out[i + 2] = value;
        return out;
      }
    }
    added.v = true;
    if (node.length < ENTRY + STRIDE * LEAF_MAX || shift >= HASH_BITS) {
      // A copy made one entry longer at once, also in a transient (which would push into a leaf it
      // owns): a push keeps spare room, and a leaf holds a few entries (~50 words of copying).
      const n = node.length;
      const out: Leaf = new Array(n + STRIDE);
      out[0] = owner;
      for (let i = ENTRY; i < n; i++) out[i] = node[i];
      out[n] = hash;
      out[n + 1] = key;
      out[n + 2] = value;
      return out;
    }
    // Split the full leaf into a branch at this level.
    const branch: Branch<V> = { owner, children: new Array(32).fill(undefined) };
    const ignore = { v: false };
    for (let i = ENTRY; i < node.length; i += STRIDE) {
      const h = node[i] as number;
      const idx = (h >>> shift) & MASK;
      branch.children[idx] = pset(branch.children[idx] ?? EMPTY_LEAF, shift + SHIFT, h, node[i + 1] as string, node[i + 2] as V, owner, ignore);
    }
    const idx = (hash >>> shift) & MASK;
    branch.children[idx] = pset(branch.children[idx] ?? EMPTY_LEAF, shift + SHIFT, hash, key, value, owner, ignore);
    return branch;
  }
  const idx = (hash >>> shift) & MASK;
  const child = node.children[idx] ?? EMPTY_LEAF;
  const next = pset(child, shift + SHIFT, hash, key, value, owner, added);
  if (next === child) return node;
  const out = editableBranch(node, owner);
  out.children[idx] = next;
  return out;
}

/** Deletes `key`; `removed.v` becomes true when it was there. Returns undefined for an emptied node. */
function pdelete<V>(
  node: PNode<V>,
  shift: number,
  hash: number,
  key: string,
  owner: Owner | null,
  removed: { v: boolean },
): PNode<V> | undefined {
  if (isLeaf(node)) {
    for (let i = ENTRY; i < node.length; i += STRIDE) {
      if (node[i] === hash && node[i + 1] === key) {
        removed.v = true;
        if (node.length === ENTRY + STRIDE) return undefined;
        const out: Leaf = new Array(node.length - STRIDE);
        out[0] = owner;
        for (let j = ENTRY, o = ENTRY; j < node.length; j++) if (j < i || j >= i + STRIDE) out[o++] = node[j];
        return out;
      }
    }
    return node;
  }
  const idx = (hash >>> shift) & MASK;
  const child = node.children[idx];
  if (child === undefined) return node;
  const next = pdelete(child, shift + SHIFT, hash, key, owner, removed);
  if (next === child) return node;
  if (next === undefined && node.children.every((c, i) => i === idx || c === undefined)) return undefined;
  const out = editableBranch(node, owner);
  out.children[idx] = next;
  return out;
}

function editableLeaf(node: Leaf, owner: Owner | null): Leaf {
  if (owner !== null && node[0] === owner) return node;
  const out = node.slice();
  out[0] = owner;
  return out;
}

function editableBranch<V>(node: Branch<V>, owner: Owner | null): Branch<V> {
  if (owner !== null && node.owner === owner) return node;
  return { owner, children: node.children.slice() };
}

function peach<V>(node: PNode<V>, fn: (value: V, key: string) => void): void {
  if (isLeaf(node)) {
    for (let i = ENTRY; i < node.length; i += STRIDE) fn(node[i + 2] as V, node[i + 1] as string);
    return;
  }
  for (const child of node.children) if (child !== undefined) peach(child, fn);
}

/** Entries of `node` in trie order, as a generator (so a caller can stop and resume a walk). */
function* pentries<V>(node: PNode<V>): Generator<[string, V]> {
  if (isLeaf(node)) {
    for (let i = ENTRY; i < node.length; i += STRIDE) yield [node[i + 1] as string, node[i + 2] as V];
    return;
  }
  for (const child of node.children) if (child !== undefined) yield* pentries(child);
}

/**
 * Reports the keys whose values differ (by identity) between two tries, skipping the subtrees they
 * share: after k updates of a map, comparing it with its ancestor visits O(k log n) nodes.
 * Differently shaped subtrees (a leaf that split on one side) are compared entry by entry.
 */
function pdiff<V>(a: PNode<V> | undefined, b: PNode<V> | undefined, fn: (key: string, before: V | undefined, after: V | undefined) => void): void {
  if (a === b) return;
  if (a !== undefined && b !== undefined && !isLeaf(a) && !isLeaf(b)) {
    for (let i = 0; i < 32; i++) pdiff(a.children[i], b.children[i], fn);
    return;
  }
  const before = new Map<string, V>();
  if (a !== undefined) peach(a, (v: V, k) => before.set(k, v));
  if (b !== undefined) {
    peach(b, (v: V, k) => {
      const old = before.get(k);
      before.delete(k);
      if (old !== v) fn(k, old, v);
    });
  }
  for (const [k, v] of before) fn(k, v, undefined);
}

/** An immutable map from strings to V with O(log n) updates and structural sharing. */
export class PMap<V> {
  readonly #root: PNode<V>;
  readonly size: number;

  private constructor(root: PNode<V>, size: number) {
    this.#root = root;
    this.size = size;
  }

  static empty<V>(): PMap<V> {
    return EMPTY_PMAP as PMap<V>;
  }

  /** Builds a map with a transient (in-place) builder. */
  static build<V>(fn: (m: TransientMap<V>) => void): PMap<V> {
    return PMap.empty<V>().mutate(fn);
  }

  get(key: string): V | undefined {
    return pget(this.#root, 0, hashString(key), key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: V): PMap<V> {
    const added = { v: false };
    const root = pset(this.#root, 0, hashString(key), key, value, null, added);
    return root === this.#root ? this : new PMap(root, this.size + (added.v ? 1 : 0));
  }

  delete(key: string): PMap<V> {
    const removed = { v: false };
    const root = pdelete(this.#root, 0, hashString(key), key, null, removed);
    if (!removed.v) return this;
    return root === undefined ? PMap.empty() : new PMap(root, this.size - 1);
  }

  /** Applies a batch of updates in place on copies owned by the batch; returns the new map. */
  mutate(fn: (m: TransientMap<V>) => void): PMap<V> {
    const t = new TransientMap<V>(this.#root, this.size);
    fn(t);
    const { root, size } = t.finish();
    if (root === this.#root) return this;
    return size === 0 ? PMap.empty() : new PMap(root, size);
  }

  forEach(fn: (value: V, key: string) => void): void {
    peach(this.#root, fn);
  }

  keys(): string[] {
    const out: string[] = [];
    peach(this.#root, (_v, k) => out.push(k));
    return out;
  }

  /** Every [key, value], in no particular order; lazy, so a long walk can be done in slices. */
  entries(): Generator<[string, V]> {
    return pentries(this.#root);
  }

  /**
   * Calls `fn` for every key whose value differs by identity between `before` and `after`
   * (undefined on the side that lacks it). Cost O(changes × depth) when `after` was derived from
   * `before` (they share every untouched subtree), O(size) at worst.
   */
  static diff<V>(before: PMap<V>, after: PMap<V>, fn: (key: string, before: V | undefined, after: V | undefined) => void): void {
    pdiff(before.#root, after.#root, fn);
  }

  /** True when both maps share their root (same contents, cheaply detected). */
  sameAs(other: PMap<V>): boolean {
    return this.#root === other.#root;
  }

  /** @internal */
  static fromRoot<V>(root: PNode<V>, size: number): PMap<V> {
    return new PMap(root, size);
  }
}

const EMPTY_PMAP: PMap<never> = PMap.fromRoot(EMPTY_LEAF, 0);

/** A map being built in place; only valid inside `PMap.mutate` / `PMap.build`. */
export class TransientMap<V> {
  #root: PNode<V>;
  #size: number;
  #owner: Owner | null = {};

  /** @internal */
  constructor(root: PNode<V>, size: number) {
    this.#root = root;
    this.#size = size;
  }

  get size(): number {
    return this.#size;
  }

  get(key: string): V | undefined {
    return pget(this.#root, 0, hashString(key), key);
  }

  set(key: string, value: V): void {
    const owner = this.live();
    const added = { v: false };
    this.#root = pset(this.#root, 0, hashString(key), key, value, owner, added);
    if (added.v) this.#size++;
  }

  delete(key: string): void {
    const owner = this.live();
    const removed = { v: false };
    const root = pdelete(this.#root, 0, hashString(key), key, owner, removed);
    this.#root = root ?? EMPTY_LEAF;
    if (removed.v) this.#size--;
  }

  /** @internal ends the batch: later edits of the returned nodes must copy them. */
  finish(): { root: PNode<V>; size: number } {
    this.#owner = null;
    return { root: this.#root, size: this.#size };
  }

  private live(): Owner {
    if (this.#owner === null) throw new InvalidArgumentError("TransientMap used after its batch ended: edit the map its batch returned");
    return this.#owner;
  }
}

/** Same keys, each holding equal values by `same` (true at once when both maps share their root). */
export function sameMaps<V>(a: PMap<V>, b: PMap<V>, same: (x: V, y: V) => boolean): boolean {
  if (a.size !== b.size) return false;
  if (a.sameAs(b)) return true;
  let equal = true;
  a.forEach((v, k) => {
    if (!equal) return;
    const o = b.get(k);
    if (o === undefined || !same(v, o)) equal = false;
  });
  return equal;
}
