/**
 * The outbox alone (no network): what it keeps for gap repair once it has published more than it
 * keeps (the newest RECENT_MAX_COUNT envelopes, or fewer bytes' worth, each under its own sequence),
 * and one envelope per flush holding every key written since the last one; at any message size,
 * every value and tombstone leaves exactly once and no message is larger than the size.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../../src/clock.js";
import fc from "fast-check";
import { GCounter, ORSet } from "../../src/crdt/index.js";
import type { Crdt } from "../../src/crdt/types.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { Outbox } from "../../src/replicator/outbox.js";
import type { Transport } from "../../src/transport/types.js";
import { decodeDeltaEnvelope, encodeValue, type DeltaEnvelope } from "../../src/wire/codec.js";
import { fcParams } from "../crdt/laws.js";

function outbox(maxMessageBytes = 64 * 1024, compactWriter?: string, flushIntervalMs = 0): { box: Outbox; published: Uint8Array[] } {
  const published: Uint8Array[] = [];
  const transport = { maxPayload: 1024 * 1024, publish: (_s: string, data: Uint8Array) => void published.push(data) } as unknown as Transport;
  const box = new Outbox({
    transport,
    subject: "crdt.deltas",
    nodeId: "n1",
    incarnation: 1,
    flushIntervalMs,
    maxMessageBytes,
    stats: new ReplicatorStats(),
    now: () => Date.now(),
    clock: systemClock,
    onError: (e) => assert.fail(String(e)),
    compactWriter: () => compactWriter,
  });
  return { box, published };
}

const one = (n: number): GCounter => GCounter.empty().increment("n1~a", n).delta!;

test("gap repair keeps the newest 4096 envelopes, in order, after three times as many", () => {
  const { box, published } = outbox();
  const total = 3 * 4096 + 17;
  for (let i = 1; i <= total; i++) {
    box.add("k", one(i));
    box.flush();
  }
  assert.equal(published.length, total);
  assert.equal(box.lastSequence, total);
  const first = total - 4096 + 1;
  assert.equal(box.recentRange(first - 1, first), undefined, "dropped: the digest round's job");
  const kept = box.recentRange(first, total)!;
  assert.equal(kept.length, 4096);
  kept.forEach((bytes, i) => {
    assert.equal(bytes, published[first - 1 + i], `envelope ${first + i} as published`);
    assert.equal(decodeDeltaEnvelope(bytes).sequence, first + i);
  });
  assert.deepEqual(box.recentRange(total - 2, total), published.slice(-3));
  assert.equal(box.recentRange(total, total + 1), undefined, "not published yet");
});

test("gap repair keeps at most 16 MB of envelopes", () => {
  const { box, published } = outbox(1024 * 1024);
  // ~200 KB per envelope: 100 of them are 20 MB, more than the byte bound, far fewer than 4096.
  const big = GCounter.empty();
  let value = big;
  for (let i = 0; i < 8000; i++) value = value.increment(`writer-${i}-${"x".repeat(10)}`, 1);
  for (let i = 0; i < 100; i++) {
    box.add(`k${i}`, value);
    box.flush();
  }
  const sizes = published.map((b) => b.length);
  let keptBytes = 0;
  let first = published.length;
  while (first > 0 && keptBytes + sizes[first - 1]! <= 16 * 1024 * 1024) keptBytes += sizes[--first]!;
  assert.ok(first > 0, "the bound was reached");
  assert.equal(box.recentRange(first, first), undefined);
  assert.equal(box.recentRange(first + 1, published.length)!.length, published.length - first);
});

test("one envelope per flush, every key written since the last one, a key's writes merged", () => {
  const { box, published } = outbox();
  box.add("a", one(1));
  box.add("b", one(2));
  box.add("a", GCounter.empty().increment("n1~a", 5).delta!);
  box.flush();
  box.flush(); // nothing pending: nothing published
  assert.equal(published.length, 1);
  const env = decodeDeltaEnvelope(published[0]!);
  assert.deepEqual(
    env.deltas.map((d) => [d.key, (d.value as GCounter).value]),
    [
      ["a", 5],
      ["b", 2],
    ],
  );
});

test("with a window of 0: a turn's first delta leaves when the running task ends, the rest of the turn share one envelope at its end", async () => {
  const { box, published } = outbox();
  box.add("a", one(1));
  assert.equal(published.length, 0, "not inside the task that wrote it");
  await Promise.resolve();
  assert.equal(published.length, 1, "a lone update pays no turn of the event loop");
  // Later in the same turn (an awaited loop): they wait for the turn's end, one envelope for all.
  for (let i = 0; i < 5; i++) {
    box.add(`k${i}`, one(i + 1));
    await Promise.resolve();
  }
  assert.equal(published.length, 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(published.length, 2);
  assert.equal(decodeDeltaEnvelope(published[1]!).deltas.length, 5);
  // A new turn: its first delta leaves at once again.
  box.add("b", one(1));
  await Promise.resolve();
  assert.equal(published.length, 3);
});

test("with a window: even a turn's first delta waits for the window, then every delta of it leaves in one envelope", async () => {
  const { box, published } = outbox(64 * 1024, undefined, 60_000);
  box.add("a", one(1));
  await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(published.length, 0, "neither the task's end nor the turn's end sends it");
  box.add("b", one(2));
  box.flush(); // what the window's timer does when it fires
  assert.equal(published.length, 1);
  assert.deepEqual(decodeDeltaEnvelope(published[0]!).deltas.map((d) => d.key).sort(), ["a", "b"]);
});

/** What a flush published: every delta's value by key, every tombstone's key, chunks reassembled. */
function received(published: Uint8Array[]): { values: Map<string, Crdt[]>; tombstones: string[] } {
  const values = new Map<string, Crdt[]>();
  const tombstones: string[] = [];
  const chunks = new Map<number, Uint8Array[]>();
  const take = (env: DeltaEnvelope): void => {
    for (const d of env.deltas) values.set(d.key, [...(values.get(d.key) ?? []), d.value]);
    for (const t of env.tombstones) tombstones.push(t.key);
  };
  for (const bytes of published) {
    const env = decodeDeltaEnvelope(bytes);
    if (env.chunk === undefined) take(env);
    else {
      const parts = chunks.get(env.chunk.chunkId) ?? [];
      parts[env.chunk.index] = env.chunk.data;
      chunks.set(env.chunk.chunkId, parts);
      if (parts.filter((p) => p !== undefined).length === env.chunk.total) take(decodeDeltaEnvelope(Buffer.concat(parts)));
    }
  }
  return { values, tombstones };
}

test("at any message size, every value and tombstone leaves once, in messages no larger than the size", () => {
  const W = "n1~a";
  // A value of about `size` bytes: a counter of many writers, or a set of many elements.
  const valueOf = (kind: "counter" | "set", size: number): Crdt => {
    if (kind === "counter") {
      const slots = Array.from({ length: Math.ceil(size / 12) }, (_, i) => ({ node: `w${String(i).padStart(6, "0")}~x`, value: i + 1 }));
      return GCounter.fromState({ slots: [{ node: W, value: 1 + size }, ...slots].sort((a, b) => (a.node < b.node ? -1 : 1)) });
    }
    let set = ORSet.empty<string>();
    for (let i = 0; i < size / 20; i++) set = set.add(W, `e${i}`);
    return set;
  };
  const item = fc.record({
    key: fc.oneof(fc.stringMatching(/^[a-z0-9]{1,12}$/), fc.constantFrom("ключ", "k".repeat(300))),
    kind: fc.constantFrom("counter", "set"),
    size: fc.oneof({ weight: 4, arbitrary: fc.nat(40) }, { weight: 2, arbitrary: fc.integer({ min: 100, max: 3_000 }) }, { weight: 2, arbitrary: fc.integer({ min: 3_000, max: 40_000 }) }),
    tombstone: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 400, max: 20_000 }), fc.integer({ min: 65_600, max: 140_000 })), fc.boolean(), fc.uniqueArray(item, { selector: (i) => i.key, minLength: 1, maxLength: 40, size: "large" }), (limit, compact, items) => {
      const { box, published } = outbox(limit, compact ? W : undefined);
      const expected = new Map<string, Crdt>();
      for (const { key, kind, size, tombstone } of items) {
        if (tombstone) box.addTombstone({ key, kind: "gcounter", deletedAtMs: 1, originNode: "n1" });
        else {
          const value = valueOf(kind, size);
          expected.set(key, value);
          box.add(key, value);
        }
      }
      box.flush();
      for (const bytes of published) assert.ok(bytes.length <= limit, `a message of ${bytes.length} bytes, over ${limit}`);
      const { values, tombstones } = received(published);
      assert.deepEqual([...tombstones].sort(), items.filter((i) => i.tombstone).map((i) => i.key).sort());
      assert.deepEqual([...values.keys()].sort(), [...expected.keys()].sort());
      for (const [key, value] of expected) {
        const got = values.get(key)!;
        assert.equal(got.length, 1, `${key} sent ${got.length} times`);
        assert.deepEqual(encodeValue(got[0]!), encodeValue(value), `${key}'s value`);
      }
    }),
    fcParams({ numRuns: 100 }),
  );
});

test("a flush whose values outgrow the first values buffer: one envelope, every value intact", () => {
  const { box, published } = outbox(1024 * 1024);
  const big = (i: number): GCounter =>
    GCounter.fromState({ slots: Array.from({ length: 1_000 }, (_, j) => ({ node: `w${String(j).padStart(4, "0")}~${i}`, value: j + 1 })) });
  for (let i = 0; i < 10; i++) box.add(`k${i}`, big(i)); // ~14 KB each: more than the first 64 KB
  box.flush();
  assert.equal(published.length, 1);
  const env = decodeDeltaEnvelope(published[0]!);
  assert.deepEqual(env.deltas.map((d) => d.key), Array.from({ length: 10 }, (_, i) => `k${i}`));
  env.deltas.forEach((d, i) => assert.deepEqual(encodeValue(d.value), encodeValue(big(i))));
});
