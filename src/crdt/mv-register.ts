/**
 * MVRegister: a multi-value register (Almeida et al., a causal dot store DotFun⟨dot ↦ value⟩ plus
 * a causal context).
 *
 * - `set(node, v)` mints a new dot d. The value keeps only (d, v); its delta holds {(d, v)} and the
 *   context {d} ∪ every dot the register held (the set supersedes what it observed).
 * - Join: keep the entries both sides hold, plus the entries one side holds whose dot the other
 *   side's context has not seen. Concurrent sets therefore both survive; a later set that observed
 *   them replaces both.
 * - `values`: the distinct values of the surviving entries, sorted by canonical encoding.
 *
 * A register holds few entries (one per concurrent writer), so they live in a small sorted array.
 */
import { DecodeError } from "../errors.js";
import { CausalContext, compareDots, decodeDot, renameDot, type Dot } from "./causal.js";
import type { DataTypeDescriptor, JsonCapability } from "./descriptor.js";
import { canonical, compareCanonical, decodeCanonical, isCanonical } from "./element.js";
import { freezeElement } from "./orset.js";
import type { Crdt, Element, MVRegisterState } from "./types.js";
import { checkNode, describe } from "./validate.js";
import { absorbedAmong, adoptionsAmong, adoptionsBy, foldIdOf, markersBefore, retiredBy, type Adoptions } from "./writer-ids.js";

interface Entry {
  readonly dot: Dot;
  readonly value: string; // canonical encoding
}

type Entries = readonly Entry[]; // sorted by dot, unique dots

export class MVRegister<T extends Element = Element> implements Crdt<MVRegister<T>> {
  readonly kind = "mvRegister" as const;
  readonly #entries: Entries;
  readonly #context: CausalContext;
  readonly #delta: MVRegister<T> | undefined;
  readonly #origin: MVRegister<T> | undefined; // the delta-free value the mutators that made #delta started from
  #values: readonly T[] | undefined; // cache

  static readonly #EMPTY = new MVRegister<Element>([], CausalContext.empty(), undefined);

  private constructor(entries: Entries, context: CausalContext, delta: MVRegister<T> | undefined, origin?: MVRegister<T>) {
    this.#entries = entries;
    this.#context = context;
    this.#delta = delta;
    this.#origin = origin;
  }

  static empty<T extends Element = Element>(): MVRegister<T> {
    return MVRegister.#EMPTY as MVRegister<T>;
  }

  /** Validates and decodes a plain state: entries sorted by dot, unique, covered by the context, canonical values. */
  static fromState<T extends Element = Element>(state: MVRegisterState): MVRegister<T> {
    const what = "MVRegisterState";
    if (typeof state !== "object" || state === null) throw new DecodeError(`${what} must be an object`);
    const { entries: rawEntries, context: rawContext } = state as { entries?: unknown; context?: unknown };
    if (!Array.isArray(rawEntries)) throw new DecodeError(`${what}.entries must be an array`);
    const context = CausalContext.fromState(rawContext as never, `${what}.context`);
    const entries: Entry[] = [];
    for (const raw of rawEntries as unknown[]) {
      if (typeof raw !== "object" || raw === null) throw new DecodeError(`${what}: an entry must be an object`);
      const { dot: rawDot, value } = raw as { dot?: unknown; value?: unknown };
      const dot = decodeDot(rawDot, what);
      const prev = entries[entries.length - 1];
      if (prev !== undefined && compareDots(prev.dot, dot) >= 0) {
        throw new DecodeError(`${what}: entries must be sorted by dot without duplicates`);
      }
      if (!context.contains(dot)) {
        throw new DecodeError(`${what}: dot (${JSON.stringify(dot.node)}, ${dot.counter}) is not covered by the context`);
      }
      if (typeof value !== "string" || !isCanonical(value)) {
        throw new DecodeError(`${what}: entry value ${describe(value)} is not a canonical encoding`);
      }
      entries.push(Object.freeze({ dot, value }));
    }
    if (entries.length === 0 && context.isEmpty) return MVRegister.#EMPTY as MVRegister<T>;
    return new MVRegister<T>(Object.freeze(entries), context, undefined).normalized();
  }

  /** Writes `value` as `node`, replacing every value this register has seen. */
  set(node: string, value: T): MVRegister<T> {
    checkNode(node);
    const encoded = canonical(value); // InvalidArgumentError for unsupported values
    const dot = this.#context.next(node);
    const entries: Entries = Object.freeze([Object.freeze({ dot, value: encoded })]);
    const covered = this.#entries.map((e) => e.dot);
    covered.push(dot);
    const piece = new MVRegister<T>(entries, CausalContext.of(covered), undefined);
    const delta = this.#delta === undefined ? piece : this.#delta.merge(piece);
    return new MVRegister<T>(entries, this.#context.add(dot), delta, this.#delta === undefined ? this : this.#origin);
  }

  /**
   * The concurrent values (distinct, sorted by canonical encoding; empty for the empty register).
   * Frozen, decoded copies: changing one never changes the register.
   */
  get values(): readonly T[] {
    if (this.#values === undefined) {
      const distinct = [...new Set(this.#entries.map((e) => e.value))].sort(compareCanonical);
      this.#values = Object.freeze(distinct.map((s) => freezeElement(decodeCanonical(s)) as T));
    }
    return this.#values;
  }

  /** @internal this register with (node, 1..counter) in its context, entries unchanged (see `DotsCapability`). */
  withSeen(node: string, counter: number): MVRegister<T> {
    if (counter <= this.#context.vectorEntry(node)) return this;
    const context = this.#context.merge(CausalContext.fromState({ vector: [{ node, value: counter }], cloud: [] }));
    return new MVRegister<T>(this.#entries, context, this.#delta);
  }

  /** The causal context (every dot this register has seen). */
  get context(): CausalContext {
    return this.#context;
  }

  get delta(): MVRegister<T> | undefined {
    return this.#delta;
  }

  resetDelta(): MVRegister<T> {
    return this.#delta === undefined ? this : new MVRegister<T>(this.#entries, this.#context, undefined);
  }

  derivesFrom(base: MVRegister<T>): boolean {
    return this === base || (this.#delta !== undefined && this.#origin === base);
  }

  /** The join. Keeps this value's pending delta; returns `this` exactly when `other` adds nothing. */
  merge(other: MVRegister<T>): MVRegister<T> {
    if (other === this || (other.#entries.length === 0 && other.#context.isEmpty)) return this;
    // A fold id on one side renames the dots of the writer id it adopts on both, before the join.
    if (this.#context.hasFoldId() || other.#context.hasFoldId()) {
      const adoptions = adoptionsAmong([...this.#context.nodes, ...other.#context.nodes]);
      const renamedThis = this.renamed(adoptions);
      const renamedOther = other.renamed(adoptions);
      if (renamedThis !== this || renamedOther !== other) return renamedThis.merge(renamedOther);
    }
    const a = this.#entries;
    const b = other.#entries;
    const ca = this.#context;
    const cb = other.#context;
    const out: Entry[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      const x = a[i];
      const y = b[j];
      const cmp = x === undefined ? 1 : y === undefined ? -1 : compareDots(x.dot, y.dot);
      if (cmp === 0) {
        // One dot names one write; should two states disagree on its value (forged input), keep
        // the lower encoding so that the join stays commutative.
        out.push(compareCanonical(x!.value, y!.value) <= 0 ? x! : y!);
        i++;
        j++;
      } else if (cmp < 0) {
        if (!cb.contains(x!.dot)) out.push(x!);
        i++;
      } else {
        if (!ca.contains(y!.dot)) out.push(y!);
        j++;
      }
    }
    const context = ca.merge(cb);
    if (context === ca && sameEntries(out, a)) return this;
    // A fold id on one side drops the dots it covers on the other (a late write of a retired writer).
    const merged = new MVRegister<T>(Object.freeze(out), context, this.#delta);
    const clean = merged.dropCovered();
    return clean !== merged && clean.equals(this) ? this : clean;
  }

  /**
   * Folds the ids `writerId` retires (older ids of its node, see writer-ids.ts): a value written
   * under one is re-issued under the node's fold id (concurrent with the others, as it was), and
   * the fold id enters the context in any case. Returns `this` when there is nothing to fold.
   */
  foldRetired(writerId: string): MVRegister<T> {
    const fold = foldIdOf(writerId);
    if (fold === undefined) return this;
    const self = this.renamed(adoptionsBy(writerId, this.#context.nodes));
    const retired = new Set(self.#context.nodes.filter((node) => retiredBy(writerId, node)));
    if (retired.size === 0 && self === this) return this;
    return self.reissued(retired, fold, this);
  }

  /**
   * Absorbs the ids of a removed node that `marker` covers (writer-ids.ts `markerFor`): a value
   * written under one is re-issued under the marker (concurrent with the others, as it was; a
   * comeback tells it from the node's own, as a fold id's), and the marker enters the context in
   * any case. The marker stays while a value holds its dot (`withoutMarkersBefore`). `this` when none is recorded.
   */
  absorbRemoved(marker: string): MVRegister<T> {
    const retired = absorbedAmong(this.#context.nodes, marker);
    return retired.size === 0 ? this : this.reissued(retired, marker, this);
  }

  /**
   * This register without the markers made before `cutoffMs` (expired) whose dot no value holds,
   * here or in `alongside` (the value this one is about to merge into: see ORSet.withoutMarkersBefore);
   * `this` when none.
   */
  withoutMarkersBefore(cutoffMs: number, alongside?: MVRegister<T>): MVRegister<T> {
    if (!this.#context.hasFoldId()) return this;
    const expired = markersBefore(this.#context.nodes, cutoffMs);
    for (const e of [...this.#entries, ...(alongside === undefined ? [] : alongside.#entries)]) expired.delete(e.dot.node);
    return expired.size === 0 ? this : new MVRegister<T>(this.#entries, this.#context.without(expired), this.#delta, this.#origin);
  }

  /**
   * This register without the context entries of `retired`, its values written under them
   * re-issued under `as`, which enters the context with a dot of its own when nothing was
   * re-issued. `from`: the value the change derives from.
   */
  private reissued(retired: ReadonlySet<string>, as: string, from: MVRegister<T>): MVRegister<T> {
    let context = this.#context.without(retired);
    const kept: Entry[] = [];
    const reissued: Entry[] = [];
    for (const e of this.#entries) {
      if (!retired.has(e.dot.node)) kept.push(e);
      else {
        const dot = context.next(as);
        context = context.add(dot);
        reissued.push(Object.freeze({ dot, value: e.value }));
      }
    }
    const marker = reissued.length === 0 ? context.next(as) : undefined;
    if (marker !== undefined) context = context.add(marker);
    const entries = Object.freeze([...kept, ...reissued].sort((x, y) => compareDots(x.dot, y.dot)));
    const piece = new MVRegister<T>(Object.freeze(reissued), CausalContext.of(marker !== undefined ? [marker] : reissued.map((e) => e.dot)), undefined);
    return new MVRegister<T>(entries, context, this.#delta === undefined ? piece : this.#delta.merge(piece), from.#delta === undefined ? from : from.#origin);
  }

  /** The writer ids this register's context records (Akka's `modifiedByNodes`). */
  get writers(): string[] {
    return this.#context.nodes;
  }

  /** This register with the dots renamed that a fold id in its context adopts, then without the ids it covers. */
  private normalized(): MVRegister<T> {
    return this.renamed(this.#context.adoptions()).dropCovered();
  }

  /** This register with the dots of each id in `adoptions` renamed to its fold id (writer-ids.ts); `this` when none. */
  private renamed(adoptions: Adoptions): MVRegister<T> {
    const context = this.#context.renamed(adoptions);
    if (context === this.#context) return this;
    const entries: Entry[] = [];
    for (const e of this.#entries.map((e) => Object.freeze({ dot: renameDot(e.dot, adoptions), value: e.value })).sort((x, y) => compareDots(x.dot, y.dot))) {
      const last = entries[entries.length - 1];
      if (last === undefined || compareDots(last.dot, e.dot) !== 0) entries.push(e);
    }
    return new MVRegister<T>(Object.freeze(entries), context, this.#delta);
  }

  /** This register without the dots a fold id in its context covers; `this` when none. */
  private dropCovered(): MVRegister<T> {
    const covered = this.#context.coveredWriters();
    if (covered.size === 0) return this;
    const entries = Object.freeze(this.#entries.filter((e) => !covered.has(e.dot.node)));
    return new MVRegister<T>(entries, this.#context.without(covered), this.#delta);
  }

  equals(other: MVRegister<T>): boolean {
    if (this === other) return true;
    return sameEntries(this.#entries, other.#entries) && this.#context.equals(other.#context);
  }

  /** Folds the context's dot cloud into its vector (contexts are kept compact: normally `this`). */
  compact(): MVRegister<T> {
    const context = this.#context.compact();
    return context === this.#context ? this : new MVRegister<T>(this.#entries, context, this.#delta, this.#origin);
  }

  toState(): MVRegisterState {
    return {
      entries: this.#entries.map((e) => ({ dot: { node: e.dot.node, counter: e.dot.counter }, value: e.value })),
      context: this.#context.toState(),
    };
  }
}

function sameEntries(a: Entries, b: Entries): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.value !== y.value || x.dot.node !== y.dot.node || x.dot.counter !== y.dot.counter) return false;
  }
  return true;
}

const mvRegisterJson: JsonCapability<MVRegister> = {
  view: (r, json) => ({ value: r.values.map(json.element) }),
  ops: {
    set: (args) => {
      const x = args.element();
      return (r, node) => r.set(node, x);
    },
  },
};

// Its entry in the open registry of kinds (see StateByKind in types.ts).
declare module "./types.js" {
  interface StateByKind {
    mvRegister: MVRegisterState;
  }
}

/** The MVRegister data type (see descriptor.ts). */
export const mvRegisterType: DataTypeDescriptor<MVRegister, MVRegisterState> = {
  kind: "mvRegister",
  name: "MVRegister",
  wireTag: 6,
  stateMessage: "MVRegisterState",
  empty: () => MVRegister.empty(),
  fromState: (state) => MVRegister.fromState(state),
  json: mvRegisterJson,
  dots: {
    maxCounter: (register, node) => register.context.next(node).counter - 1,
    above: (register, node, counter) => register.withSeen(node, counter),
  },
  pruning: {
    writers: (v) => v.writers,
    foldRetired: (v, writerId) => v.foldRetired(writerId),
    absorbRemoved: (v, marker) => v.absorbRemoved(marker),
    withoutMarkersBefore: (v, cutoffMs, alongside) => v.withoutMarkersBefore(cutoffMs, alongside),
    holds: (v, id) => v.context.mentions(id),
  },
};
