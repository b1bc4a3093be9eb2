/**
 * The outbox alone (no network): what it keeps for gap repair once it has published more than it
 * keeps (the newest RECENT_MAX_COUNT envelopes, or fewer bytes' worth, each under its own sequence),
 * and one envelope per flush holding every key written since the last one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../../src/clock.js";
import { GCounter } from "../../src/crdt/index.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { Outbox } from "../../src/replicator/outbox.js";
import type { Transport } from "../../src/transport/types.js";
import { decodeDeltaEnvelope } from "../../src/wire/codec.js";

function outbox(maxMessageBytes = 64 * 1024): { box: Outbox; published: Uint8Array[] } {
  const published: Uint8Array[] = [];
  const transport = { maxPayload: 1024 * 1024, publish: (_s: string, data: Uint8Array) => void published.push(data) } as unknown as Transport;
  const box = new Outbox({
    transport,
    subject: "crdt.deltas",
    nodeId: "n1",
    incarnation: 1,
    flushIntervalMs: 0,
    maxMessageBytes,
    stats: new ReplicatorStats(),
    now: () => Date.now(),
    clock: systemClock,
    onError: (e) => assert.fail(String(e)),
  });
  return { box, published };
}

const one = (n: number): GCounter => GCounter.empty().increment("n1~a", n).delta!;

test("gap repair keeps the newest 4096 envelopes, in order, after three times as many", () => {
  const { box, published } = outbox();
  const total = 3 * 4096 + 17;
  for (let i = 1; i <= total; i++) {
    box.add("k", "gcounter", one(i));
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
    box.add(`k${i}`, "gcounter", value);
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
  box.add("a", "gcounter", one(1));
  box.add("b", "gcounter", one(2));
  box.add("a", "gcounter", GCounter.empty().increment("n1~a", 5).delta!);
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
  box.add("a", "gcounter", one(1));
  assert.equal(published.length, 0, "not inside the task that wrote it");
  await Promise.resolve();
  assert.equal(published.length, 1, "a lone update pays no turn of the event loop");
  // Later in the same turn (an awaited loop): they wait for the turn's end, one envelope for all.
  for (let i = 0; i < 5; i++) {
    box.add(`k${i}`, "gcounter", one(i + 1));
    await Promise.resolve();
  }
  assert.equal(published.length, 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(published.length, 2);
  assert.equal(decodeDeltaEnvelope(published[1]!).deltas.length, 5);
  // A new turn: its first delta leaves at once again.
  box.add("b", "gcounter", one(1));
  await Promise.resolve();
  assert.equal(published.length, 3);
});
