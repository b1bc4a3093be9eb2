/**
 * Delta envelopes written by hand (src/wire/envelope-writer.ts): byte for byte what protobufjs
 * (`encodeDeltaEnvelope`, the previous release's encoder) writes for the same envelope, over random
 * envelopes — compact or not, send times before and after the incarnation, deltas of several
 * types, empty states, origins implied or named — and undefined (protobufjs's turn) for the shapes
 * it does not take.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { GCounter } from "../../src/crdt/index.js";
import { encodeDeltaEnvelope, encodeValue, writeDeltaEnvelope, type CrdtDelta, type DeltaEnvelope } from "../../src/wire/codec.js";
import { fcParams } from "../crdt/laws.js";
import { envelopeArb, writeByHand } from "./envelope-arbitrary.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

const envelope = envelopeArb(40);

test("the hand-written envelope is byte for byte protobufjs's", () => {
  let written = 0;
  fc.assert(
    fc.property(envelope, (e) => {
      const mine = writeByHand(e);
      const generic = encodeDeltaEnvelope(e);
      if (mine === undefined) {
        // Declined only for a non-ASCII string.
        const strings = [e.origin, ...e.deltas.flatMap((d) => [d.key, d.originNode])];
        assert.ok(strings.some((s) => /[^\x00-\x7f]/.test(s)), "declined an envelope of the usual shape");
        return;
      }
      written++;
      assert.equal(hex(mine), hex(generic));
    }),
    fcParams({ numRuns: 1000 }),
  );
  assert.ok(written > 500, `only ${written} envelopes written by hand`);
});

test("shapes left to protobufjs: undefined, and protobufjs still encodes or rejects them", () => {
  const d: CrdtDelta = { key: "k", kind: "gcounter", originNode: "n1", value: GCounter.empty().increment("n1~a", 1), data: encodeValue(GCounter.empty().increment("n1~a", 1)) };
  const base: DeltaEnvelope = { origin: "n1", incarnation: 5, sequence: 1, deltas: [d], tombstones: [], sentAtMs: 6 };
  assert.ok(writeByHand(base) !== undefined);
  const declined: DeltaEnvelope[] = [
    { ...base, origin: "nödé" },
    { ...base, deltas: [{ ...d, key: "ключ" }] },
    { ...base, deltas: [{ ...d, originNode: "nödé" }] },
  ];
  for (const e of declined) {
    assert.equal(writeByHand(e), undefined);
    encodeDeltaEnvelope(e);
  }
  const invalid: DeltaEnvelope[] = [
    { ...base, origin: "" },
    { ...base, sequence: -1 },
    { ...base, incarnation: 1.5 },
    { ...base, sentAtMs: Number.NaN },
    { ...base, writer: "" },
    { ...base, deltas: [{ ...d, key: "" }] },
    { ...base, deltas: [{ ...d, originNode: "" }] },
  ];
  for (const e of invalid) {
    assert.equal(writeByHand(e), undefined);
    assert.throws(() => encodeDeltaEnvelope(e));
  }
});

test("columns whose value bytes lie outside the buffer or run backwards: undefined", () => {
  const value = GCounter.empty().increment("n1~a", 1);
  const data = encodeValue(value);
  const head = { origin: "n1", incarnation: 5, sequence: 1, sentAtMs: 6 };
  const columns = (ends: number[]) => ({ count: ends.length, keys: ends.map((_, i) => `k${i}`), values: ends.map(() => value), data, ends });
  assert.ok(writeDeltaEnvelope(head, columns([data.length])) !== undefined);
  assert.equal(writeDeltaEnvelope(head, columns([data.length + 1])), undefined);
  assert.equal(writeDeltaEnvelope(head, columns([data.length, 1])), undefined);
});
