/**
 * ORMap: a map whose keys form an add-wins observed-remove set and whose values are CRDTs of one
 * kind (`valueKind`), merged pointwise.
 *
 * - `update(node, key, modify)` adds the key with a new dot (superseding its old dots, as
 *   `ORSet.add`) and applies `modify` to the key's value. Its delta is the key set's delta plus the
 *   value's delta under that key.
 * - `remove(node, key)` removes the key as `ORSet.remove` does (the dots this replica has seen): an
 *   update concurrent with the remove keeps the key (add wins).
 * - Join: the key sets join as ORSets; the values join pointwise for ALL keys, including keys not
 *   currently in the key set. A key is visible iff it is in the key set.
 *
 * Keeping the values of removed keys is what makes the join a semilattice (associative): dropping
 * a value when its key is absent from a merge result would make the outcome depend on the order in
 * which a remove and a concurrent re-add are merged. The consequence, documented for users: the
 * value of a removed key is kept, so removing a key and adding it again may resurrect its old
 * value's contributions (e.g. a PNCounterMap entry removed at 5 and incremented again reads 6, and
 * an LWWMap entry put again with an older timestamp shows the newer removed value). Akka's ORMap
 * has the same limitation for values that carry no causal context of their own. Values equal to
 * the empty value are never stored (an absent value and an empty one are the same state).
 *
 * Values are stored without their pending deltas; `get` returns them that way. `modify` must
 * inflate the value it is given (use its mutators); what it returns replaces the stored value.
 */
import { DecodeError, InvalidArgumentError } from "../errors.js";
import { compareStrings } from "./causal.js";
import { canonical, isCanonical } from "./element.js";
import { ORSet } from "./orset.js";
import { PMap, sameMaps } from "./pmap.js";
import { holdableByORMap, registeredDataTypes, type DataTypeDescriptor } from "./descriptor.js";
import type { AnyState, Crdt, DataKind, Element, ORMapState } from "./types.js";
import { checkNode, describe } from "./validate.js";

type Values<V> = PMap<V>; // canonical key → value (never empty, no pending delta)

export class ORMap<V extends Crdt<V> = Crdt, K extends Element = Element> implements Crdt<ORMap<V, K>> {
  readonly kind = "orMap" as const;
  /** The data type of the values. */
  readonly valueKind: DataKind;
  readonly #valueType: DataTypeDescriptor<V>;
  readonly #keys: ORSet<K>; // no pending delta
  readonly #values: Values<V>;
  readonly #delta: ORMap<V, K> | undefined;
  readonly #origin: ORMap<V, K> | undefined; // the delta-free value the mutators that made #delta started from
  #entries: readonly (readonly [K, V])[] | undefined; // cache

  private constructor(valueType: DataTypeDescriptor<V>, keys: ORSet<K>, values: Values<V>, delta: ORMap<V, K> | undefined, origin?: ORMap<V, K>) {
    this.valueKind = valueType.kind;
    this.#valueType = valueType;
    this.#keys = keys;
    this.#values = values;
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
      empty = new ORMap<Crdt, Element>(valueType as DataTypeDescriptor, ORSet.empty(), PMap.empty(), undefined);
      EMPTIES.set(valueType.kind, empty);
    }
    return empty as unknown as ORMap<V, K>;
  }

  /**
   * Validates and decodes a plain state: a supported valueKind, a valid key set, values sorted by
   * canonical key without duplicates, each a valid state of valueKind. Empty values are dropped.
   */
  static fromState<V extends Crdt<V> = Crdt, K extends Element = Element>(state: ORMapState, what = "ORMapState"): ORMap<V, K> {
    if (typeof state !== "object" || state === null) throw new DecodeError(`${what} must be an object`);
    const { valueKind, keys: rawKeys, values: rawValues } = state as { valueKind?: unknown; keys?: unknown; values?: unknown };
    const valueType = valueTypeOf(valueKind);
    if (valueType === undefined) throw new DecodeError(`${what}.valueKind ${describe(valueKind)} is not a supported value kind`);
    return ORMap.decode<V, K>(valueType as DataTypeDescriptor<V>, rawKeys, rawValues, what);
  }

  /** @internal Decodes the key set and values of an ORMapState of `valueType` values (see `fromState`). */
  static decode<V extends Crdt<V> = Crdt, K extends Element = Element>(
    valueType: DataTypeDescriptor<V>,
    rawKeys: unknown,
    rawValues: unknown,
    what: string,
  ): ORMap<V, K> {
    const keys =
      rawKeys === undefined ? ORSet.empty<K>() : ORSet.fromState<K>(rawKeys as never, `${what}.keys`); // proto3 omits an empty sub-message
    if (!Array.isArray(rawValues)) throw new DecodeError(`${what}.values must be an array`);
    const empty = valueType.empty();
    let previous: string | undefined;
    const values = PMap.build<V>((m) => {
      for (const raw of rawValues as unknown[]) {
        if (typeof raw !== "object" || raw === null) throw new DecodeError(`${what}: a value entry must be an object`);
        const { key, value } = raw as { key?: unknown; value?: unknown };
        if (typeof key !== "string" || !isCanonical(key)) throw new DecodeError(`${what}: value key ${describe(key)} is not a canonical encoding`);
        if (previous !== undefined && !(previous < key)) throw new DecodeError(`${what}: values must be sorted by key without duplicates`);
        previous = key;
        if (typeof value !== "object" || value === null) throw new DecodeError(`${what}: the value of key ${describe(key)} must be a state object`);
        const decoded = valueType.fromState(value as AnyState);
        if (!decoded.equals(empty)) m.set(key, decoded as V);
      }
    });
    if (keys.size === 0 && keys.context.isEmpty && values.size === 0) return ORMap.of<V, K>(valueType);
    return new ORMap<V, K>(valueType, keys, values, undefined);
  }

  // ---------------------------------------------------------------- mutators

  /**
   * Adds `key` as `node` and sets its value to `modify(current, node)`, where `current` is the
   * key's value (the empty value of `valueKind` for a new key; a removed key's retained value for
   * a re-added one). Throws InvalidArgumentError when `modify` returns something of another kind.
   */
  update(node: string, key: K, modify: (value: V, node: string) => V): ORMap<V, K> {
    checkNode(node);
    const k = canonical(key); // InvalidArgumentError for unsupported keys
    if (typeof modify !== "function") throw new InvalidArgumentError(`modify must be a function, got ${describe(modify)}`);
    const stored = this.#values.get(k);
    const base = stored ?? this.#valueType.empty();
    const next = modify(base, node);
    if (typeof next !== "object" || next === null || (next as Crdt).kind !== this.valueKind || typeof next.resetDelta !== "function") {
      throw new InvalidArgumentError(`modify must return a ${this.valueKind} value (the map's valueKind), got ${describeValue(next)}`);
    }
    let valueDelta = next.delta;
    if (valueDelta === undefined && next !== base && !next.equals(base)) valueDelta = next.resetDelta(); // a state is its own delta
    const added = this.#keys.addCanonical(node, k);
    const keysDelta = added.delta!;
    let values = this.#values;
    if (valueDelta !== undefined || stored !== undefined) {
      const plain = next.resetDelta();
      values = stored === undefined && plain.equals(base) ? values : values.set(k, plain);
    }
    const piece = new ORMap<V, K>(
      this.#valueType,
      keysDelta,
      valueDelta === undefined ? PMap.empty() : PMap.empty<V>().set(k, valueDelta.resetDelta()),
      undefined,
    );
    const delta = this.#delta === undefined ? piece : this.#delta.merge(piece);
    return new ORMap<V, K>(this.#valueType, added.resetDelta(), values, delta, this.#delta === undefined ? this : this.#origin);
  }

  /**
   * Removes `key` (observed remove: the additions this replica has seen). A no-op, without delta,
   * when the key is absent. The key's value is kept (see the module comment). `node` is the
   * writer, validated like every mutator's, though a remove mints no dot.
   */
  remove(node: string, key: K): ORMap<V, K> {
    checkNode(node);
    const k = canonical(key);
    if (!this.#keys.hasCanonical(k)) return this;
    const removed = this.#keys.removeCanonical(k);
    const piece = new ORMap<V, K>(this.#valueType, removed.delta!, PMap.empty(), undefined);
    const delta = this.#delta === undefined ? piece : this.#delta.merge(piece);
    return new ORMap<V, K>(this.#valueType, removed.resetDelta(), this.#values, delta, this.#delta === undefined ? this : this.#origin);
  }

  // ---------------------------------------------------------------- reading

  /** The value of `key`, or undefined when the key is not in the map. */
  get(key: K): V | undefined {
    return this.getCanonical(canonical(key));
  }

  has(key: K): boolean {
    return this.#keys.hasCanonical(canonical(key));
  }

  /** @internal `get` of an already encoded key. */
  getCanonical(k: string): V | undefined {
    if (!this.#keys.hasCanonical(k)) return undefined;
    return this.#values.get(k) ?? this.#valueType.empty();
  }

  /** The keys, sorted by canonical encoding (frozen, decoded copies). */
  get keys(): readonly K[] {
    return this.#keys.elements;
  }

  /** [key, value] pairs, sorted by key (frozen; computed once per value). */
  get entries(): readonly (readonly [K, V])[] {
    if (this.#entries === undefined) {
      const keys = this.#keys.elements;
      const encoded = this.#keys.sortedCanonicals();
      this.#entries = Object.freeze(keys.map((key, i) => Object.freeze([key, this.getCanonical(encoded[i]!)!] as const)));
    }
    return this.#entries;
  }

  get size(): number {
    return this.#keys.size;
  }

  /** The key set (an ORSet of the keys, with its causal context). */
  get keySet(): ORSet<K> {
    return this.#keys;
  }

  /** @internal the value stored under `k`, visible or not. */
  storedValue(k: string): V | undefined {
    return this.#values.get(k);
  }

  /** @internal every stored value, visible or not (e.g. to find the largest LWW timestamp). */
  forEachStored(fn: (value: V) => void): void {
    this.#values.forEach((v) => fn(v));
  }

  // ---------------------------------------------------------------- the contract

  get delta(): ORMap<V, K> | undefined {
    return this.#delta;
  }

  resetDelta(): ORMap<V, K> {
    return this.#delta === undefined ? this : new ORMap<V, K>(this.#valueType, this.#keys, this.#values, undefined);
  }

  derivesFrom(base: ORMap<V, K>): boolean {
    return this === base || (this.#delta !== undefined && this.#origin === base);
  }

  /**
   * The join: key sets as ORSets, values pointwise for every key. Keeps this value's pending
   * delta; returns `this` exactly when `other` adds nothing (so `merged === current` tells the
   * replicator an idempotent merge apart, given values whose merge does the same — all of ours
   * do). Costs O(smaller side) map operations plus the key set's join.
   */
  merge(other: ORMap<V, K>): ORMap<V, K> {
    if (other === this) return this;
    if (other.valueKind !== this.valueKind) {
      throw new InvalidArgumentError(`cannot merge an ORMap of ${other.valueKind} values into one of ${this.valueKind} values`);
    }
    const keys = this.#keys.merge(other.#keys);
    const mine = this.#values;
    const theirs = other.#values;
    let values = mine;
    if (theirs.size > 0) {
      // Fold the smaller map into the larger one.
      const [big, small] = mine.size >= theirs.size ? [mine, theirs] : [theirs, mine];
      values = big.mutate((m) => {
        small.forEach((v, k) => {
          const existing = m.get(k);
          if (existing === undefined) m.set(k, v);
          else {
            const merged = existing.merge(v);
            if (merged !== existing) m.set(k, merged);
          }
        });
      });
      // Unchanged when folding theirs into mine changed nothing, or when mine ⊒ theirs held everything.
      if (big === theirs && values === theirs && values.size === mine.size && sameMaps(values, mine, sameValue)) values = mine;
    }
    if (keys === this.#keys && values === mine) return this;
    return new ORMap<V, K>(this.#valueType, keys, values, this.#delta);
  }

  equals(other: ORMap<V, K>): boolean {
    if (this === other) return true;
    return this.valueKind === other.valueKind && this.#keys.equals(other.#keys) && sameMaps(this.#values, other.#values, sameValue);
  }

  /** Folds the key set's dot cloud into its vector (nothing observable changes). */
  compact(): ORMap<V, K> {
    const keys = this.#keys.compact();
    return keys === this.#keys ? this : new ORMap<V, K>(this.#valueType, keys, this.#values, this.#delta, this.#origin);
  }

  toState(): ORMapState {
    const sorted = this.#values.keys().sort(compareStrings);
    return {
      valueKind: this.valueKind,
      keys: this.#keys.toState(),
      values: sorted.map((key) => ({ key, value: this.#values.get(key)!.toState() })),
    };
  }
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

function sameValue<V extends Crdt<V>>(v: V, o: V): boolean {
  return o === v || v.equals(o);
}

function describeValue(x: unknown): string {
  if (typeof x === "object" && x !== null && typeof (x as { kind?: unknown }).kind === "string") {
    return `a ${(x as { kind: string }).kind} value`;
  }
  return describe(x);
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
