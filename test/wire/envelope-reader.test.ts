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
import { GCounter } from "../../src/crdt/index.js";
import { decodeDeltaEnvelope, encodeDeltaEnvelope, encodeValue, type CrdtDelta, type DeltaEnvelope } from "../../src/wire/codec.js";
import { readDeltaEnvelope } from "../../src/wire/envelope-reader.js";
import { decodeDeltaEnvelopeGeneric } from "../../src/wire/replication.js";
import { fcParams } from "../crdt/laws.js";
import { envelopeArb, writeByHand } from "./envelope-arbitrary.js";

const envelope = envelopeArb(20);

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
      for (const bytes of [encodeDeltaEnvelope(e), writeByHand(e)]) {
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
      let bytes = writeByHand(e) ?? encodeDeltaEnvelope(e);
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
