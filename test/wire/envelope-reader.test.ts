/**
 * Delta envelopes read by hand (src/wire/envelope-reader.ts): the same result as the generic
 * decoder (protobufjs, what the previous release decodes with) over random envelopes — compact or
 * not, send times before and after the incarnation, deltas of several types, origins implied or
 * named — and over corrupted ones it either declines (undefined: the generic decoder decides) or
 * reads exactly as the generic decoder does; never does it accept what the generic one rejects.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Flag, GCounter, GSet, LWWRegister, ORSet, PNCounter } from "../../src/crdt/index.js";
import type { Crdt } from "../../src/crdt/types.js";
import { decodeDeltaEnvelope, encodeDeltaEnvelope, encodeValue, writeDeltaEnvelope, type CrdtDelta, type DeltaEnvelope } from "../../src/wire/codec.js";
import { readDeltaEnvelope } from "../../src/wire/envelope-reader.js";
import { decodeDeltaEnvelopeGeneric } from "../../src/wire/replication.js";
import { fcParams } from "../crdt/laws.js";

const VALUES: Crdt[] = [
  GCounter.empty(),
  GCounter.empty().increment("n1~a", 1),
  GCounter.empty().increment("n1~a", 300).increment("n2~b", 2 ** 40),
  GCounter.empty().increment("n1~a", 3).delta!,
  PNCounter.empty().increment("n1~a", 5).decrement("n2~b", 2),
  GSet.empty<string>().add("n1~a", "x"),
  ORSet.empty<string>().add("n1~a", "x").add("n2~b", "y".repeat(200)),
  LWWRegister.empty<string>().set("n1~a", "v", 1_700_000_000_000),
  Flag.empty().enable("n1~a"),
];

const asciiId = fc.stringMatching(/^[a-z0-9~.-]{1,20}$/);
const text = fc.oneof({ weight: 6, arbitrary: asciiId }, { weight: 1, arbitrary: fc.constantFrom("k".repeat(200), "ünï", "x") });

const envelope: fc.Arbitrary<DeltaEnvelope> = fc
  .record({
    origin: fc.oneof({ weight: 6, arbitrary: fc.constantFrom("n1", "node-a") }, { weight: 1, arbitrary: text }),
    incarnation: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), fc.constant(Number.MAX_SAFE_INTEGER)),
    sequence: fc.oneof(fc.constant(0), fc.nat(200), fc.maxSafeNat()),
    offsetMs: fc.oneof(fc.double({ min: -1e7, max: 1e7, noNaN: true }), fc.constant(0), fc.integer({ min: -5, max: 1e9 })),
    writer: fc.option(fc.constantFrom("n1~a", "n2~b", "w"), { nil: undefined }),
    deltas: fc.array(fc.record({ key: text, value: fc.constantFrom(...VALUES), named: fc.boolean(), other: asciiId }), { maxLength: 20 }),
  })
  .map(({ origin, incarnation, sequence, offsetMs, writer, deltas }) => {
    const e: DeltaEnvelope = {
      origin,
      incarnation,
      sequence,
      sentAtMs: incarnation + offsetMs,
      tombstones: [],
      deltas: deltas.map(
        ({ key, value, named, other }): CrdtDelta => ({ key, kind: value.kind, originNode: named ? other : origin, value, data: encodeValue(value, writer) }),
      ),
    };
    if (writer !== undefined) e.writer = writer;
    return e;
  });

/** `a` and `b` equal, their values' bytes too (a CRDT's private fields are beyond deepEqual). */
function assertSame(a: DeltaEnvelope, b: DeltaEnvelope): void {
  assert.deepEqual(a, b);
  assert.deepEqual(
    a.deltas.map((d) => encodeValue(d.value)),
    b.deltas.map((d) => encodeValue(d.value)),
  );
}

/** The generic decoder's result, or the error it throws. */
function generic(bytes: Uint8Array): DeltaEnvelope | Error {
  try {
    return decodeDeltaEnvelopeGeneric(bytes);
  } catch (e) {
    return e as Error;
  }
}

test("the hand reader's envelope is the generic decoder's, for envelopes of both encoders", () => {
  let read = 0;
  fc.assert(
    fc.property(envelope, (e) => {
      for (const bytes of [encodeDeltaEnvelope(e), writeDeltaEnvelope(e)]) {
        if (bytes === undefined) continue;
        const mine = readDeltaEnvelope(bytes);
        const reference = generic(bytes);
        if (reference instanceof Error) {
          // Encodable but not decodable (an origin or key past the limits): declined, the generic decoder rejects it.
          assert.equal(mine, undefined);
          continue;
        }
        if (mine === undefined) {
          // Declined only for a non-ASCII string.
          const strings = [e.origin, ...e.deltas.flatMap((d) => [d.key, d.originNode])];
          assert.ok(strings.some((s) => /[^\x00-\x7f]/.test(s)), "declined an envelope of the usual shape");
          continue;
        }
        read++;
        assertSame(mine, reference);
        assertSame(decodeDeltaEnvelope(bytes), reference);
      }
    }),
    fcParams({ numRuns: 500 }),
  );
  assert.ok(read > 500, `only ${read} envelopes read by hand`);
});

test("corrupted envelopes: declined, or read exactly as the generic decoder reads them", () => {
  let declined = 0;
  let accepted = 0;
  const mutation = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom("flip", "set", "truncate", "append", "insert"),
    byte: fc.integer({ min: 0, max: 255 }),
  });
  fc.assert(
    fc.property(envelope, fc.array(mutation, { minLength: 1, maxLength: 3 }), (e, ms) => {
      let bytes = writeDeltaEnvelope(e) ?? encodeDeltaEnvelope(e);
      for (const m of ms) {
        const at = bytes.length === 0 ? 0 : m.at % bytes.length;
        const b = Array.from(bytes);
        if (m.kind === "flip") b[at] = b[at]! ^ (1 << m.byte % 8);
        else if (m.kind === "set") b[at] = m.byte;
        else if (m.kind === "truncate") b.length = at;
        else if (m.kind === "append") b.push(m.byte);
        else b.splice(at, 0, m.byte);
        bytes = Uint8Array.from(b);
      }
      const mine = readDeltaEnvelope(bytes);
      const reference = generic(bytes);
      if (mine === undefined) {
        declined++;
        return;
      }
      accepted++;
      assert.ok(!(reference instanceof Error), `the hand reader accepted what the generic decoder rejects: ${String(reference)}`);
      assertSame(mine, reference);
    }),
    fcParams({ numRuns: 2000 }),
  );
  assert.ok(declined > 100 && accepted > 50, `declined ${declined}, accepted ${accepted}`);
});

test("shapes left to the generic decoder: tombstones, a chunk, a field a newer release added, a Buffer's data as a plain view", () => {
  const value = GCounter.empty().increment("n1~a", 1);
  const d: CrdtDelta = { key: "k", kind: "gcounter", originNode: "n1", value, data: encodeValue(value) };
  const base: DeltaEnvelope = { origin: "n1", incarnation: 5, sequence: 1, deltas: [d], tombstones: [], sentAtMs: 6 };
  assert.ok(readDeltaEnvelope(encodeDeltaEnvelope(base)) !== undefined);
  const others: DeltaEnvelope[] = [
    { ...base, tombstones: [{ key: "t", kind: "gcounter", deletedAtMs: 3, originNode: "n1" }] },
    { ...base, deltas: [], chunk: { chunkId: 1, index: 0, total: 2, data: new Uint8Array(3) } },
  ];
  for (const e of others) {
    const bytes = encodeDeltaEnvelope(e);
    assert.equal(readDeltaEnvelope(bytes), undefined);
    assert.deepEqual(decodeDeltaEnvelope(bytes), decodeDeltaEnvelopeGeneric(bytes));
  }
  // Field 12 (varint 1): unknown to this release, tolerated by the generic decoder.
  const newer = Uint8Array.from([...encodeDeltaEnvelope(base), 0x60, 0x01]);
  assert.equal(readDeltaEnvelope(newer), undefined);
  assert.equal(decodeDeltaEnvelope(newer).sequence, 1);

  // NATS hands over Buffers: a delta's data must be a plain Uint8Array (Buffer#slice would not copy).
  const fromBuffer = readDeltaEnvelope(Buffer.from(encodeDeltaEnvelope(base)))!;
  assert.equal(Object.getPrototypeOf(fromBuffer.deltas[0]!.data), Uint8Array.prototype);
  assert.deepEqual(fromBuffer, decodeDeltaEnvelopeGeneric(Buffer.from(encodeDeltaEnvelope(base))));
});
