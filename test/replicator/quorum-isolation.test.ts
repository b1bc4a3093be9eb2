/**
 * Quorum safety with real processes: three members, each in its own OS process with its NATS link
 * through its own TCP proxy. One member's link is cut for longer than removalTimeoutMs: the other
 * two remove it (a majority of N votes so) and keep acknowledging majority writes; the isolated
 * one never shrinks its N, so every majority write it tries rejects with WriteTimeoutError. After
 * the link is restored it is admitted again and its majority writes succeed.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ReplicatorOptions } from "../../src/index.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { waitFor } from "../helpers/wait.js";
import { startChildNode, type ChildNode } from "./fixtures/child-node.js";
import { QUORUM_TIMINGS, members, counted } from "./fixtures/quorum.js";



describe("an isolated member past removalTimeoutMs", () => {
  let server: NatsServer;
  const proxies: TcpProxy[] = [];
  const nodes: ChildNode[] = [];
  before(async () => {
    server = await startNatsServer();
    for (const id of ["a", "b", "c"]) {
      const proxy = await startTcpProxy(server.port);
      proxies.push(proxy);
      nodes.push(await startChildNode({ nodeId: id, nats: { servers: proxy.url, reconnectTimeWait: 100 }, ...QUORUM_TIMINGS } as ReplicatorOptions));
    }
    await waitFor(async () => (await Promise.all(nodes.map(counted))).every((c) => c.length === 3), {
      timeoutMs: 20_000,
      message: "every member counts the other two",
    });
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.kill()));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await server?.stop();
  });

  test("acknowledges no majority write; the majority side does", async () => {
    const [a, b, c] = nodes as [ChildNode, ChildNode, ChildNode];
    proxies[2]!.cut("reset");
    const cutAt = Date.now();
    let lastSeen: unknown;
    await waitFor(async () => (lastSeen = [await members(a), await members(b)]) && (await members(a)).every((m) => m.node !== "c") && (await members(b)).every((m) => m.node !== "c"), {
      timeoutMs: 20_000,
      message: "a and b remove c",
      describe: () => lastSeen,
    });
    // c's own clock is past removalTimeoutMs too: it votes a and b out, but alone it is no majority.
    await waitFor(() => Date.now() - cutAt > 2 * 1_500, { timeoutMs: 10_000 });
    const cView = await members(c);
    assert.deepEqual(cView.map((m) => m.node), ["a", "b", "c"], "c keeps a and b in N");
    assert.ok(cView.filter((m) => !m.counted).length === 2, "but counts no acknowledgement of theirs");

    let acknowledgedByC = 0;
    for (let i = 0; i < 5; i++) {
      await c.send({ op: "increment", key: "k", by: 1, writeTo: "majority" }).then(
        () => acknowledgedByC++,
        (e: Error) => assert.match(e.message, /^WriteTimeoutError/),
      );
    }
    assert.equal(acknowledgedByC, 0, "the isolated member acknowledged a majority write");
    for (let i = 0; i < 5; i++) await a.send({ op: "increment", key: "k", by: 10, writeTo: "majority" });
    for (let i = 0; i < 5; i++) await b.send({ op: "increment", key: "k", by: 100, writeTo: "majority" });
    assert.equal(await b.send({ op: "get", key: "k" }), 550);

    proxies[2]!.restore();
    await waitFor(async () => (await Promise.all(nodes.map(counted))).every((x) => x.length === 3), {
      timeoutMs: 20_000,
      message: "c is admitted again and admits a and b",
    });
    assert.equal(await c.send({ op: "increment", key: "k", by: 1000, writeTo: "majority" }), 1555);
  });
});
