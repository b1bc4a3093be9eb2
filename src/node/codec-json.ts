/**
 * The daemon's JSON face of the data types: a value → its JSON view, and a request body
 * `{ type, op, ... }` → the modify function `Replicator.update` applies.
 *
 * Type names on the HTTP API are the library's kinds lower-cased (`lwwregister`, `ormap`, …) and
 * are matched case-insensitively. Elements, fields and register values are JSON values; a bigint
 * or a byte array written through the library reads back as `{ "$bigint": "…" }` /
 * `{ "$base64": "…" }`.
 */
import { CrdtReplicatorError, PrecisionError } from "../errors.js";
import type { Crdt, DataKind, Element } from "../crdt/types.js";
import type { Flag } from "../crdt/flag.js";
import type { GCounter } from "../crdt/gcounter.js";
import type { GSet } from "../crdt/gset.js";
import type { LWWMap } from "../crdt/lww-map.js";
import type { LWWRegister } from "../crdt/lww-register.js";
import type { MVRegister } from "../crdt/mv-register.js";
import type { ORMap } from "../crdt/ormap.js";
import type { ORMultiMap } from "../crdt/ormultimap.js";
import type { ORSet } from "../crdt/orset.js";
import type { PNCounter } from "../crdt/pncounter.js";
import type { PNCounterMap } from "../crdt/pncounter-map.js";
import { nestsInORMap } from "../crdt/descriptor.js";
import { DATA_KINDS, DATA_TYPES } from "../crdt/registry.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Body = Record<string, unknown>;
type Modify = (current: Crdt, self: string) => Crdt;

/** A request body the API cannot use; the message names the problem (HTTP 400). */
export class BodyError extends CrdtReplicatorError {}

const BY_NAME = new Map<string, DataKind>(DATA_KINDS.map((k) => [k.toLowerCase(), k]));

/** The HTTP name of a kind: the library's kind, lower-cased. */
export function typeName(kind: DataKind): string {
  return kind.toLowerCase();
}

/** The kind an HTTP type name stands for (case-insensitive); BodyError when unknown. */
export function parseType(name: unknown, what = "type"): DataKind {
  const kind = typeof name === "string" ? BY_NAME.get(name.toLowerCase()) : undefined;
  if (kind === undefined) {
    throw new BodyError(`${what} must be one of ${DATA_KINDS.map(typeName).join(", ")}; got ${show(name)}`);
  }
  return kind;
}

/** Kinds an ormap may hold through the API (the rule `Key.orMap` applies: no maps). */
const NESTABLE: readonly DataKind[] = DATA_TYPES.filter(nestsInORMap).map((type) => type.kind);

// ------------------------------------------------------------------ reading

export interface View {
  value: Json;
  /** Who wrote what: per-node counts, the winning write's timestamp and node. */
  detail?: Json;
}

/** The JSON view of a value. */
export function view(v: Crdt): View {
  switch (v.kind) {
    case "gcounter":
      return { value: count(v as GCounter), detail: { byNode: slots(v as GCounter) } };
    case "pncounter": {
      const c = v as PNCounter;
      return { value: count(c), detail: { increments: slots(c.increments), decrements: slots(c.decrements) } };
    }
    case "gset":
      return { value: (v as GSet).elements.map(json) };
    case "orset":
      return { value: (v as ORSet).elements.map(json) };
    case "lwwRegister": {
      const r = v as LWWRegister;
      return { value: r.value === undefined ? null : json(r.value), detail: { timestamp: r.timestamp, node: nodeOf(r.node) } };
    }
    case "mvRegister":
      return { value: (v as MVRegister).values.map(json) };
    case "flag":
      return { value: (v as Flag).enabled };
    case "lwwMap":
      return { value: object((v as LWWMap).entries, json) };
    case "pncounterMap":
      return { value: object((v as PNCounterMap).map.entries, count) };
    case "orMap":
      return { value: object((v as ORMap).entries, (x: Crdt) => view(x).value) };
    case "orMultiMap":
      return { value: object((v as ORMultiMap).entries, (xs: readonly Element[]) => xs.map(json)) };
  }
}

/** The value kind of an ormap, for the API's `valueType` field. */
export function valueKindOf(v: Crdt): DataKind | undefined {
  return v.kind === "orMap" ? (v as ORMap).valueKind : undefined;
}

function count(c: GCounter | PNCounter): number | string {
  try {
    return c.value;
  } catch (e) {
    if (e instanceof PrecisionError) return c.bigValue.toString(); // exact, as a decimal string
    throw e;
  }
}

/** Per-node counts; the writer ids' incarnation suffixes (`node~xyz`) are summed into their node. */
function slots(c: GCounter): Record<string, number> {
  const out = record<number>();
  for (const w of c.nodes.sort()) out[nodeOf(w)] = (out[nodeOf(w)] ?? 0) + c.slot(w);
  return out;
}

/** The node id of a writer id (`writerIdFor` appends `~incarnation`; node ids never contain `~`). */
export function nodeOf(writer: string): string {
  const i = writer.indexOf("~");
  return i < 0 ? writer : writer.slice(0, i);
}

/**
 * An empty object without a prototype: every name (`__proto__`, `constructor`) is then an ordinary
 * field when assigned, as it is in the data.
 */
function record<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

function object<V>(entries: readonly (readonly [Element, V])[], f: (v: V) => Json): Json {
  const out = record<Json>();
  for (const [k, v] of entries) out[typeof k === "string" ? k : JSON.stringify(json(k))] = f(v);
  return out;
}

/** An element as JSON. */
export function json(e: Element): Json {
  if (typeof e === "bigint") return { $bigint: e.toString() };
  if (e instanceof Uint8Array) return { $base64: Buffer.from(e).toString("base64") };
  if (Array.isArray(e)) return e.map(json);
  if (typeof e === "object" && e !== null) {
    const out = record<Json>();
    for (const [k, v] of Object.entries(e)) out[k] = json(v as Element);
    return out;
  }
  return e as Json;
}

// ------------------------------------------------------------------ writing

const UTF8 = new TextDecoder("utf-8", { fatal: true });
const EXAMPLE = '{"type":"gcounter","op":"increment","by":1}';

/**
 * A request body as JSON: strict UTF-8 (no silent U+FFFD), and `JSON.parse`, which makes a
 * `__proto__` key an ordinary own field like any other. BodyError when it is not.
 */
export function parseJsonBody(raw: Uint8Array): unknown {
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    throw new BodyError(`the body is not valid UTF-8; send JSON text in UTF-8, like ${EXAMPLE}`);
  }
  if (text.trim() === "") throw new BodyError(`the body is empty; send an object like ${EXAMPLE}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new BodyError(`the body is not valid JSON; send an object like ${EXAMPLE}`);
  }
}

export interface Operation {
  kind: DataKind;
  /** For ormap: the kind of the map's values. */
  valueKind?: DataKind;
  modify: Modify;
}

/** Parse `{ type, op, ... }` into the kind it writes and its modify function; BodyError if malformed. */
export function parseOperation(body: unknown): Operation {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new BodyError(`the body must be a JSON object like ${EXAMPLE}`);
  }
  const b = body as Body;
  const kind = parseType(b.type);
  if (kind !== "orMap") return { kind, modify: modifier(kind, b, "") };
  if (b.op === "remove") return { kind, valueKind: optionalValueKind(b), modify: (m, self) => (m as ORMap).remove(self, field(b, "")) };
  if (b.op !== "update") throw badOp("ormap", b.op, ["update", "remove"]);
  const valueKind = nestedKind(b.valueType);
  const inner = b.update;
  if (typeof inner !== "object" || inner === null || Array.isArray(inner)) {
    throw new BodyError(`ormap update needs "update": the ${typeName(valueKind)} operation to apply to the field, e.g. {"op":"increment","by":1}`);
  }
  const f = field(b, "");
  const apply = modifier(valueKind, inner as Body, "update.");
  return { kind, valueKind, modify: (m, self) => (m as ORMap).update(self, f, (v: Crdt, n: string) => apply(v, n)) };
}

function optionalValueKind(b: Body): DataKind | undefined {
  return b.valueType === undefined ? undefined : nestedKind(b.valueType);
}

function nestedKind(name: unknown): DataKind {
  const k = parseType(name, "valueType");
  if (!NESTABLE.includes(k)) throw new BodyError(`valueType must be one of ${NESTABLE.map(typeName).join(", ")}; got ${show(name)}`);
  return k;
}

/** The modify function for a non-map-of-CRDT kind. `at` prefixes field names in messages. */
function modifier(kind: DataKind, b: Body, at: string): Modify {
  const op = b.op;
  const t = typeName(kind);
  switch (kind) {
    case "gcounter":
      if (op !== "increment") throw badOp(t, op, ["increment"], at);
      return counter(b, at, (c, self, by) => (c as GCounter).increment(self, by));
    case "pncounter":
      if (op === "increment") return counter(b, at, (c, self, by) => (c as PNCounter).increment(self, by));
      if (op === "decrement") return counter(b, at, (c, self, by) => (c as PNCounter).decrement(self, by));
      throw badOp(t, op, ["increment", "decrement"], at);
    case "gset": {
      if (op !== "add") throw badOp(t, op, ["add"], at);
      const x = element(b, at);
      return (s, self) => (s as GSet).add(self, x);
    }
    case "orset": {
      if (op !== "add" && op !== "remove") throw badOp(t, op, ["add", "remove"], at);
      const x = element(b, at);
      return op === "add" ? (s, self) => (s as ORSet).add(self, x) : (s) => (s as ORSet).remove(x);
    }
    case "lwwRegister": {
      if (op !== "set") throw badOp(t, op, ["set"], at);
      const x = element(b, at);
      const ts = timestamp(b, at);
      return (r, self) => (r as LWWRegister).set(self, x, ts);
    }
    case "mvRegister": {
      if (op !== "set") throw badOp(t, op, ["set"], at);
      const x = element(b, at);
      return (r, self) => (r as MVRegister).set(self, x);
    }
    case "flag":
      if (op !== "enable") throw badOp(t, op, ["enable"], at);
      return (f, self) => (f as Flag).enable(self);
    case "lwwMap": {
      const f = field(b, at);
      if (op === "remove") return (m, self) => (m as LWWMap).remove(self, f);
      if (op !== "put") throw badOp(t, op, ["put", "remove"], at);
      const x = element(b, at);
      const ts = timestamp(b, at);
      return (m, self) => (m as LWWMap).put(self, f, x, ts);
    }
    case "pncounterMap": {
      const f = field(b, at);
      if (op === "remove") return (m, self) => (m as PNCounterMap).remove(self, f);
      if (op === "increment") return counter(b, at, (m, self, by) => (m as PNCounterMap).increment(self, f, by));
      if (op === "decrement") return counter(b, at, (m, self, by) => (m as PNCounterMap).decrement(self, f, by));
      throw badOp(t, op, ["increment", "decrement", "remove"], at);
    }
    case "orMultiMap": {
      const f = field(b, at);
      if (op === "remove") return (m, self) => (m as ORMultiMap).remove(self, f);
      if (op !== "addBinding" && op !== "removeBinding") throw badOp(t, op, ["addBinding", "removeBinding", "remove"], at);
      const x = element(b, at);
      return op === "addBinding" ? (m, self) => (m as ORMultiMap).addBinding(self, f, x) : (m, self) => (m as ORMultiMap).removeBinding(self, f, x);
    }
    case "orMap":
      throw new BodyError(`${at}type ormap cannot be nested`);
  }
}

function counter(b: Body, at: string, f: (c: Crdt, self: string, by: number) => Crdt): Modify {
  const by = b.by === undefined ? 1 : b.by; // null is not "absent": it is a wrong value
  if (typeof by !== "number" || !Number.isSafeInteger(by) || by < 0) {
    throw new BodyError(`${at}by must be a non-negative integer (default 1); got ${show(by)}`);
  }
  return (c, self) => f(c, self, by);
}

function element(b: Body, at: string): Element {
  if (!("value" in b) || b.value === undefined) throw new BodyError(`${at}value is missing`);
  return b.value as Element; // any JSON value is an Element; the data type validates the rest
}

function field(b: Body, at: string): string {
  if (typeof b.field !== "string" || b.field === "") throw new BodyError(`${at}field must be a non-empty string; got ${show(b.field)}`);
  return b.field;
}

function timestamp(b: Body, at: string): number | undefined {
  const ts = b.timestamp;
  if (ts === undefined) return undefined;
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) {
    throw new BodyError(`${at}timestamp must be a non-negative integer (milliseconds); got ${show(ts)}`);
  }
  return ts;
}

function badOp(type: string, op: unknown, allowed: string[], at = ""): BodyError {
  const what = op === undefined ? `${at}op is missing` : `${at}op ${show(op)} is not an operation of ${type}`;
  return new BodyError(`${what}; use ${allowed.map((o) => JSON.stringify(o)).join(" or ")}`);
}

function show(x: unknown): string {
  if (x === undefined) return "nothing";
  try {
    const s = JSON.stringify(x);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return typeof x;
  }
}
