// Chunk reassembly bounded for strangers (src/replicator/reassembly.ts), and the inbox under a
// flood of tiny fragments: cheap, bounded, and a real chunked value still goes through.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cpuUsage } from "node:process";
import { GCounter } from "../../src/crdt/gcounter.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { Inbox } from "../../src/replicator/inbox.js";
import { FRAGMENT_OVERHEAD, Reassembly, SLOT_BYTES, VALUE_OVERHEAD } from "../../src/replicator/reassembly.js";
import { encodeDeltaEnvelope, type DeltaEnvelope } from "../../src/wire/codec.js";

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe("Reassembly", () => {
  it("joins the fragments of a value in any order, once", () => {
    const r = new Reassembly({ maxValues: 4, maxBytes: 1 << 20, maxAgeMs: 1_000 });
    assert.equal(r.add("v", 1, 3, bytes(2), 0), "partial");
    assert.equal(r.add("v", 1, 3, bytes(2), 0), "duplicate");
    assert.equal(r.add("v", 0, 3, bytes(1), 0), "partial");
    assert.equal(r.add("v", 0, 4, bytes(1), 0), "mismatch");
    assert.deepEqual(r.add("v", 2, 3, bytes(3), 0), Buffer.from([1, 2, 3]));
    assert.deepEqual([r.values, r.bytes], [0, 0]);
  });

  it("counts real memory: overhead per value, per announced fragment and per received fragment", () => {
    const r = new Reassembly({ maxValues: 4, maxBytes: 1 << 20, maxAgeMs: 1_000 });
    r.add("v", 0, 10, bytes(1), 0);
    assert.equal(r.bytes, VALUE_OVERHEAD + 2 + SLOT_BYTES * 10 + FRAGMENT_OVERHEAD + 1);
    // A value announcing more fragments than memory allows is refused before anything is kept.
    assert.equal(r.add("w", 0, 1 << 20, bytes(1), 0), "too-large");
    assert.equal(r.values, 1);
  });

  it("drops the oldest value past the count, the memory or the age bound", () => {
    const r = new Reassembly({ maxValues: 2, maxBytes: 4_096, maxAgeMs: 1_000 });
    r.add("a", 0, 2, bytes(1), 0);
    r.add("b", 0, 2, bytes(1), 10);
    r.add("c", 0, 2, bytes(1), 20);
    assert.deepEqual([r.values, r.evicted], [2, 1]);
    assert.equal(r.add("a", 1, 2, bytes(2), 30), "partial", "a was dropped: its fragment starts it again");
    // Memory: a big fragment pushes out older values until it fits.
    const big = new Uint8Array(4_096 - VALUE_OVERHEAD - 2 - 2 * SLOT_BYTES - FRAGMENT_OVERHEAD);
    assert.equal(r.add("d", 0, 2, big, 40), "partial");
    assert.equal(r.values, 1);
    assert.ok(r.bytes <= 4_096);
    // Age: a value older than maxAgeMs is gone at the next fragment.
    r.add("e", 0, 2, bytes(1), 2_000);
    assert.equal(r.add("d", 1, 2, bytes(1), 2_000), "partial", "d expired and restarted");
  });
});

describe("Inbox under a chunk flood", () => {
  const origin = "peer";
  const inc = 1_000;
  let seq = 0;
  const envelope = (chunk: DeltaEnvelope["chunk"]): Uint8Array =>
    encodeDeltaEnvelope({ origin, incarnation: inc, sequence: ++seq, deltas: [], tombstones: [], sentAtMs: inc, ...(chunk ? { chunk } : {}) });

  it("40,000 one-byte fragments cost little CPU and bounded memory; a real chunked value still arrives", () => {
    const stats = new ReplicatorStats();
    const delivered: DeltaEnvelope[] = [];
    const inbox = new Inbox({
      nodeId: "me",
      incarnation: 1,
      maxPayload: 1 << 20,
      incarnationOf: (o) => (o === origin ? inc : undefined),
      stats,
      deliver: (e) => delivered.push(e),
      onGap: () => {},
      now: () => 0,
    });
    const flood: Uint8Array[] = [];
    // Half distinct values (each one fragment of two), half one value announcing 40,000 fragments.
    for (let i = 0; i < 20_000; i++) flood.push(envelope({ chunkId: 1_000_000 + i, index: 0, total: 2, data: bytes(i & 0xff) }));
    for (let i = 0; i < 20_000; i++) flood.push(envelope({ chunkId: 7, index: i, total: 40_000, data: bytes(1) }));
    const before = cpuUsage();
    for (const m of flood) inbox.receive(m);
    const spent = cpuUsage(before);
    const cpuMs = (spent.user + spent.system) / 1000;
    const f = { origins: stats.trackedOrigins, chunkedValues: stats.chunkedValues, chunkBytes: stats.chunkBytes, chunkEvictions: stats.chunkEvictions };
    console.log(`40,000 fragments: ${cpuMs.toFixed(0)} ms CPU, footprint ${JSON.stringify(f)}`);
    assert.ok(cpuMs < 3_000, `${cpuMs} ms of CPU (was 9.3 s)`);
    assert.ok(f.chunkedValues <= 256, `${f.chunkedValues} values in progress`);
    // The big value holds 20,000 one-byte fragments and announced 40,000: counted at what they cost.
    assert.ok(f.chunkBytes >= 40_000 * SLOT_BYTES + 20_000 * FRAGMENT_OVERHEAD, "overhead counted, not only data bytes");
    assert.equal(f.origins, 1);
    // A real value in three chunks still goes through.
    const inner = encodeDeltaEnvelope({
      origin,
      incarnation: inc,
      sequence: 0,
      deltas: [{ key: "k", kind: "gcounter", originNode: origin, value: GCounter.empty().increment("w", 5) }],
      tombstones: [],
      sentAtMs: inc,
    });
    const third = Math.ceil(inner.length / 3);
    for (let i = 0; i < 3; i++) inbox.receive(envelope({ chunkId: 99, index: i, total: 3, data: inner.slice(i * third, (i + 1) * third) }));
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0]!.deltas[0]!.key, "k");
  });
});
