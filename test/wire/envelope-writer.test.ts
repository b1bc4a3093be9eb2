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
import { Flag, GCounter, GSet, LWWRegister, ORSet, PNCounter } from "../../src/crdt/index.js";
import type { Crdt } from "../../src/crdt/types.js";
import { encodeDeltaEnvelope, encodeValue, writeDeltaEnvelope, type CrdtDelta, type DeltaEnvelope } from "../../src/wire/codec.js";
import { fcParams } from "../crdt/laws.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

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
    // After the incarnation (the usual), before it (an incarnation ahead of the clock), equal, sub-µs.
    offsetMs: fc.oneof(fc.double({ min: -1e7, max: 1e7, noNaN: true }), fc.constant(0), fc.constant(0.0004), fc.integer({ min: -5, max: 1e9 })),
    writer: fc.option(fc.constantFrom("n1~a", "n2~b", "w"), { nil: undefined }),
    deltas: fc.array(fc.record({ key: text, value: fc.constantFrom(...VALUES), named: fc.boolean(), other: asciiId }), { maxLength: 40 }),
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

test("the hand-written envelope is byte for byte protobufjs's", () => {
  let written = 0;
  fc.assert(
    fc.property(envelope, (e) => {
      const mine = writeDeltaEnvelope(e);
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
  assert.ok(writeDeltaEnvelope(base) !== undefined);
  const withoutData = { ...d };
  delete withoutData.data;
  const declined: DeltaEnvelope[] = [
    { ...base, tombstones: [{ key: "t", kind: "gcounter", deletedAtMs: 3, originNode: "n1" }] },
    { ...base, deltas: [], chunk: { chunkId: 1, index: 0, total: 2, data: new Uint8Array(3) } },
    { ...base, deltas: [withoutData] },
    { ...base, origin: "nödé" },
    { ...base, deltas: [{ ...d, key: "ключ" }] },
  ];
  for (const e of declined) {
    assert.equal(writeDeltaEnvelope(e), undefined);
    encodeDeltaEnvelope(e);
  }
  const invalid: DeltaEnvelope[] = [
    { ...base, origin: "" },
    { ...base, sequence: -1 },
    { ...base, incarnation: 1.5 },
    { ...base, sentAtMs: Number.NaN },
    { ...base, writer: "" },
    { ...base, deltas: [{ ...d, key: "" }] },
    { ...base, deltas: [{ ...d, kind: "pncounter" }] },
  ];
  for (const e of invalid) {
    assert.equal(writeDeltaEnvelope(e), undefined);
    assert.throws(() => encodeDeltaEnvelope(e));
  }
});
