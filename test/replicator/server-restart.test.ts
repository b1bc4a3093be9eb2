/**
 * The nats-server itself is killed (SIGKILL) mid-traffic and restarted on the same port: writes made
 * before, during (buffered by the NATS client, or lost in the dying server and repaired) and after
 * the outage all converge on every node; nothing is lost.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Key, type Replicator } from "../../src/index.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";
import { sleep, waitFor } from "../helpers/wait.js";

describe("nats-server killed and restarted", () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster(["a", "b", "c"]);
  });
  after(() => c.close());

  test("writes before, during and after the outage converge everywhere", async () => {
    const nodes = c.nodes as Replicator[];
    const counter = Key.pncounter("outage-counter");
    const set = Key.orset<string>("outage-set");
    const map = Key.lwwMap<number>("outage-map");
    let phase = "before";
    let stop = false;
    let total = 0;
    const elements: string[] = [];
    const writers = nodes.map(async (n) => {
      for (let i = 0; !stop; i++) {
        const el = `${n.nodeId}-${phase}-${i}`;
        await n.update(counter, (v, self) => (i % 5 === 4 ? v.decrement(self, 1) : v.increment(self, 2)));
        total += i % 5 === 4 ? -1 : 2;
        await n.update(set, (v, self) => v.add(self, el));
        elements.push(el);
        await n.update(map, (v, self) => v.put(self, n.nodeId, i));
        await sleep(25);
      }
    });
    await sleep(500);
    phase = "during";
    await c.server.kill();
    await sleep(2_000);
    phase = "after";
    await c.server.restart();
    const restartedAt = performance.now();
    await sleep(1_000);
    stop = true;
    await Promise.all(writers);
    const lastWriteAt = performance.now();
    for (const p of ["before", "during", "after"]) assert.ok(elements.some((e) => e.includes(`-${p}-`)), `writes ${p}`);

    elements.sort();
    await waitFor(
      () =>
        nodes.every(
          (n) =>
            n.get(counter)?.value === total &&
            n.get(set)?.size === elements.length &&
            nodes.every((m) => n.get(map)?.get(m.nodeId) === m.get(map)?.get(m.nodeId)),
        ),
      {
        timeoutMs: 20_000,
        intervalMs: 10,
        message: "converge after the restart",
        describe: () => ({ total, counters: nodes.map((n) => n.get(counter)?.value), sets: nodes.map((n) => n.get(set)?.size) }),
      },
    );
    const now = performance.now();
    console.log(
      `server restart: converged ${(now - restartedAt).toFixed(0)} ms after the restart, ${(now - lastWriteAt).toFixed(0)} ms after the last write; ` +
        `repairs: ${JSON.stringify(nodes.map((n) => Object.fromEntries(n.stats.repairs)))}`,
    );
    for (const n of nodes) {
      assert.deepEqual([...n.get(set)!.elements].sort(), elements, `${n.nodeId}: every element`);
      assert.equal(n.get(counter)!.value, total);
    }
    // The cluster works normally afterwards.
    await waitFor(() => nodes.every((n) => n.members().length === 3 && n.members().every((m) => m.reachable && m.counted)));
    await nodes[0]!.update(counter, (v, self) => v.increment(self, 1), { writeTo: "all" });
    for (const n of nodes) assert.equal(n.get(counter)!.value, total + 1);
  });
});
