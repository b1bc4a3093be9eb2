/**
 * The runtime protobuf layer: protobufjs reflection over the schema embedded in gen/descriptor.ts
 * (generated from proto/crdt.proto by `npm run proto`), plus the few low-level helpers every
 * decoder shares. Nothing here reads a .proto file at run time.
 *
 * Why protobufjs and not the ts-proto code in gen/crdt.ts (top level, outside src/): see the figures in src/wire/codec.ts.
 */
import type { Reader as PbReader, Type } from "protobufjs";
import protobuf from "protobufjs/light.js";
import { DecodeError, errorMessage } from "../errors.js";
import { descriptor } from "./gen/descriptor.js";

const root = protobuf.Root.fromJSON(descriptor);

/** A message type of package crdt.v1, e.g. `messageType("DeltaEnvelope")`. */
export function messageType(name: string): Type {
  return root.lookupType(`crdt.v1.${name}`);
}

/** Every message type of the schema, nested ones included. */
export function messageTypes(): Type[] {
  const types: Type[] = [];
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) types.push(nested);
      if (nested instanceof protobuf.Namespace) visit(nested);
    }
  };
  visit(root);
  return types;
}

/** Whether `prepareCodecs` ran in this process (the codecs live on the shared schema). */
let codecsPrepared = false;

/**
 * Generates every message type's encoder, decoder and verifier now, once per process. protobufjs
 * does it on a type's first use, ~0.5 ms of code generation per type: left lazy, a node's first
 * anti-entropy round or coordinated request (tens of seconds after start, amid traffic) stalls its
 * event loop for several milliseconds, which showed as the worst convergence latency of a run.
 */
export function prepareCodecs(): void {
  if (codecsPrepared) return;
  codecsPrepared = true;
  for (const type of messageTypes()) type.setup();
}

/** The numbers of the DataType enum as the schema declares them (used by tests to pin the mapping). */
export function schemaEnum(name: string): Readonly<Record<string, number>> {
  return root.lookupEnum(`crdt.v1.${name}`).values;
}

// ------------------------------------------------------------------ encoding

/**
 * Encodes `obj` as `type` into a FRESH Uint8Array per call. A new Writer is created per call (never
 * shared, never reset), and `finish()` copies the written bytes into a new exact-size buffer, so the
 * caller may hand the result to NATS (which keeps a reference until it flushes) while the next
 * message is encoded. In Node that buffer comes from `Buffer.allocUnsafe`: one under 4 KiB is
 * carved from Node's 8 KiB allocation pool, a region that is never handed out twice (so no message
 * can overwrite another), but its `.buffer` is the shared slab: always use byteOffset/byteLength.
 * Copying into an own ArrayBuffer per message measured 1.4–3× slower on small envelopes.
 */
export function encodeMessage(type: Type, obj: object): Uint8Array {
  return plainView(type.encode(obj).finish());
}

/**
 * A plain Uint8Array over the same memory. protobufjs hands out Node Buffers, whose `slice()` is a
 * view where Uint8Array's is a copy; every buffer the codec returns is a plain Uint8Array, so
 * `bytes.slice()` copies as the standard says.
 */
export function plainView(b: Uint8Array): Uint8Array {
  return Buffer.isBuffer(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : b;
}

// ------------------------------------------------------------------ decoding

/**
 * Decodes `bytes` as `type`. Unknown fields are kept (briefly) so `checkFields` can tell a known
 * field sent with the wrong wire type (a mistyped payload) from a field a newer peer added.
 * Any protobufjs error becomes a DecodeError.
 */
export function decodeMessage<T>(type: Type, bytes: Uint8Array, what: string, strict: boolean): T {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError(`${what}: expected a Uint8Array, got ${typeof bytes}`);
  let reader: PbReader;
  try {
    reader = protobuf.Reader.create(bytes);
    reader.discardUnknown = false;
    const message = type.decode(reader) as T;
    checkFields(message as object, type, what, strict);
    return message;
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError(`${what}: not a valid ${type.name} (${errorMessage(e)})`, { cause: e });
  }
}

/**
 * Checks the fields protobufjs could not place. A field number the type knows arrived with another
 * wire type than the schema's: the bytes are some other message, always a DecodeError. A field
 * number the type does not know: tolerated in protocol messages (`strict` false: a newer peer may
 * add fields), refused in CRDT states (`strict` true: merging a state while dropping a field a
 * newer version added would lose data and re-gossip a truncated value).
 */
export function checkFields(message: object, type: Type, what: string, strict: boolean): void {
  const unknowns = (message as { $unknowns?: Uint8Array[] }).$unknowns;
  if (unknowns === undefined) return;
  for (const raw of unknowns) {
    const tag = readVarint32(raw);
    const field = type.fieldsById[tag >>> 3];
    if (field !== undefined) {
      throw new DecodeError(`${what}.${field.name}: wrong wire type ${tag & 7} for ${field.type}`);
    }
    if (strict) throw new DecodeError(`${what}: unknown field ${tag >>> 3} (not a ${type.name}, or written by a newer version)`);
  }
}

function readVarint32(raw: Uint8Array): number {
  let value = 0;
  for (let i = 0, shift = 0; i < raw.length && i < 5; i++, shift += 7) {
    value |= (raw[i]! & 0x7f) << shift;
    if ((raw[i]! & 0x80) === 0) break;
  }
  return value >>> 0;
}

const NO_BYTES = new Uint8Array(0);

/**
 * A decoded `bytes` field, as a plain Uint8Array view into the decoded message (see `plainView`);
 * protobufjs leaves an absent one as its (non-Uint8Array) default.
 */
export function bytesOf(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? plainView(v) : NO_BYTES;
}


/** Runs a decoder; whatever it throws that is not a DecodeError becomes one (with the cause kept). */
export function guard<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    throw asDecodeError(what, e);
  }
}

/** `e` when it is a DecodeError, else a DecodeError about `what` caused by it (for hot paths that cannot afford `guard`'s closure). */
export function asDecodeError(what: string, e: unknown): DecodeError {
  return e instanceof DecodeError ? e : new DecodeError(`${what}: ${errorMessage(e)}`, { cause: e });
}

// ------------------------------------------------------------------ 64-bit integers

/** What protobufjs yields for 64-bit fields: a Long (always, since `long` ships with it) or a number. */
export type Int64 = { low: number; high: number } | number;

const TWO_32 = 4294967296;

/** uint64 → number; DecodeError past Number.MAX_SAFE_INTEGER (never rounds silently). */
export function u64(v: Int64, what: string): number {
  if (typeof v === "number") {
    if (Number.isSafeInteger(v) && v >= 0) return v;
    throw new DecodeError(`${what}: ${v} is not a safe unsigned integer`);
  }
  const hi = v.high >>> 0;
  if (hi > 0x1fffff) throw new DecodeError(`${what}: ${unsignedText(v)} exceeds Number.MAX_SAFE_INTEGER`);
  return hi * TWO_32 + (v.low >>> 0);
}

/** int64 → number; DecodeError outside ±(2^53 - 1). */
export function i64(v: Int64, what: string): number {
  if (typeof v === "number") {
    if (Number.isSafeInteger(v)) return v;
    throw new DecodeError(`${what}: ${v} is not a safe integer`);
  }
  const n = (v.high | 0) * TWO_32 + (v.low >>> 0);
  if (!Number.isSafeInteger(n)) throw new DecodeError(`${what}: ${signedText(v)} is outside the safe integer range`);
  return n;
}

/** fixed64 → bigint (exact). */
export function fixed64(v: Int64): bigint {
  if (typeof v === "number") return BigInt(v);
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

/** bigint → the { low, high } shape protobufjs writes for 64-bit fields (value taken mod 2^64). */
export function toLongBits(b: bigint): { low: number; high: number; unsigned: boolean } {
  return { low: Number(b & 0xffffffffn) | 0, high: Number((b >> 32n) & 0xffffffffn) | 0, unsigned: true };
}

function unsignedText(v: { low: number; high: number }): string {
  return String((BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0));
}

function signedText(v: { low: number; high: number }): string {
  return String(BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)));
}
