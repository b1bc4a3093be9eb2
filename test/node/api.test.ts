/**
 * The HTTP API of in-process crdt-node daemons over a real nats-server: every operation of every
 * type, every status code, coordinated reads and writes, the SSE watch, /metrics, /readyz.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { METRICS } from "../../src/metrics/definitions.js";
import { parseConfig, type NodeConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { freePort, startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { http, openSse, waitReady } from "./helpers.js";

function cfg(args: string[]): NodeConfig {
  const r = parseConfig([...args, "--http", "127.0.0.1:0"], {});
  if (!("config" in r)) throw new Error("help");
  return r.config;
}

const quiet = { log: () => undefined };

describe("crdt-node HTTP API", () => {
  let nats: NatsServer;
  let a: Daemon, b: Daemon;
  before(async () => {
    nats = await startNatsServer();
    a = await startDaemon(cfg(["--node-id", "api-a", "--dc", "east", "--nats", nats.url]), quiet);
    await a.started; // a is the older member: the DC leader
    b = await startDaemon(cfg(["--node-id", "api-b", "--dc", "east", "--nats", nats.url]), quiet);
    await b.started;
    await waitFor(async () => (await http("GET", `${a.url}/v1/cluster`)).body?.members?.length === 2, { message: "a sees 2 members" });
  });
  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await nats?.stop();
  });

  const post = (d: Daemon, key: string, body: unknown, q = "") => http("POST", `${d.url}/v1/keys/${encodeURIComponent(key)}${q}`, body);
  const get = (d: Daemon, key: string, q = "") => http("GET", `${d.url}/v1/keys/${encodeURIComponent(key)}${q}`);

  test("every operation of every type returns the new value, and replicates", async () => {
    const cases: [string, unknown[], unknown][] = [
      ["t-gcounter", [{ type: "gcounter", op: "increment", by: 5 }, { type: "gcounter", op: "increment" }], 6],
      ["t-pncounter", [{ type: "pncounter", op: "increment", by: 5 }, { type: "pncounter", op: "decrement", by: 7 }], -2],
      ["t-gset", [{ type: "gset", op: "add", value: "x" }, { type: "gset", op: "add", value: { n: 1 } }], ["x", { n: 1 }]],
      ["t-orset", [{ type: "orset", op: "add", value: "x" }, { type: "orset", op: "add", value: "y" }, { type: "orset", op: "remove", value: "x" }], ["y"]],
      ["t-lww", [{ type: "lwwregister", op: "set", value: "online" }, { type: "lwwRegister", op: "set", value: { s: "away" } }], { s: "away" }],
      ["t-mv", [{ type: "mvregister", op: "set", value: 1 }, { type: "mvregister", op: "set", value: 2 }], [2]],
      ["t-flag", [{ type: "flag", op: "enable" }], true],
      ["t-lwwmap", [{ type: "lwwmap", op: "put", field: "a", value: 1 }, { type: "lwwmap", op: "put", field: "b", value: [2] }, { type: "lwwmap", op: "remove", field: "a" }], { b: [2] }],
      ["t-ormap", [
        { type: "ormap", op: "update", field: "cart", valueType: "orset", update: { op: "add", value: "apple" } },
        { type: "ormap", op: "update", field: "cart", valueType: "orset", update: { op: "add", value: "pear" } },
        { type: "ormap", op: "update", field: "old", valueType: "orset", update: { op: "add", value: "x" } },
        { type: "ormap", op: "remove", field: "old" },
      ], { cart: ["pear", "apple"] }], // canonical order: shorter strings first
      ["t-pnmap", [
        { type: "pncountermap", op: "increment", field: "up", by: 3 },
        { type: "pncountermap", op: "decrement", field: "down", by: 2 },
        { type: "pncountermap", op: "increment", field: "gone" },
        { type: "pncountermap", op: "remove", field: "gone" },
      ], { down: -2, up: 3 }],
      ["t-pnmap-reset", [
        { type: "pncountermap", op: "increment", field: "k", by: 5 },
        { type: "pncountermap", op: "remove", field: "k" },
        { type: "pncountermap", op: "increment", field: "k" },
      ], { k: 1 }], // remove drops the count: re-added, it starts from 0
      ["t-multimap", [
        { type: "ormultimap", op: "addBinding", field: "fruit", value: "pear" },
        { type: "ormultimap", op: "addBinding", field: "fruit", value: "apple" },
        { type: "ormultimap", op: "addBinding", field: "veg", value: "leek" },
        { type: "ormultimap", op: "removeBinding", field: "veg", value: "leek" },
        { type: "ormultimap", op: "addBinding", field: "old", value: "x" },
        { type: "ormultimap", op: "remove", field: "old" },
      ], { fruit: ["pear", "apple"] }], // a key goes with its last binding
    ];
    for (const [key, ops, expected] of cases) {
      let last;
      for (const op of ops) {
        last = await post(a, key, op);
        assert.equal(last.status, 200, `${key} ${JSON.stringify(op)}: ${last.text}`);
      }
      assert.deepEqual(last!.body.value, expected, key);
      assert.equal(last!.body.key, key);
      await waitFor(async () => isDeepStrictEqual((await get(b, key)).body?.value, expected), { message: `${key} on b` });
    }
    const ormap = await get(b, "t-ormap");
    assert.equal(ormap.body.type, "ormap");
    assert.equal(ormap.body.valueType, "orset");
    const list = await http("GET", `${b.url}/v1/keys?prefix=t-`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.find((k: { key: string }) => k.key === "t-lww"), { key: "t-lww", type: "lwwregister" });
    assert.equal(list.body.length, cases.length);
  });

  test("counters show per-node counts; LWW shows the winning write; a stale write is ignored", async () => {
    await post(a, "views", { type: "gcounter", op: "increment", by: 5 });
    await post(b, "views", { type: "gcounter", op: "increment", by: 3 });
    await waitFor(async () => (await get(a, "views")).body?.value === 8);
    assert.deepEqual((await get(a, "views")).body.detail, { byNode: { "api-a": 5, "api-b": 3 } });

    const fresh = await post(a, "ff", { type: "lwwregister", op: "set", value: true, timestamp: 2000 });
    assert.deepEqual(fresh.body.detail, { timestamp: 2000, node: "api-a" });
    await waitFor(async () => (await get(b, "ff")).body?.value === true);
    const stale = await post(b, "ff", { type: "lwwregister", op: "set", value: false, timestamp: 1000 });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.value, true, "the older write lost");
    assert.deepEqual(stale.body.detail, { timestamp: 2000, node: "api-a" });
  });

  test("400: malformed bodies and parameters name the problem", async () => {
    const bad: [unknown, RegExp][] = [
      ["{not json", /not valid JSON/],
      ["", /empty/],
      ["[1]", /must be a JSON object/],
      [{ op: "increment" }, /type must be one of/],
      [{ type: "counter", op: "increment" }, /type must be one of .*gcounter.*got "counter"/],
      [{ type: "gcounter" }, /op is missing; use "increment"/],
      [{ type: "gcounter", op: "decrement" }, /op "decrement" is not an operation of gcounter/],
      [{ type: "gcounter", op: "increment", by: -1 }, /by must be a non-negative integer/],
      [{ type: "gcounter", op: "increment", by: 1.5 }, /by must be a non-negative integer/],
      [{ type: "orset", op: "add" }, /value is missing/],
      [{ type: "lwwregister", op: "set", value: 1, timestamp: "now" }, /timestamp must be a non-negative integer/],
      [{ type: "lwwmap", op: "put", value: 1 }, /field must be a non-empty string/],
      [{ type: "ormap", op: "update", field: "f", valueType: "ormap", update: {} }, /valueType must be one of/],
      [{ type: "ormap", op: "update", field: "f", valueType: "gcounter" }, /ormap update needs "update"/],
      [{ type: "ormap", op: "update", field: "f", valueType: "gcounter", update: { op: "add" } }, /update\.op "add" is not an operation of gcounter/],
    ];
    for (const [body, pattern] of bad) {
      const r = await post(a, "bad-key", body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.text}`);
      assert.match(r.body.error, pattern);
    }
    assert.equal((await get(a, "views", "?consistency=most")).status, 400);
    assert.equal((await get(a, "views", "?consistency=majority&timeoutMs=abc")).status, 400);
    // curl -d sends form-encoded: refused (http-hardening.test.ts has every content type)
    const form = await http("POST", `${a.url}/v1/keys/form`, '{"type":"gcounter","op":"increment"}', { "content-type": "application/x-www-form-urlencoded" });
    assert.equal(form.status, 415, form.text);
  });

  test("404 unknown key, 409 wrong type, 410 deleted, 413 too large", async () => {
    assert.equal((await get(a, "nope")).status, 404);
    assert.equal((await http("DELETE", `${a.url}/v1/keys/nope`)).status, 404);
    assert.equal((await http("GET", `${a.url}/v2/nothing`)).status, 404);

    await post(a, "typed", { type: "gcounter", op: "increment" });
    const wrong = await post(a, "typed", { type: "orset", op: "add", value: 1 });
    assert.equal(wrong.status, 409);
    assert.match(wrong.body.error, /holds a gcounter, not a orset/);
    await post(a, "m", { type: "ormap", op: "update", field: "f", valueType: "gcounter", update: { op: "increment" } });
    assert.equal((await post(a, "m", { type: "ormap", op: "update", field: "f", valueType: "orset", update: { op: "add", value: 1 } })).status, 409);

    await post(a, "doomed", { type: "orset", op: "add", value: "x" });
    await waitFor(async () => (await get(b, "doomed")).status === 200);
    const del = await http("DELETE", `${a.url}/v1/keys/doomed`);
    assert.equal(del.status, 200);
    assert.deepEqual(del.body, { key: "doomed", deleted: true });
    assert.equal((await get(a, "doomed")).status, 410);
    await waitFor(async () => (await get(b, "doomed")).status === 410, { message: "delete reached b" });
    const after = await post(b, "doomed", { type: "orset", op: "add", value: "y" });
    assert.equal(after.status, 410);
    assert.match(after.body.error, /deleted/);

    const huge = await post(a, "huge", { type: "gset", op: "add", value: "x".repeat(1024 * 1024 + 10) });
    assert.equal(huge.status, 413);
  });

  test("coordinated writes and reads; 504 when the level cannot be met, and the local write stands", async () => {
    const w = await post(a, "coord", { type: "gcounter", op: "increment", by: 2 }, "?consistency=all");
    assert.equal(w.status, 200, w.text);
    assert.equal((await get(b, "coord")).body.value, 2, "with consistency=all, b has it when the call returns");
    const r = await get(b, "coord", "?consistency=majority");
    assert.equal(r.status, 200);
    assert.equal(r.body.value, 2);
    // A key b does not hold yet: a coordinated read finds it on a, given its type.
    assert.equal((await get(b, "never-written", "?consistency=all&type=gcounter")).status, 404);
    assert.equal((await get(b, "never-written", "?consistency=all&type=nope")).status, 400);

    // 5 acknowledgements from a cluster of 2 cannot happen.
    const timeout = await post(a, "coord", { type: "gcounter", op: "increment", by: 1 }, "?consistency=5&timeoutMs=300");
    assert.equal(timeout.status, 504, timeout.text);
    assert.equal(timeout.body.code, "COORDINATION_TIMEOUT");
    assert.equal(timeout.body.value, 3, "the local write stands");
    await waitFor(async () => (await get(b, "coord")).body?.value === 3, { message: "and it replicates" });
    assert.equal((await get(a, "coord", "?consistency=5&timeoutMs=200")).status, 504);
  });

  test("watch: SSE events for local and remote changes, with type, value and origin", async () => {
    const sse = await openSse(`${b.url}/v1/watch?prefix=w-`);
    try {
      assert.equal(sse.status, 200);
      await post(a, "w-remote", { type: "pncounter", op: "increment", by: 4 });
      await post(b, "w-local", { type: "orset", op: "add", value: "z" });
      await post(b, "ignored", { type: "flag", op: "enable" }); // outside the prefix
      await waitFor(() => sse.events.some((e) => e.data.key === "w-remote") && sse.events.some((e) => e.data.key === "w-local"), {
        message: "both changes seen",
        describe: () => sse.events,
      });
      const remote = sse.events.find((e) => e.data.key === "w-remote")!;
      assert.equal(remote.event, "change");
      assert.equal(remote.data.type, "pncounter");
      assert.equal(remote.data.value, 4);
      assert.equal(remote.data.node, "api-a");
      assert.equal(remote.data.origin, "dc");
      const local = sse.events.find((e) => e.data.key === "w-local")!;
      assert.deepEqual(local.data.value, ["z"]);
      assert.equal(local.data.node, "api-b");
      assert.equal(local.data.origin, "local");
      assert.ok(!sse.events.some((e) => e.data.key === "ignored"));
      await http("DELETE", `${a.url}/v1/keys/w-remote`);
      await waitFor(() => sse.events.some((e) => e.event === "delete" && e.data.key === "w-remote"), { message: "delete event" });
    } finally {
      sse.close();
    }
    const initial = await openSse(`${b.url}/v1/watch?prefix=w-&initial=1`);
    try {
      await waitFor(() => initial.events.some((e) => e.event === "snapshot" && e.data.key === "w-local"), { message: "initial snapshot" });
    } finally {
      initial.close();
    }
  });

  test("cluster, stats, health, metrics", async () => {
    const c = await http("GET", `${a.url}/v1/cluster`);
    assert.equal(c.status, 200);
    assert.equal(c.body.node, "api-a");
    assert.equal(c.body.dataCenter, "east");
    assert.deepEqual(c.body.members.map((m: { node: string }) => m.node), ["api-a", "api-b"]);
    assert.ok(c.body.members.every((m: { reachable: boolean }) => m.reachable));
    assert.equal(c.body.leader, "api-a", "the oldest member leads");
    let fromB: unknown;
    await waitFor(async () => (fromB = (await http("GET", `${b.url}/v1/cluster`)).body).leader === "api-a", {
      timeoutMs: 5_000,
      message: "b agrees that api-a leads",
      describe: () => fromB,
    });

    const s = await http("GET", `${b.url}/v1/stats`);
    assert.equal(s.status, 200);
    assert.ok(s.body.deltasReceived > 0);
    assert.ok(s.body.replicationLagMs.samples > 0 && s.body.replicationLagMs.p50 >= 0);

    assert.deepEqual((await http("GET", `${a.url}/healthz`)).body, { status: "ok", node: "api-a" });
    assert.deepEqual((await http("GET", `${a.url}/readyz`)).body, { ready: true });

    const m = await http("GET", `${a.url}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.headers.get("content-type") ?? "", /text\/plain/);
    // GoAkt's twelve always; histograms once something was recorded (lags and coordinated ops were, above).
    const expected = METRICS.filter((d) => d.goakt).map((d) => d.name);
    expected.push("crdt.replicator.replication.lag", "crdt.replicator.coordinated.duration");
    for (const name of expected) {
      const family = name.replaceAll(".", "_");
      assert.ok(m.text.includes(`# TYPE ${family}`), `/metrics has ${family}`);
    }
    assert.match(m.text, /crdt_replicator_merge_count_total\{node="api-a",dc="east"/);
    const target = /^target_info\{([^}]*)\}/m.exec(m.text)?.[1] ?? "";
    assert.match(target, /service_name="crdt-node"/, "the resource: OTEL_SERVICE_NAME's default");
    assert.match(target, /service_instance_id="api-a"/, "the resource: the node id as service.instance.id");
    assert.match(m.text, /^# TYPE nodejs_eventloop_utilization gauge/m, "runtime metrics beside the replicator's");

    const page = await http("GET", `${a.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(page.text, /<title>crdt-node<\/title>/);
  });

  test("readyz is 503 until NATS is reachable, then 200 (the node retries)", async () => {
    const port = await freePort();
    const d = await startDaemon(cfg(["--node-id", "late", "--nats", `nats://127.0.0.1:${port}`]), quiet);
    let late: NatsServer | undefined;
    try {
      assert.equal((await http("GET", `${d.url}/healthz`)).status, 200);
      const r = await http("GET", `${d.url}/readyz`);
      assert.equal(r.status, 503);
      assert.match(r.body.reason, /starting/);
      assert.equal((await http("GET", `${d.url}/v1/keys`)).status, 503);
      late = await startNatsServer({ port });
      await waitReady(d.url);
      await d.started;
    } finally {
      await d.close();
      await late?.stop();
    }
  });
});
