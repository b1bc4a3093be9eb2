/**
 * Counters (GCounter, PNCounter) are encoded and content-hashed without protobufjs
 * (src/wire/fast-encode.ts, the short SHA-256 of src/wire/sha256.ts). Peers of every release read these bytes and compare these hashes,
 * so both must be exactly what the generic path gives: protobufjs's encoding of the state (compact
 * form included), and the first 8 bytes of node:crypto's SHA-256 over 0x01 ‖ DataType ‖ encoding.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import { GCounter, PNCounter } from "../../src/crdt/index.js";
import type { AnyState, DataKind } from "../../src/crdt/types.js";
import { writeCounter } from "../../src/wire/fast-encode.js";
import { contentHash } from "../../src/wire/hash.js";
import { dataTypeOf, encodeState, encodeValue } from "../../src/wire/states.js";
import { fcParams } from "../crdt/laws.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** The hash as hash.ts defines it, computed the long way. */
function definedHash(kind: DataKind, state: AnyState): bigint {
  const body = encodeState(kind, state);
  const digest = createHash("sha256").update(Uint8Array.of(0x01, dataTypeOf(kind))).update(body).digest();
  return digest.readBigUInt64BE(0);
}

// Node ids as writers make them (node~incarnation), short and long, non-ASCII (left to protobufjs),
// and lengths around the one-byte limit of a slot (127).
const node = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("a", "b~1", "sa~lz3k2", "x".repeat(120), "y".repeat(126)) },
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom("nödé", "z".repeat(200)) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 8 }) },
);
const amount = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 2 ** 35 }), fc.maxSafeNat());
const counter = fc
  .array(fc.tuple(node, amount), { maxLength: 8 })
  .map((slots) => slots.reduce((c, [n, by]) => (by > 0 && c.slot(n) + by <= Number.MAX_SAFE_INTEGER ? c.increment(n, by) : c), GCounter.empty()));

test("a GCounter's hand-written encoding is byte for byte protobufjs's, compact form included", () => {
  let written = 0;
  fc.assert(
    fc.property(counter, fc.nat(), fc.boolean(), (c, pick, compact) => {
      const state = c.toState();
      // The compact form leaves out one of the counter's own writers (or one it does not hold).
      const writer = compact ? (state.slots[pick % (state.slots.length + 1)]?.node ?? "absent") : undefined;
      const generic = encodeState("gcounter", state, writer);
      assert.equal(hex(encodeValue(c, writer)), hex(generic));
      if (c.delta !== undefined) assert.equal(hex(encodeValue(c.delta, writer)), hex(encodeState("gcounter", c.delta.toState(), writer)));
      // Written in place at an offset; where it gives up (-1) encodeValue took protobufjs's way.
      const buf = new Uint8Array(4096).fill(0xee);
      const end = writeCounter(buf, 3, c, writer);
      if (end >= 0) {
        written++;
        assert.equal(hex(buf.subarray(3, end)), hex(generic));
        assert.equal(buf[2], 0xee);
        assert.equal(buf[end], 0xee);
      }
    }),
    fcParams({ numRuns: 1000 }),
  );
  assert.ok(written > 250, `only ${written} counters took the hand-written way`);
});

test("a GCounter's content hash is the defined one (SHA-256 over tag, type and protobuf encoding)", () => {
  fc.assert(
    fc.property(counter, (c) => {
      assert.equal(contentHash(c), definedHash("gcounter", c.toState()));
      assert.equal(contentHash(c.resetDelta()), contentHash(c), "a pending delta does not count");
    }),
    fcParams({ numRuns: 1000 }),
  );
  // Pinned: what the previous release (protobufjs and node:crypto only) computes for these.
  assert.equal(contentHash(GCounter.empty()), 0x9dcf97a184f32623n);
  assert.equal(contentHash(GCounter.empty().increment("a~1", 5).increment("sb~x", 2 ** 40)), 0x48f79c16438d1f91n);
});

test("a buffer too small for the counter: -1, nothing written past its end", () => {
  const c = GCounter.empty().increment("a~1", 300).increment("b~2", 2 ** 40);
  const bytes = encodeValue(c);
  for (let size = 0; size < bytes.length + 20; size++) {
    const buf = new Uint8Array(size);
    const end = writeCounter(buf, 0, c);
    if (end >= 0) assert.equal(hex(buf.subarray(0, end)), hex(bytes));
  }
  assert.equal(writeCounter(new Uint8Array(bytes.length), 0, c), -1, "a slot is written only when its longest form fits");
});

const pncounter = fc
  .array(fc.tuple(node, amount, fc.boolean()), { maxLength: 8 })
  .map((ops) => ops.reduce((c, [n, by, up]) => (up ? (c.increments.slot(n) + by <= Number.MAX_SAFE_INTEGER ? c.increment(n, by) : c) : c.decrements.slot(n) + by <= Number.MAX_SAFE_INTEGER ? c.decrement(n, by) : c), PNCounter.empty()));

test("a PNCounter's hand-written encoding and content hash are protobufjs's and the defined one", () => {
  let written = 0;
  fc.assert(
    fc.property(pncounter, fc.option(fc.constantFrom("a", "b~1", "sa~lz3k2"), { nil: undefined }), (c, writer) => {
      const state = c.toState();
      const generic = encodeState("pncounter", state, writer);
      assert.equal(hex(encodeValue(c, writer)), hex(generic));
      assert.equal(contentHash(c), definedHash("pncounter", state));
      const buf = new Uint8Array(4096);
      const end = writeCounter(buf, 0, c, writer);
      if (end >= 0) {
        written++;
        assert.equal(hex(buf.subarray(0, end)), hex(generic));
      }
    }),
    fcParams({ numRuns: 1000 }),
  );
  assert.ok(written > 250, `only ${written} counters took the hand-written way`);
  // Pinned: what the previous release (protobufjs and node:crypto only) computes for these.
  assert.equal(contentHash(PNCounter.empty()), 0x3f4545a4a7b42ca1n);
  assert.equal(contentHash(PNCounter.empty().increment("a~1", 5).decrement("sb~x", 2 ** 40)), 0x52143eed3cfd89f8n);
});
