/**
 * decodeValue reads GCounters without protobufjs when the bytes have our encoder's exact shape
 * (src/wire/fast-decode.ts). It must accept and reject exactly what the generic path does: every
 * single-byte mutation, truncation and extension of real encodings is decoded both ways and the
 * outcomes compared.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { GCounter } from "../../src/crdt/index.js";
import { fromState } from "../../src/crdt/registry.js";
import type { Crdt } from "../../src/crdt/types.js";
import { DecodeError } from "../../src/errors.js";
import { isPlainGCounterBytes } from "../../src/wire/fast-decode.js";
import { decodeState, decodeValue, decodeValueIn, encodeValue } from "../../src/wire/states.js";
import { fcParams } from "../crdt/laws.js";

/** What a decode gives: the state, or the refusal — which must be a DecodeError, nothing else. */
function outcome(decode: () => Crdt): string {
  try {
    const v = decode() as GCounter;
    return `ok ${JSON.stringify(v.toState())}`;
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`a decoder threw ${(e as Error)?.name}, not a DecodeError: ${(e as Error)?.message}`, { cause: e });
    return "throws DecodeError";
  }
}

/**
 * Both paths on `bytes`: the same outcome (the fast path answers only what the generic one would);
 * `writer`: as in a compact envelope. Without one, also read in place from a larger buffer (as in a
 * snapshot pack), between bytes that would change the outcome if the reader strayed past its range.
 */
function compare(bytes: Uint8Array, writer?: string): void {
  const generic = outcome(() => fromState("gcounter", decodeState("gcounter", bytes, writer)));
  const what = `bytes ${Buffer.from(bytes).toString("hex")}${writer === undefined ? "" : ` with writer ${writer}`}`;
  assert.equal(outcome(() => decodeValue("gcounter", bytes, writer)), generic, what);
  if (writer !== undefined) return;
  const slot = (node: number): number[] => [0x0a, 0x05, 0x0a, 0x01, node, 0x10, 0x01]; // node "0" or "z", 1
  const padded = Uint8Array.of(...slot(0x30), ...bytes, ...slot(0x7a));
  assert.equal(outcome(() => decodeValueIn("gcounter", padded, 7, 7 + bytes.length)), generic, `${what} in place`);
  // What a bulk pull keeps undecoded: only what decodes, to a counter of plain writer ids.
  const plain = isPlainGCounterBytes(bytes, 0, bytes.length);
  assert.equal(isPlainGCounterBytes(padded, 7, 7 + bytes.length), plain, `${what}: plain in place`);
  if (plain) {
    assert.match(generic, /^ok /, `${what}: plain, so it decodes`);
    const nodes = (decodeValue("gcounter", bytes) as GCounter).nodes;
    assert.ok(nodes.length > 0 && nodes.every((n) => !/[\^!#]/.test(n)), `${what}: plain ids`);
  }
}

test("a counter's encoding is plain (a bulk pull may keep it undecoded) when it has slots, all of ASCII ids without a fold's characters", () => {
  const plain = (c: GCounter): boolean => {
    const bytes = encodeValue(c);
    return isPlainGCounterBytes(bytes, 0, bytes.length);
  };
  assert.equal(plain(GCounter.empty().increment("a~1", 1)), true);
  assert.equal(plain(GCounter.empty().increment("sa~lz3k2", 127).increment("sb~x", 2 ** 40).increment("n", Number.MAX_SAFE_INTEGER)), true);
  assert.equal(plain(GCounter.empty()), false, "no slot");
  assert.equal(plain(GCounter.empty().increment("nödé", 3)), false, "not ASCII");
  for (const id of ["x^3", "x!3", "x#9.9"]) assert.equal(plain(GCounter.fromState({ slots: [{ node: id, value: 4 }, { node: "z~1", value: 1 }] })), false, id);
});

test("the GCounter fast path decodes and rejects exactly like the generic decoder", () => {
  const counters = [
    GCounter.empty(),
    GCounter.empty().increment("a~1", 1),
    GCounter.empty().increment("sa~lz3k2", 127).increment("sb~x", 128).increment("sc~y", 2 ** 40),
    GCounter.empty().increment("n", Number.MAX_SAFE_INTEGER),
    GCounter.empty().increment("nödé", 3).increment("z", 5), // non-ASCII node: generic path
    // Lone slots a fold id's rules apply to (read the general way), and a lone marker.
    GCounter.fromState({ slots: [{ node: "x^3", value: 4 }] }),
    GCounter.fromState({ slots: [{ node: "x#9.9", value: 9 }] }),
  ];
  let compared = 0;
  // Compact encodings (the writer left out of its slot) too, read with and without the writer.
  const encodings = counters.flatMap((c) => [encodeValue(c), encodeValue(c, "a~1"), encodeValue(c, "sb~x")]);
  for (const bytes of encodings) {
    const variants: Uint8Array[] = [bytes, bytes.subarray(0, bytes.length - 1), Uint8Array.of(...bytes, 0x10, 0x01), Uint8Array.of(...bytes, ...bytes)];
    for (let i = 0; i < bytes.length; i++) {
      for (const b of [0x00, 0x01, 0x0a, 0x10, 0x60, 0x7f, 0x80, 0xff, bytes[i]! ^ 0x01]) {
        const m = bytes.slice();
        m[i] = b;
        variants.push(m);
      }
    }
    for (const v of variants) {
      for (const writer of [undefined, "a~1", "sb~x"]) compare(v, writer);
      compared++;
    }
  }
  for (const c of counters) assert.ok(decodeValue("gcounter", encodeValue(c, "sb~x"), "sb~x").equals(c));
  assert.ok(compared > 600);
});

test("random counters truncated, cut or overwritten anywhere: both paths agree, and refuse only with DecodeError", () => {
  const node = fc.oneof(fc.constantFrom("a", "b~1", "sa~lz3k2", "nödé"), fc.string({ minLength: 1, maxLength: 6 }));
  const counter = fc
    .array(fc.tuple(node, fc.oneof(fc.integer({ min: 1, max: 300 }), fc.maxSafeNat())), { maxLength: 5 })
    .map((slots) => slots.reduce((c, [n, by]) => (by > 0 && c.slot(n) + by <= Number.MAX_SAFE_INTEGER ? c.increment(n, by) : c), GCounter.empty()).resetDelta());
  const edit = fc.record({ at: fc.nat(), cut: fc.nat({ max: 4 }), insert: fc.uint8Array({ maxLength: 4 }) });
  fc.assert(
    fc.property(counter, fc.array(edit, { minLength: 1, maxLength: 3 }), fc.constantFrom(undefined, "a", "b~1"), (c, edits, writer) => {
      let bytes = encodeValue(c, writer);
      for (const { at, cut, insert } of edits) {
        const i = at % (bytes.length + 1);
        bytes = Uint8Array.of(...bytes.subarray(0, i), ...insert, ...bytes.subarray(i + cut));
      }
      compare(bytes, writer);
    }),
    fcParams(),
  );
});

test("node ids are taken from the ids read lately only when every byte matches (same length, one byte apart, more ids than it keeps)", () => {
  // More distinct ids of one length than the reader keeps, interleaved, so matches, misses and
  // replacements all happen; every decode must name exactly the encoded nodes.
  const ids = Array.from({ length: 40 }, (_, i) => `w~${String(i).padStart(2, "0")}`);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < ids.length; i++) {
      const c = GCounter.empty()
        .increment(ids[i]!, i + 1)
        .increment(ids[(i * 7 + round) % ids.length]!, 2)
        .resetDelta();
      const back = decodeValue("gcounter", encodeValue(c)) as GCounter;
      assert.ok(back.equals(c), `${JSON.stringify(back.toState())} != ${JSON.stringify(c.toState())}`);
    }
  }
});
