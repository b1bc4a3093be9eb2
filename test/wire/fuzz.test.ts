/**
 * Decoders under hostile input: random bytes, and valid messages truncated, bit-flipped, spliced
 * or overwritten. Whatever arrives, every decoder either returns or throws a DecodeError (never a
 * TypeError, RangeError, stack overflow ...), and returns promptly. Fixed seed (FC_SEED overrides).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import protobuf from "protobufjs/light.js";
import { GCounter, LWWMap, ORMap, ORSet, type Crdt, type DataKind } from "../../src/crdt/index.js";
import { DATA_KINDS } from "../../src/crdt/registry.js";
import { DecodeError } from "../../src/errors.js";
import {
  DataType,
  decodeCrdtDelta,
  decodeCrdtDeltaBatch,
  decodeCrdtDeltaBatchAck,
  decodeDeltaEnvelope,
  decodeFullState,
  decodeHeartbeat,
  decodeMemberHello,
  decodeMemberHelloReply,
  decodeNodeReply,
  decodeNodeRequest,
  decodeSnapshotEntry,
  decodeState,
  decodeTombstone,
  decodeValue,
  encodeCrdtDelta,
  encodeCrdtDeltaBatch,
  encodeCrdtDeltaBatchAck,
  encodeDeltaEnvelope,
  encodeFullState,
  encodeHeartbeat,
  encodeMemberHello,
  encodeMemberHelloReply,
  encodeNodeReply,
  encodeNodeRequest,
  encodeSnapshotEntry,
  encodeTombstone,
  encodeValue,
  type CrdtDelta,
} from "../../src/wire/codec.js";
import { descriptor } from "../../src/wire/gen/descriptor.js";
import { guard } from "../../src/wire/pb.js";
import { fcParams } from "../crdt/laws.js";
import { SPECS, values } from "./arbitraries.js";

// ------------------------------------------------------------------ decoders and a corpus

type Decoder = { name: string; decode: (b: Uint8Array) => unknown };

const DECODERS: Decoder[] = [
  { name: "DeltaEnvelope", decode: decodeDeltaEnvelope },
  { name: "Heartbeat", decode: decodeHeartbeat },
  { name: "MemberHello", decode: decodeMemberHello },
  { name: "MemberHelloReply", decode: decodeMemberHelloReply },
  { name: "NodeRequest", decode: decodeNodeRequest },
  { name: "NodeReply", decode: decodeNodeReply },
  { name: "FullState", decode: decodeFullState },
  { name: "CRDTDeltaBatch", decode: decodeCrdtDeltaBatch },
  { name: "CRDTDeltaBatchAck", decode: decodeCrdtDeltaBatchAck },
  { name: "SnapshotEntry", decode: decodeSnapshotEntry },
  { name: "CRDTDelta", decode: decodeCrdtDelta },
  { name: "Tombstone", decode: decodeTombstone },
  ...DATA_KINDS.map((kind) => ({ name: `value:${kind}`, decode: (b: Uint8Array) => decodeValue(kind, b) })),
  ...DATA_KINDS.map((kind) => ({ name: `state:${kind}`, decode: (b: Uint8Array) => decodeState(kind, b) })),
  // Values inside a compact envelope (DeltaEnvelope.writer "a"): empty node ids read as "a".
  ...DATA_KINDS.map((kind) => ({ name: `compact:${kind}`, decode: (b: Uint8Array) => decodeValue(kind, b, "a") })),
];

const sampleValues: Crdt[] = SPECS.flatMap((spec) => fc.sample(values(spec), { seed: 11, numRuns: 6 }).flat()).filter((_, i) => i % 3 === 0);
const deltas: CrdtDelta[] = sampleValues.slice(0, 12).map((value, i) => ({ key: `key-${i}`, kind: value.kind, originNode: "a", value }));
const tombstone = { key: "t", kind: "orset" as DataKind, deletedAtMs: 1_760_000_000_000, originNode: "b" };
const envelope = {
  origin: "node-a",
  incarnation: 1_760_000_000_000,
  sequence: 42,
  deltas,
  tombstones: [tombstone],
  sentAtMs: 1.5,
  originDc: "dc",
  relayedFromDc: "",
};

/** Valid encodings of every message and of values of every kind, with the decoder each belongs to. */
const CORPUS: { decoder: Decoder; bytes: Uint8Array }[] = [];
const byName = (n: string): Decoder => DECODERS.find((d) => d.name === n)!;
function corpus(name: string, bytes: Uint8Array): void {
  CORPUS.push({ decoder: byName(name), bytes });
}
corpus("DeltaEnvelope", encodeDeltaEnvelope(envelope));
corpus("DeltaEnvelope", encodeDeltaEnvelope({ ...envelope, deltas: deltas.slice(0, 1), tombstones: [] }));
corpus("DeltaEnvelope", encodeDeltaEnvelope({ ...envelope, writer: "a" }));
corpus("DeltaEnvelope", encodeDeltaEnvelope({ ...envelope, deltas: [], tombstones: [], chunk: { chunkId: 5, index: 0, total: 2, data: new Uint8Array(30).fill(7) } }));
corpus("Heartbeat", encodeHeartbeat({ node: "a", dataCenter: "dc", roles: ["x"], startedAtMs: 5, incarnation: 1, lastSequence: 9, leaving: false, silent: ["b"], vouched: ["c", "d"], sentAtMs: 3 }));
corpus("MemberHello", encodeMemberHello({ node: "a", replyTo: "_INBOX.x" }));
corpus("MemberHelloReply", encodeMemberHelloReply({ from: "b", incarnation: 3, youngestStartedAtMs: 9, members: 2, counted: [{ node: "a", dataCenter: "dc", roles: ["r"] }, { node: "b", dataCenter: "dc", roles: [] }] }));
corpus("NodeRequest", encodeNodeRequest({ type: "write", from: "a", deltas: deltas.slice(0, 3), tombstones: [tombstone] }));
corpus("NodeRequest", encodeNodeRequest({ type: "read", from: "a", key: "k", kind: "gset" }));
corpus("NodeRequest", encodeNodeRequest({ type: "digest", from: "a", level: 1, buckets: [{ bucket: 1, hash: 77n }], keys: [{ key: "k", hash: 2n ** 63n }], bucket: 3 }));
corpus("NodeRequest", encodeNodeRequest({ type: "repair", from: "a", incarnation: 1, fromSequence: 3, toSequence: 9 }));
corpus("NodeRequest", encodeNodeRequest({ type: "push", entries: deltas.slice(3, 6), tombstones: [] }));
corpus("NodeReply", encodeNodeReply({ type: "write", ok: true, error: "" }));
corpus("NodeReply", encodeNodeReply({ type: "read", found: true, state: deltas[0]!, tombstone }));
corpus("NodeReply", encodeNodeReply({ type: "digest", differing: [1, 2, 3], keys: [{ key: "k", hash: 5n }], wanted: ["w"], state: { entries: deltas.slice(0, 2), tombstones: [] } }));
corpus("NodeReply", encodeNodeReply({ type: "repair", envelopes: [encodeDeltaEnvelope({ ...envelope, deltas: deltas.slice(0, 2) })], complete: false }));
corpus("NodeReply", encodeNodeReply({ type: "error", error: "nope" }));
corpus("FullState", encodeFullState({ entries: deltas, tombstones: [tombstone] }));
corpus("CRDTDeltaBatch", encodeCrdtDeltaBatch({ originDc: "dc", originNode: "a", batchId: 8, sentAtMs: 1, deltas: deltas.slice(0, 4), tombstones: [tombstone] }));
corpus("CRDTDeltaBatchAck", encodeCrdtDeltaBatchAck({ batchId: 8, ok: false, error: "x" }));
corpus("SnapshotEntry", encodeSnapshotEntry({ type: "value", ...deltas[1]! }));
corpus("SnapshotEntry", encodeSnapshotEntry({ type: "tombstone", ...tombstone }));
corpus("SnapshotEntry", encodeSnapshotEntry({ type: "meta", node: "a", incarnation: 1, lastSequence: 2, writtenAtMs: 3, writerId: "w", cleanShutdown: true, values: 4 }));
corpus("Tombstone", encodeTombstone(tombstone));
for (const d of deltas) corpus("CRDTDelta", encodeCrdtDelta(d));
for (const v of sampleValues) corpus(`value:${v.kind}`, encodeValue(v));
for (const v of sampleValues) corpus(`compact:${v.kind}`, encodeValue(v, "a"));

// ------------------------------------------------------------------ the property

/**
 * A decode of a small message costs microseconds; a pathological one (an allocation sized from a
 * forged length, a quadratic walk) costs seconds. Measured in CPU time, so a loaded machine that
 * schedules the test out for a while does not fail it.
 */
const SLOW_MS = 1_000;

/** CPU time of this process, in ms. */
const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1_000;
};

/** Decodes and checks the outcome: a result, or a DecodeError; and no pathological slowness. */
function check(decoder: Decoder, bytes: Uint8Array): void {
  const started = cpuMs();
  try {
    decoder.decode(bytes);
  } catch (e) {
    if (!(e instanceof DecodeError) || e.name !== "DecodeError") {
      throw new Error(`${decoder.name} threw ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message} on ${Buffer.from(bytes).toString("hex").slice(0, 400)}`);
    }
  }
  const ms = cpuMs() - started;
  if (ms > SLOW_MS) throw new Error(`${decoder.name} took ${ms.toFixed(0)} ms of CPU on ${bytes.length} bytes`);
}

type Mutation =
  | { t: "truncate"; at: number }
  | { t: "flip"; at: number; bit: number }
  | { t: "set"; at: number; byte: number }
  | { t: "insert"; at: number; bytes: Uint8Array }
  | { t: "delete"; at: number; n: number }
  | { t: "duplicate"; at: number; n: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ t: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ t: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ t: fc.constant("set" as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x0b, 0x0c, 0x12) }),
  fc.record({ t: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ t: fc.constant("delete" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ t: fc.constant("duplicate" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
);

function mutate(bytes: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = Uint8Array.from(bytes);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.t === "insert" ? 1 : 0));
    switch (m.t) {
      case "truncate":
        b = b.slice(0, at);
        break;
      case "flip":
        if (b.length > 0) b[at % b.length]! ^= 1 << m.bit;
        break;
      case "set":
        if (b.length > 0) b[at % b.length] = m.byte;
        break;
      case "insert":
        b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
        break;
      case "delete":
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.n)]);
        break;
      case "duplicate":
        b = Uint8Array.from([...b.subarray(0, at + m.n), ...b.subarray(at, at + m.n), ...b.subarray(at + m.n)]);
        break;
    }
  }
  return b;
}

describe("decoders throw nothing but DecodeError", () => {
  test("random bytes, every decoder", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const d of DECODERS) check(d, bytes);
      }),
      fcParams({ numRuns: 600 }),
    );
  });

  test("random protobuf-looking bytes (valid tags, random payloads), every decoder", () => {
    // Plain random bytes rarely get past the first tag; these do.
    const field = fc.tuple(fc.integer({ min: 1, max: 12 }), fc.constantFrom(0, 1, 2, 5), fc.uint8Array({ maxLength: 20 }));
    fc.assert(
      fc.property(fc.array(field, { maxLength: 12 }), (fields) => {
        const parts: number[] = [];
        for (const [n, wt, payload] of fields) {
          parts.push((n << 3) | wt);
          if (wt === 0) parts.push(...(payload.length > 0 ? [payload[0]! & 0x7f] : [0]));
          else if (wt === 1) parts.push(...Array.from({ length: 8 }, (_, i) => payload[i] ?? 0));
          else if (wt === 5) parts.push(...Array.from({ length: 4 }, (_, i) => payload[i] ?? 0));
          else parts.push(payload.length, ...payload);
        }
        const bytes = Uint8Array.from(parts);
        for (const d of DECODERS) check(d, bytes);
      }),
      fcParams({ numRuns: 600 }),
    );
  });

  test("valid messages truncated, bit-flipped, spliced: their own decoder and every other", () => {
    fc.assert(
      fc.property(fc.nat({ max: CORPUS.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (i, ms) => {
        const { decoder, bytes } = CORPUS[i]!;
        const mutated = mutate(bytes, ms);
        check(decoder, mutated);
        for (const d of DECODERS) if (d !== decoder) check(d, mutated);
      }),
      fcParams({ numRuns: 1000 }),
    );
  });

  test("every truncation of every corpus message", () => {
    for (const { decoder, bytes } of CORPUS) {
      for (let n = 0; n < bytes.length; n++) check(decoder, bytes.subarray(0, n));
    }
  });

  test("guard turns whatever a decoder throws into a DecodeError, the original kept as its cause", () => {
    // The last line of defence behind every decoder above: protobufjs throws RangeError and Error.
    for (const thrown of [new RangeError("index out of range: 9 + 10 > 12"), new TypeError("x is undefined"), new Error("invalid wire type 7")]) {
      assert.throws(
        () => guard("Thing", () => { throw thrown; }),
        (e: unknown) => e instanceof DecodeError && e.cause === thrown && /^Thing: /.test(e.message),
      );
    }
    const own = new DecodeError("Thing: already typed");
    assert.throws(() => guard("Thing", () => { throw own; }), (e: unknown) => e === own);
    assert.equal(guard("Thing", () => 5), 5);
  });

  test("the unmutated corpus decodes", () => {
    for (const { decoder, bytes } of CORPUS) decoder.decode(bytes);
  });
});

describe("pathological inputs are refused promptly", () => {
  const root = protobuf.Root.fromJSON(descriptor);
  const forge = (type: string, obj: object): Uint8Array => root.lookupType(`crdt.v1.${type}`).encode(obj).finish();

  test("deeply nested groups, huge length prefixes, 10-byte varints", () => {
    const inputs = [
      new Uint8Array(100_000).fill(0x0b), // field 1, start group, nested 100k deep
      Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // length 2^32 - 1
      Uint8Array.from([0x22, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00]), // bytes field claiming 2 GiB
      Uint8Array.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // varint > 10 bytes
      Uint8Array.from([0x0c]), // end group without start
      Uint8Array.from([0x00, 0x00]), // field number 0
      Uint8Array.from([0x0f]), // wire type 7
      new Uint8Array(1_000_000), // a megabyte of zeros
    ];
    for (const bytes of inputs) for (const d of DECODERS) check(d, bytes);
  });

  test("maps nested past the limit (and large flat inputs) are refused or decoded quickly", () => {
    // An ORMap whose value type is OR_MAP, whose values are ORMaps ... 2000 levels deep.
    let inner = forge("ORMapState", { valueType: DataType.GCOUNTER, keys: { context: {} } });
    for (let i = 0; i < 2000; i++) {
      inner = forge("ORMapState", { valueType: DataType.OR_MAP, keys: { context: {} }, values: [{ key: "s1:k", value: inner }] });
    }
    for (const kind of ["orMap", "lwwMap", "pncounterMap"] as const) assert.throws(() => decodeValue(kind, inner), DecodeError);
    check(byName("CRDTDelta"), forge("CRDTDelta", { key: "k", dataType: DataType.OR_MAP, originNode: "a", data: inner }));
    // A large but legitimate value decodes.
    let big = ORSet.empty<string>();
    for (let i = 0; i < 5000; i++) big = big.add("a", `element-${i}`);
    const started = performance.now();
    assert.ok(decodeValue("orset", encodeValue(big)).equals(big));
    assert.ok(performance.now() - started < 5000);
  });

  test("a corrupted nested map value is a DecodeError of the outer delta", () => {
    const m = ORMap.empty<LWWMap>("lwwMap").update("a", "outer", (x, n) => x.put(n, "inner", 1, 5));
    const bytes = encodeCrdtDelta({ key: "k", kind: "orMap", originNode: "a", value: m });
    let refused = 0;
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [0, 3, 7]) {
        const b = Uint8Array.from(bytes);
        b[i]! ^= 1 << bit;
        try {
          decodeCrdtDelta(b);
        } catch (e) {
          assert.ok(e instanceof DecodeError, String(e));
          refused++;
        }
      }
    }
    assert.ok(refused > bytes.length, `only ${refused} of ${bytes.length * 3} bit flips refused`);
  });

  test("GCounter slots at the safe-integer edge", () => {
    const at = (v: string): Uint8Array => forge("GCounterState", { slots: [{ node: "a", value: v }] });
    assert.equal((decodeValue("gcounter", at(String(Number.MAX_SAFE_INTEGER))) as GCounter).slot("a"), Number.MAX_SAFE_INTEGER);
    for (const v of ["9007199254740992", "18446744073709551615"]) assert.throws(() => decodeValue("gcounter", at(v)), DecodeError);
  });
});
