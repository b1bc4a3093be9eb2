/**
 * PNCounterMap: a map of counters that go up and down — an ORMap whose values are PNCounters.
 *
 * `increment` / `decrement` add the key (add-wins against a concurrent remove) and change its
 * counter; `remove(node, key)` removes the key it has seen and drops its count (reset-remove, see
 * ormap.ts): remove at 5, increment by 1 → 1. Each writer's count of a key is tied to a dot (a
 * dotted counter, as riak_dt's embedded counters), so an increment concurrent with a remove
 * survives with its writer's own count only; what the remove saw of the other writers is gone.
 * The state is an ORMapState with valueKind "pncounter".
 */
import { DecodeError } from "../errors.js";
import type { DataTypeDescriptor, JsonCapability } from "./descriptor.js";
import { mapDots, mapPruning, ORMap } from "./ormap.js";
import { countJson } from "./gcounter.js";
import { PNCounter, pncounterType } from "./pncounter.js";
import type { Crdt, Element, ORMapState } from "./types.js";
import { describe } from "./validate.js";

export class PNCounterMap<K extends Element = Element> implements Crdt<PNCounterMap<K>> {
  readonly kind = "pncounterMap" as const;
  readonly #map: ORMap<PNCounter, K>;
  #delta: PNCounterMap<K> | null | undefined; // cache of the wrapped map's delta (null: none)
  #entries: readonly (readonly [K, number])[] | undefined; // cache

  static readonly #empty = new PNCounterMap<Element>(ORMap.of(pncounterType));

  /** `map` carries this value's pending delta. */
  private constructor(map: ORMap<PNCounter, K>) {
    this.#map = map;
  }

  static empty<K extends Element = Element>(): PNCounterMap<K> {
    return PNCounterMap.#empty as unknown as PNCounterMap<K>;
  }

  /** Validates and decodes a plain state (an ORMapState whose valueKind is "pncounter"). */
  static fromState<K extends Element = Element>(state: ORMapState): PNCounterMap<K> {
    if (typeof state !== "object" || state === null) throw new DecodeError("PNCounterMap state must be an object");
    if (state.valueKind !== "pncounter") {
      throw new DecodeError(`PNCounterMap state must have valueKind "pncounter", got ${describe(state.valueKind)}`);
    }
    const map = ORMap.decode<PNCounter, K>(pncounterType, state.keys, state.values, "PNCounterMap state");
    return map.equals(ORMap.of(pncounterType)) ? PNCounterMap.empty<K>() : new PNCounterMap<K>(map);
  }

  /** Adds `by` (a non-negative safe integer) to `key`'s counter as `node`, adding the key. */
  increment(node: string, key: K, by: number = 1): PNCounterMap<K> {
    return this.#wrap(this.#map.update(node, key, (c, n) => c.increment(n, by)));
  }

  /** Subtracts `by` (a non-negative safe integer) from `key`'s counter as `node`, adding the key. */
  decrement(node: string, key: K, by: number = 1): PNCounterMap<K> {
    return this.#wrap(this.#map.update(node, key, (c, n) => c.decrement(n, by)));
  }

  /** Removes `key` and its count (the updates this replica has seen). A no-op, without delta, when absent. */
  remove(node: string, key: K): PNCounterMap<K> {
    return this.#wrap(this.#map.remove(node, key));
  }

  /**
   * The count under `key`, or undefined when the key is not in the map. Throws PrecisionError
   * past Number.MAX_SAFE_INTEGER: read `counter(key)?.bigValue` then.
   */
  get(key: K): number | undefined {
    return this.#map.get(key)?.value;
  }

  /** The PNCounter under `key` (undefined when absent), for `bigValue` and per-node slots. */
  counter(key: K): PNCounter | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** The keys, sorted by canonical encoding. */
  get keys(): readonly K[] {
    return this.#map.keys;
  }

  /** [key, count] pairs, sorted by key (frozen; computed once per value). */
  get entries(): readonly (readonly [K, number])[] {
    this.#entries ??= Object.freeze(this.#map.entries.map(([k, c]) => Object.freeze([k, c.value] as const)));
    return this.#entries;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The underlying ORMap of PNCounters. */
  get map(): ORMap<PNCounter, K> {
    return this.#map;
  }

  get delta(): PNCounterMap<K> | undefined {
    if (this.#delta === undefined) {
      const d = this.#map.delta;
      this.#delta = d === undefined ? null : new PNCounterMap(d);
    }
    return this.#delta ?? undefined;
  }

  resetDelta(): PNCounterMap<K> {
    return this.#map.delta === undefined ? this : new PNCounterMap(this.#map.resetDelta());
  }

  derivesFrom(base: PNCounterMap<K>): boolean {
    return this === base || this.#map.derivesFrom(base.#map);
  }

  /** The join (the ORMap's). Keeps this value's pending delta; returns `this` exactly when `other` adds nothing. */
  merge(other: PNCounterMap<K>): PNCounterMap<K> {
    const map = this.#map.merge(other.#map);
    return map === this.#map ? this : new PNCounterMap<K>(map);
  }

  equals(other: PNCounterMap<K>): boolean {
    return this === other || this.#map.equals(other.#map);
  }

  /** Folds the key set's dot cloud into its vector (nothing observable changes). */
  compact(): PNCounterMap<K> {
    const map = this.#map.compact();
    return map === this.#map ? this : new PNCounterMap<K>(map);
  }

  toState(): ORMapState {
    return this.#map.toState();
  }

  /** Folds the ids `writerId` retires (see ORMap.foldRetired). */
  foldRetired(writerId: string): PNCounterMap<K> {
    return this.#wrap(this.#map.foldRetired(writerId));
  }

  /** Absorbs the ids of a removed node that `marker` covers into `into` (see ORMap.absorbRemoved). */
  absorbRemoved(marker: string, into: string): PNCounterMap<K> {
    return this.#wrap(this.#map.absorbRemoved(marker, into));
  }

  /** Without the markers made before `cutoffMs` (see ORMap.withoutMarkersBefore). */
  withoutMarkersBefore(cutoffMs: number, alongside?: PNCounterMap<K>): PNCounterMap<K> {
    return this.#wrap(this.#map.withoutMarkersBefore(cutoffMs, alongside === undefined ? undefined : alongside.#map));
  }

  /** @internal this map's kind holding `map` (a comeback re-issues through the underlying ORMap). */
  withMap(map: ORMap<PNCounter, K>): PNCounterMap<K> {
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
  withSeen(node: string, counter: number): PNCounterMap<K> {
    return this.#wrap(this.#map.withSeen(node, counter));
  }

  #wrap(map: ORMap<PNCounter, K>): PNCounterMap<K> {
    return map === this.#map ? this : new PNCounterMap(map);
  }
}

const pncounterMapJson: JsonCapability<PNCounterMap> = {
  view: (m, json) => ({ value: json.object(m.map.entries, countJson) }),
  ops: {
    increment: (args) => {
      const f = args.field();
      const by = args.by();
      return (m, node) => m.increment(node, f, by);
    },
    decrement: (args) => {
      const f = args.field();
      const by = args.by();
      return (m, node) => m.decrement(node, f, by);
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
    pncounterMap: ORMapState;
  }
}

/** The PNCounterMap data type (see descriptor.ts): an ORMap of pncounter values. */
export const pncounterMapType: DataTypeDescriptor<PNCounterMap, ORMapState> = {
  kind: "pncounterMap",
  name: "PNCounterMap",
  wireTag: 10,
  stateMessage: "ORMapState",
  map: { valueKind: "pncounter" },
  empty: () => PNCounterMap.empty(),
  fromState: (state) => PNCounterMap.fromState(state),
  json: pncounterMapJson,
  dots: mapDots<PNCounterMap>(
    (m) => m.map as ORMap,
    (m, node, counter) => m.withSeen(node, counter),
  ),
  pruning: mapPruning<PNCounterMap>(),
};
