/**
 * Replication latency on 3 nodes over a real nats-server: time from `update` on one node until both
 * peers' subscribers saw the new value, over a few hundred updates (writers rotate). Prints p50/p99.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Key, type Replicator } from "../../src/index.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";

const UPDATES = 300;

describe("replication latency", () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster(["a", "b", "c"]);
  });
  after(() => c.close());

  test(`${UPDATES} updates: update → seen by both peers`, async () => {
    const nodes = c.nodes as Replicator[];
    const k = Key.gcounter("latency");
    // waiting[i]: resolves when node i's subscriber sees the target value.
    let target = 0;
    const pending = new Map<number, () => void>();
    nodes.forEach((n, i) =>
      n.subscribe(k, (v) => {
        if (v?.value === target) pending.get(i)?.();
      }),
    );
    const samples: number[] = [];
    for (let u = 0; u < UPDATES; u++) {
      const writer = u % nodes.length;
      target = u + 1;
      const peers = nodes.map((_, i) => i).filter((i) => i !== writer);
      const seen = Promise.all(
        peers.map(
          (i) =>
            new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error(`update ${u}: node ${nodes[i]!.nodeId} did not see ${target}`)), 10_000);
              pending.set(i, () => {
                clearTimeout(timer);
                pending.delete(i);
                resolve();
              });
            }),
        ),
      );
      const started = performance.now();
      await nodes[writer]!.update(k, (v, self) => v.increment(self, 1));
      await seen;
      samples.push(performance.now() - started);
    }
    samples.sort((x, y) => x - y);
    const pct = (p: number): number => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]!;
    console.log(
      `latency (3 nodes, update → both peers notified, ${UPDATES} sequential updates): ` +
        `p50 ${pct(50).toFixed(2)} ms, p90 ${pct(90).toFixed(2)} ms, p99 ${pct(99).toFixed(2)} ms, max ${samples.at(-1)!.toFixed(2)} ms`,
    );
    for (const n of nodes) assert.equal(n.get(k)?.value, UPDATES);
    assert.ok(pct(50) < 250, "p50 well under a heartbeat period");
  });
});
