/**
 * decodeValue reads GCounters without protobufjs when the bytes have our encoder's exact shape
 * (src/wire/fast-decode.ts). It must accept and reject exactly what the generic path does: every
 * single-byte mutation, truncation and extension of real encodings is decoded both ways and the
 * outcomes compared.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GCounter } from "../../src/crdt/index.js";
import { fromState } from "../../src/crdt/registry.js";
import type { Crdt } from "../../src/crdt/types.js";
import { decodeState, decodeValue, encodeValue } from "../../src/wire/states.js";

function outcome(decode: () => Crdt): string {
  try {
    const v = decode() as GCounter;
    return `ok ${JSON.stringify(v.toState())}`;
  } catch (e) {
    return `throws ${(e as Error).name}`;
  }
}

test("the GCounter fast path decodes and rejects exactly like the generic decoder", () => {
  const counters = [
    GCounter.empty(),
    GCounter.empty().increment("a~1", 1),
    GCounter.empty().increment("sa~lz3k2", 127).increment("sb~x", 128).increment("sc~y", 2 ** 40),
    GCounter.empty().increment("n", Number.MAX_SAFE_INTEGER),
    GCounter.empty().increment("nödé", 3).increment("z", 5), // non-ASCII node: generic path
  ];
  let compared = 0;
  for (const c of counters) {
    const bytes = encodeValue(c);
    const variants: Uint8Array[] = [bytes, bytes.subarray(0, bytes.length - 1), Uint8Array.of(...bytes, 0x10, 0x01), Uint8Array.of(...bytes, ...bytes)];
    for (let i = 0; i < bytes.length; i++) {
      for (const b of [0x00, 0x01, 0x0a, 0x10, 0x60, 0x7f, 0x80, 0xff, bytes[i]! ^ 0x01]) {
        const m = bytes.slice();
        m[i] = b;
        variants.push(m);
      }
    }
    for (const v of variants) {
      assert.equal(
        outcome(() => decodeValue("gcounter", v)),
        outcome(() => fromState("gcounter", decodeState("gcounter", v))),
        `bytes ${Buffer.from(v).toString("hex")}`,
      );
      compared++;
    }
    assert.ok(decodeValue("gcounter", bytes).equals(c));
  }
  assert.ok(compared > 200);
});
