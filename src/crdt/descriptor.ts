/**
 * What a data type declares about itself (riak_dt's behaviour, Akka's capability traits): one
 * descriptor per type, exported from the type's own module and listed once in registry.ts. The
 * registry, typed keys, the wire and the daemon's JSON codec derive their tables from these.
 */
import { CrdtReplicatorError } from "../errors.js";
import type { AnyState, Crdt, DataKind, Element } from "./types.js";

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
   * as its delta (publish it like a write); `value` itself when it records none. `writerId` is a
   * live writer id (its own id is folded too, writer-ids.ts) or a fold id (a removed node's `node!inc`).
   */
  foldRetired(value: T, writerId: string): T;
  /**
   * Types a removed node can come back in (crdt/comeback.ts): `value` with the ids of a removed node
   * that `marker` covers absorbed under the marker (writer-ids.ts) — a counter's amount into `into`'s
   * slot (the absorbing node's writer id in that key), dots re-issued under the marker — carrying
   * the change as its delta; `value` itself when it records none. `skip`: ids the value around this
   * one (a map's context) covers already, which a counter drops without moving or recording them
   * (an earlier marker the node's own later fold covers: its share is no longer the node's).
   */
  absorbRemoved?(value: T, marker: string, into: string, skip?: (id: string) => boolean): T;
  /**
   * With `absorbRemoved`: `value` without the markers made before `cutoffMs` (expired) that hold no
   * effects of their own — a set element or register value still under one keeps it, here or in
   * `alongside` (the value `value` is about to be merged into) — `value` itself when none.
   */
  withoutMarkersBefore?(value: T, cutoffMs: number, alongside?: T): T;
  /**
   * When the latest marker `value` records was made (0: none), as writer-ids.ts `latestMarkerTime`
   * of `writers(value)` says, without that list: every merge of a received value asks (merge.ts
   * bounds it by the clock). Without it, the list is made.
   */
  latestMarkerTime?(value: T): number;
  /**
   * Whether any of `writers(value)` may be a fold id (writer-ids.ts `mayBeFoldId`), without that
   * list: every merge of a received value asks (own-writer.ts). Without it, the list is made.
   */
  mayHoldFoldId?(value: T): boolean;
  /**
   * Whether `value` records `id` at its top — a counter's slot, a causal context's entry, a map's
   * own context — cheap, as every write asks it (a key its node's fold took in holds the fold id).
   */
  holds(value: T, id: string): boolean;
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
  /** Capability of the types a JSON front end (the daemon's HTTP API) reads and writes (see JsonCapability). */
  readonly json?: JsonCapability<T>;
}

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A value as JSON, and who wrote what (per-node counts, the winning write's timestamp and node). */
export interface JsonView {
  value: Json;
  detail?: Json;
}

/**
 * The JSON face of a type: its value as JSON, and its operations by name. Pure, and free of any
 * front end's terms: the front end passes how elements and nested values become JSON (`JsonWriter`)
 * and reads each operation's arguments from its request (`OpArgs`, which reports bad ones its way).
 */
export interface JsonCapability<T extends Crdt = Crdt> {
  view(value: T, json: JsonWriter): JsonView;
  /**
   * The operations, in the order messages list them. Each reads its arguments at once (so bad ones
   * fail before anything is written) and returns the mutation to apply as `node`.
   */
  readonly ops: { readonly [op: string]: Method<(args: OpArgs) => Method<(value: T, node: string) => T>> };
}

/** `F` compared as a method (bivariantly), so a JsonCapability<GCounter> is a JsonCapability<Crdt>, as the other capabilities are. */
type Method<F extends (...args: never[]) => unknown> = { method(...args: Parameters<F>): ReturnType<F> }["method"];

/** How the front end writes elements, nested values and writer ids as JSON. */
export interface JsonWriter {
  element(e: Element): Json;
  /** The JSON value of a nested value (an ORMap's values). */
  value(v: Crdt): Json;
  /** The node of a writer id (per-node counts sum a node's ids). */
  node(writerId: string): string;
  /** A map's entries as a JSON object (keys that are not strings as their JSON text). */
  object<V>(entries: readonly (readonly [Element, V])[], value: (v: V) => Json): Json;
}

/** An operation's arguments, read from the request; each reports a missing or malformed one. */
export interface OpArgs {
  /** `value`: an element. */
  element(): Element;
  /** `field`: a map key. */
  field(): string;
  /** `by`: a non-negative safe integer, 1 when absent. */
  by(): number;
  /** `timestamp`: milliseconds, or undefined for the writer's clock. */
  timestamp(): number | undefined;
  /** `valueType` and `update`: the operation on a nested value of a map that names its value kind (ORMap). */
  nested(): (value: Crdt, node: string) => Crdt;
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
