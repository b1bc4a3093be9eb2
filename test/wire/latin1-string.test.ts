/**
 * latin1String (src/wire/fast-decode.ts), which makes every key and id the hand readers read:
 * each length (its one-call cases up to 16 chars and the array form beyond) gives the string
 * Buffer's latin1 decoding gives, at any offset; sameAscii matches only ASCII bytes equal to the string.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { latin1String, sameAscii } from "../../src/wire/fast-decode.js";
import { fcParams } from "../crdt/laws.js";

test("latin1String is Buffer's latin1 decoding, for every length from 0 to 40 and any offset", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 60 }), fc.nat(40), fc.nat(20), (bytes, len, at) => {
      fc.pre(at + len <= bytes.length);
      assert.equal(latin1String(bytes, at, len), Buffer.from(bytes).toString("latin1", at, at + len));
    }),
    fcParams({ numRuns: 3000 }),
  );
  for (let len = 0; len <= 40; len++) {
    const bytes = Uint8Array.from({ length: len + 3 }, (_, i) => 0x41 + ((i * 7) % 26));
    assert.equal(latin1String(bytes, 3, len), Buffer.from(bytes).toString("latin1", 3, 3 + len), `length ${len}`);
  }
});

test("latin1String of a megabyte: one string (no argument list that long)", () => {
  const bytes = new Uint8Array(1024 * 1024).fill(0x61);
  assert.equal(latin1String(bytes, 0, bytes.length), "a".repeat(bytes.length));
});

test("sameAscii: equal ASCII bytes only", () => {
  const b = Uint8Array.from([0x78, 0x6b, 0x65, 0x79, 0xe9]);
  assert.ok(sameAscii(b, 1, 4, "key"));
  assert.ok(!sameAscii(b, 1, 4, "kez"));
  assert.ok(!sameAscii(b, 1, 3, "key"));
  assert.ok(!sameAscii(b, 4, 5, "é"), "a latin1 byte is not the UTF-8 of é");
});
