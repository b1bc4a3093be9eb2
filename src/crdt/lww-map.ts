/**
 * LWWMap: a map of last-writer-wins registers — an ORMap whose values are LWWRegisters.
 *
 * `put(node, key, value, timestamp?)` adds the key (add-wins against a concurrent remove) and
 * writes the key's register; `remove(node, key)` removes the key it has seen and drops its value
 * (reset-remove, see ormap.ts): a put after a remove shows the put's value whatever its timestamp,
 * and a put concurrent with a remove survives with its own value. Timestamps default to max(now,
 * current timestamp + 1), so a local put always wins over what it read. The state is an
 * ORMapState with valueKind "lwwRegister".
 */
import { DecodeError, InvalidArgumentError } from "../errors.js";
import type { DataTypeDescriptor, JsonCapability } from "./descriptor.js";
import { canonical } from "./element.js";
import { LWWRegister, lwwRegisterType } from "./lww-register.js";
import { mapDots, mapPruning, ORMap, orMapType } from "./ormap.js";
import type { Crdt, Element, ORMapState } from "./types.js";
import { checkNode, describe } from "./validate.js";

export class LWWMap<V extends Element = Element, K extends Element = Element> implements Crdt<LWWMap<V, K>> {
  readonly kind = "lwwMap" as const;
  readonly #map: ORMap<LWWRegister<V>, K>;
  #delta: LWWMap<V, K> | null | undefined; // cache of the wrapped map's delta (null: none)
  #entries: readonly (readonly [K, V])[] | undefined; // cache

  static readonly #empty = new LWWMap<Element, Element>(ORMap.of(lwwRegisterType));

  /** `map` carries this value's pending delta. */
  private constructor(map: ORMap<LWWRegister<V>, K>) {
    this.#map = map;
  }

  static empty<V extends Element = Element, K extends Element = Element>(): LWWMap<V, K> {
    return LWWMap.#empty as unknown as LWWMap<V, K>;
  }

  /** Validates and decodes a plain state (an ORMapState whose valueKind is "lwwRegister"). */
  static fromState<V extends Element = Element, K extends Element = Element>(state: ORMapState): LWWMap<V, K> {
    if (typeof state !== "object" || state === null) throw new DecodeError("LWWMap state must be an object");
    if (state.valueKind !== "lwwRegister") {
      throw new DecodeError(`LWWMap state must have valueKind "lwwRegister", got ${describe(state.valueKind)}`);
    }
    const registers = lwwRegisterType as unknown as DataTypeDescriptor<LWWRegister<V>>;
    const map = ORMap.decode<LWWRegister<V>, K>(registers, state.keys, state.values, "LWWMap state");
    return map.equals(ORMap.of(registers)) ? LWWMap.empty<V, K>() : new LWWMap<V, K>(map);
  }

  /**
   * Writes `value` under `key` as `node`. `timestamp` (a non-negative safe integer, milliseconds by
   * convention) defaults to max(now, the key's current timestamp + 1). A write that loses to the
   * key's current value (an older explicit timestamp) leaves the value as it is, but still adds
   * the key if it was removed.
   */
  put(node: string, key: K, value: V, timestamp?: number): LWWMap<V, K> {
    checkNode(node);
    canonical(value); // InvalidArgumentError for unsupported values, before anything changes
    if (timestamp !== undefined && (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0)) {
      throw new InvalidArgumentError(`timestamp must be a non-negative safe integer (milliseconds), got ${describe(timestamp)}`);
    }
    return this.#wrap(this.#map.update(node, key, (r, n) => r.set(n, value, timestamp)));
  }

  /** Removes `key` and its value (the puts this replica has seen). A no-op, without delta, when absent. */
  remove(node: string, key: K): LWWMap<V, K> {
    return this.#wrap(this.#map.remove(node, key));
  }

  /** The value under `key`, or undefined when the key is not in the map. */
  get(key: K): V | undefined {
    return this.#map.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** The keys, sorted by canonical encoding. */
  get keys(): readonly K[] {
    return this.#map.keys;
  }

  /** [key, value] pairs, sorted by key (frozen; computed once per value). */
  get entries(): readonly (readonly [K, V])[] {
    this.#entries ??= Object.freeze(this.#map.entries.map(([k, r]) => Object.freeze([k, r.value as V] as const)));
    return this.#entries;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The underlying ORMap of registers (timestamps and writers included). */
  get map(): ORMap<LWWRegister<V>, K> {
    return this.#map;
  }

  get delta(): LWWMap<V, K> | undefined {
    if (this.#delta === undefined) {
      const d = this.#map.delta;
      this.#delta = d === undefined ? null : new LWWMap(d);
    }
    return this.#delta ?? undefined;
  }

  resetDelta(): LWWMap<V, K> {
    return this.#map.delta === undefined ? this : new LWWMap(this.#map.resetDelta());
  }

  derivesFrom(base: LWWMap<V, K>): boolean {
    return this === base || this.#map.derivesFrom(base.#map);
  }

  /** The join (the ORMap's). Keeps this value's pending delta; returns `this` exactly when `other` adds nothing. */
  merge(other: LWWMap<V, K>): LWWMap<V, K> {
    const map = this.#map.merge(other.#map);
    return map === this.#map ? this : new LWWMap<V, K>(map);
  }

  equals(other: LWWMap<V, K>): boolean {
    return this === other || this.#map.equals(other.#map);
  }

  /** Folds the key set's dot cloud into its vector (nothing observable changes). */
  compact(): LWWMap<V, K> {
    const map = this.#map.compact();
    return map === this.#map ? this : new LWWMap<V, K>(map);
  }

  toState(): ORMapState {
    return this.#map.toState();
  }

  /** Folds the ids `writerId` retires (see ORMap.foldRetired). */
  foldRetired(writerId: string): LWWMap<V, K> {
    return this.#wrap(this.#map.foldRetired(writerId));
  }

  /** Absorbs the ids of a removed node that `marker` covers into `into` (see ORMap.absorbRemoved). */
  absorbRemoved(marker: string, into: string): LWWMap<V, K> {
    return this.#wrap(this.#map.absorbRemoved(marker, into));
  }

  /** Without the markers made before `cutoffMs` (see ORMap.withoutMarkersBefore). */
  withoutMarkersBefore(cutoffMs: number, alongside?: LWWMap<V, K>): LWWMap<V, K> {
    return this.#wrap(this.#map.withoutMarkersBefore(cutoffMs, alongside === undefined ? undefined : alongside.#map));
  }

  /** @internal this map's kind holding `map` (a comeback re-issues through the underlying ORMap). */
  withMap(map: ORMap<LWWRegister<V>, K>): LWWMap<V, K> {
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
  withSeen(node: string, counter: number): LWWMap<V, K> {
    return this.#wrap(this.#map.withSeen(node, counter));
  }

  #wrap(map: ORMap<LWWRegister<V>, K>): LWWMap<V, K> {
    return map === this.#map ? this : new LWWMap(map);
  }
}

const lwwMapJson: JsonCapability<LWWMap> = {
  view: (m, json) => ({ value: json.object(m.entries, json.element) }),
  ops: {
    put: (args) => {
      const f = args.field();
      const x = args.element();
      const timestamp = args.timestamp();
      return (m, node) => m.put(node, f, x, timestamp);
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
    lwwMap: ORMapState;
  }
}

/** The LWWMap data type (see descriptor.ts): an ORMap of lwwRegister values. */
export const lwwMapType: DataTypeDescriptor<LWWMap, ORMapState> = {
  kind: "lwwMap",
  name: "LWWMap",
  wireTag: 8,
  stateMessage: "ORMapState",
  map: { valueKind: "lwwRegister" },
  empty: () => LWWMap.empty(),
  fromState: (state) => LWWMap.fromState(state),
  json: lwwMapJson,
  dots: mapDots<LWWMap>(
    (m) => m.map as ORMap,
    (m, node, counter) => m.withSeen(node, counter),
  ),
  pruning: mapPruning<LWWMap>(),
  maxLwwTimestamp: (map) => orMapType.maxLwwTimestamp!(map.map as ORMap),
};
