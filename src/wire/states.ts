/**
 * CRDT states ↔ bytes. A value travels as (DataType, bytes of its *State message); nested ORMap
 * values travel as bytes of their value kind's state.
 *
 * Layers:
 * - `encodeState` / `decodeState`: the plain `*State` shapes of src/crdt/types.ts ↔ protobuf bytes.
 *   The decoder checks what the wire can get wrong: truncation, wrong wire types, unknown fields
 *   (states are strict, see pb.ts `checkFields`), unknown enum numbers, counters past 2^53, absent
 *   sub-messages the encoder always writes; the data types' own `fromState` checks the rest
 *   (ordering, canonical encodings, dots covered by their context, ...).
 *
 *   What no decoder can catch: two kinds whose states have the same message shape. An ORSet delta
 *   holding only a context (a removal) and an MVRegister delta holding only a context encode to the
 *   same bytes; an LWWMap/PNCounterMap/ORMultiMap state is a valid ORMap of lwwRegister/pncounter/
 *   orset values (and an ORMap of orsets a valid ORMultiMap). Such
 *   bytes ARE a valid state of the claimed kind, so they decode (and merge) as that kind; no type
 *   confusion can follow, since the result is a well-formed value of the claimed kind.
 * - `encodeValue` / `decodeValue`: a `Crdt` ↔ bytes, via `toState()` and the registry's `fromState`.
 *
 * Every decoder throws DecodeError and nothing else.
 */
import type { Field, Type } from "protobufjs";
import protobuf from "protobufjs/light.js";
import { DATA_TYPES, dataTypes, fromState } from "../crdt/registry.js";
import type {
  AnyState,
  CausalContextState,
  Crdt,
  DataKind,
  DotState,
  GCounterState,
  LWWRegisterState,
  MVRegisterState,
  ORMapState,
  ORSetState,
  PNCounterState,
  SlotState,
} from "../crdt/types.js";
import { DecodeError, InvalidArgumentError } from "../errors.js";
import { gcounterOfBytes } from "./fast-decode.js";
import { writeCounter } from "./fast-encode.js";
import { asDecodeError, bytesOf, checkFields, decodeMessage, encodeMessage, guard, i64, type Int64, messageType, schemaEnum, u64 } from "./pb.js";
import { T, type PbContext, type PbDot, type PbFlag, type PbGCounter, type PbGSet, type PbLWWRegister, type PbMVRegister, type PbORMap, type PbORSet, type PbPNCounter, type PbSlot } from "./state-messages.js";

// ------------------------------------------------------------------ DataKind ↔ DataType

/** The wire enum `crdt.v1.DataType`, by name, as proto/crdt.proto declares it. */
export const DataType: Readonly<Record<string, number>> = Object.freeze({ ...schemaEnum("DataType") });
export type DataType = number;

// Index = DataType number: the kind whose descriptor carries that wire tag (undefined for UNSPECIFIED).
// Built from the descriptors alone (proto3 enums are open: protobufjs reads an enum number the
// schema does not name as that number); test/data-types.test.ts checks the schema names each one.
const KIND_BY_TYPE: readonly (DataKind | undefined)[] = Array.from(
  { length: Math.max(...DATA_TYPES.map((t) => t.wireTag)) + 1 },
  (_, type) => DATA_TYPES.find((t) => t.wireTag === type)?.kind,
);

/** The wire enum number of a data kind. Throws DecodeError for something that is not a DataKind. */
export function dataTypeOf(kind: DataKind): DataType {
  const type = dataTypes.get(kind);
  if (type === undefined) throw new DecodeError(`unknown data kind ${String(kind)}`);
  return type.wireTag;
}

/** The data kind of a wire enum number. DecodeError for UNSPECIFIED (0) and numbers this version does not know. */
export function kindOf(type: number, what = "data type"): DataKind {
  const kind = kindByType(type);
  if (kind === undefined) {
    throw new DecodeError(type === 0 ? `${what} is unspecified` : `${what}: unknown data type ${String(type)}`);
  }
  return kind;
}

/** The kind of a DataType number, undefined for none. */
export function kindByType(type: number): DataKind | undefined {
  return Number.isInteger(type) ? KIND_BY_TYPE[type] : undefined;
}

/** True for the kinds whose state is an ORMapState (the map types). */
export function isMapKind(kind: DataKind): boolean {
  return dataTypes.get(kind)?.map !== undefined;
}

// ------------------------------------------------------------------ message types

/** Kind → the protobuf message type that carries its state (the descriptor's `stateMessage`). */
const STATE_TYPE = new Map<unknown, Type>(DATA_TYPES.map((t) => [t.kind, messageType(t.stateMessage)]));

/** The protobuf message type that carries a state of `kind`. */
export function stateType(kind: DataKind): Type {
  const type = STATE_TYPE.get(kind);
  if (type === undefined) throw new InvalidArgumentError(`unknown data kind ${String(kind)}`);
  return type;
}

/** How deep ORMaps may nest (an ORMap whose values are ORMaps ...). Bounds decoding work. */
export const MAX_NESTING = 8;

// ------------------------------------------------------------------ encoding

/**
 * Encodes a plain state of `kind` (as `toState()` returns it). The shapes of src/crdt/types.ts
 * mirror the messages field for field, so most states go to protobufjs as they are; the ORMap
 * family is converted (value kind → enum, nested states → bytes of their kind). Returns a fresh
 * Uint8Array. InvalidArgumentError for a kind that is not a DataKind.
 *
 * `writer`: the compact form of a DeltaEnvelope with that `writer` (see proto/crdt.proto): node
 * ids equal to it (slots, dots, an LWW register's writer) are left empty. Only such an envelope's
 * decoder can read the result (`decodeValue` with the same writer).
 */
export function encodeState(kind: DataKind, state: AnyState, writer?: string): Uint8Array {
  const type = stateType(kind);
  return encodeMessage(type, toPb(type, state, writer));
}

const EMPTY_CONTEXT: CausalContextState = Object.freeze({ vector: [], cloud: [] }) as CausalContextState;
const EMPTY_GCOUNTER: GCounterState = Object.freeze({ slots: [] }) as GCounterState;

/**
 * The sub-messages the decoder requires are always written, even if a hand-made plain state
 * leaves them out (the data types' `toState()` always sets them; this only costs a check).
 * With `writer`, its node ids are left empty (see `encodeState`).
 */
function toPb(type: Type, state: AnyState, writer: string | undefined): object {
  switch (type) {
    case T.GCounterState:
      return writer === undefined ? state : { slots: slotsWithout((state as GCounterState).slots, writer) };
    case T.PNCounterState: {
      const s = state as PNCounterState;
      if (writer !== undefined) {
        return { increments: toPb(T.GCounterState, s.increments ?? EMPTY_GCOUNTER, writer), decrements: toPb(T.GCounterState, s.decrements ?? EMPTY_GCOUNTER, writer) };
      }
      return s.increments !== undefined && s.decrements !== undefined
        ? s
        : { increments: s.increments ?? EMPTY_GCOUNTER, decrements: s.decrements ?? EMPTY_GCOUNTER };
    }
    case T.ORSetState: {
      const s = state as ORSetState;
      if (writer === undefined) return s.context !== undefined ? s : { ...s, context: EMPTY_CONTEXT };
      const entries = s.entries.map((e) => ({ element: e.element, dots: e.dots.map((d) => dotWithout(d, writer)) }));
      return { entries, context: contextWithout(s.context ?? EMPTY_CONTEXT, writer) };
    }
    case T.MVRegisterState: {
      const s = state as MVRegisterState;
      if (writer === undefined) return s.context !== undefined ? s : { ...s, context: EMPTY_CONTEXT };
      const entries = s.entries.map((e) => ({ dot: dotWithout(e.dot, writer), value: e.value }));
      return { entries, context: contextWithout(s.context ?? EMPTY_CONTEXT, writer) };
    }
    case T.LWWRegisterState: {
      const s = state as LWWRegisterState;
      return writer !== undefined && s.node === writer ? { ...s, node: "" } : s;
    }
    case T.ORMapState:
      return mapToPb(state as ORMapState, writer);
    default:
      return state; // GSet and Flag hold no node ids; a data type's own message is never compacted
  }
}

function slotsWithout(slots: readonly SlotState[], writer: string): SlotState[] {
  return slots.map((s) => (s.node === writer ? { node: "", value: s.value } : s));
}

function dotWithout(d: DotState, writer: string): DotState {
  return d.node === writer ? { node: "", counter: d.counter } : d;
}

function contextWithout(c: CausalContextState, writer: string): CausalContextState {
  return { vector: slotsWithout(c.vector, writer), cloud: c.cloud.map((d) => dotWithout(d, writer)) };
}

function mapToPb(state: ORMapState, writer: string | undefined): object {
  const valueKind = state.valueKind;
  let valueType: DataType;
  try {
    valueType = dataTypeOf(valueKind);
  } catch {
    throw new InvalidArgumentError(`ORMapState.valueKind ${String(valueKind)} is not a data kind`);
  }
  const values = new Array<{ key: string; value: Uint8Array; dot?: DotState }>(state.values.length);
  for (let i = 0; i < values.length; i++) {
    const e = state.values[i]!;
    const value = encodeState(valueKind, e.value, writer);
    values[i] = e.dot === undefined ? { key: e.key, value } : { key: e.key, value, dot: writer === undefined ? e.dot : dotWithout(e.dot, writer) };
  }
  return { valueType, keys: toPb(T.ORSetState, state.keys ?? { entries: [], context: EMPTY_CONTEXT }, writer), values };
}

/** Where counters are written by hand before they are copied out (fast-encode.ts). */
const scratch = new Uint8Array(1024);

/** Encodes a CRDT value: the bytes of its `toState()` (with `writer`: compact, see `encodeState`). Returns a fresh Uint8Array. */
export function encodeValue(value: Crdt, writer?: string): Uint8Array {
  const end = writeCounter(scratch, 0, value, writer);
  return end >= 0 ? scratch.slice(0, end) : encodeState(value.kind, value.toState(), writer);
}

// ------------------------------------------------------------------ decoding

/**
 * Decodes the bytes of a state of `kind` into its plain shape. Checks the wire level only (see the
 * file comment); `decodeValue` adds the data type's semantic validation. Throws only DecodeError.
 * `writer`: the bytes are in the compact form of an envelope with that writer (see `encodeState`):
 * empty node ids are read as it. Without one, an empty node id stays empty (the data types refuse it).
 */
export function decodeState(kind: DataKind, bytes: Uint8Array, writer?: string): AnyState {
  return decodeStateAt(kind, bytes, 0, writer);
}

function decodeStateAt(kind: DataKind, bytes: Uint8Array, depth: number, writer: string | undefined): AnyState {
  const type = STATE_TYPE.get(kind);
  if (type === undefined) throw new DecodeError(`unknown data kind ${String(kind)}`);
  const what = type.name;
  return guard(what, () => {
    const m = decodeMessage<object>(type, bytes, what, true);
    return stateFromPb(kind, type, m, what, depth, writer);
  });
}

/**
 * Decodes a CRDT value of `kind` (validated by the type's `fromState`); `writer` as for
 * `decodeState`. Throws only DecodeError.
 */
export function decodeValue(kind: DataKind, bytes: Uint8Array, writer?: string): Crdt {
  // GCounters (the most common value; a snapshot restore or a join decodes millions) are read
  // straight from the bytes when they have the exact shape our encoder writes; the state then gets
  // the same `fromState` validation. Anything else goes through protobufjs.
  const fast = kind === "gcounter" && bytes instanceof Uint8Array ? gcounterOf(bytes, writer, 0, bytes.length) : undefined;
  return fast ?? validated(kind, decodeState(kind, bytes, writer));
}

/**
 * `decodeValue` of bytes[start, end) of a larger buffer (a value in a snapshot pack, a page or an
 * envelope; `writer` as for `decodeValue`): a GCounter of the usual shape is read in place, without
 * a view of its bytes.
 */
export function decodeValueIn(kind: DataKind, bytes: Uint8Array, start: number, end: number, writer?: string): Crdt {
  return (kind === "gcounter" ? gcounterOf(bytes, writer, start, end) : undefined) ?? decodeValue(kind, bytes.subarray(start, end), writer);
}

/** A GCounter read straight from bytes[start, end) when they have the usual shape (fast-decode.ts), validated as `fromState` does. */
function gcounterOf(bytes: Uint8Array, writer: string | undefined, start: number, end: number): Crdt | undefined {
  try {
    return gcounterOfBytes(bytes, writer, start, end);
  } catch (e) {
    throw asDecodeError(stateType("gcounter").name, e);
  }
}

/** The data type's `fromState`, its errors as DecodeError. */
function validated(kind: DataKind, state: AnyState): Crdt {
  try {
    return fromState(kind, state);
  } catch (e) {
    throw asDecodeError(stateType(kind).name, e); // not `guard`: a closure per value (a restore makes a million)
  }
}

/** `node`, or the envelope's writer for the empty id of the compact form. */
function nodeOf(node: string, writer: string | undefined): string {
  return node === "" && writer !== undefined ? writer : node;
}

/** Reads a decoded message `type` that carries a state of `kind` (the map types check their value kind). */
function stateFromPb(kind: DataKind, type: Type, m: object, what: string, depth: number, writer: string | undefined): AnyState {
  switch (type) {
    case T.GCounterState:
      return gcounterFromPb(m as PbGCounter, what, writer);
    case T.PNCounterState: {
      const p = m as PbPNCounter;
      return {
        increments: gcounterFromPb(required(p.increments, T.GCounterState, `${what}.increments`), `${what}.increments`, writer),
        decrements: gcounterFromPb(required(p.decrements, T.GCounterState, `${what}.decrements`), `${what}.decrements`, writer),
      };
    }
    case T.GSetState:
      return { elements: (m as PbGSet).elements.slice() };
    case T.ORSetState:
      return orsetFromPb(m as PbORSet, what, writer);
    case T.LWWRegisterState: {
      const r = m as PbLWWRegister;
      // The empty register (no value) has the empty node id: it stands for no writer there.
      const out: LWWRegisterState = { timestamp: i64(r.timestamp, `${what}.timestamp`), node: r.value != null ? nodeOf(r.node, writer) : r.node };
      if (r.value != null) out.value = r.value;
      return out;
    }
    case T.MVRegisterState:
      return mvRegisterFromPb(m as PbMVRegister, what, writer);
    case T.FlagState:
      return { enabled: (m as PbFlag).enabled === true };
    case T.ORMapState:
      return mapFromPb(kind, m as PbORMap, what, depth, writer);
    default:
      return plainFromPb(type, m as Record<string, unknown>, what) as unknown as AnyState;
  }
}

/**
 * A state message without a codec above (one a data type added with its own message): read by the
 * schema, with the rules of the codecs above. Every message is strict; a singular sub-message is
 * required unless declared `optional`; 64-bit integers become numbers (DecodeError past 2^53);
 * an absent `optional` scalar is left out. So a new type's state needs no code here, as long as
 * its `toState()` mirrors the message and always writes its sub-messages.
 */
function plainFromPb(type: Type, m: Record<string, unknown>, what: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const at = `${what}.${field.name}`;
    const v = m[field.name];
    if (field.repeated) out[field.name] = (v as unknown[]).map((x, i) => fieldFromPb(field, x, `${at}[${i}]`));
    else if (v != null) out[field.name] = fieldFromPb(field, v, at);
    else if (field.resolve().resolvedType instanceof protobuf.Type && field.partOf === null) throw new DecodeError(`${at} is missing`);
  }
  return out;
}

function fieldFromPb(field: Field, v: unknown, what: string): unknown {
  const message = field.resolve().resolvedType;
  if (message instanceof protobuf.Type) {
    checkFields(v as object, message, what, true);
    return plainFromPb(message, v as Record<string, unknown>, what);
  }
  switch (field.type) {
    case "uint64":
    case "fixed64":
      return u64(v as Int64, what);
    case "int64":
    case "sint64":
    case "sfixed64":
      return i64(v as Int64, what);
    case "bytes":
      return bytesOf(v);
    default:
      return v;
  }
}

/**
 * A sub-message the encoder always writes (possibly empty): PNCounterState.increments/decrements,
 * ORSetState.context, MVRegisterState.context, ORMapState.keys. Requiring it costs nothing and
 * tells apart states whose other fields look alike (an ORSet removal delta, which is only a
 * context, would otherwise read as a PNCounter with decrements only; a set Flag as an empty ORMap).
 */
function required<M extends object>(m: M | null | undefined, type: Type, what: string): M {
  if (m == null) throw new DecodeError(`${what} is missing`);
  checkFields(m, type, what, true);
  return m;
}

function gcounterFromPb(g: PbGCounter, what: string, writer: string | undefined): GCounterState {
  return { slots: slotsFromPb(g.slots, `${what}.slots`, writer) };
}

function slotsFromPb(list: PbSlot[], what: string, writer: string | undefined): SlotState[] {
  const out = new Array<SlotState>(list.length);
  for (let i = 0; i < list.length; i++) {
    const s = list[i]!;
    checkFields(s, T.Slot, what, true);
    out[i] = { node: nodeOf(s.node, writer), value: u64(s.value, `${what}[${i}].value`) };
  }
  return out;
}

function dotFromPb(d: PbDot, what: string, writer: string | undefined): DotState {
  checkFields(d, T.Dot, what, true);
  return { node: nodeOf(d.node, writer), counter: u64(d.counter, `${what}.counter`) };
}

function dotsFromPb(list: PbDot[], what: string, writer: string | undefined): DotState[] {
  const out = new Array<DotState>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = dotFromPb(list[i]!, what, writer);
  return out;
}

function contextFromPb(c: PbContext | null, what: string, writer: string | undefined): CausalContextState {
  const ctx = required(c, T.CausalContext, what);
  return { vector: slotsFromPb(ctx.vector, `${what}.vector`, writer), cloud: dotsFromPb(ctx.cloud, `${what}.cloud`, writer) };
}

function orsetFromPb(s: PbORSet, what: string, writer: string | undefined): ORSetState {
  const entries = new Array<ORSetState["entries"][number]>(s.entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = s.entries[i]!;
    checkFields(e, T.ORSetEntry, `${what}.entries`, true);
    entries[i] = { element: e.element, dots: dotsFromPb(e.dots, `${what}.entries[${i}].dots`, writer) };
  }
  return { entries, context: contextFromPb(s.context, `${what}.context`, writer) };
}

function mvRegisterFromPb(s: PbMVRegister, what: string, writer: string | undefined): MVRegisterState {
  const entries = new Array<MVRegisterState["entries"][number]>(s.entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = s.entries[i]!;
    checkFields(e, T.MVRegisterEntry, `${what}.entries`, true);
    if (e.dot == null) throw new DecodeError(`${what}.entries[${i}]: the dot is missing`);
    entries[i] = { dot: dotFromPb(e.dot, `${what}.entries[${i}].dot`, writer), value: e.value };
  }
  return { entries, context: contextFromPb(s.context, `${what}.context`, writer) };
}

function mapFromPb(kind: DataKind, m: PbORMap, what: string, depth: number, writer: string | undefined): ORMapState {
  if (depth >= MAX_NESTING) throw new DecodeError(`${what}: maps nest deeper than ${MAX_NESTING} levels`);
  const valueKind = kindOf(m.valueType, `${what}.valueType`);
  const type = dataTypes.get(kind)!;
  const fixed = type.map?.valueKind;
  if (fixed !== undefined && valueKind !== fixed) throw new DecodeError(`${what}: ${type.name} values are ${fixed}, not ${valueKind}`);
  const values = new Array<ORMapState["values"][number]>(m.values.length);
  for (let i = 0; i < values.length; i++) {
    const e = m.values[i]!;
    checkFields(e, T.ORMapEntry, `${what}.values`, true);
    const value = decodeStateAt(valueKind, bytesOf(e.value), depth + 1, writer);
    values[i] = e.dot == null ? { key: e.key, value } : { key: e.key, dot: dotFromPb(e.dot, `${what}.values[${i}].dot`, writer), value };
  }
  const keys = orsetFromPb(required(m.keys, T.ORSetState, `${what}.keys`), `${what}.keys`, writer);
  return { valueKind, keys, values };
}
