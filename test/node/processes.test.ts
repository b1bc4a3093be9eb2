/**
 * Real crdt-node processes over a real nats-server: bearer-token auth, the read-only relay, SSE on
 * the relay, and a clean exit on SIGTERM. Every process is stopped by PID, even on failure.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { alive, http, openSse, spawnNode, waitReady, type NodeProcess } from "./helpers.js";

const TOKEN = "t0ps3cret";
const auth = { authorization: `Bearer ${TOKEN}` };

describe("crdt-node processes: token auth and the read-only relay", () => {
  let nats: NatsServer;
  let writer: NodeProcess, relay: NodeProcess;
  before(async () => {
    nats = await startNatsServer();
    writer = await spawnNode(["--node-id", "w1", "--dc", "east", "--nats", nats.url], { CRDT_TOKEN: TOKEN });
    relay = await spawnNode(["--node-id", "relay", "--dc", "east", "--nats", nats.url, "--read-only"], { CRDT_TOKEN: TOKEN });
    await Promise.all([waitReady(writer.url), waitReady(relay.url)]);
  });
  after(async () => {
    await Promise.allSettled([writer?.stop(), relay?.stop()]);
    await nats?.stop();
  });

  test("401 without or with a wrong token; health, readiness and the page shell are public", async () => {
    for (const path of ["/v1/keys", "/v1/keys/x", "/v1/cluster", "/v1/stats", "/v1/watch", "/metrics"]) {
      assert.equal((await http("GET", writer.url + path)).status, 401, path);
      assert.equal((await http("GET", writer.url + path, undefined, { authorization: "Bearer wrong" })).status, 401, path);
      assert.equal((await http("GET", writer.url + path, undefined, { authorization: TOKEN })).status, 401, `${path} without "Bearer"`);
    }
    const post = await http("POST", `${writer.url}/v1/keys/x`, { type: "gcounter", op: "increment" });
    assert.equal(post.status, 401);
    assert.match(post.body.error, /Bearer/);
    assert.equal((await http("GET", `${writer.url}/healthz`)).status, 200);
    assert.equal((await http("GET", `${writer.url}/readyz`)).status, 200);
    assert.equal((await http("GET", `${writer.url}/`)).status, 200, "the dashboard shell holds no data; its API calls carry the token");
    assert.equal((await http("GET", `${writer.url}/v1/keys`, undefined, auth)).status, 200);
    assert.equal((await http("GET", `${writer.url}/metrics`, undefined, auth)).status, 200);
  });

  test("the relay refuses writes with 403, and serves what others wrote, live", async () => {
    const sse = await openSse(`${relay.url}/v1/watch`, auth);
    try {
      const w = await http("POST", `${relay.url}/v1/keys/r1`, { type: "gcounter", op: "increment" }, auth);
      assert.equal(w.status, 403);
      assert.match(w.body.error, /read-only/);
      assert.equal((await http("DELETE", `${relay.url}/v1/keys/r1`, undefined, auth)).status, 403);

      const ok = await http("POST", `${writer.url}/v1/keys/r1`, { type: "gcounter", op: "increment", by: 9 }, auth);
      assert.equal(ok.status, 200);
      await waitFor(async () => (await http("GET", `${relay.url}/v1/keys/r1`, undefined, auth)).body?.value === 9, { message: "relay reads 9" });
      await waitFor(() => sse.events.some((e) => e.data.key === "r1" && e.data.value === 9 && e.data.node === "w1"), {
        message: "relay's watch saw the writer's change",
        describe: () => sse.events,
      });
      // The relay started later, so once it has heard the writer's heartbeat the writer leads; "all"
      // waits for every listed member, so read once the relay counts the writer (after a digest round).
      await waitFor(async () => {
        const body = (await http("GET", `${relay.url}/v1/cluster`, undefined, auth)).body;
        return body?.leader === "w1" && body.members.every((m: { counted: boolean }) => m.counted);
      }, { message: "the relay sees the older writer as leader and counts it" });
      const cluster = await http("GET", `${relay.url}/v1/cluster`, undefined, auth);
      assert.equal(cluster.body.readOnly, true);
      const read = await http("GET", `${relay.url}/v1/keys/r1?consistency=all`, undefined, auth);
      assert.equal(read.status, 200, "coordinated reads work on the relay");
    } finally {
      sse.close();
    }
  });

  test("SIGTERM: the node leaves the cluster and exits 0", async () => {
    const extra = await spawnNode(["--node-id", "leaver", "--dc", "east", "--nats", nats.url], { CRDT_TOKEN: TOKEN });
    try {
      await waitReady(extra.url);
      await waitFor(async () => (await http("GET", `${writer.url}/v1/cluster`, undefined, auth)).body?.members?.length === 3);
      assert.equal(await extra.stop(), 0);
      assert.deepEqual(alive([extra.pid]), []);
      await waitFor(async () => (await http("GET", `${writer.url}/v1/cluster`, undefined, auth)).body?.members?.length === 2, {
        timeoutMs: 5_000,
        message: "a graceful leave removes the member at once",
      });
    } finally {
      await extra.stop();
    }
  });

  test("a bad flag exits 2 with a clear message", async () => {
    await assert.rejects(spawnNode(["--node-id", "bad id"]), /--node-id \/ CRDT_NODE_ID must be 1-128 letters/);
  });
});
