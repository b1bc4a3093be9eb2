/**
 * Causal machinery shared by the dot-based types (ORSet, MVRegister, ORMap and the maps built on it),
 * after Almeida, Shoker & Baquero, "Delta State Replicated Data Types" (2018).
 *
 * - A dot (node, counter) names one event: the counter-th write of a node.
 * - A causal context is the set of dots a value has seen, stored compactly as a version vector
 *   (node → n: every dot (node, 1..n) seen) plus a dot cloud (the dots seen beyond the vector,
 *   e.g. from deltas that arrived out of order). Contexts here are always kept compact: no cloud
 *   dot is covered by the vector, and no cloud dot is the vector's next one (it would be folded),
 *   so two contexts holding the same dots have the same representation (and the same `toState`).
 * - A delta's context holds only the dots the delta covers (its new dots, plus the dots it
 *   supersedes or removes) — never the producer's whole vector. GoAkt ships the whole vector entry,
 *   so two sequential adds of one node delivered in reverse order make the peers drop the first.
 *
 * Also here: `PMap`, a small persistent hash map (hash array mapped trie) with string keys, so that a
 * mutation of a large set or map copies O(log n) small nodes instead of the whole collection, and a
 * merge of a small delta into a large state costs O(size of the delta).
 */
import { DecodeError, InvalidArgumentError, PrecisionError } from "../errors.js";
import type { CausalContextState, DotState, SlotState } from "./types.js";

/** One event: the `counter`-th write of `node` (counter ≥ 1). */
export type Dot = Readonly<DotState>;

// ================================================================== validation helpers

/** A writing node's id: a non-empty, well-formed string. Throws InvalidArgumentError. */
export function checkNode(node: unknown): asserts node is string {
  if (typeof node !== "string" || node.length === 0 || !node.isWellFormed()) {
    throw new InvalidArgumentError(`node id must be a non-empty string, got ${describe(node)}`);
  }
}

/** A short description of an arbitrary value, for error messages. */
export function describe(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x.length > 80 ? x.slice(0, 80) + "…" : x);
  if (typeof x === "bigint") return `${x}n`;
  if (typeof x === "number" || typeof x === "boolean" || x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return "array";
  return typeof x;
}

/** Code-unit order of strings (the order node ids and canonical encodings are sorted by). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Order of dots: by node, then counter. */
export function compareDots(a: Dot, b: Dot): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : a.counter - b.counter;
}

/** A string key identifying a dot (the counter's digits end at the first ':'). */
export function dotKey(dot: Dot): string {
  return dot.counter + ":" + dot.node;
}

function makeDot(node: string, counter: number): Dot {
  return Object.freeze({ node, counter });
}

/** @internal decode one DotState from untrusted input. */
export function decodeDot(raw: unknown, what: string): Dot {
  if (typeof raw !== "object" || raw === null) throw new DecodeError(`${what}: a dot must be an object, got ${describe(raw)}`);
  const { node, counter } = raw as { node?: unknown; counter?: unknown };
  if (typeof node !== "string" || node.length === 0 || !node.isWellFormed()) {
    throw new DecodeError(`${what}: dot node must be a non-empty string, got ${describe(node)}`);
  }
  if (typeof counter !== "number" || !Number.isSafeInteger(counter) || counter < 1) {
    throw new DecodeError(`${what}: dot counter must be a positive safe integer, got ${describe(counter)}`);
  }
  return makeDot(node, counter);
}

/** @internal decode a sorted, duplicate-free, non-empty dot list. */
export function decodeDots(raw: unknown, what: string): Dot[] {
  if (!Array.isArray(raw)) throw new DecodeError(`${what}: dots must be an array`);
  if (raw.length === 0) throw new DecodeError(`${what}: an entry must hold at least one dot`);
  const out: Dot[] = [];
  for (const r of raw as unknown[]) {
    const dot = decodeDot(r, what);
    const prev = out[out.length - 1];
    if (prev !== undefined && compareDots(prev, dot) >= 0) {
      throw new DecodeError(`${what}: dots must be sorted by (node, counter) without duplicates`);
    }
    out.push(dot);
  }
  return out;
}

// ================================================================== causal context

type Vector = ReadonlyMap<string, number>;

/**
 * One writer's part of a dot cloud: sorted, disjoint, non-adjacent closed intervals of counters,
 * flattened as [lo0, hi0, lo1, hi1, …]. Dots arriving out of order mostly form a few runs (a lost
 * delta leaves one gap, and every later dot extends the run after it), so adding a dot or joining
 * two clouds costs O(runs), not O(dots).
 */
type Ranges = readonly number[];
type Cloud = ReadonlyMap<string, Ranges>;

const EMPTY_VECTOR: Vector = new Map();
const EMPTY_CLOUD: Cloud = new Map();
const NO_RANGES: Ranges = Object.freeze([]);

function rangesHas(r: Ranges, c: number): boolean {
  let lo = 0;
  let hi = r.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (c < r[2 * mid]!) hi = mid - 1;
    else if (c > r[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

/** The union of two range lists. */
function rangesUnion(a: Ranges, b: Ranges): Ranges {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: number[] = [];
  const push = (lo: number, hi: number): void => {
    const n = out.length;
    if (n > 0 && lo <= out[n - 1]! + 1) {
      if (hi > out[n - 1]!) out[n - 1] = hi;
    } else {
      out.push(lo, hi);
    }
  };
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! <= b[j]!)) {
      push(a[i]!, a[i + 1]!);
      i += 2;
    } else {
      push(b[j]!, b[j + 1]!);
      j += 2;
    }
  }
  return out;
}

/** Drops what the vector entry `v` covers and folds a run that continues it: [new v, rest]. */
function rangesFold(r: Ranges, v: number): [number, Ranges] {
  let i = 0;
  while (i < r.length && r[i + 1]! <= v) i += 2;
  if (i < r.length && r[i]! <= v + 1) {
    v = r[i + 1]!;
    i += 2;
  }
  return [v, i === 0 ? r : i >= r.length ? NO_RANGES : r.slice(i)];
}

function rangesFromSorted(counters: readonly number[]): Ranges {
  const out: number[] = [];
  for (const c of counters) {
    const n = out.length;
    if (n > 0 && c <= out[n - 1]! + 1) {
      if (c > out[n - 1]!) out[n - 1] = c;
    } else {
      out.push(c, c);
    }
  }
  return out;
}

function rangesSize(r: Ranges): number {
  let n = 0;
  for (let i = 0; i < r.length; i += 2) n += r[i + 1]! - r[i]! + 1;
  return n;
}

function sameRanges(a: Ranges, b: Ranges): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * An immutable causal context: a compact version vector plus a dot cloud. Every constructor and
 * operation returns a compact context (see the module comment), so `equals` and `toState` are
 * canonical. The vector is a Map copied on write (a cluster has a handful of writer ids).
 */
export class CausalContext {
  readonly #vector: Vector;
  readonly #cloud: Cloud;

  private constructor(vector: Vector, cloud: Cloud) {
    this.#vector = vector;
    this.#cloud = cloud;
  }

  static readonly #EMPTY = new CausalContext(EMPTY_VECTOR, EMPTY_CLOUD);

  static empty(): CausalContext {
    return CausalContext.#EMPTY;
  }

  /** The context holding exactly `dots`. */
  static of(dots: Iterable<Dot>): CausalContext {
    const byNode = new Map<string, number[]>();
    for (const d of dots) {
      let list = byNode.get(d.node);
      if (list === undefined) byNode.set(d.node, (list = []));
      list.push(d.counter);
    }
    if (byNode.size === 0) return CausalContext.#EMPTY;
    const cloud = new Map<string, Ranges>();
    for (const [node, list] of byNode) cloud.set(node, rangesFromSorted(list.length > 1 ? list.sort((x, y) => x - y) : list));
    return CausalContext.build(new Map(), cloud);
  }

  /** Validates and decodes a plain state. A cloud that is not folded into the vector is folded. */
  static fromState(state: CausalContextState, what = "CausalContext"): CausalContext {
    // An absent sub-message is the empty context (proto3 omits empty messages).
    if (state === undefined) return CausalContext.#EMPTY;
    if (typeof state !== "object" || state === null) throw new DecodeError(`${what} must be an object`);
    const { vector: rawVector, cloud: rawCloud } = state as { vector?: unknown; cloud?: unknown };
    if (!Array.isArray(rawVector)) throw new DecodeError(`${what}.vector must be an array`);
    if (!Array.isArray(rawCloud)) throw new DecodeError(`${what}.cloud must be an array`);
    if (rawVector.length === 0 && rawCloud.length === 0) return CausalContext.#EMPTY;
    const vector = new Map<string, number>();
    let previous: string | undefined;
    for (const slot of rawVector as unknown[]) {
      if (typeof slot !== "object" || slot === null) throw new DecodeError(`${what}: a vector slot must be an object`);
      const { node, value } = slot as { node?: unknown; value?: unknown };
      if (typeof node !== "string" || node.length === 0 || !node.isWellFormed()) {
        throw new DecodeError(`${what}: vector node must be a non-empty string, got ${describe(node)}`);
      }
      if (previous !== undefined && !(previous < node)) {
        throw new DecodeError(`${what}: vector must be sorted by node without duplicates`);
      }
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
        throw new DecodeError(`${what}: vector slot ${JSON.stringify(node)} must hold a positive safe integer, got ${describe(value)}`);
      }
      vector.set(node, value);
      previous = node;
    }
    const byNode = new Map<string, number[]>();
    let prevDot: Dot | undefined;
    for (const raw of rawCloud as unknown[]) {
      const dot = decodeDot(raw, `${what}.cloud`);
      if (prevDot !== undefined && compareDots(prevDot, dot) >= 0) {
        throw new DecodeError(`${what}: cloud must be sorted by (node, counter) without duplicates`);
      }
      if (dot.counter <= (vector.get(dot.node) ?? 0)) {
        throw new DecodeError(`${what}: cloud dot (${JSON.stringify(dot.node)}, ${dot.counter}) is already covered by the vector`);
      }
      let list = byNode.get(dot.node);
      if (list === undefined) byNode.set(dot.node, (list = []));
      list.push(dot.counter);
      prevDot = dot;
    }
    const cloud = new Map<string, Ranges>();
    for (const [node, list] of byNode) cloud.set(node, rangesFromSorted(list));
    return CausalContext.build(vector, cloud);
  }

  /** Folds each writer's cloud into its vector entry as far as it is contiguous; drops empty clouds. */
  private static build(vector: Map<string, number>, cloud: Map<string, Ranges>): CausalContext {
    for (const [node, r] of cloud) {
      const v = vector.get(node) ?? 0;
      const [v2, rest] = rangesFold(r, v);
      if (v2 > 0) vector.set(node, v2);
      if (rest.length === 0) cloud.delete(node);
      else cloud.set(node, rest);
    }
    if (vector.size === 0 && cloud.size === 0) return CausalContext.#EMPTY;
    return new CausalContext(vector.size === 0 ? EMPTY_VECTOR : vector, cloud.size === 0 ? EMPTY_CLOUD : cloud);
  }

  /** The next dot `node` writes: one past the highest counter of `node` this context has seen. */
  next(node: string): Dot {
    checkNode(node);
    const r = this.#cloud.get(node);
    const max = r !== undefined ? r[r.length - 1]! : (this.#vector.get(node) ?? 0);
    if (max >= Number.MAX_SAFE_INTEGER) {
      throw new PrecisionError(`node ${JSON.stringify(node)} has written 2^53 - 1 dots; its counter cannot grow exactly`);
    }
    return makeDot(node, max + 1);
  }

  contains(dot: Dot): boolean {
    if (dot.counter <= (this.#vector.get(dot.node) ?? 0)) return true;
    const r = this.#cloud.get(dot.node);
    return r !== undefined && rangesHas(r, dot.counter);
  }

  /** This context plus `dot` (folded into the vector when contiguous). */
  add(dot: Dot): CausalContext {
    if (this.contains(dot)) return this;
    const v = this.#vector.get(dot.node) ?? 0;
    const [v2, rest] = rangesFold(rangesUnion(this.#cloud.get(dot.node) ?? NO_RANGES, [dot.counter, dot.counter]), v);
    let vector = this.#vector;
    if (v2 !== v) {
      const copy = new Map(this.#vector);
      copy.set(dot.node, v2);
      vector = copy;
    }
    const cloud = new Map(this.#cloud);
    if (rest.length === 0) cloud.delete(dot.node);
    else cloud.set(dot.node, rest);
    return new CausalContext(vector, cloud.size === 0 ? EMPTY_CLOUD : cloud);
  }

  /**
   * The union of both contexts (compact). Costs O(writer ids + runs of out-of-order dots);
   * returns `this` when `other` adds nothing.
   */
  merge(other: CausalContext): CausalContext {
    if (other === this || other.isEmpty) return this;
    if (this.isEmpty) return other;
    let vector: Map<string, number> | undefined;
    let cloud: Map<string, Ranges> | undefined;
    const visit = (node: string): void => {
      const v = this.#vector.get(node) ?? 0;
      const mine = this.#cloud.get(node) ?? NO_RANGES;
      const theirs = other.#cloud.get(node) ?? NO_RANGES;
      const ov = other.#vector.get(node) ?? 0;
      if (ov <= v && theirs.length === 0) return;
      const [v2, rest] = rangesFold(rangesUnion(mine, theirs), Math.max(v, ov));
      if (v2 !== v) {
        vector ??= new Map(this.#vector);
        vector.set(node, v2);
      }
      if (!sameRanges(rest, mine)) {
        cloud ??= new Map(this.#cloud);
        if (rest.length === 0) cloud.delete(node);
        else cloud.set(node, rest);
      }
    };
    for (const node of other.#vector.keys()) visit(node);
    for (const node of other.#cloud.keys()) if (!other.#vector.has(node)) visit(node);
    if (vector === undefined && cloud === undefined) return this;
    const c = cloud ?? this.#cloud;
    return new CausalContext(vector ?? this.#vector, c.size === 0 ? EMPTY_CLOUD : c);
  }

  /** Folds contiguous cloud dots into the vector. Contexts are kept compact, so this is usually `this`. */
  compact(): CausalContext {
    if (this.#cloud.size === 0) return this;
    const compacted = CausalContext.build(new Map(this.#vector), new Map(this.#cloud));
    return compacted.equals(this) ? this : compacted;
  }

  get isEmpty(): boolean {
    return this.#vector.size === 0 && this.#cloud.size === 0;
  }

  /** How many dots this context covers (a float sum: only used to estimate costs). */
  get dotCount(): number {
    let n = 0;
    for (const v of this.#vector.values()) n += v;
    for (const r of this.#cloud.values()) n += rangesSize(r);
    return n;
  }

  /** Every dot this context covers (as many as `dotCount`). */
  *dots(): Generator<Dot> {
    for (const [node, v] of this.#vector) for (let c = 1; c <= v; c++) yield makeDot(node, c);
    for (const [node, r] of this.#cloud) {
      for (let i = 0; i < r.length; i += 2) for (let c = r[i]!; c <= r[i + 1]!; c++) yield makeDot(node, c);
    }
  }

  /** The highest counter of `node` covered contiguously from 1 (0 when none). */
  vectorEntry(node: string): number {
    return this.#vector.get(node) ?? 0;
  }

  /** The writer ids this context mentions. */
  get nodes(): string[] {
    const out = new Set(this.#vector.keys());
    for (const node of this.#cloud.keys()) out.add(node);
    return [...out];
  }

  equals(other: CausalContext): boolean {
    if (this === other) return true;
    if (this.#vector.size !== other.#vector.size || this.#cloud.size !== other.#cloud.size) return false;
    for (const [node, v] of this.#vector) if (other.#vector.get(node) !== v) return false;
    for (const [node, r] of this.#cloud) {
      const o = other.#cloud.get(node);
      if (o === undefined || !sameRanges(r, o)) return false;
    }
    return true;
  }

  toState(): CausalContextState {
    const vector: SlotState[] = [];
    for (const [node, value] of this.#vector) vector.push({ node, value });
    vector.sort((a, b) => compareStrings(a.node, b.node));
    const nodes = [...this.#cloud.keys()].sort(compareStrings);
    const cloud: DotState[] = [];
    for (const node of nodes) {
      const r = this.#cloud.get(node)!;
      for (let i = 0; i < r.length; i += 2) for (let c = r[i]!; c <= r[i + 1]!; c++) cloud.push({ node, counter: c });
    }
    return { vector, cloud };
  }
}

// ================================================================== dot sets

/** Dots of one entry, sorted by (node, counter). Small (usually one dot). */
export type DotList = readonly Dot[];

/**
 * The join of one entry's dot sets (Almeida et al., causal dot store DotSet):
 * (d ∩ d') ∪ (d \ c') ∪ (d' \ c). The result is sorted when both inputs are.
 */
export function joinDots(d: DotList, c: CausalContext, d2: DotList, c2: CausalContext): Dot[] {
  const out: Dot[] = [];
  let i = 0;
  let j = 0;
  while (i < d.length || j < d2.length) {
    const x = d[i];
    const y = d2[j];
    const cmp = x === undefined ? 1 : y === undefined ? -1 : compareDots(x, y);
    if (cmp === 0) {
      out.push(x!);
      i++;
      j++;
    } else if (cmp < 0) {
      if (!c2.contains(x!)) out.push(x!);
      i++;
    } else {
      if (!c.contains(y!)) out.push(y!);
      j++;
    }
  }
  return out;
}

export function sameDots(a: DotList, b: DotList): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.node !== b[i]!.node || a[i]!.counter !== b[i]!.counter) return false;
  return true;
}

// ================================================================== persistent map

/*
 * A hash array mapped trie keyed by strings. Branches have 32 slots indexed by 5 bits of the
 * key's hash; leaves hold up to LEAF_MAX entries in small parallel arrays and split into a branch
 * when they grow past it (below 32 bits of hash leaves never split: they are collision buckets).
 * A persistent update copies the path from the root (≤ 7 arrays of ≤ 32 slots). A transient
 * (`PMap.build` / `mutate`) owns the nodes it copied and updates them in place, so a batch of n
 * updates costs O(n) node copies at most, not O(n log n).
 */

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
    if (this.#owner === null) throw new Error("TransientMap used after its batch ended");
    return this.#owner;
  }
}
