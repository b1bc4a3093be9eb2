/**
 * ORSet: an add-wins observed-remove set (the "AWORSet" of Almeida et al., "Delta State Replicated
 * Data Types", a causal dot store DotMap⟨E, DotSet⟩ plus a causal context).
 *
 * - `add(node, x)` mints a new dot d for x. Its delta holds {x ↦ {d}} and the context {d} ∪ x's
 *   current dots: the add supersedes (removes) the dots it observed, so x keeps one dot per add.
 * - `remove(x)` drops x's dots; its delta has no entries and the context x's dots. Removing an
 *   absent element is a no-op (no delta).
 * - Join: an element keeps the dots both sides hold, plus the dots one side holds that the other
 *   side's context has not seen (an add concurrent with a remove survives: add wins). The context
 *   is the union, kept compact.
 *
 * A delta's context holds only the dots the delta covers, never the producer's whole vector, so
 * deltas may arrive in any order, twice, or never (anti-entropy ships the state later).
 *
 * Representation: element (canonical encoding) → sorted dots in a persistent map, plus an index
 * dot → element, so a mutation costs O(log n) and merging a delta of k dots into a state of n
 * elements costs O(k log n) instead of O(n). Sorting happens only in `elements` (cached per
 * value) and `toState()`.
 */
import { DecodeError } from "../errors.js";
import {
  CausalContext,
  compareStrings,
  decodeDots,
  dotKey,
  joinDots,
  renameDots,
  sameDots,
  type Dot,
  type DotList,
} from "./causal.js";
import type { DataTypeDescriptor, JsonCapability } from "./descriptor.js";
import { canonical, decodeCanonical, isCanonical } from "./element.js";
import { PMap, sameMaps } from "./pmap.js";
import type { Crdt, DotState, Element, ORSetState } from "./types.js";
import { checkNode, describe } from "./validate.js";
import { absorbedAmong, adoptionsAmong, adoptionsBy, foldIdOf, markersBefore, retiredBy, type Adoptions } from "./writer-ids.js";

type Entries = PMap<DotList>;
type Index = PMap<string>;

export class ORSet<T extends Element = Element> implements Crdt<ORSet<T>> {
  readonly kind = "orset" as const;
  readonly #entries: Entries; // canonical → its dots, sorted; never an empty list
  readonly #index: Index; // dotKey → canonical, for every dot of #entries
  readonly #context: CausalContext;
  readonly #delta: ORSet<T> | undefined;
  readonly #origin: ORSet<T> | undefined; // the delta-free value the mutators that made #delta started from
  #sorted: readonly string[] | undefined; // cache: canonical encodings, sorted
  #elements: readonly T[] | undefined; // cache: decoded, in the same order

  private constructor(entries: Entries, index: Index, context: CausalContext, delta: ORSet<T> | undefined, origin?: ORSet<T>) {
    this.#entries = entries;
    this.#index = index;
    this.#context = context;
    this.#delta = delta;
    this.#origin = origin;
  }

  static readonly #EMPTY = new ORSet<Element>(PMap.empty(), PMap.empty(), CausalContext.empty(), undefined);

  static empty<T extends Element = Element>(): ORSet<T> {
    return ORSet.#EMPTY as ORSet<T>;
  }

  /**
   * Validates and decodes a plain state: entries sorted by element without duplicates, canonical
   * elements, each with a non-empty sorted dot list; every dot unique and covered by the context.
   */
  static fromState<T extends Element = Element>(state: ORSetState, what = "ORSetState"): ORSet<T> {
    if (typeof state !== "object" || state === null) throw new DecodeError(`${what} must be an object`);
    const { entries: rawEntries, context: rawContext } = state as { entries?: unknown; context?: unknown };
    if (!Array.isArray(rawEntries)) throw new DecodeError(`${what}.entries must be an array`);
    const context = CausalContext.fromState(rawContext as never, `${what}.context`);
    let previous: string | undefined;
    const seen = new Set<string>();
    const decoded: [string, Dot[]][] = [];
    for (const raw of rawEntries as unknown[]) {
      if (typeof raw !== "object" || raw === null) throw new DecodeError(`${what}: an entry must be an object`);
      const { element, dots: rawDots } = raw as { element?: unknown; dots?: unknown };
      if (typeof element !== "string" || !isCanonical(element)) {
        throw new DecodeError(`${what}: entry element ${describe(element)} is not a canonical encoding`);
      }
      if (previous !== undefined && !(previous < element)) {
        throw new DecodeError(`${what}: entries must be sorted by element without duplicates`);
      }
      previous = element;
      const dots = decodeDots(rawDots, `${what} entry ${describe(element)}`);
      for (const dot of dots) {
        if (!context.contains(dot)) {
          throw new DecodeError(`${what}: dot (${JSON.stringify(dot.node)}, ${dot.counter}) is not covered by the context`);
        }
        const k = dotKey(dot);
        if (seen.has(k)) throw new DecodeError(`${what}: dot (${JSON.stringify(dot.node)}, ${dot.counter}) belongs to two elements`);
        seen.add(k);
      }
      decoded.push([element, dots]);
    }
    if (decoded.length === 0 && context.isEmpty) return ORSet.#EMPTY as ORSet<T>;
    const entries = PMap.build<DotList>((m) => {
      for (const [element, dots] of decoded) m.set(element, dots);
    });
    const index = PMap.build<string>((m) => {
      for (const [element, dots] of decoded) for (const dot of dots) m.set(dotKey(dot), element);
    });
    return new ORSet<T>(entries, index, context, undefined).normalized();
  }

  // ---------------------------------------------------------------- mutators

  /** Adds `x` as `node` (a new dot that supersedes the dots of `x` this value has seen). */
  add(node: string, x: T): ORSet<T> {
    checkNode(node);
    return this.addCanonical(node, canonical(x));
  }

  /** Removes `x` (the dots this value has seen). A no-op, without delta, when `x` is absent. */
  remove(x: T): ORSet<T> {
    return this.removeCanonical(canonical(x));
  }

  /** @internal `add` of an already encoded element (node already checked). */
  addCanonical(node: string, element: string): ORSet<T> {
    const dot = this.#context.next(node);
    const old = this.#entries.get(element);
    const dots: DotList = [dot];
    const entries = this.#entries.set(element, dots);
    const index =
      old === undefined
        ? this.#index.set(dotKey(dot), element)
        : this.#index.mutate((m) => {
            for (const d of old) m.delete(dotKey(d));
            m.set(dotKey(dot), element);
          });
    const piece = new ORSet<T>(
      PMap.empty<DotList>().set(element, dots),
      PMap.empty<string>().set(dotKey(dot), element),
      CausalContext.of(old === undefined ? [dot] : [dot, ...old]),
      undefined,
    );
    const delta = this.#delta === undefined ? piece : this.#delta.merge(piece);
    return new ORSet<T>(entries, index, this.#context.add(dot), delta, this.#delta === undefined ? this : this.#origin);
  }

  /** @internal this set with (node, 1..counter) in its context, entries unchanged (see `DotsCapability`). */
  withSeen(node: string, counter: number): ORSet<T> {
    if (counter <= this.#context.vectorEntry(node)) return this;
    const context = this.#context.merge(CausalContext.fromState({ vector: [{ node, value: counter }], cloud: [] }));
    return new ORSet<T>(this.#entries, this.#index, context, this.#delta);
  }

  /** @internal `remove` of an already encoded element. */
  removeCanonical(element: string): ORSet<T> {
    const old = this.#entries.get(element);
    if (old === undefined) return this;
    const index =
      old.length === 1
        ? this.#index.delete(dotKey(old[0]!))
        : this.#index.mutate((m) => {
            for (const d of old) m.delete(dotKey(d));
          });
    const piece = new ORSet<T>(PMap.empty(), PMap.empty(), CausalContext.of(old), undefined);
    return new ORSet<T>(
      this.#entries.delete(element),
      index,
      this.#context,
      this.#delta === undefined ? piece : this.#delta.merge(piece),
      this.#delta === undefined ? this : this.#origin,
    );
  }

  // ---------------------------------------------------------------- reading

  has(x: T): boolean {
    return this.#entries.has(canonical(x));
  }

  /** @internal `has` of an already encoded element. */
  hasCanonical(element: string): boolean {
    return this.#entries.has(element);
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The elements, sorted by canonical encoding (frozen; computed once per value). Elements are
   * decoded copies: changing one never changes the set.
   */
  get elements(): readonly T[] {
    if (this.#elements === undefined) {
      const sorted = this.sortedCanonicals();
      this.#elements = Object.freeze(sorted.map((s) => freezeElement(decodeCanonical(s)) as T));
    }
    return this.#elements;
  }

  /** @internal the canonical encodings of the elements, sorted (cached). */
  sortedCanonicals(): readonly string[] {
    if (this.#sorted === undefined) this.#sorted = Object.freeze(this.#entries.keys().sort(compareStrings));
    return this.#sorted;
  }

  /** @internal the canonical encodings of the elements, in no particular order. */
  unsortedCanonicals(): string[] {
    return this.#entries.keys();
  }

  /** @internal the element holding `dot`, if any. */
  elementOfDot(dot: Dot): string | undefined {
    return this.#index.get(dotKey(dot));
  }

  /** @internal the dots of an element (undefined when absent). */
  dotsOf(element: string): DotList | undefined {
    return this.#entries.get(element);
  }

  /** @internal element (canonical) → its dots, as stored (content hashes diff two versions of it). */
  get dotMap(): PMap<DotList> {
    return this.#entries;
  }

  /** The causal context (every dot this value has seen). */
  get context(): CausalContext {
    return this.#context;
  }

  // ---------------------------------------------------------------- the contract

  get delta(): ORSet<T> | undefined {
    return this.#delta;
  }

  resetDelta(): ORSet<T> {
    return this.#delta === undefined ? this : new ORSet<T>(this.#entries, this.#index, this.#context, undefined);
  }

  derivesFrom(base: ORSet<T>): boolean {
    return this === base || (this.#delta !== undefined && this.#origin === base);
  }

  /**
   * The join. Keeps this value's pending delta; returns `this` exactly when `other` adds nothing.
   *
   * Cost: only the elements that can change are visited — those `other` holds plus those whose
   * dots `other`'s context covers (found through the dot index) — when that is cheaper than
   * visiting every element of both sides; merging a delta into a large state is O(delta).
   */
  merge(other: ORSet<T>): ORSet<T> {
    if (other === this || (other.#entries.size === 0 && other.#context.isEmpty)) return this;
    // A fold id on one side renames the dots of the writer id it adopts on both, before the join.
    if (this.#context.hasFoldId() || other.#context.hasFoldId()) {
      const adoptions = adoptionsAmong([...this.#context.nodes, ...other.#context.nodes]);
      const a = this.renamed(adoptions);
      const b = other.renamed(adoptions);
      if (a !== this || b !== other) return a.merge(b);
    }
    const a: ORSet<T> = this;
    const b: ORSet<T> = other;
    const full = a.#entries.size + b.#entries.size;
    const intoA = b.#entries.size + b.#context.dotCount;
    const intoB = a.#entries.size + a.#context.dotCount;
    let base: ORSet<T>;
    let side: ORSet<T>;
    let touched: Iterable<string>;
    if (intoA <= full && intoA <= intoB) {
      [base, side] = [a, b];
      touched = affected(a, b);
    } else if (intoB <= full) {
      [base, side] = [b, a];
      touched = affected(b, a);
    } else {
      [base, side] = a.#entries.size >= b.#entries.size ? [a, b] : [b, a];
      const all = new Set(base.#entries.keys());
      for (const k of side.#entries.keys()) all.add(k);
      touched = all;
    }
    const baseContext = base.#context;
    const sideContext = side.#context;
    let index = base.#index;
    const entries = base.#entries.mutate((m) => {
      index = index.mutate((ix) => {
        for (const element of touched) {
          const d = m.get(element) ?? NO_DOTS;
          const d2 = side.#entries.get(element) ?? NO_DOTS;
          const r = joinDots(d, baseContext, d2, sideContext);
          if (sameDots(r, d)) continue;
          if (r.length === 0) m.delete(element);
          else m.set(element, sameDots(r, d2) ? d2 : r);
          for (const dot of d) if (!r.includes(dot)) ix.delete(dotKey(dot));
          for (const dot of r) if (!d.includes(dot)) ix.set(dotKey(dot), element);
        }
      });
    });
    const context = baseContext.merge(sideContext);
    if (base === this) {
      if (entries.sameAs(this.#entries) && context === this.#context) return this;
    } else if (context.equals(this.#context) && sameMaps(entries, this.#entries, sameDots)) {
      // Built on `other`, but equal to this value: return it, so that `merged === this` reliably
      // tells a caller that nothing changed. (O(this value), within this path's cost.)
      return this;
    }
    // A fold id on one side drops the dots it covers on the other (a late dot of a retired writer).
    const merged = new ORSet<T>(entries, index, context, this.#delta);
    const clean = merged.dropCovered();
    return clean !== merged && clean.equals(this) ? this : clean;
  }

  /**
   * Folds the ids `writerId` retires (older ids of its node, see writer-ids.ts): their dots and
   * context entries go, and an element that held only such dots is re-added under the node's fold
   * id. The fold id enters the context in any case (a dot of its own when nothing is re-added), so
   * wherever the delta arrives the retired ids go too. Returns `this` when there is nothing to fold.
   */
  foldRetired(writerId: string): ORSet<T> {
    const fold = foldIdOf(writerId);
    if (fold === undefined) return this;
    const self = this.renamed(adoptionsBy(writerId, this.#context.nodes));
    const retired = new Set(self.#context.nodes.filter((node) => retiredBy(writerId, node)));
    if (retired.size === 0 && self === this) return this;
    return self.reissued(retired, fold, this);
  }

  /**
   * Absorbs the ids of a removed node that `marker` covers (writer-ids.ts `markerFor`): their dots
   * and context entries go, an element that held only such dots is re-added under the marker (a
   * comeback of the node then tells them from its own, as from a fold id's), and the marker enters
   * the context in any case, so wherever the delta arrives the absorbed ids go. The marker stays
   * while an element holds one of its dots (`withoutMarkersBefore`). `this` when none is recorded.
   */
  absorbRemoved(marker: string): ORSet<T> {
    const retired = absorbedAmong(this.#context.nodes, marker);
    return retired.size === 0 ? this : this.reissued(retired, marker, this);
  }

  /**
   * This value without the markers made before `cutoffMs` (expired) that no element holds a dot of,
   * here or in `alongside` (the value this one is about to merge into: a marker entry of a remove's
   * delta must stay while the receiver holds an element under it); `this` when none.
   */
  withoutMarkersBefore(cutoffMs: number, alongside?: ORSet<T>): ORSet<T> {
    if (!this.#context.hasFoldId()) return this;
    const expired = markersBefore(this.#context.nodes, cutoffMs);
    if (expired.size === 0) return this;
    for (const v of alongside === undefined ? [this] : [this, alongside]) {
      v.#entries.forEach((dots) => {
        for (const d of dots) expired.delete(d.node);
      });
    }
    return expired.size === 0 ? this : new ORSet<T>(this.#entries, this.#index, this.#context.without(expired), this.#delta, this.#origin);
  }

  /**
   * This value without the dots and context entries of `retired`, its elements that held only such
   * dots re-added under `as`, which enters the context with a dot of its own when nothing was
   * re-added. `from`: the value the change derives from.
   */
  private reissued(retired: ReadonlySet<string>, as: string, from: ORSet<T>): ORSet<T> {
    const orphans: string[] = [];
    this.#entries.forEach((dots, element) => {
      if (dots.every((d) => retired.has(d.node))) orphans.push(element);
    });
    let out = this.without(retired);
    for (const element of orphans) out = out.addCanonical(as, element);
    const origin = from.#delta === undefined ? from : from.#origin;
    if (orphans.length > 0) return new ORSet<T>(out.#entries, out.#index, out.#context, out.#delta, origin);
    const dot = out.#context.next(as);
    const piece = new ORSet<T>(PMap.empty(), PMap.empty(), CausalContext.of([dot]), undefined);
    return new ORSet<T>(out.#entries, out.#index, out.#context.add(dot), out.#delta === undefined ? piece : out.#delta.merge(piece), origin);
  }

  /** The writer ids this value's context records (Akka's `modifiedByNodes`). */
  get writers(): string[] {
    return this.#context.nodes;
  }

  /** This value with the dots renamed that a fold id in its context adopts, then without the ids it covers. */
  private normalized(): ORSet<T> {
    return this.renamed(this.#context.adoptions()).dropCovered();
  }

  /**
   * This value with the dots of each id in `adoptions` renamed to its fold id (writer-ids.ts):
   * entries, index and context; the pending delta is kept as it is (a receiver renames it). `this` when none.
   */
  private renamed(adoptions: Adoptions): ORSet<T> {
    const context = this.#context.renamed(adoptions);
    if (context === this.#context) return this;
    let index = this.#index;
    const entries = this.#entries.mutate((m) => {
      index = index.mutate((ix) => {
        this.#entries.forEach((dots, element) => {
          const next = renameDots(dots, adoptions);
          if (next === dots) return;
          for (const d of dots) ix.delete(dotKey(d));
          // A renamed dot another element already holds (only in a malformed state) stays with that element.
          const kept = next.filter((d) => (ix.get(dotKey(d)) ?? element) === element);
          for (const d of kept) ix.set(dotKey(d), element);
          if (kept.length === 0) m.delete(element);
          else m.set(element, kept);
        });
      });
    });
    return new ORSet<T>(entries, index, context, this.#delta);
  }

  /** This value without the ids a fold id in its context covers; `this` when none. */
  private dropCovered(): ORSet<T> {
    const covered = this.#context.coveredWriters();
    return covered.size === 0 ? this : this.without(covered);
  }

  /** This value without any dot of `writers` (an element left without dots goes). */
  private without(writers: ReadonlySet<string>): ORSet<T> {
    let index = this.#index;
    const entries = this.#entries.mutate((m) => {
      index = index.mutate((ix) => {
        this.#entries.forEach((dots, element) => {
          if (!dots.some((d) => writers.has(d.node))) return;
          const kept = dots.filter((d) => !writers.has(d.node));
          for (const d of dots) if (writers.has(d.node)) ix.delete(dotKey(d));
          if (kept.length === 0) m.delete(element);
          else m.set(element, kept);
        });
      });
    });
    return new ORSet<T>(entries, index, this.#context.without(writers), this.#delta);
  }

  equals(other: ORSet<T>): boolean {
    if (this === other) return true;
    return this.#context.equals(other.#context) && sameMaps(this.#entries, other.#entries, sameDots);
  }

  /**
   * Folds the context's dot cloud into its vector (nothing observable changes). Contexts are kept
   * compact by every operation, so this normally returns `this`; the replicator's prune tick calls it.
   */
  compact(): ORSet<T> {
    const context = this.#context.compact();
    return context === this.#context ? this : new ORSet<T>(this.#entries, this.#index, context, this.#delta, this.#origin);
  }

  toState(): ORSetState {
    const entries: { element: string; dots: DotState[] }[] = [];
    for (const element of this.sortedCanonicals()) {
      const dots = this.#entries.get(element)!;
      entries.push({ element, dots: dots.map((d) => ({ node: d.node, counter: d.counter })) });
    }
    return { entries, context: this.#context.toState() };
  }
}

const NO_DOTS: DotList = Object.freeze([]);

/** The elements of `base` that `side` can change: those `side` holds, and those whose dots `side`'s context covers. */
function affected<T extends Element>(base: ORSet<T>, side: ORSet<T>): Set<string> {
  const out = new Set<string>(side.unsortedCanonicals());
  for (const dot of side.context.dots()) {
    const element = base.elementOfDot(dot);
    if (element !== undefined) out.add(element);
  }
  return out;
}

/** Deep-freezes a decoded element (plain objects and arrays; a Uint8Array cannot be frozen). */
export function freezeElement(value: Element): Element {
  if (typeof value === "object" && value !== null && !(value instanceof Uint8Array)) {
    if (Array.isArray(value)) for (const v of value) freezeElement(v);
    else for (const v of Object.values(value)) freezeElement(v);
    Object.freeze(value);
  }
  return value;
}

const orsetJson: JsonCapability<ORSet> = {
  view: (s, json) => ({ value: s.elements.map(json.element) }),
  ops: {
    add: (args) => {
      const x = args.element();
      return (s, node) => s.add(node, x);
    },
    remove: (args) => {
      const x = args.element();
      return (s) => s.remove(x);
    },
  },
};

// Its entry in the open registry of kinds (see StateByKind in types.ts).
declare module "./types.js" {
  interface StateByKind {
    orset: ORSetState;
  }
}

/** The ORSet data type (see descriptor.ts). */
export const orsetType: DataTypeDescriptor<ORSet, ORSetState> = {
  kind: "orset",
  name: "ORSet",
  wireTag: 4,
  stateMessage: "ORSetState",
  empty: () => ORSet.empty(),
  fromState: (state) => ORSet.fromState(state),
  json: orsetJson,
  dots: {
    maxCounter: (set, node) => set.context.next(node).counter - 1,
    above: (set, node, counter) => set.withSeen(node, counter),
  },
  pruning: {
    writers: (v) => v.writers,
    foldRetired: (v, writerId) => v.foldRetired(writerId),
    absorbRemoved: (v, marker) => v.absorbRemoved(marker),
    withoutMarkersBefore: (v, cutoffMs, alongside) => v.withoutMarkersBefore(cutoffMs, alongside),
    holds: (v, id) => v.context.mentions(id),
  },
};
