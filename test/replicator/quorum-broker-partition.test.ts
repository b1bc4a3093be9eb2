/**
 * Issue 15's split brain, with real processes: five members on a 3-server NATS cluster, three on
 * servers 0-1 and two on server 2, each connected to its own server only. The routes are cut 2|3
 * for well past removalTimeoutMs while both sides try majority writes (counter increments and ORSet
 * adds): every write of the 2-side rejects with WriteTimeoutError, every write of the 3-side is
 * acknowledged. Then the 2-side is SIGKILLed (what it held alone dies with it), the routes heal, and
 * a majority read on the three survivors sees every acknowledged write: the counter exactly, every
 * acknowledged add.
 *
 * Cross-partition failover is impossible here: the route partition leaves every client link up,
 * so no node reconnects, and the servers' gossiped client URLs (which the NATS client would follow
 * on a reconnect) are never used.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ReplicatorOptions } from "../../src/index.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";
import { stopAllNatsServers } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { startChildNode, type ChildNode } from "./fixtures/child-node.js";
import { QUORUM_TIMINGS, REMOVAL_MS, members } from "./fixtures/quorum.js";

/** Node i connects to server SERVER_OF[i]: n0-n2 on servers 0-1, n3-n4 on server 2. */
const SERVER_OF = [0, 1, 0, 2, 2];
const MAJORITY_SIDE = [0, 1, 2];
const MINORITY_SIDE = [3, 4];


describe("a 2|3 route partition of the broker cluster", () => {
  let cluster: NatsCluster;
  const nodes: ChildNode[] = [];
  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
    await cluster.waitForRoutes();
    for (let i = 0; i < 5; i++) {
      nodes.push(await startChildNode({ nodeId: `n${i}`, nats: { servers: cluster.urls[SERVER_OF[i]!]!, reconnectTimeWait: 100 }, ...QUORUM_TIMINGS } as ReplicatorOptions));
    }
    await waitFor(async () => (await Promise.all(nodes.map(members))).every((ms) => ms.filter((m) => m.counted).length === 5), {
      timeoutMs: 30_000,
      message: "every member counts the other four",
    });
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.kill()));
    await cluster?.stop();
    await stopAllNatsServers();
  });

  test("lets only the majority side acknowledge; a majority read after the heal sees every acknowledged write", { timeout: 180_000 }, async () => {
    cluster.partition([[0, 1], [2]]);
    const cutAt = Date.now();
    const acknowledged = { increments: 0, adds: [] as string[] };
    const rejected = { majority: 0, minority: 0 };
    const unexpected: string[] = [];
    // Each node writes in a loop, both kinds, until well past removalTimeoutMs (4 × 1.5 s).
    const writer = async (i: number): Promise<void> => {
      const onMajoritySide = MAJORITY_SIDE.includes(i);
      for (let round = 0; Date.now() - cutAt < 4 * REMOVAL_MS; round++) {
        const element = `n${i}-${round}`;
        for (const cmd of [
          { op: "increment", key: "k", by: 1, writeTo: "majority" },
          { op: "add", key: "s", element, writeTo: "majority" },
        ]) {
          await nodes[i]!.send(cmd).then(
            () => {
              if (!onMajoritySide) unexpected.push(`n${i} acknowledged ${JSON.stringify(cmd)} at ${Date.now() - cutAt} ms`);
              else if (cmd.op === "increment") acknowledged.increments++;
              else acknowledged.adds.push(element);
            },
            (e: Error) => {
              if (!/^WriteTimeoutError/.test(e.message)) unexpected.push(`n${i}: ${e.message}`);
              rejected[onMajoritySide ? "majority" : "minority"]++;
            },
          );
        }
      }
    };
    await Promise.all([0, 1, 2, 3, 4].map(writer));
    assert.deepEqual(unexpected, [], "the 2-side acknowledged a majority write, or a write failed otherwise");
    assert.equal(rejected.majority, 0, "every majority-side write is acknowledged");
    assert.ok(rejected.minority >= 4, `the minority side tried (${rejected.minority} rejections)`);
    assert.ok(acknowledged.increments > 0 && acknowledged.adds.length > 0);

    // Well past removalTimeoutMs: the 3-side removed the 2-side; the 2-side still counts all five.
    await waitFor(async () => (await Promise.all(MAJORITY_SIDE.map((i) => members(nodes[i]!)))).every((ms) => ms.length === 3), {
      timeoutMs: 20_000,
      message: "the majority side removes n3 and n4",
    });
    for (const i of MINORITY_SIDE) assert.equal((await members(nodes[i]!)).length, 5, `n${i} shrank its N`);

    for (const i of MINORITY_SIDE) await nodes[i]!.kill();
    cluster.heal();
    await cluster.waitForRoutes();
    const reader = nodes[0]!;
    assert.equal(await reader.send({ op: "get", key: "k", readFrom: "majority" }), acknowledged.increments, "counter exact");
    const elements = (await reader.send({ op: "elements", key: "s", readFrom: "majority" })) as string[];
    const missing = acknowledged.adds.filter((e) => !elements.includes(e));
    assert.deepEqual(missing, [], "every acknowledged add is present");
    assert.ok(elements.every((e) => MAJORITY_SIDE.some((i) => e.startsWith(`n${i}-`))), "nothing of the dead 2-side leaked across");
  });
});
