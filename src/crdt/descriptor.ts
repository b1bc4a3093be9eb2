/**
 * What a data type declares about itself (riak_dt's behaviour, Akka's capability traits): one
 * descriptor per type, exported from the type's own module and listed once in registry.ts. The
 * registry, typed keys, the wire and the daemon's JSON codec derive their tables from these.
 */
import { CrdtReplicatorError } from "../errors.js";
import type { AnyState, Crdt, DataKind } from "./types.js";

/** Map types only: what the values are. */
export interface MapCapability {
  /** The kind of every value (LWWMap: lwwRegister); undefined when each map names its own (ORMap). */
  readonly valueKind?: DataKind;
}

/**
 * Types whose values record writer ids (counter slots, dots): how retired ones are folded away
 * (Akka's `RemovedNodePruning`; the rule of which ids are retired is in writer-ids.ts).
 */
export interface PruningCapability<T extends Crdt = Crdt> {
  /** The writer and fold ids `value` records (Akka's `modifiedByNodes`). */
  writers(value: T): string[];
  /**
   * `value` with the ids `writerId` retires folded into its node's fold id, carrying the change
   * as its delta (publish it like a write); `value` itself when it records none.
   */
  foldRetired(value: T, writerId: string): T;
}

export interface DataTypeDescriptor<T extends Crdt = Crdt, S extends AnyState = AnyState> {
  readonly kind: DataKind;
  /** The class, as messages name the type ("LWWMap"). */
  readonly name: string;
  /** Its number in the wire enum `crdt.v1.DataType` of proto/crdt.proto (never reused). */
  readonly wireTag: number;
  /** The protobuf message of proto/crdt.proto its state travels as. */
  readonly stateMessage: string;
  /** Present for map types (an ORMapState on the wire). */
  readonly map?: MapCapability;
  /** The empty value. `valueKind`: the kind of the values, for a map that names its own (ORMap). */
  empty(valueKind?: DataKind): T;
  /** Validates and decodes a plain state (DecodeError if malformed). */
  fromState(state: S): T;
  /** Present for the types whose values mint dots from a causal context of their own. */
  readonly dots?: DotsCapability<T>;
  /**
   * Capability of the types whose values carry LWW timestamps: the largest one in `value` (every
   * writer's part of every map key). What the replicator's clock-skew bound checks.
   */
  maxLwwTimestamp?(value: T): number;
  /** Capability of the types that record writer ids: folding retired ones (see PruningCapability). */
  readonly pruning?: PruningCapability<T>;
}

/**
 * Capability of the causal types (ORSet, MVRegister, the maps): lets an ORMap keep the dots a
 * writer mints inside a value above the map's own, so that a key removed and re-added never mints
 * a dot that another writer's part of the key may already have seen (see ormap.ts).
 */
export interface DotsCapability<T> {
  /** The highest counter of `node` the value's context holds (0 when none). */
  maxCounter(value: T, node: string): number;
  /** `value` with (node, 1..counter) in its context, entries unchanged: the next dot it mints for `node` is above `counter`. */
  above(value: T, node: string, counter: number): T;
}

/**
 * What an ORMap key may hold (`Key.orMap`, the HTTP API): a data type that is not itself a map;
 * use a flat key per map instead.
 */
export function nestsInORMap(type: DataTypeDescriptor): boolean {
  return type.map === undefined;
}

/** A map whose values' kind each map names (ORMap): its empty value and its keys need that kind. */
export function takesValueKind(type: DataTypeDescriptor): boolean {
  return type.map !== undefined && type.map.valueKind === undefined;
}

/**
 * What an ORMap value can be at all: a type whose empty value needs no value kind (an ORMapState
 * names one valueKind, so an ORMap of ORMaps could not say what the inner maps hold). Wider than
 * `nestsInORMap`: a standalone ORMap may hold LWWMaps or PNCounterMaps.
 */
export function holdableByORMap(type: DataTypeDescriptor): boolean {
  return !takesValueKind(type);
}

/** The registered data types, looked up by kind. */
export interface DataTypes {
  /** Every data type, in the order of the wire enum. */
  readonly all: readonly DataTypeDescriptor[];
  /** The descriptor of `kind`, or undefined for anything that is not a registered kind. */
  get(kind: unknown): DataTypeDescriptor | undefined;
}

let registered: DataTypes | undefined;

/**
 * Installs the registry (registry.ts does, once, when it loads). ORMap resolves its values' kinds
 * through it at call time, as riak_dt's maps resolve a type's module: the map modules cannot
 * import the registry, which imports them.
 */
export function registerDataTypes(types: DataTypes): void {
  registered = types;
}

/** The registry installed by registry.ts (loaded by the package entry point, src/crdt/index.ts). */
export function registeredDataTypes(): DataTypes {
  if (registered === undefined) throw new CrdtReplicatorError("the data type registry is not loaded: import src/crdt/index.js");
  return registered;
}
