/**
 * The contract every data type fulfils (riak_dt style: one module per type, same small surface).
 *
 * Values are immutable. A mutator returns a new value whose `delta` is the join of the deltas
 * produced since the last `resetDelta()`. A delta is itself a value of the same type; merging it
 * anywhere (any order, twice, or after anti-entropy) is safe.
 *
 * `toState()` / `fromState()` convert to and from the plain shapes below, which mirror the
 * protobuf messages of proto/crdt.proto one to one; the wire layer encodes those shapes.
 */

/**
 * The data types' state shapes, by kind: an open registry. This file lists no type; each type's
 * module adds its own entry by declaration merging,
 *
 *   declare module "./types.js" { interface StateByKind { myType: MyTypeState } }
 *
 * so `DataKind` and `AnyState` grow with the modules compiled in (the run-time list is registry.ts).
 */
export interface StateByKind {}

/** The data types, by name: every kind a type's module declared in `StateByKind`. */
export type DataKind = Extract<keyof StateByKind, string>;

/** Values that elements, map keys and register values may hold. */
export type Element =
  | string
  | number
  | boolean
  | bigint
  | null
  | Uint8Array
  | readonly Element[]
  | { readonly [key: string]: Element };

// ------------------------------------------------------------------ plain states (wire shapes)

export interface SlotState {
  node: string;
  /** A safe integer (≤ 2^53 - 1). */
  value: number;
}
export interface DotState {
  node: string;
  counter: number;
}
export interface CausalContextState {
  vector: SlotState[]; // sorted by node
  cloud: DotState[]; // sorted by (node, counter)
}
export interface GCounterState {
  slots: SlotState[]; // sorted by node, no zero slots
}
export interface PNCounterState {
  increments: GCounterState;
  decrements: GCounterState;
}
export interface GSetState {
  elements: string[]; // canonical encodings, sorted
}
export interface ORSetState {
  entries: { element: string; dots: DotState[] }[]; // sorted by element; dots sorted
  context: CausalContextState;
}
export interface LWWRegisterState {
  value?: string; // canonical encoding; undefined for the empty register
  timestamp: number;
  node: string;
}
export interface MVRegisterState {
  entries: { dot: DotState; value: string }[]; // sorted by dot
  context: CausalContextState;
}
export interface FlagState {
  enabled: boolean;
}
/**
 * ORMap, LWWMap (valueKind lwwRegister), PNCounterMap (valueKind pncounter), ORMultiMap (valueKind
 * orset). `keys` holds each key's instance dots (one per writer) and the map's causal context.
 */
export interface ORMapState {
  valueKind: DataKind;
  keys: ORSetState;
  /** Each writer's part of a key: `dot` is one of the key's dots in `keys` (sorted by key, then dot). */
  values: { key: string; dot?: DotState; value: AnyState }[];
}

/** The state of any data type. */
export type AnyState = StateByKind[DataKind];

// ------------------------------------------------------------------ the value contract

export interface Crdt<Self extends Crdt<Self> = any> {
  readonly kind: DataKind;
  /** Least upper bound of two values of the same type (commutative, associative, idempotent). */
  merge(other: Self): Self;
  /** Same replicated state (not identity). */
  equals(other: Self): boolean;
  /** The delta accumulated since the last `resetDelta()`, or undefined when none. */
  readonly delta: Self | undefined;
  resetDelta(): Self;
  /**
   * Whether this value is `base` itself or was made from `base` by this value's own mutators alone
   * (no merge, no other value in between), so that it equals `base` merged with its delta. O(1):
   * the replicator's `update` checks it on every write, to refuse a stale copy or another key's value.
   */
  derivesFrom(base: Self): boolean;
  /** Plain, canonically ordered state (mirrors the protobuf message). */
  toState(): AnyState;
}
