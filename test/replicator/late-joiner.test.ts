/**
 * A late joiner: a 2-node cluster holds thousands of keys, periodic anti-entropy is far away
 * (30 s), and a third node that joins has them all within seconds — the join-triggered digest round
 * (the newer node pulls). Prints the catch-up time.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Key, Replicator } from "../../src/index.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

const KEYS = 5_000;

describe("late joiner", () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster(["a", "b"], { antiEntropyIntervalMs: 30_000 });
  });
  after(() => c.close());

  test(`a third node receives ${KEYS} keys within seconds of joining`, async () => {
    const [a, b] = c.nodes as [Replicator, Replicator];
    const counter = (i: number) => Key.gcounter(`counter-${i}`);
    const set = (i: number) => Key.orset<string>(`set-${i}`);
    const reg = (i: number) => Key.lwwRegister<string>(`reg-${i}`);
    // Three kinds, written on both nodes; a few keys deleted (tombstones travel too).
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < KEYS; i++) {
      const n = i % 2 === 0 ? a : b;
      if (i % 3 === 0) writes.push(n.update(counter(i), (v, self) => v.increment(self, i + 1)));
      else if (i % 3 === 1) writes.push(n.update(set(i), (v, self) => v.add(self, `e${i}`).add(self, `f${i}`)));
      else writes.push(n.update(reg(i), (v, self) => v.set(self, `value-${i}`)));
    }
    await Promise.all(writes);
    await a.delete(counter(0));
    await b.delete(set(1));
    const expectedKeys = KEYS - 2;
    await waitFor(() => a.size === expectedKeys && b.size === expectedKeys && a.tombstoneCount === 2 && b.tombstoneCount === 2, {
      timeoutMs: 30_000,
      message: "a and b hold every key",
      describe: () => [a.size, b.size],
    });

    const started = performance.now();
    const joiner = await c.add("c", { antiEntropyIntervalMs: 30_000 });
    await waitFor(() => joiner.size === expectedKeys && joiner.tombstoneCount === 2, {
      timeoutMs: 15_000,
      intervalMs: 5,
      message: "the joiner has every key",
      describe: () => [joiner.size, joiner.tombstoneCount, [...joiner.stats.repairs]],
    });
    const ms = performance.now() - started;
    console.log(`late joiner: ${expectedKeys} keys + 2 tombstones caught up in ${ms.toFixed(0)} ms (from Replicator.start)`);
    assert.ok(ms < 15_000);
    // The join round counts once its closing ordinary round is done too (the keys come before).
    await waitFor(() => (joiner.stats.repairs.get("join") ?? 0) >= 1, { timeoutMs: 15_000, message: "the join round completes" });
    assert.equal(joiner.stats.repairs.get("periodic") ?? 0, 0, "not the periodic round");
    // An empty joiner pulls whole leaf ranges (level 3), not the keys one name at a time.
    assert.ok(joiner.stats.bulkPullKeys >= expectedKeys + 2, `bulk pull carried every key (${joiner.stats.bulkPullKeys})`);

    // The content, not just the count.
    for (let i = 0; i < KEYS; i++) {
      if (i === 0 || i === 1) continue;
      if (i % 3 === 0) assert.equal(joiner.get(counter(i))?.value, i + 1);
      else if (i % 3 === 1) assert.deepEqual([...joiner.get(set(i))!.elements].sort(), [`e${i}`, `f${i}`]);
      else assert.equal(joiner.get(reg(i))?.value, `value-${i}`);
    }
    assert.equal(joiner.get(counter(0)), undefined);
    assert.equal(joiner.get(set(1)), undefined);
  });
});
