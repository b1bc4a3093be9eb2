/**
 * ORMultiMap: a map from keys to sets of elements — an ORMap whose values are ORSets, with Akka's
 * conveniences `addBinding` / `removeBinding`.
 *
 * - `addBinding(node, key, x)` adds `x` to `key`'s set (adding the key; add-wins against a
 *   concurrent `removeBinding` of the same element or `remove` of the key).
 * - `removeBinding(node, key, x)` removes the additions of `x` it has seen; the key goes when its
 *   set becomes empty (as Akka's), so an empty set is never shown.
 * - `remove(node, key)` removes the key and every binding it has seen (reset-remove, see ormap.ts).
 *
 * The state is an ORMapState with valueKind "orset".
 */
import { DecodeError } from "../errors.js";
import type { DataTypeDescriptor, JsonCapability } from "./descriptor.js";
import { mapDots, mapPruning, ORMap } from "./ormap.js";
import { ORSet, orsetType } from "./orset.js";
import type { Crdt, Element, ORMapState } from "./types.js";
import { describe } from "./validate.js";

export class ORMultiMap<V extends Element = Element, K extends Element = Element> implements Crdt<ORMultiMap<V, K>> {
  readonly kind = "orMultiMap" as const;
  readonly #map: ORMap<ORSet<V>, K>;
  #delta: ORMultiMap<V, K> | null | undefined; // cache of the wrapped map's delta (null: none)
  #entries: readonly (readonly [K, readonly V[]])[] | undefined; // cache

  static readonly #empty = new ORMultiMap<Element, Element>(ORMap.of(orsetType));

  /** `map` carries this value's pending delta. */
  private constructor(map: ORMap<ORSet<V>, K>) {
    this.#map = map;
  }

  static empty<V extends Element = Element, K extends Element = Element>(): ORMultiMap<V, K> {
    return ORMultiMap.#empty as unknown as ORMultiMap<V, K>;
  }

  /** Validates and decodes a plain state (an ORMapState whose valueKind is "orset"). */
  static fromState<V extends Element = Element, K extends Element = Element>(state: ORMapState): ORMultiMap<V, K> {
    if (typeof state !== "object" || state === null) throw new DecodeError("ORMultiMap state must be an object");
    if (state.valueKind !== "orset") throw new DecodeError(`ORMultiMap state must have valueKind "orset", got ${describe(state.valueKind)}`);
    const sets = orsetType as unknown as DataTypeDescriptor<ORSet<V>>;
    const map = ORMap.decode<ORSet<V>, K>(sets, state.keys, state.values, "ORMultiMap state");
    return map.equals(ORMap.of(sets)) ? ORMultiMap.empty<V, K>() : new ORMultiMap<V, K>(map);
  }

  /** Adds `element` to the set of `key` as `node` (adding the key). */
  addBinding(node: string, key: K, element: V): ORMultiMap<V, K> {
    return this.#wrap(this.#map.update(node, key, (set, n) => set.add(n, element)));
  }

  /**
   * Removes `element` from the set of `key` (the additions this replica has seen); removes the key
   * when its set becomes empty. A no-op, without delta, when the binding is absent.
   */
  removeBinding(node: string, key: K, element: V): ORMultiMap<V, K> {
    const set = this.#map.get(key);
    if (set === undefined || !set.has(element)) return this;
    const updated = this.#map.update(node, key, (s) => s.remove(element));
    return this.#wrap(updated.get(key)!.size === 0 ? updated.remove(node, key) : updated);
  }

  /** Removes `key` and its bindings (those this replica has seen). A no-op, without delta, when absent. */
  remove(node: string, key: K): ORMultiMap<V, K> {
    return this.#wrap(this.#map.remove(node, key));
  }

  /** The elements bound to `key`, sorted by canonical encoding, or undefined when the key is absent. */
  get(key: K): readonly V[] | undefined {
    return this.#map.get(key)?.elements;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** True when `element` is bound to `key`. */
  hasBinding(key: K, element: V): boolean {
    return this.#map.get(key)?.has(element) ?? false;
  }

  /** The keys, sorted by canonical encoding. */
  get keys(): readonly K[] {
    return this.#map.keys;
  }

  /** [key, elements] pairs, sorted by key (frozen; computed once per value). */
  get entries(): readonly (readonly [K, readonly V[]])[] {
    this.#entries ??= Object.freeze(this.#map.entries.map(([k, s]) => Object.freeze([k, s.elements] as const)));
    return this.#entries;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The underlying ORMap of ORSets. */
  get map(): ORMap<ORSet<V>, K> {
    return this.#map;
  }

  get delta(): ORMultiMap<V, K> | undefined {
    if (this.#delta === undefined) {
      const d = this.#map.delta;
      this.#delta = d === undefined ? null : new ORMultiMap(d);
    }
    return this.#delta ?? undefined;
  }

  resetDelta(): ORMultiMap<V, K> {
    return this.#map.delta === undefined ? this : new ORMultiMap(this.#map.resetDelta());
  }

  derivesFrom(base: ORMultiMap<V, K>): boolean {
    return this === base || this.#map.derivesFrom(base.#map);
  }

  /** The join (the ORMap's). Keeps this value's pending delta; returns `this` exactly when `other` adds nothing. */
  merge(other: ORMultiMap<V, K>): ORMultiMap<V, K> {
    const map = this.#map.merge(other.#map);
    return map === this.#map ? this : new ORMultiMap<V, K>(map);
  }

  equals(other: ORMultiMap<V, K>): boolean {
    return this === other || this.#map.equals(other.#map);
  }

  /** Folds the context's dot cloud into its vector (nothing observable changes). */
  compact(): ORMultiMap<V, K> {
    return this.#wrap(this.#map.compact());
  }

  toState(): ORMapState {
    return this.#map.toState();
  }

  /** Folds the ids `writerId` retires (see ORMap.foldRetired). */
  foldRetired(writerId: string): ORMultiMap<V, K> {
    return this.#wrap(this.#map.foldRetired(writerId));
  }

  /** Absorbs the ids of a removed node that `marker` covers into `into` (see ORMap.absorbRemoved). */
  absorbRemoved(marker: string, into: string): ORMultiMap<V, K> {
    return this.#wrap(this.#map.absorbRemoved(marker, into));
  }

  /** Without the markers made before `cutoffMs` (see ORMap.withoutMarkersBefore). */
  withoutMarkersBefore(cutoffMs: number, alongside?: ORMultiMap<V, K>): ORMultiMap<V, K> {
    return this.#wrap(this.#map.withoutMarkersBefore(cutoffMs, alongside === undefined ? undefined : alongside.#map));
  }

  /** @internal this map's kind holding `map` (a comeback re-issues through the underlying ORMap). */
  withMap(map: ORMap<ORSet<V>, K>): ORMultiMap<V, K> {
    return this.#wrap(map);
  }

  /** The writer and fold ids the map records (see ORMap.writers). */
  get writers(): string[] {
    return this.#map.writers;
  }

  /** Whether the map's own context records `id` (see PruningCapability.holds). */
  holdsWriter(id: string): boolean {
    return this.#map.context.mentions(id);
  }

  /** @internal see `DotsCapability` */
  withSeen(node: string, counter: number): ORMultiMap<V, K> {
    return this.#wrap(this.#map.withSeen(node, counter));
  }

  #wrap(map: ORMap<ORSet<V>, K>): ORMultiMap<V, K> {
    return map === this.#map ? this : new ORMultiMap(map);
  }
}

const orMultiMapJson: JsonCapability<ORMultiMap> = {
  view: (m, json) => ({ value: json.object(m.entries, (xs: readonly Element[]) => xs.map(json.element)) }),
  ops: {
    addBinding: (args) => {
      const f = args.field();
      const x = args.element();
      return (m, node) => m.addBinding(node, f, x);
    },
    removeBinding: (args) => {
      const f = args.field();
      const x = args.element();
      return (m, node) => m.removeBinding(node, f, x);
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
    orMultiMap: ORMapState;
  }
}

/** The ORMultiMap data type (see descriptor.ts): an ORMap of orset values. */
export const orMultiMapType: DataTypeDescriptor<ORMultiMap, ORMapState> = {
  kind: "orMultiMap",
  name: "ORMultiMap",
  wireTag: 11,
  stateMessage: "ORMapState",
  map: { valueKind: "orset" },
  empty: () => ORMultiMap.empty(),
  fromState: (state) => ORMultiMap.fromState(state),
  json: orMultiMapJson,
  dots: mapDots<ORMultiMap>(
    (m) => m.map as ORMap,
    (m, node, counter) => m.withSeen(node, counter),
  ),
  pruning: mapPruning<ORMultiMap>(),
};
