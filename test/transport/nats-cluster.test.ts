/**
 * The NATS cluster helper itself: routes go through cuttable proxies, a partition really stops
 * messages between the sides (route gossip cannot bypass it), and a heal brings them back.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";
import { stopAllNatsServers } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";

let cluster: NatsCluster;
const conns: NatsConnection[] = [];

before(async () => {
  cluster = await startNatsCluster({ size: 3 });
});
after(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await cluster?.stop();
  await stopAllNatsServers();
});

async function client(i: number): Promise<NatsConnection> {
  // One server only, so the client cannot fail over to the other side of the partition.
  const nc = await connect({ servers: cluster.urls[i]!, ignoreClusterUpdates: true, noRandomize: true });
  conns.push(nc);
  return nc;
}

test("a partition of the routes stops traffic between the sides; heal restores it", { timeout: 60_000 }, async () => {
  const [a, b, c] = await Promise.all([client(0), client(1), client(2)]);
  const got = { b: 0, c: 0 };
  b.subscribe("t", { callback: () => void got.b++ });
  c.subscribe("t", { callback: () => void got.c++ });
  await Promise.all([b.flush(), c.flush()]);
  await waitFor(async () => {
    a.publish("t");
    await a.flush();
    return got.b > 0 && got.c > 0;
  }, { timeoutMs: 10_000, message: "interest to propagate over the routes" });

  cluster.partition([[0, 1], [2]]);
  await waitFor(async () => (await cluster.routes(2)) === 0, { timeoutMs: 10_000, message: "server 2 to lose its routes" });
  // Route gossip must not reconnect server 2 behind the proxies' back.
  const seen = { ...got };
  for (let i = 0; i < 20; i++) a.publish("t");
  await a.flush();
  await waitFor(() => got.b >= seen.b + 20, { message: "same-side delivery" });
  assert.equal(await cluster.routes(2), 0, "server 2 stays cut off");
  assert.equal(got.c, seen.c, "nothing crossed the partition");

  cluster.heal();
  await cluster.waitForRoutes();
  await waitFor(async () => {
    a.publish("t");
    await a.flush();
    return got.c > seen.c;
  }, { timeoutMs: 15_000, message: "delivery across the healed routes" });
});
