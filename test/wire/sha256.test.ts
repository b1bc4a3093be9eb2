/**
 * The JavaScript SHA-256 of short inputs (src/wire/sha256.ts `sha256Head64`) against node:crypto:
 * every length across the one- and two-block paddings and the switch to OpenSSL, random bytes,
 * and a prefix of a longer buffer.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import { sha256Head64 } from "../../src/wire/sha256.js";
import { fcParams } from "../crdt/laws.js";

const reference = (b: Uint8Array): bigint => createHash("sha256").update(b).digest().readBigUInt64BE(0);

test("sha256Head64 equals node:crypto's first 8 bytes for every length 0..300", () => {
  for (let len = 0; len <= 300; len++) {
    for (const bytes of [randomBytes(len), new Uint8Array(len).fill(0xff), new Uint8Array(len)]) {
      assert.equal(sha256Head64(bytes), reference(bytes), `length ${len}`);
    }
  }
  // FIPS 180-4 example "abc".
  assert.equal(sha256Head64(Buffer.from("abc")), 0xba7816bf8f01cfean);
});

test("sha256Head64 of a buffer's prefix hashes only the prefix", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (bytes, cut) => {
      const length = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
      assert.equal(sha256Head64(bytes, length), reference(bytes.subarray(0, length)));
    }),
    fcParams({ numRuns: 1000 }),
  );
});
