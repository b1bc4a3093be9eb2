/**
 * Replication messages: round trips of every message, the semantic checks of the decoders, the
 * encoders' argument checks, fresh buffers, and schema parity with the ts-proto code.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import protobuf from "protobufjs/light.js";
import { GCounter, LWWMap, ORMap, ORSet, PNCounter, emptyOf, type Crdt } from "../../src/crdt/index.js";
import { DATA_KINDS } from "../../src/crdt/registry.js";
import { DecodeError, InvalidArgumentError } from "../../src/errors.js";
import {
  type CrdtDelta,
  DataType,
  dataTypeOf,
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
  type DeltaEnvelope,
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
  encodeState,
  encodeTombstone,
  encodeValue,
  kindOf,
  type NodeReply,
  type NodeRequest,
  type SnapshotEntry,
  snapshotValueOf,
  type Tombstone,
} from "../../src/wire/codec.js";
import * as G from "../../gen/crdt.js";
import { descriptor } from "../../src/wire/gen/descriptor.js";
import { schemaEnum } from "../../src/wire/pb.js";
import { MAX_VOTES } from "../../src/wire/shapes.js";

// ------------------------------------------------------------------ fixtures

const counter = GCounter.empty().increment("a", 5).increment("b", 2);
const set = ORSet.empty<string>().add("a", "x").add("b", { y: [1, 2n] } as never);
const map = LWWMap.empty<string, string>().put("a", "k", "v", 1_760_000_000_000);
const nested = ORMap.empty<LWWMap>("lwwMap").update("a", "outer", (m, n) => m.put(n, "inner", 42, 7));

function delta(key: string, value: Crdt, originNode = "a"): CrdtDelta {
  return { key, kind: value.kind, originNode, value };
}

const deltas: CrdtDelta[] = [delta("hits", counter), delta("users", set, "b"), delta("cfg", map), delta("deep", nested)];
const tombstones: Tombstone[] = [{ key: "gone", kind: "orset", deletedAtMs: 1_760_000_000_123, originNode: "c" }];

const envelope: DeltaEnvelope = {
  origin: "node-a",
  incarnation: 1_760_000_000_000,
  sequence: Number.MAX_SAFE_INTEGER,
  deltas,
  tombstones,
  sentAtMs: 1_760_000_000_000.125,
};

/** Compares decoded deltas by value equality (Crdt objects are not deep-equal across decodes). */
function assertDeltasEqual(actual: CrdtDelta[], expected: CrdtDelta[]): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((d, i) => {
    const e = expected[i]!;
    assert.equal(d.key, e.key);
    assert.equal(d.kind, e.kind);
    assert.equal(d.originNode, e.originNode);
    assert.equal(d.value.kind, e.kind);
    assert.ok(d.value.equals(e.value), `delta ${i} value differs`);
    assert.deepEqual([...d.data!], [...encodeValue(e.value)]);
  });
}

/** Drops `value`/`data` so the rest can be deepEqual'ed. */
function plain<T>(x: T): unknown {
  return JSON.parse(
    JSON.stringify(x, (k, v: unknown) => (k === "value" && typeof v === "object" && v !== null && "kind" in v ? `<${(v as Crdt).kind}>` : k === "data" ? undefined : typeof v === "bigint" ? `${v}n` : v)),
  );
}

// ------------------------------------------------------------------ round trips

describe("round trips", () => {
  test("DeltaEnvelope (deltas of several kinds, nested map, tombstones, safe-integer extremes)", () => {
    const back = decodeDeltaEnvelope(encodeDeltaEnvelope(envelope));
    assertDeltasEqual(back.deltas, deltas);
    assert.deepEqual(plain(back), plain(envelope));
    assert.equal(back.chunk, undefined);
  });

  test("DeltaEnvelope leaves out what the receiver knows: deltas' own origin, the send time as µs after the start", () => {
    const own = { ...envelope, deltas: [delta("hits", counter, "node-a")], tombstones: [] };
    const other = { ...own, deltas: [delta("hits", counter, "node-b")] };
    const ownBytes = encodeDeltaEnvelope(own);
    assert.equal(encodeDeltaEnvelope(other).length - ownBytes.length, 2 + "node-b".length, "an origin equal to the envelope's costs nothing");
    const back = decodeDeltaEnvelope(ownBytes);
    assert.equal(back.deltas[0]!.originNode, "node-a", "restored from the envelope");
    assert.equal(decodeDeltaEnvelope(encodeDeltaEnvelope(other)).deltas[0]!.originNode, "node-b");
    assert.equal(back.sentAtMs, envelope.sentAtMs, "µs precision");
    // An incarnation may be ahead of the wall clock (it grows past a predecessor's, see incarnations.ts).
    const before = decodeDeltaEnvelope(encodeDeltaEnvelope({ ...own, sentAtMs: envelope.incarnation - 5.25 }));
    assert.equal(before.sentAtMs, envelope.incarnation - 5.25, "a send time before the incarnation travels too, to the µs");
  });

  test("DeltaEnvelope with a chunk", () => {
    const e: DeltaEnvelope = {
      ...envelope,
      deltas: [],
      tombstones: [],
      chunk: { chunkId: 77, index: 2, total: 3, data: new Uint8Array([1, 2, 3, 0, 255]) },
    };
    const back = decodeDeltaEnvelope(encodeDeltaEnvelope(e));
    assert.deepEqual({ ...back.chunk!, data: [...back.chunk!.data] }, { ...e.chunk!, data: [1, 2, 3, 0, 255] });
    assert.throws(() => encodeDeltaEnvelope({ ...e, deltas }), InvalidArgumentError);
    assert.throws(() => encodeDeltaEnvelope({ ...e, chunk: { ...e.chunk!, index: 3 } }), InvalidArgumentError);
  });

  test("CRDTDelta, Tombstone, FullState", () => {
    for (const d of deltas) assertDeltasEqual([decodeCrdtDelta(encodeCrdtDelta(d))], [d]);
    assert.deepEqual(decodeTombstone(encodeTombstone(tombstones[0]!)), tombstones[0]);
    const fs = decodeFullState(encodeFullState({ entries: deltas, tombstones }));
    assertDeltasEqual(fs.entries, deltas);
    assert.deepEqual(fs.tombstones, tombstones);
    // Negative deletion times (int64) survive too.
    const t = { ...tombstones[0]!, deletedAtMs: -5 };
    assert.deepEqual(decodeTombstone(encodeTombstone(t)), t);
  });

  test("Heartbeat", () => {
    const h = {
      node: "node-a",
      dataCenter: "dc-1",
      roles: ["api", "worker"],
      startedAtMs: 1_760_000_000_000,
      incarnation: 3,
      lastSequence: 12345,
      leaving: true,
      silent: ["node-b"],
      vouched: ["node-c", "node-d"],
      removed: ["node-b"],
      left: [{ node: "node-e", incarnation: 7 }],
      sentAtMs: 1_760_000_000_001.5,
      compactDeltas: true,
      readsMarkers: true,
      unpruned: ["node-f", "node-g"],
    };
    assert.deepEqual(decodeHeartbeat(encodeHeartbeat(h)), h);
    // compactDeltas and readsMarkers false are left out of the bytes, as a release before them wrote them: they read back as false.
    const minimal = { ...h, dataCenter: "", roles: [], startedAtMs: 0, incarnation: 0, lastSequence: 0, leaving: false, silent: [], vouched: [], removed: [], left: [], sentAtMs: 0, compactDeltas: false, readsMarkers: false, unpruned: [] };
    assert.deepEqual(decodeHeartbeat(encodeHeartbeat(minimal)), minimal);
    // A relayed leave names a member id: anything else is rejected.
    assert.throws(() => decodeHeartbeat(encodeHeartbeat({ ...h, left: [{ node: "no.such id", incarnation: 1 }] })), /left/);
    // Unpruned departures name member ids, at most MAX_VOTES of them.
    assert.throws(() => decodeHeartbeat(encodeHeartbeat({ ...h, unpruned: ["no.such id"] })), /unpruned/);
    assert.throws(() => decodeHeartbeat(encodeHeartbeat({ ...h, unpruned: Array.from({ length: MAX_VOTES + 1 }, (_, i) => `n${i}`) })), /unpruned: 1025 node ids/);
  });

  const requests: NodeRequest[] = [
    { type: "write", from: "a", deltas, tombstones },
    { type: "write", from: "a", deltas: [], tombstones: [] },
    { type: "read", from: "a", key: "users", kind: "orset" },
    {
      type: "digest",
      from: "a",
      level: 2,
      buckets: [
        { bucket: 0, hash: 0n },
        { bucket: 4095, hash: 0xffffffffffffffffn },
      ],
      keys: [{ key: "k", hash: 0x8000000000000001n }],
      bucket: 17,
    },
    { type: "repair", from: "a", incarnation: 9, fromSequence: 5, toSequence: 5 },
    { type: "push", entries: deltas, tombstones },
  ];
  for (const r of requests) {
    test(`NodeRequest ${r.type}${r.type === "write" && r.deltas.length === 0 ? " (empty)" : ""}`, () => {
      const back = decodeNodeRequest(encodeNodeRequest(r));
      assert.deepEqual(plain(back), plain(r));
      if (back.type === "write" && r.type === "write") assertDeltasEqual(back.deltas, r.deltas);
      if (back.type === "push" && r.type === "push") assertDeltasEqual(back.entries, r.entries);
    });
  }

  const envelopeBytes = encodeDeltaEnvelope(envelope);
  const replies: NodeReply[] = [
    { type: "write", ok: true, error: "" },
    { type: "write", ok: false, error: "key deleted" },
    { type: "read", found: true, state: deltas[1]! },
    { type: "read", found: false, tombstone: tombstones[0]! },
    { type: "read", found: false },
    { type: "digest", differing: [1, 5, 4000], keys: [{ key: "k", hash: 1n }], wanted: ["x", "y"], state: { entries: deltas, tombstones } },
    { type: "digest", differing: [], keys: [], wanted: [] },
    { type: "repair", envelopes: [envelopeBytes, envelopeBytes], complete: true },
    { type: "error", error: "unknown request" },
  ];
  replies.forEach((r, i) => {
    test(`NodeReply ${r.type} #${i}`, () => {
      const back = decodeNodeReply(encodeNodeReply(r));
      if (r.type === "repair" && back.type === "repair") {
        assert.deepEqual(
          back.envelopes.map((e) => [...e]),
          r.envelopes.map((e) => [...e]),
        );
        assert.deepEqual(plain(decodeDeltaEnvelope(back.envelopes[0]!)), plain(envelope));
        assert.equal(back.complete, true);
        return;
      }
      assert.deepEqual(plain(back), plain(r));
      if (r.type === "read" && back.type === "read" && r.state) assertDeltasEqual([back.state!], [r.state]);
      if (r.type === "digest" && back.type === "digest" && r.state) assertDeltasEqual(back.state!.entries, r.state.entries);
    });
  });

  test("CRDTDeltaBatch and its ack", () => {
    const b = { originDc: "dc-1", originNode: "a", batchId: 2 ** 40, sentAtMs: 12.5, deltas, tombstones };
    const back = decodeCrdtDeltaBatch(encodeCrdtDeltaBatch(b));
    assert.deepEqual(plain(back), plain(b));
    assertDeltasEqual(back.deltas, deltas);
    for (const a of [
      { batchId: 2 ** 40, ok: true, error: "" },
      { batchId: 0, ok: false, error: "full" },
    ]) {
      assert.deepEqual(decodeCrdtDeltaBatchAck(encodeCrdtDeltaBatchAck(a)), a);
    }
  });

  test("SnapshotEntry value / tombstone / meta", () => {
    const entries: SnapshotEntry[] = [
      { type: "value", ...deltas[0]! },
      { type: "tombstone", ...tombstones[0]! },
      { type: "meta", node: "a", incarnation: 4, lastSequence: 99, writtenAtMs: 1.5, writerId: "a~2", cleanShutdown: true, values: 1_234_567 },
      { type: "meta", node: "a", incarnation: 5, lastSequence: 0, writtenAtMs: 2.5, writerId: "a~3", cleanShutdown: false, values: 7, packs: { first: 3, end: 40 } },
      { type: "meta", node: "a", incarnation: 6, lastSequence: 0, writtenAtMs: 3.5, writerId: "", cleanShutdown: false, values: 0, packs: { first: 0, end: 0 } },
    ];
    for (const e of entries) {
      const back = decodeSnapshotEntry(encodeSnapshotEntry(e));
      assert.deepEqual(plain(back), plain(e));
      if (back.type === "value" && e.type === "value") assertDeltasEqual([back], [e]);
    }
    const inverted = { ...entries[2]!, packs: { first: 5, end: 4 } } as SnapshotEntry;
    assert.throws(() => encodeSnapshotEntry(inverted), InvalidArgumentError);
  });

  test("a SnapshotEntry value with its digest hash: the fast reader and the generic decoder agree, a damaged one is left to the generic decoder", () => {
    const e: SnapshotEntry = { type: "value", ...deltas[0]!, digest: { version: 3, hash: 0xfedcba9876543210n } };
    const bytes = encodeSnapshotEntry(e);
    const back = decodeSnapshotEntry(bytes);
    assert.deepEqual(back.type === "value" ? back.digest : undefined, e.digest);
    const fast = snapshotValueOf(e.key, bytes);
    assert.deepEqual(fast?.digest, e.digest);
    const plainFast = snapshotValueOf(e.key, encodeSnapshotEntry({ type: "value", ...deltas[0]! }));
    assert.ok(plainFast !== undefined && fast !== undefined);
    assert.deepEqual([fast.type, fast.data], [plainFast.type, plainFast.data]);
    assert.equal(plainFast.digest, undefined);
    // A hash cut short, or a version 0: not the writer's bytes, the fast reader declines.
    assert.equal(snapshotValueOf(e.key, bytes.subarray(0, bytes.length - 1)), undefined);
    const zero = bytes.slice();
    zero[bytes.length - 10] = 0;
    assert.equal(snapshotValueOf(e.key, zero), undefined);
  });

  test("every data kind travels in a CRDTDelta, including empty values", () => {
    for (const kind of DATA_KINDS) {
      const d = decodeCrdtDelta(encodeCrdtDelta({ key: "k", kind, originNode: "a", value: emptyValue(kind) }));
      assert.equal(d.kind, kind);
      assert.ok(d.value.equals(emptyValue(kind)));
    }
  });
});

function emptyValue(kind: (typeof DATA_KINDS)[number]): Crdt {
  return kind === "orMap" ? emptyOf(kind, "gcounter") : emptyOf(kind);
}

// ------------------------------------------------------------------ DataType mapping

describe("DataKind ↔ DataType", () => {
  test("the mapping matches the schema's enum, both ways, for every kind", () => {
    const schema = schemaEnum("DataType");
    assert.deepEqual(Object.keys(DataType).sort(), Object.keys(schema).sort());
    for (const [name, n] of Object.entries(DataType)) assert.equal(schema[name], n, name);
    assert.deepEqual(Object.values(G.DataType).filter((v) => typeof v === "number").sort((a, b) => (a as number) - (b as number)), Object.values(DataType));
    const seen = new Set<number>();
    for (const kind of DATA_KINDS) {
      const t = dataTypeOf(kind);
      assert.ok(t > 0);
      seen.add(t);
      assert.equal(kindOf(t), kind);
    }
    assert.equal(seen.size, DATA_KINDS.length);
  });

  test("unspecified and unknown numbers are DecodeErrors; a non-kind is refused", () => {
    for (const n of [0, 12, 99, -1, 1.5, 2 ** 31]) assert.throws(() => kindOf(n), DecodeError);
    assert.throws(() => dataTypeOf("counter" as never), DecodeError);
    assert.throws(() => dataTypeOf("__proto__" as never), DecodeError);
    assert.throws(() => dataTypeOf("toString" as never), DecodeError);
  });
});

// ------------------------------------------------------------------ semantic validation

/** Encodes an arbitrary object with protobufjs reflection (to forge messages our encoders refuse). */
const root = protobuf.Root.fromJSON(descriptor);
function forge(type: string, obj: object): Uint8Array {
  return root.lookupType(`crdt.v1.${type}`).encode(obj).finish();
}
const counterBytes = encodeValue(counter);
const goodDelta = { key: "k", dataType: DataType.GCOUNTER, originNode: "a", data: counterBytes };
const goodEnvelope = { origin: "a", incarnation: 1, sequence: 1, deltas: [goodDelta] };

describe("decoders validate", () => {
  test("the forged baseline decodes", () => {
    assert.equal(decodeDeltaEnvelope(forge("DeltaEnvelope", goodEnvelope)).deltas.length, 1);
  });

  const bad: [string, () => Uint8Array, (bytes: Uint8Array) => unknown][] = [
    ["envelope without origin", () => forge("DeltaEnvelope", { ...goodEnvelope, origin: "" }), decodeDeltaEnvelope],
    ["delta without key", () => forge("DeltaEnvelope", { ...goodEnvelope, deltas: [{ ...goodDelta, key: "" }] }), decodeDeltaEnvelope],
    ["delta without origin node (outside an envelope)", () => forge("CRDTDelta", { ...goodDelta, originNode: "" }), decodeCrdtDelta],
    ["delta with unspecified type", () => forge("DeltaEnvelope", { ...goodEnvelope, deltas: [{ ...goodDelta, dataType: 0 }] }), decodeDeltaEnvelope],
    ["delta with unknown type 42", () => forge("DeltaEnvelope", { ...goodEnvelope, deltas: [{ ...goodDelta, dataType: 42 }] }), decodeDeltaEnvelope],
    ["delta with garbage data", () => forge("DeltaEnvelope", { ...goodEnvelope, deltas: [{ ...goodDelta, data: new Uint8Array([0xff, 0xff, 0xff]) }] }), decodeDeltaEnvelope],
    ["delta of a set whose data is a counter", () => forge("CRDTDelta", { ...goodDelta, dataType: DataType.ORSET }), decodeCrdtDelta],
    ["sequence past 2^53", () => forge("DeltaEnvelope", { ...goodEnvelope, sequence: "9007199254740992" }), decodeDeltaEnvelope],
    ["incarnation 2^64 - 1", () => forge("DeltaEnvelope", { ...goodEnvelope, incarnation: "18446744073709551615" }), decodeDeltaEnvelope],
    ["send time past 2^53 µs", () => forge("DeltaEnvelope", { ...goodEnvelope, sentAfterUs: "9007199254740992" }), decodeDeltaEnvelope],
    ["chunk with deltas", () => forge("DeltaEnvelope", { ...goodEnvelope, chunk: { chunkId: 1, index: 0, total: 1 } }), decodeDeltaEnvelope],
    ["chunk index ≥ total", () => forge("DeltaEnvelope", { origin: "a", chunk: { chunkId: 1, index: 1, total: 1 } }), decodeDeltaEnvelope],
    ["tombstone without key", () => forge("DeltaEnvelope", { ...goodEnvelope, tombstones: [{ dataType: 1, originNode: "a" }] }), decodeDeltaEnvelope],
    ["tombstone with unknown type", () => forge("DeltaEnvelope", { ...goodEnvelope, tombstones: [{ key: "k", dataType: 12, originNode: "a" }] }), decodeDeltaEnvelope],
    ["heartbeat without node", () => forge("Heartbeat", { dataCenter: "x" }), decodeHeartbeat],
    ["empty NodeRequest", () => forge("NodeRequest", {}), decodeNodeRequest],
    ["empty NodeReply", () => forge("NodeReply", {}), decodeNodeReply],
    ["empty SnapshotEntry", () => forge("SnapshotEntry", {}), decodeSnapshotEntry],
    ["read request without key", () => forge("NodeRequest", { read: { from: "a", dataType: 1 } }), decodeNodeRequest],
    ["read request with unspecified type", () => forge("NodeRequest", { read: { from: "a", key: "k" } }), decodeNodeRequest],
    ["repair request from > to", () => forge("NodeRequest", { repair: { from: "a", fromSequence: 5, toSequence: 4 } }), decodeNodeRequest],
    ["write request without from", () => forge("NodeRequest", { write: { deltas: [goodDelta] } }), decodeNodeRequest],
    ["digest key hash without key", () => forge("NodeRequest", { digest: { from: "a", keys: [{ hash: 1 }] } }), decodeNodeRequest],
    ["batch without origin DC", () => forge("CRDTDeltaBatch", { originNode: "a", batchId: 1 }), decodeCrdtDeltaBatch],
    ["snapshot meta without node", () => forge("SnapshotEntry", { meta: { incarnation: 1 } }), decodeSnapshotEntry],
    ["snapshot meta whose pack range ends before it starts", () => forge("SnapshotEntry", { meta: { node: "a", packs: { first: 5, end: 4 } } }), decodeSnapshotEntry],
    ["snapshot value with a wrong-typed value", () => forge("SnapshotEntry", { value: { ...goodDelta, dataType: DataType.FLAG } }), decodeSnapshotEntry],
    ["counter slot past 2^53", () => forge("CRDTDelta", { ...goodDelta, data: forge("GCounterState", { slots: [{ node: "a", value: "9007199254740993" }] }) }), decodeCrdtDelta],
    ["invalid UTF-8 in a key", () => Uint8Array.from([0x0a, 0x02, 0xc3, 0x28, 0x10, 0x01, 0x1a, 0x01, 0x61]), decodeCrdtDelta],
    ["a string field sent as a varint (wrong wire type)", () => Uint8Array.from([0x08, 0x01]), decodeCrdtDelta],
    ["a state with a field it does not have", () => forge("CRDTDelta", { ...goodDelta, data: Uint8Array.from([...counterBytes, 0x78, 0x01]) }), decodeCrdtDelta],
    ["a PNCounter without its decrements", () => forge("CRDTDelta", { ...goodDelta, dataType: DataType.PNCOUNTER, data: forge("PNCounterState", { increments: {} }) }), decodeCrdtDelta],
    ["an ORSet without its context", () => forge("CRDTDelta", { ...goodDelta, dataType: DataType.ORSET, data: new Uint8Array(0) }), decodeCrdtDelta],
    ["an LWWMap whose values are counters", () => forge("CRDTDelta", { ...goodDelta, dataType: DataType.LWW_MAP, data: forge("ORMapState", { valueType: DataType.GCOUNTER, keys: { context: {} } }) }), decodeCrdtDelta],
    ["truncated", () => encodeDeltaEnvelope(envelope).subarray(0, 40), decodeDeltaEnvelope],
  ];
  for (const [name, make, decode] of bad) {
    test(`${name} → DecodeError (${decode.name})`, () => {
      const bytes = make();
      assert.throws(() => decode(bytes), (e: unknown) => e instanceof DecodeError && e.name === "DecodeError");
    });
  }

  test("an ORSet delta without context is refused, with one (even empty) accepted", () => {
    assert.throws(() => decodeValue("orset", new Uint8Array(0)), DecodeError);
    assert.equal(decodeValue("orset", forge("ORSetState", { context: {} })).kind, "orset");
  });

  test("fields a newer peer adds to protocol messages are ignored; unknown fields in states are not", () => {
    const withExtra = Uint8Array.from([...forge("DeltaEnvelope", goodEnvelope), 0xf8, 0x06, 0x01]); // field 111, varint
    assert.equal(decodeDeltaEnvelope(withExtra).origin, "a");
    assert.throws(() => decodeValue("gcounter", Uint8Array.from([...counterBytes, 0xf8, 0x06, 0x01])), DecodeError);
  });

  test("decoders refuse non-bytes with DecodeError", () => {
    for (const x of [undefined, null, "abc", 5, {}, [1, 2]]) {
      assert.throws(() => decodeDeltaEnvelope(x as never), DecodeError);
      assert.throws(() => decodeValue("gcounter", x as never), DecodeError);
    }
    assert.throws(() => decodeState("nope" as never, new Uint8Array(0)), DecodeError);
  });

  test("error messages say where", () => {
    assert.throws(
      () => decodeDeltaEnvelope(forge("DeltaEnvelope", { ...goodEnvelope, deltas: [goodDelta, { ...goodDelta, key: "" }] })),
      /DeltaEnvelope\.deltas\[1\]\.key is missing/,
    );
  });
});

// ------------------------------------------------------------------ encoders

const v1Of = (): Uint8Array => encodeValue(counter);

describe("encoders", () => {
  test("return a fresh, independent buffer per call (never reused)", () => {
    const a = encodeDeltaEnvelope(envelope);
    const snapshot = [...a];
    const b = encodeDeltaEnvelope(envelope);
    assert.notEqual(a, b);
    assert.deepEqual([...b], snapshot);
    const overlap = a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
    assert.ok(!overlap, "two encodings share memory");
    b.fill(0);
    assert.deepEqual([...a], snapshot, "changing one encoding changed another");
    // Many small messages in a row (the pool case): all distinct and intact.
    const many = Array.from({ length: 200 }, (_, i) => encodeHeartbeat({ node: `n${i}`, dataCenter: "", roles: [], startedAtMs: i, incarnation: 0, lastSequence: 0, leaving: false, silent: [], vouched: [], sentAtMs: 0 }));
    many.forEach((m, i) => assert.equal(decodeHeartbeat(m).node, `n${i}`));
    // Plain Uint8Arrays (not Buffers): slice() copies.
    for (const x of [a, v1Of(), decodeDeltaEnvelope(a).deltas[0]!.data!, decodeDeltaEnvelope(Buffer.from(a)).deltas[0]!.data!]) {
      assert.equal(Object.getPrototypeOf(x), Uint8Array.prototype);
      const copy = x.slice();
      copy.fill(0xee);
      assert.notEqual(x[0], 0xee);
    }
    const v1 = encodeValue(counter);
    const v2 = encodeValue(counter);
    assert.notEqual(v1, v2);
    v2.fill(0);
    assert.deepEqual([...v1], [...encodeValue(counter)]);
  });

  test("refuse what the decoders would refuse (InvalidArgumentError)", () => {
    const cases: [string, () => unknown][] = [
      ["empty origin", () => encodeDeltaEnvelope({ ...envelope, origin: "" })],
      ["unsafe sequence", () => encodeDeltaEnvelope({ ...envelope, sequence: 2 ** 53 })],
      ["negative incarnation", () => encodeDeltaEnvelope({ ...envelope, incarnation: -1 })],
      ["fractional sequence", () => encodeDeltaEnvelope({ ...envelope, sequence: 1.5 })],
      ["NaN sentAtMs", () => encodeDeltaEnvelope({ ...envelope, sentAtMs: NaN })],
      ["empty delta key", () => encodeDeltaEnvelope({ ...envelope, deltas: [{ ...deltas[0]!, key: "" }] })],
      ["value of another kind", () => encodeCrdtDelta({ ...deltas[0]!, kind: "orset" })],
      ["unknown kind", () => encodeCrdtDelta({ ...deltas[0]!, kind: "nope" as never })],
      ["tombstone of unknown kind", () => encodeTombstone({ ...tombstones[0]!, kind: "nope" as never })],
      ["hash out of range", () => encodeNodeRequest({ type: "digest", from: "a", level: 0, buckets: [{ bucket: 0, hash: 2n ** 64n }], keys: [], bucket: 0 })],
      ["negative hash", () => encodeNodeRequest({ type: "digest", from: "a", level: 0, buckets: [], keys: [{ key: "k", hash: -1n }], bucket: 0 })],
      ["repair from > to", () => encodeNodeRequest({ type: "repair", from: "a", incarnation: 0, fromSequence: 2, toSequence: 1 })],
      ["unknown request type", () => encodeNodeRequest({ type: "nope" } as never)],
      ["empty error reply", () => encodeNodeReply({ type: "error", error: "" })],
      ["unsafe batch id", () => encodeCrdtDeltaBatchAck({ batchId: 2 ** 60, ok: true, error: "" })],
    ];
    for (const [name, f] of cases) assert.throws(f, InvalidArgumentError, name);
  });

  test("plain states without the sub-messages toState() always sets are completed, not refused later", () => {
    assert.equal(decodeValue("orset", encodeState("orset", { entries: [] } as never)).kind, "orset");
    assert.equal(decodeValue("mvRegister", encodeState("mvRegister", { entries: [] } as never)).kind, "mvRegister");
    assert.equal(decodeValue("pncounter", encodeState("pncounter", { increments: { slots: [{ node: "a", value: 2 }] } } as never)).kind, "pncounter");
    assert.equal(decodeValue("orMap", encodeState("orMap", { valueKind: "gset", values: [] } as never)).kind, "orMap");
    assert.throws(() => encodeState("orMap", { valueKind: "nope", values: [] } as never), InvalidArgumentError);
    assert.throws(() => encodeState("nope" as never, { slots: [] }), InvalidArgumentError);
  });

  test("a pre-encoded `data` is used as is", () => {
    const data = encodeValue(counter);
    const bytes = encodeCrdtDelta({ ...deltas[0]!, data });
    assert.deepEqual([...bytes], [...encodeCrdtDelta(deltas[0]!)]);
  });
});

// ------------------------------------------------------------------ schema parity

describe("schema parity", () => {
  test("protobufjs (runtime) and ts-proto (generated) read and write the same bytes", () => {
    const pb = encodeDeltaEnvelope(envelope);
    const ts = G.DeltaEnvelope.decode(pb);
    assert.equal(ts.origin, envelope.origin);
    assert.equal(ts.sequence, BigInt(envelope.sequence));
    assert.equal(ts.deltas.length, deltas.length);
    assert.deepEqual([...G.DeltaEnvelope.encode(ts).finish()], [...pb]);
    const digest: NodeRequest = { type: "digest", from: "a", level: 1, buckets: [{ bucket: 3, hash: 0xfedcba9876543210n }], keys: [], bucket: 0 };
    const d = encodeNodeRequest(digest);
    const tsd = G.NodeRequest.decode(d);
    assert.equal(tsd.body?.$case, "digest");
    assert.deepEqual([...G.NodeRequest.encode(tsd).finish()], [...d]);
    // Packed repeated scalars (DigestReply.differing) agree too.
    const reply = encodeNodeReply({ type: "digest", differing: [1, 300, 70000], keys: [], wanted: [] });
    assert.deepEqual([...G.NodeReply.encode(G.NodeReply.decode(reply)).finish()], [...reply]);
    // And a state with an int64 and an optional field.
    const pn = PNCounter.empty().increment("a", 3).decrement("b", 1);
    assert.deepEqual([...G.PNCounterState.encode(G.PNCounterState.decode(encodeValue(pn))).finish()], [...encodeValue(pn)]);
  });
});

describe("identity messages (a starting node's checks)", () => {
  test("IdentifyRequest and Identity round-trip as NodeRequest and NodeReply", () => {
    const req = decodeNodeRequest(encodeNodeRequest({ type: "identify", from: "host-1:4242" }));
    assert.deepEqual(req, { type: "identify", from: "host-1:4242" });
    const identity = { type: "identity" as const, incarnation: 2 ** 53 - 1, startedAtMs: 1_760_000_000_000, host: "host-2", pid: 77 };
    assert.deepEqual(decodeNodeReply(encodeNodeReply(identity)), identity);
  });

  test("MemberHello and its reply round-trip; required fields are checked", () => {
    const hello = { node: "c", replyTo: "crdt.deltas.members.hello.c.abc" };
    assert.deepEqual(decodeMemberHello(encodeMemberHello(hello)), hello);
    const reply = {
      from: "a", incarnation: 1_760_000_000_123, youngestStartedAtMs: 1_760_000_000_000, members: 3,
      counted: [{ node: "a", dataCenter: "dc-1", roles: ["api"] }, { node: "b", dataCenter: "", roles: [] }],
      left: [{ node: "d", incarnation: 7 }],
    };
    assert.deepEqual(decodeMemberHelloReply(encodeMemberHelloReply(reply)), reply);
    // An older member's answer (no membership, no leaves) decodes with none.
    const older = decodeMemberHelloReply(encodeMemberHelloReply({ ...reply, counted: undefined, left: undefined }));
    assert.deepEqual([older.counted, older.left], [[], []]);
    // Leaves name member ids, at most MAX_VOTES of them.
    assert.throws(() => decodeMemberHelloReply(encodeMemberHelloReply({ ...reply, left: [{ node: "no such", incarnation: 1 }] })), /left/);
    assert.throws(() => decodeMemberHelloReply(encodeMemberHelloReply({ ...reply, left: Array.from({ length: MAX_VOTES + 1 }, (_, i) => ({ node: `n${i}`, incarnation: 1 })) })), /left: 1025 departures/);
    assert.throws(() => encodeMemberHelloReply({ ...reply, counted: [{ node: "", dataCenter: "", roles: [] }] }), InvalidArgumentError);
    assert.throws(() => decodeMemberHello(encodeMemberHello({ ...hello, replyTo: "x" }).subarray(0, 3)), DecodeError);
    assert.throws(() => encodeMemberHello({ node: "", replyTo: "x" }), InvalidArgumentError);
  });
});
