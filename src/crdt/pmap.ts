/**
 * `PMap`, a small persistent hash map (hash array mapped trie) with string keys, so that a
 * mutation of a large set or map copies O(log n) small nodes instead of the whole collection, and a
 * merge of a small delta into a large state costs O(size of the delta).
 */

/*
 * A hash array mapped trie keyed by strings. Branches have 32 slots indexed by 5 bits of the
 * key's hash; leaves hold up to LEAF_MAX entries in small parallel arrays and split into a branch
 * when they grow past it (below 32 bits of hash leaves never split: they are collision buckets).
 * A persistent update copies the path from the root (≤ 7 arrays of ≤ 32 slots). A transient
 * (`PMap.build` / `mutate`) owns the nodes it copied and updates them in place, so a batch of n
 * updates costs O(n) node copies at most, not O(n log n).
 */
import { InvalidArgumentError } from "../errors.js";

const SHIFT = 5;
const MASK = 31;
const LEAF_MAX = 16;

type Owner = object;

interface Leaf<V> {
  readonly leaf: true;
  owner: Owner | null;
  hashes: number[];
  keys: string[];
  values: V[];
}

interface Branch<V> {
  readonly leaf: false;
  owner: Owner | null;
  children: (PNode<V> | undefined)[];
}

type PNode<V> = Leaf<V> | Branch<V>;

const EMPTY_LEAF: Leaf<never> = { leaf: true, owner: null, hashes: [], keys: [], values: [] };

/** FNV-1a over UTF-16 code units, 32 bits. Internal only: never leaves the process. */
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
  return h >>> 0;
}

function pget<V>(node: PNode<V>, shift: number, hash: number, key: string): V | undefined {
  for (;;) {
    if (node.leaf) {
      const { keys, hashes } = node;
      for (let i = 0; i < keys.length; i++) if (hashes[i] === hash && keys[i] === key) return node.values[i];
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
  if (node.leaf) {
    const { keys, hashes } = node;
    for (let i = 0; i < keys.length; i++) {
      if (hashes[i] === hash && keys[i] === key) {
        if (node.values[i] === value) return node;
        const out = editableLeaf(node, owner);
        out.values[i] = value;
        return out;
      }
    }
    added.v = true;
    if (keys.length < LEAF_MAX || shift >= 32) {
      const out = editableLeaf(node, owner);
      out.hashes.push(hash);
      out.keys.push(key);
      out.values.push(value);
      return out;
    }
    // Split the full leaf into a branch at this level.
    const branch: Branch<V> = { leaf: false, owner, children: new Array(32).fill(undefined) };
    const ignore = { v: false };
    for (let i = 0; i < keys.length; i++) {
      const idx = (hashes[i]! >>> shift) & MASK;
      branch.children[idx] = pset(branch.children[idx] ?? (EMPTY_LEAF as Leaf<V>), shift + SHIFT, hashes[i]!, keys[i]!, node.values[i]!, owner, ignore);
    }
    const idx = (hash >>> shift) & MASK;
    branch.children[idx] = pset(branch.children[idx] ?? (EMPTY_LEAF as Leaf<V>), shift + SHIFT, hash, key, value, owner, ignore);
    return branch;
  }
  const idx = (hash >>> shift) & MASK;
  const child = node.children[idx] ?? (EMPTY_LEAF as Leaf<V>);
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
  if (node.leaf) {
    const { keys, hashes } = node;
    for (let i = 0; i < keys.length; i++) {
      if (hashes[i] === hash && keys[i] === key) {
        removed.v = true;
        if (keys.length === 1) return undefined;
        const out = editableLeaf(node, owner);
        out.hashes.splice(i, 1);
        out.keys.splice(i, 1);
        out.values.splice(i, 1);
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

function editableLeaf<V>(node: Leaf<V>, owner: Owner | null): Leaf<V> {
  if (owner !== null && node.owner === owner) return node;
  return { leaf: true, owner, hashes: node.hashes.slice(), keys: node.keys.slice(), values: node.values.slice() };
}

function editableBranch<V>(node: Branch<V>, owner: Owner | null): Branch<V> {
  if (owner !== null && node.owner === owner) return node;
  return { leaf: false, owner, children: node.children.slice() };
}

function peach<V>(node: PNode<V>, fn: (value: V, key: string) => void): void {
  if (node.leaf) {
    for (let i = 0; i < node.keys.length; i++) fn(node.values[i]!, node.keys[i]!);
    return;
  }
  for (const child of node.children) if (child !== undefined) peach(child, fn);
}

/** Entries of `node` in trie order, as a generator (so a caller can stop and resume a walk). */
function* pentries<V>(node: PNode<V>): Generator<[string, V]> {
  if (node.leaf) {
    for (let i = 0; i < node.keys.length; i++) yield [node.keys[i]!, node.values[i]!];
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
  if (a !== undefined && b !== undefined && !a.leaf && !b.leaf) {
    for (let i = 0; i < 32; i++) pdiff(a.children[i], b.children[i], fn);
    return;
  }
  const before = new Map<string, V>();
  if (a !== undefined) peach(a, (v, k) => before.set(k, v));
  if (b !== undefined) {
    peach(b, (v, k) => {
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
    this.#root = root ?? (EMPTY_LEAF as Leaf<V>);
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
