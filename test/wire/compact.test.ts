/**
 * Compact delta envelopes (proto DeltaEnvelope.writer): the writer id once per envelope, an empty
 * node id in the deltas' states standing for it. Round trips for every data type, what a release
 * that predates them does with one (rejects it, never misreads it), bytes written by that release
 * still decode, the size the bench's distinct-keys run gets, and forged compact input.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { GCounter, LWWMap, LWWRegister, MVRegister, ORMap, ORSet, PNCounter, type Crdt } from "../../src/crdt/index.js";
import { DecodeError } from "../../src/errors.js";
import { type CrdtDelta, decodeDeltaEnvelope, decodeValue, type DeltaEnvelope, encodeDeltaEnvelope, encodeValue, MAX_TEXT } from "../../src/wire/codec.js";
import { messageType } from "../../src/wire/pb.js";
import { fcParams } from "../crdt/laws.js";
import { NODES, SPECS, values } from "./arbitraries.js";

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

const W = "node-a~mx3mrvv8"; // a writer id as writerIdFor makes them
const OTHER = "node-b~mx3ab000";

function delta(key: string, value: Crdt): CrdtDelta {
  return { key, kind: value.kind, originNode: "node-a", value };
}

const deltas: CrdtDelta[] = [
  delta("hits", GCounter.empty().increment(W, 5).increment(OTHER, 2)),
  delta("balance", PNCounter.empty().increment(W, 3).decrement(W, 1).decrement(OTHER, 4)),
  delta("users", ORSet.empty<string>().add(W, "x").add(OTHER, "y").add(W, "z")),
  delta("name", LWWRegister.empty<string>().set(W, "v", 1_760_000_000_000)),
  delta("mv", MVRegister.empty<string>().set(W, "p").merge(MVRegister.empty<string>().set(OTHER, "q"))),
  delta("cfg", LWWMap.empty<string, string>().put(W, "k", "v", 1_760_000_000_000).put(OTHER, "k2", "w", 5)),
  delta("deep", ORMap.empty<LWWMap>("lwwMap").update(W, "outer", (m, n) => m.put(n, "inner", 42, 7))),
];

const envelope: DeltaEnvelope = { origin: "node-a", incarnation: 1_760_000_000_000, sequence: 9, deltas, tombstones: [], sentAtMs: 1_760_000_000_000.5 };

describe("compact states", () => {
  for (const spec of SPECS) {
    test(`${spec.name}: the compact encoding reads back as the value with its writer, is never larger, and without the writer is refused`, () => {
      fc.assert(
        fc.property(values(spec), fc.constantFrom(...NODES), (vs, writer) => {
          for (const v of vs) {
            const full = encodeValue(v);
            const compact = encodeValue(v, writer);
            assert.ok(decodeValue(v.kind, compact, writer).equals(v), "compact round trip");
            assert.ok(compact.length <= full.length);
            // A writer that names no node of the value changes nothing.
            assert.equal(hex(encodeValue(v, "nobody")), hex(full));
            assert.ok(decodeValue(v.kind, full, writer).equals(v), "a full state inside a compact envelope reads as itself");
            // What a release without compact envelopes does with one: it refuses it, never misreads it.
            if (hex(compact) !== hex(full)) assert.throws(() => decodeValue(v.kind, compact), DecodeError);
          }
        }),
        fcParams(),
      );
    });
  }
});

describe("compact envelopes", () => {
  test("round trip: the states come back whole, other writers' ids untouched; the writer is said once", () => {
    const full = encodeDeltaEnvelope(envelope);
    const bytes = encodeDeltaEnvelope({ ...envelope, writer: W });
    const back = decodeDeltaEnvelope(bytes);
    assert.equal(back.writer, W);
    assert.equal(back.deltas.length, deltas.length);
    back.deltas.forEach((d, i) => {
      assert.equal(d.key, deltas[i]!.key);
      assert.equal(d.originNode, "node-a");
      assert.ok(d.value.equals(deltas[i]!.value), `delta ${d.key}`);
      assert.equal(d.data, undefined, "the compact bytes are not the value's encoding");
      assert.equal(hex(encodeValue(d.value)), hex(encodeValue(deltas[i]!.value)));
    });
    // Every delta names W at least once; each mention costs W plus its tag and length in the full form.
    assert.ok(full.length - bytes.length >= deltas.length * W.length, `${full.length} → ${bytes.length} bytes`);
    // A full envelope decodes as before: no writer, each delta's data its value's encoding.
    const plain = decodeDeltaEnvelope(full);
    assert.equal(plain.writer, undefined);
    assert.equal(hex(plain.deltas[0]!.data!), hex(encodeValue(deltas[0]!.value)));
  });

  test("pre-encoded data is used as is: the outbox encodes compact data once, to size its batches", () => {
    const d = { ...deltas[0]!, data: encodeValue(deltas[0]!.value, W) };
    const back = decodeDeltaEnvelope(encodeDeltaEnvelope({ ...envelope, deltas: [d], writer: W }));
    assert.ok(back.deltas[0]!.value.equals(deltas[0]!.value));
  });

  test("the bench's distinct-keys traffic: one GCounter increment per key costs ≤ 24 bytes (33 in the full form)", () => {
    const writer = "tp-a~mx3mrvv8";
    const many: CrdtDelta[] = Array.from({ length: 1000 }, (_, i) => ({
      key: `d${50_000 + i}`,
      kind: "gcounter",
      originNode: "tp-a",
      value: GCounter.empty().increment(writer, 1),
    }));
    const env = { ...envelope, origin: "tp-a", deltas: many };
    const full = encodeDeltaEnvelope(env).length / many.length;
    const compact = encodeDeltaEnvelope({ ...env, writer }).length / many.length;
    assert.ok(full > 32, `full: ${full} B per update`);
    assert.ok(compact <= 24, `compact: ${compact} B per update`);
  });

  test("bytes written by a release without compact envelopes decode unchanged, and the full form is still written alike (pinned)", () => {
    // One GCounter increment of key d50000 by writer tp-a~mx3mrvv8, as the previous release encoded it.
    const previous = "0a0474702d611095d8c8eea2341805221f0a06643530303030100122130a110a0d74702d617e6d78336d727676381001308827";
    const e = decodeDeltaEnvelope(Buffer.from(previous, "hex"));
    assert.equal(e.origin, "tp-a");
    assert.equal(e.writer, undefined);
    assert.deepEqual(
      e.deltas.map((d) => [d.key, d.kind, d.originNode, JSON.stringify(d.value.toState())]),
      [["d50000", "gcounter", "tp-a", JSON.stringify({ slots: [{ node: "tp-a~mx3mrvv8", value: 1 }] })]],
    );
    assert.equal(hex(encodeDeltaEnvelope(e)), previous);
  });
});

describe("forged compact input is a DecodeError", () => {
  const Envelope = messageType("DeltaEnvelope");
  const compactData = encodeValue(GCounter.empty().increment(W, 1), W);
  const forge = (fields: object): Uint8Array => Envelope.encode({ origin: "node-a", incarnation: 1, sequence: 1, ...fields }).finish();
  const gcounterDelta = (data: Uint8Array): object => ({ key: "k", dataType: 1, data });

  const bad: [string, () => Uint8Array][] = [
    ["a compact state in an envelope that names no writer", () => forge({ deltas: [gcounterDelta(compactData)] })],
    ["a compact state in an envelope whose writer is empty", () => forge({ writer: "", deltas: [gcounterDelta(compactData)] })],
    [`a writer longer than ${MAX_TEXT} chars`, () => forge({ writer: "w".repeat(MAX_TEXT + 1), deltas: [gcounterDelta(compactData)] })],
    [
      "a slot left empty and one naming the writer too (a duplicate slot)",
      () => forge({ writer: W, deltas: [gcounterDelta(messageType("GCounterState").encode({ slots: [{ value: 1 }, { node: W, value: 2 }] }).finish())] }),
    ],
    [
      "a compact ORSet dot with no writer",
      () => forge({ deltas: [{ key: "k", dataType: 4, data: encodeValue(ORSet.empty<string>().add(W, "x"), W) }] }),
    ],
  ];
  for (const [name, make] of bad) {
    test(name, () => {
      assert.throws(() => decodeDeltaEnvelope(make()), (e: unknown) => e instanceof DecodeError && e.name === "DecodeError");
    });
  }

  test("the forged baseline decodes", () => {
    const e = decodeDeltaEnvelope(forge({ writer: W, deltas: [gcounterDelta(compactData)] }));
    assert.equal((e.deltas[0]!.value as GCounter).slot(W), 1);
  });
});
