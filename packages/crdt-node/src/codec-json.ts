/**
 * The daemon's JSON face of the data types: a value → its JSON view, and a request body
 * `{ type, op, ... }` → the modify function `Replicator.update` applies.
 *
 * Type names on the HTTP API are the library's kinds lower-cased (`lwwregister`, `ormap`, …) and
 * are matched case-insensitively. Elements, fields and register values are JSON values; a bigint
 * or a byte array written through the library reads back as `{ "$bigint": "…" }` /
 * `{ "$base64": "…" }`.
 */
import {
  CrdtReplicatorError,
  DATA_KINDS,
  DATA_TYPES,
  dataType,
  nestsInORMap,
  takesValueKind,
  type Crdt,
  type DataKind,
  type Element,
  type Json,
  type JsonView,
  type JsonWriter,
  type OpArgs,
} from "crdt-replicator";

export type { Json };
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

export type View = JsonView;

/** How the API writes elements, nested values and writer ids (the data types' JSON views use it). */
const WRITER: JsonWriter = { element: json, value: (v) => view(v).value, node: nodeOf, object };

/** The JSON view of a value (its type's `json` capability; null for a type that has none). */
export function view(v: Crdt): View {
  return dataType(v.kind).json?.view(v, WRITER) ?? { value: null };
}

/** The value kind of a map that names its own (ormap), for the API's `valueType` field. */
export function valueKindOf(v: Crdt): DataKind | undefined {
  return takesValueKind(dataType(v.kind)) ? (v as Crdt & { valueKind: DataKind }).valueKind : undefined;
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
  const args = new BodyArgs(b, "", kind);
  const modify = modifier(kind, b, args);
  if (!takesValueKind(dataType(kind))) return { kind, modify };
  return { kind, valueKind: args.valueKind ?? optionalValueKind(b), modify };
}

function optionalValueKind(b: Body): DataKind | undefined {
  return b.valueType === undefined ? undefined : nestedKind(b.valueType);
}

function nestedKind(name: unknown): DataKind {
  const k = parseType(name, "valueType");
  if (!NESTABLE.includes(k)) throw new BodyError(`valueType must be one of ${NESTABLE.map(typeName).join(", ")}; got ${show(name)}`);
  return k;
}

/** The modify function of operation `b.op` on `kind` (its type's `json` capability). */
function modifier(kind: DataKind, b: Body, args: BodyArgs): Modify {
  const t = typeName(kind);
  const ops = dataType(kind).json?.ops;
  if (ops === undefined) throw new BodyError(`${args.at}type ${t} has no operations on the HTTP API`);
  const op = typeof b.op === "string" && Object.hasOwn(ops, b.op) ? ops[b.op] : undefined;
  if (op === undefined) throw badOp(t, b.op, Object.keys(ops), args.at);
  return op(args);
}

/** An operation's arguments, read from the body `b` (`at` prefixes field names in messages). */
class BodyArgs implements OpArgs {
  /** The value kind `nested()` read, for the operation's key. */
  valueKind: DataKind | undefined;

  constructor(
    private readonly b: Body,
    readonly at: string,
    private readonly kind: DataKind,
  ) {}

  element(): Element {
    if (!("value" in this.b) || this.b.value === undefined) throw new BodyError(`${this.at}value is missing`);
    return this.b.value as Element; // any JSON value is an Element; the data type validates the rest
  }

  field(): string {
    const f = this.b.field;
    if (typeof f !== "string" || f === "") throw new BodyError(`${this.at}field must be a non-empty string; got ${show(f)}`);
    return f;
  }

  by(): number {
    const by = this.b.by === undefined ? 1 : this.b.by; // null is not "absent": it is a wrong value
    if (typeof by !== "number" || !Number.isSafeInteger(by) || by < 0) {
      throw new BodyError(`${this.at}by must be a non-negative integer (default 1); got ${show(by)}`);
    }
    return by;
  }

  timestamp(): number | undefined {
    const ts = this.b.timestamp;
    if (ts === undefined) return undefined;
    if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) {
      throw new BodyError(`${this.at}timestamp must be a non-negative integer (milliseconds); got ${show(ts)}`);
    }
    return ts;
  }

  nested(): Modify {
    const valueKind = nestedKind(this.b.valueType);
    const inner = this.b.update;
    if (typeof inner !== "object" || inner === null || Array.isArray(inner)) {
      throw new BodyError(`${this.at}${typeName(this.kind)} update needs "update": the ${typeName(valueKind)} operation to apply to the field, e.g. {"op":"increment","by":1}`);
    }
    this.valueKind = valueKind;
    return modifier(valueKind, inner as Body, new BodyArgs(inner as Body, `${this.at}update.`, valueKind));
  }
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
