/**
 * Typed keys: the id plus the data type, so the type travels on the wire and a read or update
 * with the wrong type fails loudly (KeyTypeMismatchError) instead of corrupting the value.
 */
import { InvalidArgumentError } from "../errors.js";
import { MAX_KEY_BYTES } from "../wire/codec.js";
import { nestsInORMap, takesValueKind } from "../crdt/descriptor.js";
import { dataTypes } from "../crdt/registry.js";
import type { Crdt, DataKind, Element } from "../crdt/types.js";
import type { GCounter } from "../crdt/gcounter.js";
import type { PNCounter } from "../crdt/pncounter.js";
import type { GSet } from "../crdt/gset.js";
import type { ORSet } from "../crdt/orset.js";
import type { LWWRegister } from "../crdt/lww-register.js";
import type { MVRegister } from "../crdt/mv-register.js";
import type { Flag } from "../crdt/flag.js";
import type { LWWMap } from "../crdt/lww-map.js";
import type { ORMap } from "../crdt/ormap.js";
import type { PNCounterMap } from "../crdt/pncounter-map.js";
import type { ORMultiMap } from "../crdt/ormultimap.js";

/** Keys are NATS-safe ids: no whitespace, at most MAX_KEY_BYTES bytes (peers refuse longer ones). */
export { MAX_KEY_BYTES };

export class Key<T extends Crdt<T>> {
  private declare readonly _value: T; // phantom: ties the key to its value type

  private constructor(
    readonly id: string,
    readonly kind: DataKind,
    /** For ORMap keys: the kind of the map's values. */
    readonly valueKind?: DataKind,
  ) {}

  static gcounter(id: string): Key<GCounter> {
    return new Key(checkId(id), "gcounter");
  }
  static pncounter(id: string): Key<PNCounter> {
    return new Key(checkId(id), "pncounter");
  }
  static gset<E extends Element = Element>(id: string): Key<GSet<E>> {
    return new Key(checkId(id), "gset");
  }
  static orset<E extends Element = Element>(id: string): Key<ORSet<E>> {
    return new Key(checkId(id), "orset");
  }
  static lwwRegister<E extends Element = Element>(id: string): Key<LWWRegister<E>> {
    return new Key(checkId(id), "lwwRegister");
  }
  static mvRegister<E extends Element = Element>(id: string): Key<MVRegister<E>> {
    return new Key(checkId(id), "mvRegister");
  }
  static flag(id: string): Key<Flag> {
    return new Key(checkId(id), "flag");
  }
  static lwwMap<V extends Element = Element>(id: string): Key<LWWMap<V>> {
    return new Key(checkId(id), "lwwMap");
  }
  static orMap<V extends Crdt<V> = Crdt>(id: string, valueKind: DataKind): Key<ORMap<V>> {
    const valueType = dataTypes.get(valueKind);
    if (valueType !== undefined && !nestsInORMap(valueType)) {
      throw new InvalidArgumentError(`ORMap values cannot be maps (got ${valueKind}); use a flat key per map`);
    }
    return new Key(checkId(id), "orMap", valueKind);
  }
  static pncounterMap(id: string): Key<PNCounterMap> {
    return new Key(checkId(id), "pncounterMap");
  }
  static orMultiMap<V extends Element = Element>(id: string): Key<ORMultiMap<V>> {
    return new Key(checkId(id), "orMultiMap");
  }

  /** A key for a stored kind, as the daemon needs when it only knows the kind at run time. */
  static of(id: string, kind: DataKind, valueKind?: DataKind): Key<Crdt> {
    const type = dataTypes.get(kind);
    if (type !== undefined && takesValueKind(type)) return Key.orMap(id, valueKind ?? "gcounter") as Key<Crdt>;
    return new Key(checkId(id), kind);
  }

  toString(): string {
    return `${this.kind}:${this.id}`;
  }
}

/** `id` when it follows the key-id rules (non-empty, at most 1 KiB of UTF-8, well-formed); InvalidArgumentError otherwise. */
export function checkId(id: string): string {
  if (typeof id !== "string" || id.length === 0) {
    throw new InvalidArgumentError("a key id must be a non-empty string");
  }
  if (Buffer.byteLength(id) > MAX_KEY_BYTES) {
    throw new InvalidArgumentError(`a key id must be at most ${MAX_KEY_BYTES} bytes`);
  }
  if (!id.isWellFormed()) throw new InvalidArgumentError("a key id must be well-formed Unicode");
  return id;
}
