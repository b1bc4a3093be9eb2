/**
 * Type conflicts: one key written with two data types (created concurrently as a gcounter on one
 * node and an orset on another, say). Every replica must end with the same type, and can only
 * decide from what it holds: the two values. The rule: **the type whose wire tag (the proto
 * `DataType` number, the order of DATA_TYPES) is lower wins**; between two ORMaps, the one whose
 * value type's tag is lower. The rule needs no metadata, and every path that merges a value (the
 * delta stream, anti-entropy, read repair, coordinated writes, other DCs) goes through the Merger,
 * which applies it: a replica holding the losing type replaces its value with the winner's (and
 * says so: an event and a counter); one holding the winner refuses the loser's deltas.
 */
import { dataType } from "../crdt/registry.js";
import type { Crdt, DataKind } from "../crdt/types.js";

/** The ORMap value kind, when `v` is an ORMap (the other map kinds fix theirs). */
export function valueKindOf(v: Crdt): DataKind | undefined {
  return v.kind === "orMap" ? (v as { valueKind?: DataKind }).valueKind : undefined;
}

/** Whether two values are of one data type (and merge). */
export function sameType(a: Crdt, b: Crdt): boolean {
  return a.kind === b.kind && (a.kind !== "orMap" || valueKindOf(a) === valueKindOf(b));
}

/** Whether `incoming`'s type beats `stored`'s (two values of different types). */
export function winsOver(incoming: Crdt, stored: Crdt): boolean {
  const a = dataType(incoming.kind).wireTag;
  const b = dataType(stored.kind).wireTag;
  if (a !== b) return a < b;
  return dataType(valueKindOf(incoming)!).wireTag < dataType(valueKindOf(stored)!).wireTag;
}
