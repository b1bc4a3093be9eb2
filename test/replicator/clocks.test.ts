/**
 * Clocks cannot fool the cluster (issue 15), with real nats-server and node processes:
 * - a node whose clock was an hour ahead, SIGKILLed and restarted with its clock corrected (an hour
 *   behind what it used before), replicates at once: its incarnation grows past the old one;
 * - a far-future LWW timestamp is refused: by the library (InvalidArgumentError, nothing stored),
 *   by the HTTP API (400), and from the bus (a forged envelope, a coordinated write, a tombstone):
 *   rejected, counted as "clock-skew", not merged;
 * - two processes with one nodeId: the second start fails naming the first; when the first hangs
 *   during that check, both run and each counts the other's heartbeats.
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, before, describe, test } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { InvalidArgumentError, Key, LWWRegister, Replicator, type ReplicatorOptions } from "../../src/index.js";
import { parseConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { decodeNodeReply, encodeDeltaEnvelope, encodeNodeRequest, type CrdtDelta } from "../../src/wire/codec.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { http } from "../node/helpers.js";
import { startChildNode, type ChildNode } from "./fixtures/child-node.js";

const HOUR = 3_600_000;
const FAR_FUTURE = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const TIMINGS: Partial<ReplicatorOptions> = { heartbeatIntervalMs: 200, failureTimeoutMs: 1_500, coordinationTimeoutMs: 2_000 };

describe("a node whose clock stepped back an hour, restarted", () => {
  let server: NatsServer;
  const nodes: Replicator[] = [];
  let child: ChildNode | undefined;
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await child?.kill();
    await Promise.allSettled(nodes.map((n) => n.close()));
    await server?.stop();
  });

  test("replicates at once: peers see its increments within seconds, not after removalTimeoutMs", async () => {
    // The default removal timeout: a stale incarnation would be ignored for 30 s.
    const opts = (nodeId: string): ReplicatorOptions => ({ nodeId, nats: { servers: server.url }, ...TIMINGS, removalTimeoutMs: 30_000 });
    nodes.push(await Replicator.start(opts("a")), await Replicator.start(opts("b")));
    const [a, b] = nodes as [Replicator, Replicator];
    const k = Key.gcounter("k");

    child = await startChildNode(opts("c"), 45_000, { clockOffsetMs: HOUR });
    const ahead = child.incarnation;
    assert.ok(ahead > Date.now() + HOUR - 60_000, "the first run's incarnation is its (fast) clock");
    await waitFor(() => [a, b].every((n) => n.members().some((m) => m.node === "c" && m.reachable)), { timeoutMs: 15_000, message: "a and b see c" });
    assert.equal(await child.send({ op: "increment", key: "k", by: 10 }), 10);
    await waitFor(() => a.get(k)?.value === 10 && b.get(k)?.value === 10, { message: "c's first run replicates" });

    await child.kill(); // no leave: a, b still hold c's hour-ahead incarnation
    child = await startChildNode(opts("c"), 45_000, { clockOffsetMs: 0 });
    assert.ok(child.incarnation > ahead, `the new incarnation ${child.incarnation} grows past the old ${ahead}, whatever the clock says`);

    const restarted = Date.now();
    for (let i = 0; i < 20; i++) await child.send({ op: "increment", key: "k", by: 1 });
    await waitFor(() => a.get(k)?.value === 30 && b.get(k)?.value === 30, { timeoutMs: 10_000, message: "the restarted c's increments reach a and b" });
    const tookMs = Date.now() - restarted;
    assert.ok(tookMs < 10_000, `took ${tookMs} ms, well under removalTimeoutMs (30 s)`);
    for (const n of [a, b]) assert.equal(n.stats.rejected.get("stale-incarnation") ?? 0, 0, `${n.nodeId} dropped nothing as stale`);
  });
});

describe("a far-future LWW timestamp", () => {
  let server: NatsServer;
  let raw: NatsConnection;
  const nodes: Replicator[] = [];
  before(async () => {
    server = await startNatsServer();
    raw = await connect({ servers: server.url });
    const opts = (nodeId: string): ReplicatorOptions => ({ nodeId, nats: { servers: server.url }, ...TIMINGS });
    nodes.push(await Replicator.start(opts("a")), await Replicator.start(opts("b")));
    await waitFor(() => nodes.every((n) => n.members().length === 2), { message: "a and b see each other" });
  });
  after(async () => {
    await raw?.close();
    await Promise.allSettled(nodes.map((n) => n.close()));
    await server?.stop();
  });

  test("is refused by the library with InvalidArgumentError, and nothing is stored or sent", async () => {
    const [a, b] = nodes as [Replicator, Replicator];
    const reg = Key.lwwRegister<string>("reg");
    const map = Key.lwwMap<string>("map");
    const nested = Key.orMap<LWWRegister<string>>("nested", "lwwRegister");
    await assert.rejects(a.update(reg, (r, self) => r.set(self, "frozen", FAR_FUTURE)), InvalidArgumentError);
    await assert.rejects(a.update(map, (m, self) => m.put(self, "f", "frozen", Date.now() + 2 * 60_000)), /maxClockSkewMs/);
    await assert.rejects(a.update(nested, (m, self) => m.update(self, "f", (r, n) => r.set(n, "frozen", FAR_FUTURE))), InvalidArgumentError);
    assert.equal(a.get(reg), undefined);
    assert.equal(a.get(map), undefined);
    assert.equal(a.get(nested), undefined);

    // Within the bound is fine (a clock somewhat ahead), and a later write without timestamp still wins over it.
    const soon = Date.now() + 30_000;
    await a.update(reg, (r, self) => r.set(self, "ahead", soon));
    await waitFor(() => b.get(reg)?.value === "ahead", { message: "b has the write within the bound" });
    const next = await b.update(reg, (r, self) => r.set(self, "later"));
    assert.ok(next.timestamp > soon, "b's hybrid clock stamps its write after what it saw");
    await waitFor(() => a.get(reg)?.value === "later");
    assert.equal(b.stats.rejected.get("clock-skew") ?? 0, 0, "nothing far-future ever reached b");
  });

  test("is rejected from the bus (delta, coordinated write, tombstone): counted, not merged", async () => {
    const [a, b] = nodes as [Replicator, Replicator];
    const before = nodes.map((n) => n.stats.rejected.get("clock-skew") ?? 0);
    const forged: CrdtDelta = { key: "forged", kind: "lwwRegister", originNode: "forger", value: LWWRegister.empty().set("forger", "frozen", FAR_FUTURE) };
    raw.publish(
      "crdt.deltas",
      encodeDeltaEnvelope({
        origin: "forger",
        incarnation: 1,
        sequence: 1,
        deltas: [forged],
        tombstones: [{ key: "gone", kind: "gcounter", deletedAtMs: FAR_FUTURE, originNode: "forger" }],
        sentAtMs: Date.now(),
      }),
    );
    await waitFor(() => nodes.every((n, i) => (n.stats.rejected.get("clock-skew") ?? 0) === before[i]! + 2), { message: "both nodes count the value and the tombstone" });

    // A coordinated write carrying it is refused too, and not acknowledged.
    const reply = decodeNodeReply(
      (await raw.request("crdt.deltas.node.b", encodeNodeRequest({ type: "write", from: "forger", deltas: [forged], tombstones: [] }), { timeout: 5_000 })).data,
    );
    assert.equal(reply.type, "write");
    assert.equal(reply.type === "write" && reply.ok, false, "a refused change is not acknowledged");
    assert.equal(b.stats.rejected.get("clock-skew"), before[1]! + 3);

    for (const n of [a, b]) {
      assert.equal(n.get(Key.lwwRegister("forged")), undefined, `${n.nodeId} did not merge the forged register`);
      assert.equal(n.tombstoneCount, 0, `${n.nodeId} did not keep the far-future tombstone`);
    }
    // A local delete is stamped by the node's clock, within the bound.
    await a.update(Key.gcounter("del"), (c, self) => c.increment(self));
    await a.delete(Key.gcounter("del"));
    await waitFor(() => b.tombstoneCount === 1, { message: "a's own delete replicates" });
  });
});

describe("a far-future LWW timestamp over HTTP", () => {
  let server: NatsServer;
  let d: Daemon | undefined;
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await d?.close();
    await server?.stop();
  });

  test("answers 400 and stores nothing", async () => {
    const r = parseConfig(["--node-id", "http-a", "--nats", server.url, "--http", "127.0.0.1:0"], {});
    if (!("config" in r)) throw new Error("help");
    d = await startDaemon(r.config, { log: () => undefined });
    await d.started;
    const url = `${d.url}/v1/keys/frozen`;
    const refused = await http("POST", url, { type: "lwwregister", op: "set", value: "x", timestamp: FAR_FUTURE });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), /maxClockSkewMs/);
    const map = await http("POST", `${d.url}/v1/keys/frozen-map`, { type: "lwwmap", op: "put", field: "f", value: 1, timestamp: FAR_FUTURE });
    assert.equal(map.status, 400);
    assert.equal((await http("GET", url)).status, 404, "nothing stored");
    assert.equal((await http("POST", url, { type: "lwwregister", op: "set", value: "y" })).status, 200, "a write without timestamp goes through");
  });
});

describe("two processes with one nodeId", () => {
  let server: NatsServer;
  const children: ChildNode[] = [];
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    for (const c of children) c.signal("SIGCONT");
    await Promise.allSettled(children.map((c) => c.kill()));
    await server?.stop();
  });

  const opts = (): ReplicatorOptions => ({ nodeId: "twin", nats: { servers: server.url }, ...TIMINGS, removalTimeoutMs: 30_000 });

  test("the second start fails with ConfigError naming the first process", async () => {
    const first = await startChildNode(opts());
    children.push(first);
    await assert.rejects(startChildNode(opts()), (e: Error) => {
      assert.match(e.message, /ConfigError: nodeId "twin" is in use by another live process/);
      assert.ok(e.message.includes(`pid ${first.pid} on host ${hostname()}`), e.message);
      assert.ok(e.message.includes(`incarnation ${first.incarnation}`), e.message);
      return true;
    });
    // The first one carries on undisturbed.
    assert.equal(await first.send({ op: "increment", key: "k" }), 1);
  });

  test("a holder that hangs during the check: the start goes on, and both count the other's heartbeats", async () => {
    const first = children[0]!;
    first.signal("SIGSTOP"); // it cannot answer the check
    let second: ChildNode;
    try {
      second = await startChildNode(opts());
    } finally {
      first.signal("SIGCONT");
    }
    children.push(second);
    assert.equal(((await second.send({ op: "stats" })) as { identityCheckTimeouts: number }).identityCheckTimeouts, 1, "the timed-out check is counted");
    const duplicates = async (c: ChildNode): Promise<number> => ((await c.send({ op: "stats" })) as { duplicateNodeHeartbeats: number }).duplicateNodeHeartbeats;
    await waitFor(async () => (await duplicates(first)) > 0 && (await duplicates(second)) > 0, {
      timeoutMs: 15_000,
      message: "each process counts the other's heartbeats",
    });
  });
});
