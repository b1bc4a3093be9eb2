/**
 * A restarted member cannot acknowledge a majority write alone. Three members, each in its own OS
 * process with its NATS link through its own TCP proxy. c is SIGKILLed and restarted; the moment a
 * and b have answered its start-up hello, their links are cut. c's N is 3 from its first moment
 * (seeded from those answers), so every majority write it tries rejects with WriteTimeoutError; once
 * the links are back it admits a and b and its majority writes succeed.
 * (Before the seeding, c started with N = 1 and acknowledged such writes alone.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { ReplicatorOptions } from "../../src/index.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { waitFor } from "../helpers/wait.js";
import { startChildNode, type ChildNode } from "./fixtures/child-node.js";
import { QUORUM_TIMINGS, members, counted } from "./fixtures/quorum.js";



describe("a member restarted while the others are cut off", () => {
  let server: NatsServer;
  let watcher: NatsConnection | undefined;
  const proxies: TcpProxy[] = [];
  const nodes: ChildNode[] = [];
  const options = (i: number): ReplicatorOptions =>
    ({ nodeId: ["a", "b", "c"][i]!, nats: { servers: proxies[i]!.url, reconnectTimeWait: 100 }, ...QUORUM_TIMINGS }) as ReplicatorOptions;
  before(async () => {
    server = await startNatsServer();
    for (let i = 0; i < 3; i++) {
      proxies.push(await startTcpProxy(server.port));
      nodes.push(await startChildNode(options(i)));
    }
    await waitFor(async () => (await Promise.all(nodes.map(counted))).every((c) => c.length === 3), {
      timeoutMs: 20_000,
      message: "every member counts the other two",
    });
  });
  after(async () => {
    await watcher?.close();
    await Promise.allSettled(nodes.map((n) => n.kill()));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await server?.stop();
  });

  test("acknowledges no majority write before its peers do", { timeout: 120_000 }, async () => {
    const [a, b] = nodes as [ChildNode, ChildNode, ChildNode];
    assert.equal(await a.send({ op: "increment", key: "k", by: 1, writeTo: "majority" }), 1);
    await nodes[2]!.kill();

    // Answers to a starting node's hello go to `<subject>.members.hello.<id>.<nonce>`: cut a and b
    // as soon as both have answered c, before c hears a single heartbeat of theirs.
    watcher = await connect({ servers: server.url });
    const answered = new Set<string>();
    let cutAt = 0;
    watcher.subscribe("crdt.deltas.members.hello.c.*", {
      callback: () => {
        answered.add(String(answered.size));
        if (answered.size === 2 && cutAt === 0) {
          proxies[0]!.cut("reset");
          proxies[1]!.cut("reset");
          cutAt = Date.now();
        }
      },
    });
    await watcher.flush();
    const c = await startChildNode(options(2));
    nodes[2] = c;
    assert.ok(cutAt > 0, "a and b answered c's hello");

    const view = await members(c);
    assert.deepEqual(view.map((m) => m.node), ["a", "b", "c"], "c counts a and b in N from its first moment");
    let acknowledged = 0;
    for (let i = 0; i < 5; i++) {
      await c.send({ op: "increment", key: "k", by: 100, writeTo: "majority" }).then(
        () => acknowledged++,
        (e: Error) => assert.match(e.message, /^WriteTimeoutError/),
      );
    }
    assert.equal(acknowledged, 0, "the restarted member acknowledged a majority write alone");
    // Past removalTimeoutMs too: alone, c's own vote is no majority, so N stays 3.
    await waitFor(() => Date.now() - cutAt > 2 * 1_500, { timeoutMs: 10_000 });
    assert.deepEqual((await members(c)).map((m) => m.node), ["a", "b", "c"]);
    await assert.rejects(c.send({ op: "increment", key: "k", by: 100, writeTo: "majority" }), /^Error: WriteTimeoutError/);

    proxies[0]!.restore();
    proxies[1]!.restore();
    await waitFor(async () => (await Promise.all(nodes.map(counted))).every((x) => x.length === 3), {
      timeoutMs: 20_000,
      message: "c admits a and b, and they c",
    });
    // 1 + 6 local writes of c that timed out (they stand and replicate) + this one.
    assert.equal(await c.send({ op: "increment", key: "k", by: 1000, writeTo: "majority" }), 1601);
    await waitFor(async () => (await b.send({ op: "get", key: "k" })) === 1601, { message: "b holds every write" });
  });
});
