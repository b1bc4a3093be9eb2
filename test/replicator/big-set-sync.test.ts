/**
 * Anti-entropy with the incremental ORSet hashes (in-memory bus): replicas that built the same large
 * set by different paths agree (a round transfers nothing), and a change lost on the bus in either
 * direction is found and repaired by a round, after which the replicas agree again. A round that
 * meets a change of a large set still in flight compares that key again before sending it whole.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Key, MemoryNetwork, ORSet, Replicator } from "../../src/index.js";
import { waitFor } from "../helpers/wait.js";

const big = Key.orset<string>("big");
const ELEMENTS = 2_000; // past the size from which the digest keeps a per-element sum

describe("anti-entropy over large ORSets hashed incrementally", () => {
  test("equal sets agree whatever built them; a lost add or remove is found and repaired", async () => {
    const net = new MemoryNetwork({ seed: 11 });
    // Slow timers: only the explicit rounds below repair anything.
    const timings = { heartbeatIntervalMs: 60_000, failureTimeoutMs: 120_000, removalTimeoutMs: 240_000, antiEntropyIntervalMs: 600_000 };
    const x = await Replicator.start({ nodeId: "x", transport: net.connect("x"), ...timings });
    const y = await Replicator.start({ nodeId: "y", transport: net.connect("y"), ...timings });
    try {
      await net.settle();
      // Built in pieces on both sides, by deltas.
      for (let part = 0; part < 4; part++) {
        const writer = part % 2 === 0 ? x : y;
        await writer.update(big, (v, self) => {
          let s: ORSet<string> = v;
          for (let i = 0; i < ELEMENTS / 4; i++) s = s.add(self, `e-${part}-${i}`);
          return s;
        });
      }
      await net.settle();
      await waitFor(() => x.get(big)?.size === ELEMENTS && y.get(big)?.size === ELEMENTS, { timeoutMs: 30_000, message: "both hold the set" });
      assert.ok(x.get(big)!.equals(y.get(big)!));

      const merges = (): number => x.stats.mergeCount + y.stats.mergeCount;
      const before = merges();
      await x.sync("y");
      assert.equal(merges(), before, "equal states: the round found no difference and transferred nothing");

      // A partition drops x's add and y's remove.
      net.partition(["x"], ["y"]);
      await x.update(big, (v, self) => v.add(self, "only-on-x"));
      await y.update(big, (v) => v.remove("e-0-7"));
      await net.settle();
      assert.ok(!y.get(big)!.has("only-on-x") && x.get(big)!.has("e-0-7"), "the partition dropped both deltas");
      net.heal();
      await x.sync("y");
      await waitFor(() => x.get(big)!.equals(y.get(big)!), { timeoutMs: 30_000, message: "the round repaired both changes" });
      assert.ok(y.get(big)!.has("only-on-x") && !x.get(big)!.has("e-0-7"));
      assert.ok(merges() > before, "the round transferred the key");

      // Converged by full-state merges on one side and deltas on the other: the hashes agree again.
      const after = merges();
      await y.sync("x");
      assert.equal(merges(), after, "no difference left");
    } finally {
      await x.close();
      await y.close();
    }
  });

  test("a round that meets a change in flight compares the large key again instead of sending it whole", async () => {
    const net = new MemoryNetwork({ seed: 12 });
    const timings = { heartbeatIntervalMs: 60_000, failureTimeoutMs: 120_000, removalTimeoutMs: 240_000, antiEntropyIntervalMs: 600_000 };
    // x holds its deltas back for 50 ms (flush window): a round started at once finds y behind.
    const x = await Replicator.start({ nodeId: "x", transport: net.connect("x"), ...timings, flushIntervalMs: 50 });
    const y = await Replicator.start({ nodeId: "y", transport: net.connect("y"), ...timings });
    try {
      await net.settle();
      await x.update(big, (v, self) => {
        let s: ORSet<string> = v;
        for (let i = 0; i < ELEMENTS; i++) s = s.add(self, `e-${i}`);
        return s;
      });
      await waitFor(() => y.get(big)?.size === ELEMENTS, { timeoutMs: 30_000, message: "y holds the set" });
      await x.sync("y"); // both digests hashed, nothing to do
      const xMerges = x.stats.mergeCount;
      const yMerges = y.stats.mergeCount;
      await x.update(big, (v, self) => v.add(self, "in flight"));
      await x.sync("y");
      assert.ok(y.get(big)!.has("in flight"), "the delta arrived");
      assert.equal(x.stats.mergeCount, xMerges, "x pulled nothing");
      assert.equal(y.stats.mergeCount, yMerges + 1, "y merged the delta only (no pushed state)");
    } finally {
      await x.close();
      await y.close();
    }
  });
});
