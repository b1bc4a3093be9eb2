/**
 * ORMap: a map whose values are CRDTs of one kind (`valueKind`), with observed-remove keys and
 * reset-remove values: removing a key drops its value, and re-adding it starts from the empty value.
 *
 * It is a causal dot store (Almeida, Shoker & Baquero, "Delta State Replicated Data Types", 2018):
 * one causal context for the whole map, and under each key one *instance* per writer — a dot
 * (node, n) holding the join of that writer's changes to the key (the "dotted counter" of
 * riak_dt_emcntr, generalised to every value kind). A key is present while it holds an instance;
 * its value is the join of its instances.
 *
 * - `update(node, key, modify)` applies `modify` to the key's value, mints a new dot for `node`'s
 *   instance (superseding `node`'s previous one, whose changes it folds in) and stores the
 *   change's delta there. Its delta is that one instance, with a context of the dots it supersedes.
 * - `remove(node, key)` drops every instance of the key this replica holds (the value goes with
 *   them); its delta is only their dots, as a context.
 * - Join: an instance survives when both sides hold it (their values joined) or when one side
 *   holds it and the other side's context has not seen its dot. A key left without instances is
 *   gone, value and all. The contexts join; they stay compact (a version vector per writer), so
 *   a removed key costs nothing once the remove has been merged.
 *
 * What an update concurrent with a remove keeps: its own writer's instance, i.e. every change that
 * writer made to the key since the remove it last saw (for a counter: that writer's count, as
 * riak_dt's embedded counters); changes of other writers that the remove observed are gone.
 * Keeping every single change in its own dot would make a key grow with its number of writes.
 *
 * The dots a writer mints inside the values (an ORSet's or MVRegister's, a nested map's) are
 * kept above the map's own dots for that writer (`DotsCapability`), and the map's context then
 * covers them, so a key removed and re-added never reuses a nested dot that another instance's
 * context may already cover.
 *
 * Values are stored without their pending deltas; `get` returns them that way. `modify` must
 * inflate the value it is given (use its mutators); what it returns replaces the key's value.
 *
 * Retired writer ids (writer-ids.ts) are folded per key (`foldRetired`): a retired writer's
 * instance is re-issued under its node's fold id, nested values are folded through their type's
 * pruning capability, and wherever a fold id is in the context, instances of the ids it covers go
 * (merge, fromState). A removed node's ids are absorbed the same way (`absorbRemoved`): into the
 * absorbing node's instance, under a marker that enters the context and expires
 * (`withoutMarkersBefore`) once no value holds a dot of it.
 */
import { DecodeError, InvalidArgumentError } from "../errors.js";
import { CausalContext, compareDots, compareStrings, decodeDot, dotKey, renameDot, type Dot } from "./causal.js";
import { canonical, decodeCanonical, isCanonical } from "./element.js";
import { freezeElement, ORSet } from "./orset.js";
import { PMap, sameMaps } from "./pmap.js";
import { holdableByORMap, registeredDataTypes, type DataTypeDescriptor, type DotsCapability, type JsonCapability, type PruningCapability } from "./descriptor.js";
import type { AnyState, Crdt, DataKind, DotState, Element, ORMapState } from "./types.js";
import { checkNode, describe } from "./validate.js";
import { absorbedAmong, absorbedBy, adopterOf, adoptionsAmong, adoptionsBy, coverageOf, foldIdOf, isCovered, markersBefore, retiredBy, supersededMarkers, type Adoptions } from "./writer-ids.js";

/** One writer's part of a key: its dot and the join of its changes (undefined: the empty value). */
interface Instance<V> {
  readonly dot: Dot;
  readonly value: V | undefined;
}
type Instances<V> = readonly Instance<V>[]; // sorted by dot, never empty

const NO_INSTANCES: Instances<never> = Object.freeze([]);

/** What `foldRetired` and `absorbRemoved` do to a map, key by key (`takenOver`). */
interface Takeover<V> {
  /** The ids whose instances and context entries go. */
  readonly gone: ReadonlySet<string>;
  /** Whether a value mentions an id that goes: its key is visited, and the change joins its instance. */
  mentions(value: V): boolean;
  /** The id whose instance takes in the instances that go: the fold id, or the absorbing node's id. */
  readonly into: string;
  /** Whether a key holding only `into`'s instance is re-shipped (a fold: the live id's instances, renamed). */
  readonly reshipsInto: boolean;
  /** A key's joined value with the change made (its delta is the change); undefined when the value type has none. */
  readonly change: { change(value: V): V }["change"] | undefined; // a method's type: compared bivariantly, as ORMap<V> casts need
  /** The ids the change may mint dots under inside a value (kept above the map's own, and covered). */
  readonly minters: readonly string[];
  /** The id (fold id or marker) that enters the context in any case. */
  readonly cover: string;
}

export class ORMap<V extends Crdt<V> = Crdt, K extends Element = Element> implements Crdt<ORMap<V, K>> {
  readonly kind = "orMap" as const;
  /** The data type of the values. */
  readonly valueKind: DataKind;
  readonly #valueType: DataTypeDescriptor<V>;
  readonly #entries: PMap<Instances<V>>; // canonical key → its instances
  readonly #index: PMap<string>; // dotKey → canonical key, for every instance
  readonly #context: CausalContext;
  readonly #delta: ORMap<V, K> | undefined;
  readonly #origin: ORMap<V, K> | undefined; // the delta-free value the mutators that made #delta started from
  #sorted: readonly string[] | undefined; // cache: canonical keys, sorted
  #keys: readonly K[] | undefined; // cache: decoded keys, same order
  #pairs: readonly (readonly [K, V])[] | undefined; // cache

  private constructor(
    valueType: DataTypeDescriptor<V>,
    entries: PMap<Instances<V>>,
    index: PMap<string>,
    context: CausalContext,
    delta: ORMap<V, K> | undefined,
    origin?: ORMap<V, K>,
  ) {
    this.valueKind = valueType.kind;
    this.#valueType = valueType;
    this.#entries = entries;
    this.#index = index;
    this.#context = context;
    this.#delta = delta;
    this.#origin = origin;
  }

  /**
   * The empty map of values of `valueKind`. Any kind but `orMap` itself (a nested ORMap would need
   * the kind of its own values; use `lwwMap` or `pncounterMap` values, or flatten the keys).
   */
  static empty<V extends Crdt<V> = Crdt, K extends Element = Element>(valueKind: DataKind): ORMap<V, K> {
    const valueType = valueTypeOf(valueKind);
    if (valueType === undefined) {
      throw new InvalidArgumentError(
        `valueKind must be one of ${valueKinds().join(", ")} (the data type of the map's values), got ${describe(valueKind)}`,
      );
    }
    return ORMap.of<V, K>(valueType as DataTypeDescriptor<V>);
  }

  /** @internal The empty map of `valueType` values (a type `holdableByORMap` accepts). */
  static of<V extends Crdt<V> = Crdt, K extends Element = Element>(valueType: DataTypeDescriptor<V>): ORMap<V, K> {
    let empty = EMPTIES.get(valueType.kind);
    if (empty === undefined) {
      empty = new ORMap<Crdt, Element>(valueType as DataTypeDescriptor, PMap.empty(), PMap.empty(), CausalContext.empty(), undefined);
      EMPTIES.set(valueType.kind, empty);
    }
    return empty as unknown as ORMap<V, K>;
  }

  /**
   * Validates and decodes a plain state: a supported valueKind, a valid key set (each key's
   * instance dots, the map's context), values sorted by (key, dot) without duplicates, each on
   * one of its key's dots and a valid state of valueKind. Empty values are dropped.
   */
  static fromState<V extends Crdt<V> = Crdt, K extends Element = Element>(state: ORMapState, what = "ORMapState"): ORMap<V, K> {
    if (typeof state !== "object" || state === null) throw new DecodeError(`${what} must be an object`);
    const { valueKind, keys: rawKeys, values: rawValues } = state as { valueKind?: unknown; keys?: unknown; values?: unknown };
    const valueType = valueTypeOf(valueKind);
    if (valueType === undefined) throw new DecodeError(`${what}.valueKind ${describe(valueKind)} is not a supported value kind`);
    return ORMap.decode<V, K>(valueType as DataTypeDescriptor<V>, rawKeys, rawValues, what);
  }

  /**
   * @internal Decodes the key set and values of an ORMapState of `valueType` values (see `fromState`).
   * A value without a dot (written before values were kept per writer) goes to its key's highest
   * dot, or is dropped when its key is absent (its old meaning: the value of a removed key).
   */
  static decode<V extends Crdt<V> = Crdt, K extends Element = Element>(
    valueType: DataTypeDescriptor<V>,
    rawKeys: unknown,
    rawValues: unknown,
    what: string,
  ): ORMap<V, K> {
    // The key set has an ORSet's shape and rules (dots unique, covered by the context); proto3 omits an empty one.
    const keys = rawKeys === undefined ? ORSet.empty<K>() : ORSet.fromState<K>(rawKeys as never, `${what}.keys`);
    if (!Array.isArray(rawValues)) throw new DecodeError(`${what}.values must be an array`);
    const empty = valueType.empty();
    const coverage = coverageOf(keys.context.nodes); // the key set dropped the dots a fold id covers: so do their values
    const valueOf = new Map<string, V>(); // key + " " + dotKey → value
    let previous: { key: string; dot: Dot | undefined } | undefined;
    for (const raw of rawValues as unknown[]) {
      if (typeof raw !== "object" || raw === null) throw new DecodeError(`${what}: a value entry must be an object`);
      const { key, dot: rawDot, value } = raw as { key?: unknown; dot?: unknown; value?: unknown };
      if (typeof key !== "string" || !isCanonical(key)) throw new DecodeError(`${what}: value key ${describe(key)} is not a canonical encoding`);
      let dot = rawDot === undefined || rawDot === null ? undefined : decodeDot(rawDot, `${what}: value of key ${describe(key)}`);
      if (previous !== undefined) {
        const order = compareStrings(previous.key, key) || compareOptionalDots(previous.dot, dot);
        if (order >= 0) throw new DecodeError(`${what}: values must be sorted by (key, dot) without duplicates`);
      }
      previous = { key, dot };
      if (typeof value !== "object" || value === null) throw new DecodeError(`${what}: the value of key ${describe(key)} must be a state object`);
      const decoded = valueType.fromState(value as AnyState) as V;
      // The key set renamed the dots of the writer id a fold id adopts: so do their values.
      const adopter = dot === undefined || coverage === undefined ? undefined : adopterOf(dot.node, coverage);
      if (adopter !== undefined) dot = Object.freeze({ node: adopter, counter: dot!.counter });
      else if (dot !== undefined && coverage !== undefined && isCovered(dot.node, coverage)) continue;
      const dots = keys.dotsOf(key);
      if (dot === undefined) {
        if (dots === undefined) continue; // a legacy value of a removed key
        if (decoded.equals(empty)) continue;
        valueOf.set(key + " " + dotKey(dots[dots.length - 1]!), decoded);
        continue;
      }
      if (dots === undefined || !dots.some((d) => d.node === dot.node && d.counter === dot.counter)) {
        throw new DecodeError(`${what}: the value of key ${describe(key)} is on dot (${JSON.stringify(dot.node)}, ${dot.counter}), which the key does not hold`);
      }
      const at = key + " " + dotKey(dot);
      const same = valueOf.get(at); // a value on the adopted id's dot and one on its renamed dot
      if (!decoded.equals(empty)) valueOf.set(at, same === undefined ? decoded : same.merge(decoded));
    }
    if (keys.size === 0 && keys.context.isEmpty) return ORMap.of<V, K>(valueType);
    let index = PMap.empty<string>();
    const entries = PMap.build<Instances<V>>((m) => {
      index = index.mutate((ix) => {
        for (const key of keys.unsortedCanonicals()) {
          const instances = keys.dotsOf(key)!.map((dot) => instance(dot, valueOf.get(key + " " + dotKey(dot))));
          m.set(key, Object.freeze(instances));
          for (const i of instances) ix.set(dotKey(i.dot), key);
        }
      });
    });
    return new ORMap<V, K>(valueType, entries, index, keys.context, undefined);
  }

  // ---------------------------------------------------------------- mutators

  /**
   * Adds `key` as `node` and sets its value to `modify(current, node)`, where `current` is the
   * key's value (the empty value of `valueKind` for a new or removed key). Throws
   * InvalidArgumentError when `modify` returns something of another kind.
   */
  update(node: string, key: K, modify: (value: V, node: string) => V): ORMap<V, K> {
    checkNode(node);
    const k = canonical(key); // InvalidArgumentError for unsupported keys
    if (typeof modify !== "function") throw new InvalidArgumentError(`modify must be a function, got ${describe(modify)}`);
    const instances = this.#entries.get(k) ?? NO_INSTANCES;
    const dot = this.#context.next(node);
    const dots = this.#valueType.dots;
    let base = joinValues(instances) ?? this.#valueType.empty();
    if (dots !== undefined) base = dots.above(base, node, dot.counter);
    const next = modify(base, node);
    if (typeof next !== "object" || next === null || (next as Crdt).kind !== this.valueKind || typeof next.resetDelta !== "function") {
      throw new InvalidArgumentError(`modify must return a ${this.valueKind} value (the map's valueKind), got ${describeValue(next)}`);
    }
    let change = next.delta;
    if (change === undefined && next !== base && !next.equals(base)) change = next; // a state is its own delta
    // The writer's instance: its previous ones (normally one) folded, plus this change.
    const superseded: Dot[] = [];
    const kept: Instance<V>[] = [];
    let own: V | undefined = change?.resetDelta();
    for (const i of instances) {
      if (i.dot.node !== node) {
        kept.push(i);
        continue;
      }
      superseded.push(i.dot);
      if (i.value !== undefined) own = own === undefined ? i.value : i.value.merge(own);
    }
    if (own !== undefined && own.equals(this.#valueType.empty())) own = undefined;
    const mine = instance(dot, own);
    kept.push(mine);
    if (kept.length > 1) kept.sort((a, b) => compareDots(a.dot, b.dot));
    // Dots minted inside the value (above `dot`, see `DotsCapability`) are this map's too.
    const covered = rangeOf(node, dot.counter, dots === undefined ? dot.counter : dots.maxCounter(next, node));
    const piece = new ORMap<V, K>(
      this.#valueType,
      PMap.empty<Instances<V>>().set(k, Object.freeze([mine])),
      PMap.empty<string>().set(dotKey(dot), k),
      CausalContext.of(superseded.length === 0 ? covered : [...covered, ...superseded]),
      undefined,
    );
    let index = this.#index;
    for (const d of superseded) index = index.delete(dotKey(d));
    index = index.set(dotKey(dot), k);
    return new ORMap<V, K>(
      this.#valueType,
      this.#entries.set(k, Object.freeze(kept)),
      index,
      covered.length === 1 ? this.#context.add(dot) : this.#context.merge(CausalContext.of(covered)),
      this.#delta === undefined ? piece : this.#delta.merge(piece),
      this.#delta === undefined ? this : this.#origin,
    );
  }

  /**
   * Removes `key` (observed remove: the instances this replica holds), dropping its value. A
   * no-op, without delta, when the key is absent. `node` is the writer, validated like every
   * mutator's, though a remove mints no dot.
   */
  remove(node: string, key: K): ORMap<V, K> {
    checkNode(node);
    const k = canonical(key);
    const instances = this.#entries.get(k);
    if (instances === undefined) return this;
    const dots = instances.map((i) => i.dot);
    const piece = new ORMap<V, K>(this.#valueType, PMap.empty(), PMap.empty(), CausalContext.of(dots), undefined);
    const index = this.#index.mutate((ix) => {
      for (const d of dots) ix.delete(dotKey(d));
    });
    return new ORMap<V, K>(
      this.#valueType,
      this.#entries.delete(k),
      index,
      this.#context,
      this.#delta === undefined ? piece : this.#delta.merge(piece),
      this.#delta === undefined ? this : this.#origin,
    );
  }

  /** @internal this map with (node, 1..counter) in its context (see `DotsCapability`); entries unchanged. */
  withSeen(node: string, counter: number): ORMap<V, K> {
    if (counter <= this.#context.vectorEntry(node)) return this;
    const context = this.#context.merge(CausalContext.fromState({ vector: [{ node, value: counter }], cloud: [] }));
    return new ORMap<V, K>(this.#valueType, this.#entries, this.#index, context, this.#delta, this.#origin);
  }

  // ---------------------------------------------------------------- reading

  /** The value of `key`, or undefined when the key is not in the map. */
  get(key: K): V | undefined {
    return this.getCanonical(canonical(key));
  }

  has(key: K): boolean {
    return this.#entries.has(canonical(key));
  }

  /** @internal `get` of an already encoded key. */
  getCanonical(k: string): V | undefined {
    const instances = this.#entries.get(k);
    if (instances === undefined) return undefined;
    return joinValues(instances) ?? this.#valueType.empty();
  }

  /** The keys, sorted by canonical encoding (frozen, decoded copies). */
  get keys(): readonly K[] {
    this.#keys ??= Object.freeze(this.#sortedKeys().map((s) => freezeElement(decodeCanonical(s)) as K));
    return this.#keys;
  }

  /** [key, value] pairs, sorted by key (frozen; computed once per value). */
  get entries(): readonly (readonly [K, V])[] {
    if (this.#pairs === undefined) {
      const keys = this.keys;
      const encoded = this.#sortedKeys();
      this.#pairs = Object.freeze(keys.map((key, i) => Object.freeze([key, this.getCanonical(encoded[i]!)!] as const)));
    }
    return this.#pairs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The causal context: every dot this map has seen (its own and those minted in its values). */
  get context(): CausalContext {
    return this.#context;
  }

  /** @internal every stored value (each writer's part of each key), e.g. to find the largest LWW timestamp. */
  forEachStored(fn: (value: V) => void): void {
    this.#entries.forEach((instances) => {
      for (const i of instances) if (i.value !== undefined) fn(i.value);
    });
  }

  /** @internal each key (canonical) with its instances, one per writer: its dot and value (a comeback compares them). */
  forEachInstance(fn: (key: string, instances: readonly { readonly dot: Dot; readonly value: V | undefined }[]) => void): void {
    this.#entries.forEach((instances, k) => fn(k, instances));
  }

  /** Whether the map's own context records `id` (see PruningCapability.holds). */
  holdsWriter(id: string): boolean {
    return this.#context.mentions(id);
  }

  /** How many writer instances the map holds over all its keys (what its size in memory follows). */
  get instanceCount(): number {
    return this.#index.size;
  }

  #sortedKeys(): readonly string[] {
    this.#sorted ??= Object.freeze(this.#entries.keys().sort(compareStrings));
    return this.#sorted;
  }

  // ---------------------------------------------------------------- the contract

  get delta(): ORMap<V, K> | undefined {
    return this.#delta;
  }

  resetDelta(): ORMap<V, K> {
    return this.#delta === undefined ? this : new ORMap<V, K>(this.#valueType, this.#entries, this.#index, this.#context, undefined);
  }

  derivesFrom(base: ORMap<V, K>): boolean {
    return this === base || (this.#delta !== undefined && this.#origin === base);
  }

  /**
   * The join (see the module comment). Keeps this value's pending delta; returns `this` exactly
   * when `other` adds nothing (given values whose merge does the same — all of ours do). Visits
   * only the keys `other` can change: those it holds, and those whose dots its context covers
   * (through the dot index) when that is cheaper than visiting every key; merging a delta into a
   * large map costs O(delta).
   */
  merge(other: ORMap<V, K>): ORMap<V, K> {
    if (other === this) return this;
    if (other.valueKind !== this.valueKind) {
      throw new InvalidArgumentError(`cannot merge an ORMap of ${other.valueKind} values into one of ${this.valueKind} values`);
    }
    if (other.#entries.size === 0 && other.#context.isEmpty) return this;
    // A fold id on one side renames the instances of the writer id it adopts on both, before the join.
    if (this.#context.hasFoldId() || other.#context.hasFoldId()) {
      const adoptions = adoptionsAmong([...this.#context.nodes, ...other.#context.nodes]);
      const a = this.renamed(adoptions);
      const b = other.renamed(adoptions);
      if (a !== this || b !== other) return a.merge(b);
    }
    const mineContext = this.#context;
    const theirContext = other.#context;
    let context = mineContext.merge(theirContext);
    // A fold id on one side drops the instances of the ids it covers on the other (a late
    // instance of a retired writer, see writer-ids.ts); nested values drop them in their merge.
    const covered = context.coveredWriters();
    if (covered.size > 0) {
      context = context.without(covered);
      if (context.equals(mineContext)) context = mineContext;
    }
    const touched = new Set<string>(other.#entries.keys());
    if (covered.size > 0 && mineContext.nodes.some((node) => covered.has(node))) {
      for (const k of this.#entries.keys()) touched.add(k);
    } else if (theirContext.dotCount <= this.#entries.size + other.#entries.size) {
      for (const dot of theirContext.dots()) {
        const k = this.#index.get(dotKey(dot));
        if (k !== undefined) touched.add(k);
      }
    } else {
      for (const k of this.#entries.keys()) touched.add(k);
    }
    let index = this.#index;
    const entries = this.#entries.mutate((m) => {
      index = index.mutate((ix) => {
        for (const k of touched) {
          const mine = m.get(k) ?? NO_INSTANCES;
          const theirs = withoutWriters(other.#entries.get(k) ?? NO_INSTANCES, covered);
          const joined = joinInstances(withoutWriters(mine, covered), mineContext, theirs, theirContext);
          if (joined === mine) continue;
          for (const i of mine) ix.delete(dotKey(i.dot));
          for (const i of joined) ix.set(dotKey(i.dot), k);
          if (joined.length === 0) m.delete(k);
          else m.set(k, joined);
        }
      });
    });
    if (entries === this.#entries && context === mineContext) return this;
    return new ORMap<V, K>(this.#valueType, entries, index, context, this.#delta);
  }

  /**
   * Folds the ids `writerId` retires (older ids of its node, see writer-ids.ts) into its node's
   * fold id, key by key: the instances of retired ids (and an earlier instance of the fold id) are
   * re-issued as one instance of the fold id, under a new dot; the key's value is folded through
   * the value type's pruning capability (a counter's retired slots summed into the fold slot, a
   * set's elements that only retired dots held re-added under the fold id), and that change joins
   * the fold instance and every other instance whose value mentions a retired id (the dots a
   * retired writer's element had, which another writer's add superseded). The retired ids leave
   * the context; the fold id enters it in any case, so wherever the delta arrives the retired ids
   * go. Returns `this` when the context records no retired id.
   */
  foldRetired(writerId: string): ORMap<V, K> {
    const fold = foldIdOf(writerId);
    if (fold === undefined) return this;
    const self = this.renamed(adoptionsBy(writerId, this.#context.nodes));
    const retired = new Set(self.#context.nodes.filter((node) => retiredBy(writerId, node)));
    if (retired.size === 0 && self === this) return this;
    const pruning = this.#valueType.pruning;
    return self.takenOver(
      {
        gone: retired,
        mentions: (v) => pruning !== undefined && pruning.writers(v).some((id) => retiredBy(writerId, id)),
        into: fold,
        reshipsInto: true,
        change: pruning === undefined ? undefined : (v) => pruning.foldRetired(v, writerId),
        minters: [fold],
        cover: fold,
      },
      this,
    );
  }

  /**
   * Absorbs the ids of a removed node that `marker` covers (writer-ids.ts `markerFor`) into `into`
   * (the absorbing node's id in this map, `OwnWriter.writerIn`), key by key, as `foldRetired` folds:
   * the node's instances go and their value joins `into`'s instance (which keeps its dot, so that a
   * remove that saw it still removes it; a new dot of `into` when the key had none), and the key's
   * value is absorbed through the value type's `absorbRemoved` (a counter's share moves into
   * `into`'s slot, recorded in the marker's; a set element or register value only the node held is
   * re-issued under a marker dot, which this map's context covers). A value type without one
   * (LWWRegister, Flag, GSet) records no writer id inside: an LWW value keeps the id of the write
   * that won, which breaks timestamp ties and is no writer of the map. The absorbed ids leave the
   * context and the marker enters it, so wherever the delta arrives the node's late instances go.
   * `this` when nothing the marker covers is recorded (or it covers `into`).
   */
  absorbRemoved(marker: string, into: string): ORMap<V, K> {
    checkNode(into);
    if (absorbedBy(marker, into) || absorbedAmong(this.writers, marker).size === 0) return this;
    const pruning = this.#valueType.pruning;
    const absorb = pruning?.absorbRemoved;
    const skip = this.coveredMarker();
    return this.takenOver(
      {
        gone: absorbedAmong(this.#context.nodes, marker),
        mentions: (v) => pruning !== undefined && pruning.writers(v).some((id) => absorbedBy(marker, id)),
        into,
        reshipsInto: false,
        change: absorb === undefined ? undefined : (v) => absorb(v, marker, into, skip),
        minters: [into, marker],
        cover: marker,
      },
      this,
    );
  }

  /**
   * @internal Whether `id` is a marker a later fold of its node that this map holds supersedes (in
   * its context or in a value; see `supersededMarkers`): a value of a writer's instance may still
   * hold it — the fold joined no change into a value that mentions only a marker, which counts
   * nothing — but its share is no longer the node's.
   */
  coveredMarker(): (id: string) => boolean {
    return supersededMarkers(this.writers);
  }

  /**
   * This map without the markers made before `cutoffMs` (expired): its values' own (through the
   * value type's `withoutMarkersBefore`, given the same key's value in `alongside`, the value this
   * one is about to merge into), and its context's, but for a marker a value still holds a dot of
   * here or in `alongside` (an element or register value re-issued under it: the context covers
   * the dots of its values). `this` when none. Keeps the delta.
   */
  withoutMarkersBefore(cutoffMs: number, alongside?: ORMap<V, K>): ORMap<V, K> {
    const pruning = this.#valueType.pruning;
    const nested = pruning?.withoutMarkersBefore;
    let entries = this.#entries;
    if (nested !== undefined) {
      const changed = new Map<string, Instances<V>>();
      this.#entries.forEach((instances, k) => {
        // Without `alongside` first: the usual answer (no marker) is cheap, and only then is the key's value there joined.
        if (!instances.some((i) => i.value !== undefined && nested(i.value, cutoffMs) !== i.value)) return;
        const beside = alongside?.getCanonical(k);
        changed.set(k, Object.freeze(instances.map((i) => (i.value === undefined ? i : instance(i.dot, nested(i.value, cutoffMs, beside))))));
      });
      if (changed.size > 0) entries = entries.mutate((m) => changed.forEach((instances, k) => m.set(k, instances)));
    }
    let context = this.#context;
    const expired = context.hasFoldId() ? markersBefore(context.nodes, cutoffMs) : undefined;
    if (expired !== undefined && expired.size > 0) {
      const held = (m: ORMap<V, K>, clean: boolean): void =>
        m.#entries.forEach((instances) => {
          for (const i of instances) {
            expired.delete(i.dot.node);
            const v = i.value === undefined || pruning === undefined ? undefined : clean ? i.value : (nested?.(i.value, cutoffMs) ?? i.value);
            if (v !== undefined) for (const id of pruning!.writers(v)) expired.delete(id);
          }
        });
      held(new ORMap<V, K>(this.#valueType, entries, this.#index, context, undefined), true);
      if (alongside !== undefined) held(alongside, false);
      if (expired.size > 0) context = context.without(expired);
    }
    if (entries === this.#entries && context === this.#context) return this;
    return new ORMap<V, K>(this.#valueType, entries, this.#index, context, this.#delta, this.#origin);
  }

  /**
   * The work of `foldRetired` and `absorbRemoved` on this map (see `Takeover`), its change carried
   * as the delta on top of `from`'s (the value the caller was asked on).
   */
  private takenOver(t: Takeover<V>, from: ORMap<V, K>): ORMap<V, K> {
    const dots = this.#valueType.dots;
    const moved = (i: Instance<V>): boolean => t.gone.has(i.dot.node) || i.dot.node === t.into;
    const visits = (i: Instance<V>): boolean => t.gone.has(i.dot.node) || (t.reshipsInto && i.dot.node === t.into) || (i.value !== undefined && t.mentions(i.value));
    let context = this.#context.without(t.gone);
    const changed = new Map<string, Instances<V>>(); // key → its instances after the change
    const pieceEntries = new Map<string, Instances<V>>();
    const pieceDots: Dot[] = [];
    const mint = (dot: Dot): void => {
      context = context.add(dot);
      pieceDots.push(dot);
    };
    this.#entries.forEach((instances, k) => {
      if (!instances.some(visits)) return;
      // `into`'s own instance keeps its dot, so that a remove that saw it still removes it; the
      // other moved instances join it, or a new one.
      const own = instances.findLast((i) => i.dot.node === t.into);
      const anyMoved = instances.some(moved);
      let dot = own?.dot;
      if (dot === undefined && anyMoved) {
        dot = context.next(t.into);
        mint(dot);
      }
      let change: V | undefined;
      const joined = joinValues(instances);
      if (t.change !== undefined && joined !== undefined) {
        // Dots minted inside the value stay above the map's own (as `update` keeps them), and the context covers them.
        const floors = t.minters.map((id) => context.next(id).counter - 1);
        const base = dots === undefined ? joined : t.minters.reduce((v, id, n) => dots.above(v, id, floors[n]!), joined);
        const next = t.change(base);
        change = next.delta;
        if (dots !== undefined) t.minters.forEach((id, n) => rangeOf(id, floors[n]! + 1, dots.maxCounter(next, id)).forEach(mint));
      }
      const withChange = (v: V | undefined): V | undefined => (change === undefined ? v : v === undefined ? change : v.merge(change));
      const kept: Instance<V>[] = [];
      const shipped: Instance<V>[] = [];
      let reissued: V | undefined;
      for (const i of instances) {
        if (moved(i)) {
          if (i !== own && i.dot.node === t.into) pieceDots.push(i.dot); // superseded; the others go with their ids
          if (i.value !== undefined) reissued = reissued === undefined ? i.value : reissued.merge(i.value);
        } else if (i.value !== undefined && t.mentions(i.value)) {
          const next = instance(i.dot, withChange(i.value));
          kept.push(next);
          shipped.push(next);
          pieceDots.push(i.dot);
        } else {
          kept.push(i);
        }
      }
      if (anyMoved) {
        let value = withChange(reissued);
        if (value !== undefined && value.equals(this.#valueType.empty())) value = undefined;
        const mine = instance(dot!, value);
        kept.push(mine);
        shipped.push(mine);
      }
      if (own !== undefined) pieceDots.push(own.dot); // re-shipped with the joined value
      kept.sort((a, b) => compareDots(a.dot, b.dot));
      shipped.sort((a, b) => compareDots(a.dot, b.dot));
      changed.set(k, Object.freeze(kept));
      pieceEntries.set(k, Object.freeze(shipped));
    });
    // The fold id or marker enters the context in any case (a dot of its own when none was minted):
    // wherever the delta arrives, the ids it covers go.
    if (!pieceDots.some((d) => d.node === t.cover)) mint(context.next(t.cover));
    let index = this.#index;
    const entries = this.#entries.mutate((m) => {
      index = index.mutate((ix) => {
        for (const [k, instances] of changed) {
          for (const i of m.get(k)!) ix.delete(dotKey(i.dot));
          for (const i of instances) ix.set(dotKey(i.dot), k);
          m.set(k, instances); // never empty: `into`'s instance replaces what moved
        }
      });
    });
    let pieceIndex = PMap.empty<string>();
    const pieceMap = PMap.build<Instances<V>>((m) => {
      pieceIndex = pieceIndex.mutate((ix) => {
        for (const [k, instances] of pieceEntries) {
          m.set(k, instances);
          for (const i of instances) ix.set(dotKey(i.dot), k);
        }
      });
    });
    const piece = new ORMap<V, K>(this.#valueType, pieceMap, pieceIndex, CausalContext.of(pieceDots), undefined);
    return new ORMap<V, K>(
      this.#valueType,
      entries,
      index,
      context,
      from.#delta === undefined ? piece : from.#delta.merge(piece),
      from.#delta === undefined ? from : from.#origin,
    );
  }

  /**
   * This map with the instances of each id in `adoptions` renamed to its fold id (writer-ids.ts),
   * same counters; two instances that land on one dot join their values. Nested values rename
   * their own dots when they meet the fold id. The pending delta is kept. `this` when none.
   */
  private renamed(adoptions: Adoptions): ORMap<V, K> {
    const context = this.#context.renamed(adoptions);
    if (context === this.#context) return this;
    let index = this.#index;
    const entries = this.#entries.mutate((m) => {
      index = index.mutate((ix) => {
        this.#entries.forEach((instances, k) => {
          if (!instances.some((i) => adoptions.has(i.dot.node))) return;
          const out: Instance<V>[] = [];
          for (const i of instances.map((i) => instance(renameDot(i.dot, adoptions), i.value)).sort((a, b) => compareDots(a.dot, b.dot))) {
            const last = out[out.length - 1];
            if (last === undefined || compareDots(last.dot, i.dot) !== 0) out.push(i);
            else out[out.length - 1] = instance(last.dot, last.value === undefined ? i.value : i.value === undefined ? last.value : last.value.merge(i.value));
          }
          for (const i of instances) ix.delete(dotKey(i.dot));
          for (const i of out) ix.set(dotKey(i.dot), k);
          m.set(k, Object.freeze(out));
        });
      });
    });
    return new ORMap<V, K>(this.#valueType, entries, index, context, this.#delta);
  }

  /** The writer and fold ids this map records: its context's, and those of its values (Akka's `modifiedByNodes`). */
  get writers(): string[] {
    const out = new Set(this.#context.nodes);
    const pruning = this.#valueType.pruning;
    if (pruning !== undefined) {
      this.forEachStored((v) => {
        for (const id of pruning.writers(v)) out.add(id);
      });
    }
    return [...out];
  }

  equals(other: ORMap<V, K>): boolean {
    if (this === other) return true;
    return this.valueKind === other.valueKind && this.#context.equals(other.#context) && sameMaps(this.#entries, other.#entries, sameInstances);
  }

  /** Folds the context's dot cloud into its vector (nothing observable changes). */
  compact(): ORMap<V, K> {
    const context = this.#context.compact();
    return context === this.#context ? this : new ORMap<V, K>(this.#valueType, this.#entries, this.#index, context, this.#delta, this.#origin);
  }

  toState(): ORMapState {
    const entries: { element: string; dots: DotState[] }[] = [];
    const values: ORMapState["values"] = [];
    for (const key of this.#sortedKeys()) {
      const instances = this.#entries.get(key)!;
      entries.push({ element: key, dots: instances.map((i) => ({ node: i.dot.node, counter: i.dot.counter })) });
      for (const i of instances) {
        if (i.value !== undefined) values.push({ key, dot: { node: i.dot.node, counter: i.dot.counter }, value: i.value.toState() });
      }
    }
    return { valueKind: this.valueKind, keys: { entries, context: this.#context.toState() }, values };
  }
}

function instance<V>(dot: Dot, value: V | undefined): Instance<V> {
  return Object.freeze({ dot, value });
}

/** The join of a key's instances' values (undefined when all are empty). */
function joinValues<V extends Crdt<V>>(instances: Instances<V>): V | undefined {
  let out: V | undefined;
  for (const i of instances) if (i.value !== undefined) out = out === undefined ? i.value : out.merge(i.value);
  return out;
}

/**
 * The join of one key's instances (a DotFun join): those both sides hold, values joined; those one
 * side holds whose dot the other side's context has not seen. Returns `mine` when it changes nothing.
 */
function joinInstances<V extends Crdt<V>>(mine: Instances<V>, c: CausalContext, theirs: Instances<V>, c2: CausalContext): Instances<V> {
  const out: Instance<V>[] = [];
  let changed = false;
  let i = 0;
  let j = 0;
  while (i < mine.length || j < theirs.length) {
    const x = mine[i];
    const y = theirs[j];
    const order = x === undefined ? 1 : y === undefined ? -1 : compareDots(x.dot, y.dot);
    if (order === 0) {
      const value = x!.value === undefined ? y!.value : y!.value === undefined ? x!.value : x!.value.merge(y!.value);
      if (value === x!.value) out.push(x!);
      else {
        out.push(instance(x!.dot, value));
        changed = true;
      }
      i++;
      j++;
    } else if (order < 0) {
      if (c2.contains(x!.dot)) changed = true;
      else out.push(x!);
      i++;
    } else {
      if (!c.contains(y!.dot)) {
        out.push(y!);
        changed = true;
      }
      j++;
    }
  }
  return changed ? Object.freeze(out) : mine;
}

/** `instances` without those whose dot is of one of `writers` (`instances` itself when none is). */
function withoutWriters<V>(instances: Instances<V>, writers: ReadonlySet<string>): Instances<V> {
  if (writers.size === 0 || !instances.some((i) => writers.has(i.dot.node))) return instances;
  return Object.freeze(instances.filter((i) => !writers.has(i.dot.node)));
}

/** The dots (node, from..to). */
function rangeOf(node: string, from: number, to: number): Dot[] {
  const out: Dot[] = [];
  for (let c = from; c <= to; c++) out.push(Object.freeze({ node, counter: c }));
  return out;
}

function sameInstances<V extends Crdt<V>>(a: Instances<V>, b: Instances<V>): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (compareDots(x.dot, y.dot) !== 0) return false;
    if (x.value === y.value) continue;
    if (x.value === undefined || y.value === undefined || !x.value.equals(y.value)) return false;
  }
  return true;
}

function compareOptionalDots(a: Dot | undefined, b: Dot | undefined): number {
  if (a === undefined) return b === undefined ? 0 : -1;
  return b === undefined ? 1 : compareDots(a, b);
}

/** The descriptor of a kind an ORMap's values may have (see `holdableByORMap`), or undefined. */
function valueTypeOf(kind: unknown): DataTypeDescriptor | undefined {
  const type = registeredDataTypes().get(kind);
  return type !== undefined && holdableByORMap(type) ? type : undefined;
}

function valueKinds(): DataKind[] {
  return registeredDataTypes().all.filter(holdableByORMap).map((type) => type.kind);
}

const EMPTIES = new Map<DataKind, ORMap<Crdt, Element>>();

function describeValue(x: unknown): string {
  if (typeof x === "object" && x !== null && typeof (x as { kind?: unknown }).kind === "string") {
    return `a ${(x as { kind: string }).kind} value`;
  }
  return describe(x);
}

/** What a map (ORMap or a map built on one) declares as a value of another ORMap (see `DotsCapability`). */
export function mapDots<T extends Crdt>(mapOf: (value: T) => ORMap, withSeen: (value: T, node: string, counter: number) => T): DotsCapability<T> {
  return {
    maxCounter: (value, node) => mapOf(value).context.next(node).counter - 1,
    above: withSeen,
  };
}

/** The methods ORMap, and each map type built on it (LWWMap, PNCounterMap, ORMultiMap), prune with. */
interface PrunableMap<T> {
  readonly writers: string[];
  foldRetired(writerId: string): T;
  absorbRemoved(marker: string, into: string): T;
  withoutMarkersBefore(cutoffMs: number, alongside?: T): T;
  holdsWriter(id: string): boolean;
}

/** The pruning capability of ORMap and of the map types built on it (each calls the map's method). */
export function mapPruning<T extends Crdt & PrunableMap<T>>(): PruningCapability<T> {
  return {
    writers: (m) => m.writers,
    foldRetired: (m, writerId) => m.foldRetired(writerId),
    absorbRemoved: (m, marker, into) => m.absorbRemoved(marker, into),
    withoutMarkersBefore: (m, cutoffMs, alongside) => m.withoutMarkersBefore(cutoffMs, alongside),
    holds: (m, id) => m.holdsWriter(id),
  };
}

const orMapJson: JsonCapability<ORMap> = {
  view: (m, json) => ({ value: json.object(m.entries, json.value) }),
  ops: {
    update: (args) => {
      const apply = args.nested();
      const f = args.field();
      return (m, node) => m.update(node, f, apply);
    },
    remove: (args) => {
      const f = args.field();
      return (m, node) => m.remove(node, f);
    },
  },
};

// Its entry in the open registry of kinds (see StateByKind in types.ts).
declare module "./types.js" {
  interface StateByKind {
    orMap: ORMapState;
  }
}

/** The ORMap data type (see descriptor.ts): each map names the kind of its values. */
export const orMapType: DataTypeDescriptor<ORMap, ORMapState> = {
  kind: "orMap",
  name: "ORMap",
  wireTag: 9,
  stateMessage: "ORMapState",
  map: {},
  empty: (valueKind) => {
    if (valueKind === undefined) {
      throw new InvalidArgumentError('orMap needs a valueKind (the data type of its values), e.g. emptyOf("orMap", "orset")');
    }
    return ORMap.empty(valueKind);
  },
  fromState: (state) => ORMap.fromState(state),
  json: orMapJson,
  dots: mapDots<ORMap>(
    (m) => m,
    (m, node, counter) => m.withSeen(node, counter),
  ),
  pruning: mapPruning<ORMap>(),
  maxLwwTimestamp: (map) => {
    const ofValue = registeredDataTypes().get(map.valueKind)?.maxLwwTimestamp;
    let max = 0;
    if (ofValue !== undefined) {
      map.forEachStored((v) => {
        max = Math.max(max, ofValue(v));
      });
    }
    return max;
  },
};
