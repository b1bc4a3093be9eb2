/**
 * `/v1/locks/:name` on in-process crdt-node daemons over a real `nats-server -js`: acquire, renew,
 * release with the fencing token, leases that lapse when the client stops renewing, schema
 * validation, the bearer token and read-only rules, and 503 without JetStream.
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
const auth = { authorization: "Bearer s3cret" };

describe("crdt-node /v1/locks", () => {
  let js: NatsServer, plain: NatsServer;
  let a: Daemon, b: Daemon, relay: Daemon, noJs: Daemon;
  before(async () => {
    [js, plain] = await Promise.all([startNatsServer({ jetstream: true }), startNatsServer()]);
    a = await startDaemon(cfg(["--node-id", "lk-a", "--nats", js.url, "--token", "s3cret"]), quiet);
    b = await startDaemon(cfg(["--node-id", "lk-b", "--nats", js.url, "--token", "s3cret"]), quiet);
    relay = await startDaemon(cfg(["--node-id", "lk-r", "--nats", js.url, "--read-only"]), quiet);
    noJs = await startDaemon(cfg(["--node-id", "lk-n", "--nats", plain.url]), quiet);
    await Promise.all([a.started, b.started, relay.started, noJs.started]);
  });
  after(async () => {
    await Promise.allSettled([a, b, relay, noJs].map((d) => d?.close()));
    await Promise.allSettled([js?.stop(), plain?.stop()]);
  });

  const url = (d: Daemon, name: string, rest = ""): string => `${d.url}/v1/locks/${encodeURIComponent(name)}${rest}`;

  test("acquire, refuse a second client, release with the token, then the other gets a larger token", async () => {
    const first = await http("POST", url(a, "deploy", "/acquire"), { ttlMs: 5_000 }, auth);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.ttlMs, 5_000);
    assert.ok(first.body.expiresInMs > 4_000 && first.body.expiresInMs <= 5_000);
    const second = await http("POST", url(b, "deploy", "/acquire"), {}, auth);
    assert.equal(second.status, 409);
    assert.equal(second.body.code, "LOCK_HELD");
    const state = await http("GET", url(b, "deploy"), undefined, auth);
    assert.deepEqual(state.body.holders.map((h: { fencingToken: number }) => h.fencingToken), [first.body.fencingToken]);
    const waiting = http("POST", url(b, "deploy", "/acquire"), { timeoutMs: 20_000 }, auth);
    assert.equal((await http("DELETE", url(b, "deploy", `?fencingToken=${first.body.fencingToken + 1000}`), undefined, auth)).body.released, false, "a wrong token releases nothing");
    const released = await http("DELETE", url(b, "deploy", `?fencingToken=${first.body.fencingToken}`), undefined, auth);
    assert.deepEqual(released.body, { name: "deploy", fencingToken: first.body.fencingToken, released: true });
    const granted = await waiting;
    assert.equal(granted.status, 200, granted.text);
    assert.ok(granted.body.fencingToken > first.body.fencingToken);
    await http("DELETE", url(a, "deploy", `?fencingToken=${granted.body.fencingToken}`), undefined, auth);
  });

  test("a lease the client keeps renewing holds; one it stops renewing lapses after ttlMs", async () => {
    const g = await http("POST", url(a, "lease", "/acquire"), { ttlMs: 600 }, auth);
    assert.equal(g.status, 200);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const renewed = await http("POST", url(b, "lease", "/renew"), { fencingToken: g.body.fencingToken }, auth);
      assert.equal(renewed.status, 200, `renewal ${i}: ${renewed.text}`);
      assert.equal(renewed.body.ttlMs, 600);
    }
    // Stop renewing: another client waiting gets the lock once the lease lapsed.
    const started = performance.now();
    const next = await http("POST", url(b, "lease", "/acquire"), { timeoutMs: 10_000 }, auth);
    assert.equal(next.status, 200, next.text);
    assert.ok(performance.now() - started >= 300, "not before the lease lapsed");
    const late = await http("POST", url(a, "lease", "/renew"), { fencingToken: g.body.fencingToken }, auth);
    assert.equal(late.status, 409);
    assert.equal(late.body.code, "LEASE_LOST");
  });

  test("schemas refuse malformed requests with 400", async () => {
    for (const [method, path, body] of [
      ["POST", "/acquire", { ttlMs: 5 }],
      ["POST", "/acquire", { timeoutMs: -1 }],
      ["POST", "/renew", {}],
      ["POST", "/renew", { fencingToken: "x" }],
      ["DELETE", "", undefined],
    ] as const) {
      const res = await http(method, url(a, "schema", path), body, auth);
      assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${res.text}`);
    }
    assert.equal((await http("GET", url(a, "x".repeat(300)), undefined, auth)).status, 400, "names are at most 256 characters");
  });

  test("the bearer token and read-only mode apply as on every write route", async () => {
    assert.equal((await http("POST", url(a, "guarded", "/acquire"), {})).status, 401);
    assert.equal((await http("GET", url(a, "guarded"))).status, 401);
    assert.equal((await http("POST", url(relay, "guarded", "/acquire"), {})).status, 403);
    assert.equal((await http("DELETE", url(relay, "guarded", "?fencingToken=1"))).status, 403);
    assert.equal((await http("GET", url(relay, "guarded"))).status, 200, "reads are served by a relay");
  });

  test("a node whose NATS has no JetStream answers 503 with the reason", async () => {
    const res = await http("POST", url(noJs, "nojs", "/acquire"), {});
    assert.equal(res.status, 503, res.text);
    assert.equal(res.body.code, "JETSTREAM_UNAVAILABLE");
    assert.match(res.body.error, /nats-server -js/);
  });
});
