/**
 * The values a restore defers (src/wire/packed-values.ts): packs are kept as LevelDB read them up
 * to a limit, and past it each value's bytes are copied into slabs (V8 runs a full collection per
 * 64 MB of buffers kept outside its heap). Whichever way a value is kept, it decodes to what was
 * packed, also after the buffer it came in is reused; a corrupt one throws and is counted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { GCounter, ORSet } from "../../src/crdt/index.js";
import type { Crdt } from "../../src/crdt/types.js";
import { PackedValues } from "../../src/wire/packed-values.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { dataTypeOf, encodeValue } from "../../src/wire/states.js";
import { fcParams } from "../crdt/laws.js";

/** Values laid out in packs as a pack holds them: each value's bytes between other bytes. */
function packsOf(values: Crdt[][], gap: number): { pack: Uint8Array; at: { start: number; end: number }[] }[] {
  return values.map((inPack) => {
    const encoded = inPack.map((v) => encodeValue(v));
    const pack = new Uint8Array(encoded.reduce((n, e) => n + e.length + gap, gap)).fill(0xee);
    const at: { start: number; end: number }[] = [];
    let p = gap;
    for (const e of encoded) {
      pack.set(e, p);
      at.push({ start: p, end: p + e.length });
      p += e.length + gap;
    }
    return { pack, at };
  });
}

const counter = fc.tuple(fc.constantFrom("a~1", "b~2", "node-with-a-longer-id~3"), fc.integer({ min: 1, max: 2 ** 40 })).map(([n, by]) => GCounter.empty().increment(n, by).resetDelta());
// Larger than the in-place copy's 64 bytes: copied with one `set`.
const set = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 12 }).map((els) => els.reduce((s, e) => s.add(e, "w~1"), ORSet.empty<string>()).resetDelta());

test("every deferred value decodes to what was packed, kept in its pack or copied, whatever the limit and the estimate", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.oneof({ weight: 4, arbitrary: counter }, { weight: 1, arbitrary: set }), { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 12 }),
      fc.nat({ max: 4000 }),
      fc.nat({ max: 400 }),
      fc.nat({ max: 5 }),
      (values, keep, expected, gap) => {
        const stats = new ReplicatorStats();
        const packed = new PackedValues(() => stats.snapshotSkippedEntries++, expected, keep);
        const laid = packsOf(values, gap);
        const numbers: number[] = [];
        laid.forEach(({ pack, at }, i) => {
          for (let j = 0; j < at.length; j++) numbers.push(packed.add(pack, dataTypeOf(values[i]![j]!.kind), at[j]!.start, at[j]!.end));
        });
        assert.deepEqual(numbers, numbers.map((_, n) => n), "numbered in the order added");
        // A pack past the limit is not kept: its buffer may be reused (LevelDB's chunk), the copies stay.
        let kept = 0;
        const keptPacks = laid.map(({ pack }) => {
          const keep1 = kept + pack.byteLength <= keep;
          if (keep1) kept += pack.byteLength;
          return keep1;
        });
        const firstCopied = keptPacks.indexOf(false);
        laid.forEach(({ pack }, i) => {
          if (firstCopied >= 0 && i >= firstCopied) pack.fill(0xff);
        });
        const flat = values.flat();
        for (let n = 0; n < flat.length; n++) assert.ok(packed.decode(n).equals(flat[n] as never), `value ${n} decodes to what was packed`);
        assert.equal(stats.snapshotSkippedEntries, 0);
      },
    ),
    fcParams({ numRuns: 200 }),
  );
});

test("with no room to keep packs, each value is copied: the packs' buffers can be reused at once", () => {
  const values = Array.from({ length: 5000 }, (_, i) => GCounter.empty().increment("w~1", i + 1).resetDelta());
  // One buffer reused for every pack, as if LevelDB handed out the same memory again: 50 values a pack.
  const buffer = new Uint8Array(64 * 50);
  const packed = new PackedValues(() => {}, 1000, 0); // the estimate is five times too low: more slabs
  for (let p = 0; p < values.length / 50; p++) {
    buffer.fill(0);
    // A new view each time: the same memory, as a different pack.
    const pack = buffer.subarray(0);
    let at = 0;
    for (let i = p * 50; i < (p + 1) * 50; i++) {
      const e = encodeValue(values[i]!);
      pack.set(e, at);
      packed.add(pack, dataTypeOf("gcounter"), at, at + e.length);
      at += e.length;
    }
  }
  buffer.fill(0xff);
  for (let n = 0; n < values.length; n++) assert.equal((packed.decode(n) as GCounter).value, n + 1);
});

test("a corrupt deferred value throws when decoded and is counted as a skipped snapshot entry", () => {
  const stats = new ReplicatorStats();
  const packed = new PackedValues(() => stats.snapshotSkippedEntries++, 2, 0);
  const good = encodeValue(GCounter.empty().increment("w~1", 7).resetDelta());
  const pack = new Uint8Array(good.length + 3);
  pack.set(good, 0);
  pack.set([0x0a, 0x7f, 0x01], good.length); // a slot claiming 127 bytes, with one
  const ok = packed.add(pack, dataTypeOf("gcounter"), 0, good.length);
  const bad = packed.add(pack, dataTypeOf("gcounter"), good.length, pack.length);
  assert.equal((packed.decode(ok) as GCounter).value, 7);
  assert.throws(() => packed.decode(bad));
  assert.equal(stats.snapshotSkippedEntries, 1);
});
