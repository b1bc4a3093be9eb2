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
 */
import { DecodeError, PrecisionError } from "../errors.js";
import type { CausalContextState, DotState, SlotState } from "./types.js";
import { checkNode, describe } from "./validate.js";
import { adoptionsAmong, coveredAmong, mayBeFoldId, NO_ADOPTIONS, type Adoptions } from "./writer-ids.js";

/** One event: the `counter`-th write of `node` (counter ≥ 1). */
export type Dot = Readonly<DotState>;

// ================================================================== dots

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

/** `dot` with its id renamed when `adoptions` renames it (writer-ids.ts): same counter. */
export function renameDot(dot: Dot, adoptions: Adoptions): Dot {
  const to = adoptions.get(dot.node);
  return to === undefined ? dot : makeDot(to, dot.counter);
}

/** `dots` renamed by `adoptions`, sorted, without duplicates; `dots` itself when none is renamed. */
export function renameDots(dots: DotList, adoptions: Adoptions): DotList {
  if (!dots.some((d) => adoptions.has(d.node))) return dots;
  const out: Dot[] = [];
  for (const d of dots.map((d) => renameDot(d, adoptions)).sort(compareDots)) {
    const last = out[out.length - 1];
    if (last === undefined || compareDots(last, d) !== 0) out.push(d);
  }
  return out;
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
const NO_WRITERS: ReadonlySet<string> = new Set();
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

  /** Whether any dot of `node` is in this context. */
  mentions(node: string): boolean {
    return this.#vector.has(node) || this.#cloud.has(node);
  }

  /** The ids a fold id in this context covers (see writer-ids.ts): almost always none. */
  coveredWriters(): ReadonlySet<string> {
    return this.hasFoldId() ? coveredAmong(this.nodes) : NO_WRITERS;
  }

  /** The ids whose dots a fold id in this context adopts, with that fold id (see writer-ids.ts): almost always none. */
  adoptions(): Adoptions {
    return this.hasFoldId() ? adoptionsAmong(this.nodes) : NO_ADOPTIONS;
  }

  /** Whether any id is a fold id (cheap: the usual answer is no). */
  hasFoldId(): boolean {
    for (const node of this.#vector.keys()) if (mayBeFoldId(node)) return true;
    for (const node of this.#cloud.keys()) if (mayBeFoldId(node)) return true;
    return false;
  }

  /** This context with the dots of each id in `adoptions` renamed to its fold id (same counters). */
  renamed(adoptions: Adoptions): CausalContext {
    if (adoptions.size === 0 || !this.nodes.some((node) => adoptions.has(node))) return this;
    const vector = new Map(this.#vector);
    const cloud = new Map(this.#cloud);
    for (const [from, to] of adoptions) {
      const v = vector.get(from) ?? 0;
      const r = cloud.get(from) ?? NO_RANGES;
      vector.delete(from);
      cloud.delete(from);
      if (v === 0 && r.length === 0) continue;
      // Into `to`'s runs: [1, v] and `from`'s cloud, then refolded into the vector by build.
      let runs = rangesUnion(cloud.get(to) ?? NO_RANGES, r);
      if (v > 0) runs = rangesUnion(runs, [1, v]);
      cloud.set(to, runs);
    }
    return CausalContext.build(vector, cloud);
  }

  /** This context without any dot of `writers`. */
  without(writers: ReadonlySet<string>): CausalContext {
    const vector = new Map([...this.#vector].filter(([node]) => !writers.has(node)));
    const cloud = new Map([...this.#cloud].filter(([node]) => !writers.has(node)));
    if (vector.size === this.#vector.size && cloud.size === this.#cloud.size) return this;
    return CausalContext.build(vector, cloud);
  }

  /** The writer ids this context mentions. */
  get nodes(): string[] {
    const out = new Set(this.#vector.keys());
    for (const node of this.#cloud.keys()) out.add(node);
    return [...out];
  }

  /**
   * @internal Each writer id with its vector entry (0 when none) and cloud runs ([lo0, hi0, …]),
   * in no particular order: the compact form, O(writers + runs) however many dots it covers.
   */
  forEachWriter(fn: (node: string, vector: number, runs: readonly number[]) => void): void {
    for (const [node, v] of this.#vector) fn(node, v, this.#cloud.get(node) ?? NO_RANGES);
    for (const [node, r] of this.#cloud) if (!this.#vector.has(node)) fn(node, 0, r);
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
