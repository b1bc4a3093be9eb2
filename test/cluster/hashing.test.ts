import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fnv1a32, fnv1a64, keyEntryHash, mix64 } from "../../src/cluster/hashing.js";
import { assertProperty } from "./fc-seed.js";

// Straightforward references: bigint arithmetic over TextEncoder bytes.
const enc = new TextEncoder();
function ref32(s: string): number {
  let h = 0x811c9dc5n;
  for (const b of enc.encode(s)) h = ((h ^ BigInt(b)) * 0x01000193n) & 0xffffffffn;
  return Number(h);
}
function ref64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of enc.encode(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

// Any UTF-16 sequence, lone surrogates included (encoded as U+FFFD, like TextEncoder).
const anyString = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 24 }).map((cs) => String.fromCharCode(...cs)),
  fc.string(),
);

describe("hashing", () => {
  it("matches published FNV-1a test vectors", () => {
    assert.equal(fnv1a32(""), 0x811c9dc5);
    assert.equal(fnv1a32("a"), 0xe40c292c);
    assert.equal(fnv1a32("foobar"), 0xbf9cf968);
    assert.equal(fnv1a64(""), 0xcbf29ce484222325n);
    assert.equal(fnv1a64("a"), 0xaf63dc4c8601ec8cn);
    assert.equal(fnv1a64("foobar"), 0x85944171f73967e8n);
  });

  it("hashes the UTF-8 bytes of any string, like the bigint reference", () => {
    assertProperty(
      "fnv matches reference",
      fc.property(anyString, (s) => {
        assert.equal(fnv1a32(s), ref32(s));
        assert.equal(fnv1a64(s), ref64(s));
      }),
    );
  });

  it("mix64 is a 64-bit value and keyEntryHash tells swapped contents apart", () => {
    assertProperty(
      "swap does not cancel",
      fc.property(
        anyString,
        anyString,
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (a, b, x, y) => {
          fc.pre(a !== b && x !== y);
          const before = keyEntryHash(a, x) ^ keyEntryHash(b, y);
          const swapped = keyEntryHash(a, y) ^ keyEntryHash(b, x);
          assert.notEqual(before, swapped);
          assert.notEqual(keyEntryHash(a, x), keyEntryHash(b, x)); // same content, other key
          const m = mix64(x);
          assert.ok(m >= 0n && m < 2n ** 64n);
        },
      ),
    );
  });
});
