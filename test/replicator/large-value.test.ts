/**
 * A value far larger than one NATS message: a ~5 MB ORSet delta made in one update replicates with
 * the server's default 1 MB max_payload (chunked envelopes), a late joiner receives it by anti-entropy
 * (the digest fetch cannot carry it in a reply, so the replier sends it in chunks on the joiner's
 * direct subject), and the push direction of a round does the same.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Key, MemoryNetwork, ORSet, Replicator } from "../../src/index.js";
import { encodeValue } from "../../src/wire/codec.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

const ELEMENTS = 5_000;
const PAD = "x".repeat(1_000);
const big = Key.orset<string>("big");

function addMany(v: ORSet<string>, self: string, tag: string): ORSet<string> {
  let s = v;
  for (let i = 0; i < ELEMENTS; i++) s = s.add(self, `${tag}-${i}-${PAD}`);
  return s;
}

describe("a ~5 MB value over NATS (max_payload 1 MB)", () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster(["a", "b"], { coordinationTimeoutMs: 10_000 });
  });
  after(() => c.close());

  test("one update of ~5 MB replicates in chunks", async () => {
    const [a, b] = c.nodes as [Replicator, Replicator];
    const envelopesBefore = a.stats.envelopePublishCount;
    const started = performance.now();
    const value = await a.update(big, (v, self) => addMany(v, self, "a"));
    const bytes = encodeValue(value).length;
    assert.ok(bytes > 5_000_000, `the value is ${bytes} bytes`);
    await waitFor(() => b.get(big)?.size === ELEMENTS, { timeoutMs: 30_000, message: "b has the big set" });
    const chunks = a.stats.envelopePublishCount - envelopesBefore;
    console.log(`large value: ${(bytes / 1e6).toFixed(2)} MB in ${chunks} chunks, replicated in ${(performance.now() - started).toFixed(0)} ms`);
    assert.ok(chunks >= Math.ceil(bytes / (64 * 1024)), "sent as many messages of at most maxDeltaSize");
    assert.ok(b.get(big)!.equals(a.get(big)!));
  });

  test("a late joiner receives it by anti-entropy", async () => {
    const [a, b] = c.nodes as [Replicator, Replicator];
    await waitFor(() => b.get(big)?.size === ELEMENTS, { timeoutMs: 30_000 });
    const sendsBefore = a.stats.largeValueSends + b.stats.largeValueSends;
    const started = performance.now();
    const joiner = await c.add("c");
    await waitFor(() => joiner.get(big)?.size === ELEMENTS, {
      timeoutMs: 30_000,
      message: "the joiner has the big set",
      describe: () => ({ size: joiner.get(big)?.size, repairs: [...joiner.stats.repairs], rejected: [...joiner.stats.rejected] }),
    });
    console.log(`large value: late joiner had it ${(performance.now() - started).toFixed(0)} ms after start`);
    assert.ok(joiner.get(big)!.equals(a.get(big)!));
    assert.ok(a.stats.largeValueSends + b.stats.largeValueSends > sendsBefore, "sent on the direct path");
    assert.equal(joiner.stats.repairs.get("periodic") ?? 0, 0);
  });
});

describe("a ~5 MB value pushed by a digest round (in-memory bus, 1 MB max payload)", () => {
  test("the round's initiator sends what the peer lacks in chunks", async () => {
    const net = new MemoryNetwork({ seed: 7, maxPayload: 1024 * 1024 });
    // Slow heartbeats: nothing but the explicit round below can repair the partitioned write.
    const timings = { heartbeatIntervalMs: 60_000, failureTimeoutMs: 120_000, removalTimeoutMs: 240_000, antiEntropyIntervalMs: 600_000 };
    const x = await Replicator.start({ nodeId: "x", transport: net.connect("x"), ...timings });
    const y = await Replicator.start({ nodeId: "y", transport: net.connect("y"), ...timings });
    try {
      await net.settle();
      net.partition(["x"], ["y"]);
      await x.update(big, (v, self) => addMany(v, self, "x"));
      await net.settle();
      assert.equal(y.get(big), undefined, "the partition dropped the chunks");
      net.heal();
      await x.sync("y");
      await waitFor(() => y.get(big)?.size === ELEMENTS, { timeoutMs: 30_000, message: "y got the pushed value" });
      assert.ok(x.stats.largeValueSends >= 1);
      assert.ok(y.get(big)!.equals(x.get(big)!));
    } finally {
      await x.close();
      await y.close();
    }
  });
});
