/**
 * The queue routes of the HTTP API (`/v1/queues/:name`) on in-process daemons over a real
 * `nats-server -js`: enqueue, peek, dequeue, take/ack across nodes, empty answers, bad requests,
 * the token and read-only rules, and 503 when JetStream does not answer.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseConfig, type NodeConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { http } from "./helpers.js";

function cfg(args: string[]): NodeConfig {
  const r = parseConfig([...args, "--http", "127.0.0.1:0"], {});
  if (!("config" in r)) throw new Error("help");
  return r.config;
}

const quiet = { log: () => undefined };
const TOKEN = "queue-test-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };

describe("crdt-node queue routes", () => {
  let nats: NatsServer;
  let a: Daemon, b: Daemon, relay: Daemon;
  before(async () => {
    nats = await startNatsServer({ jetstream: true });
    a = await startDaemon(cfg(["--node-id", "q-a", "--nats", nats.url, "--token", TOKEN]), quiet);
    b = await startDaemon(cfg(["--node-id", "q-b", "--nats", nats.url, "--token", TOKEN]), quiet);
    relay = await startDaemon(cfg(["--node-id", "q-relay", "--nats", nats.url, "--token", TOKEN, "--read-only"]), quiet);
    await Promise.all([a.started, b.started, relay.started]);
  });
  after(async () => {
    await Promise.allSettled([a?.close(), b?.close(), relay?.close()]);
    await nats?.stop();
  });

  const q = (d: Daemon, name: string, path = "") => `${d.url}/v1/queues/${encodeURIComponent(name)}${path}`;

  test("enqueue on one node, peek, dequeue on another; empty says so; a null item is an item", async () => {
    assert.deepEqual((await http("POST", q(a, "jobs/1"), { item: { task: 1 } }, auth)).body, { queue: "jobs/1", enqueued: true });
    assert.equal((await http("POST", q(a, "jobs/1"), { item: null }, auth)).status, 201);
    assert.deepEqual((await http("GET", q(b, "jobs/1"), undefined, auth)).body, { queue: "jobs/1", size: 2 });
    assert.deepEqual((await http("GET", q(b, "jobs/1", "/peek"), undefined, auth)).body, { queue: "jobs/1", empty: false, item: { task: 1 } });
    assert.deepEqual((await http("POST", q(b, "jobs/1", "/dequeue"), undefined, auth)).body, { queue: "jobs/1", empty: false, item: { task: 1 } });
    assert.deepEqual((await http("POST", q(a, "jobs/1", "/dequeue"), undefined, auth)).body, { queue: "jobs/1", empty: false, item: null });
    const empty = await http("POST", q(a, "jobs/1", "/dequeue?waitMs=50"), undefined, auth);
    assert.deepEqual([empty.status, empty.body], [200, { queue: "jobs/1", empty: true }]);
    assert.deepEqual((await http("GET", q(a, "jobs/1", "/peek"), undefined, auth)).body, { queue: "jobs/1", empty: true });
  });

  test("take on one node, ack on another by its receipt; enqueue ids store once", async () => {
    await http("POST", q(a, "work"), { item: "w1", id: "job-1" }, auth);
    await http("POST", q(b, "work"), { item: "w1", id: "job-1" }, auth);
    const taken = await http("POST", q(a, "work", "/take"), undefined, auth);
    assert.equal(taken.status, 200);
    assert.equal(taken.body.item, "w1");
    assert.equal(taken.body.deliveries, 1);
    assert.match(taken.body.receipt, /^\$JS\.ACK\./);
    assert.deepEqual((await http("POST", q(a, "work", "/take"), undefined, auth)).body, { queue: "work", empty: true });
    assert.deepEqual((await http("POST", q(b, "work", "/ack"), { receipt: taken.body.receipt }, auth)).body, { queue: "work", acked: true });
    assert.deepEqual((await http("GET", q(b, "work"), undefined, auth)).body, { queue: "work", size: 0 });
    const foreign = await http("POST", q(b, "other", "/ack"), { receipt: taken.body.receipt }, auth);
    assert.equal(foreign.status, 400);
    assert.match(foreign.body.error, /not a receipt of queue "other"/);
  });

  test("bad requests: 400 with what to send", async () => {
    for (const [method, url, body] of [
      ["POST", q(a, "bad"), {}],
      ["POST", q(a, "bad"), { item: 1, id: "" }],
      ["POST", q(a, "bad", "/dequeue?waitMs=-1"), undefined],
      ["POST", q(a, "bad", "/take?waitMs=999999"), undefined],
      ["POST", q(a, "bad", "/ack"), {}],
      ["POST", q(a, "x".repeat(200)), { item: 1 }],
    ] as const) {
      const res = await http(method, url, body, auth);
      assert.equal(res.status, 400, `${method} ${url.slice(-40)} ${JSON.stringify(body)}: ${res.text}`);
      assert.equal(typeof res.body.error, "string");
    }
    const huge = await http("POST", q(a, "bad"), { item: "x".repeat(1024 * 1024) }, auth);
    assert.equal(huge.status, 413);
  });

  test("the token and read-only rules: 401 without the token; a read-only node peeks but does not dequeue", async () => {
    assert.equal((await http("POST", q(a, "guarded"), { item: 1 })).status, 401);
    assert.equal((await http("GET", q(a, "guarded", "/peek"))).status, 401);
    await http("POST", q(a, "guarded"), { item: 1 }, auth);
    assert.deepEqual((await http("GET", q(relay, "guarded", "/peek"), undefined, auth)).body, { queue: "guarded", empty: false, item: 1 });
    for (const path of ["", "/dequeue", "/take", "/ack"]) {
      const res = await http("POST", q(relay, "guarded", path), path === "" ? { item: 2 } : path === "/ack" ? { receipt: "x" } : undefined, auth);
      assert.equal(res.status, 403, path);
      assert.equal(res.body.code, "READ_ONLY");
    }
  });

  test("without JetStream on the server: 503 that says what is missing", async () => {
    const plain = await startNatsServer();
    const d = await startDaemon(cfg(["--node-id", "q-plain", "--nats", plain.url]), quiet);
    try {
      await d.started;
      const res = await http("POST", `${d.url}/v1/queues/jobs`, { item: 1 });
      assert.equal(res.status, 503, res.text);
      assert.equal(res.body.code, "QUEUE_UNAVAILABLE");
      assert.match(res.body.error, /JetStream/);
    } finally {
      await d.close();
      await plain.stop();
    }
  });
});
