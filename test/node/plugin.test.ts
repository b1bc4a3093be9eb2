/**
 * The API as a fastify plugin in an application's own server (real nats-server): mounted under a
 * prefix next to the application's routes, which keep their own body parsers and error answers;
 * the application's OpenAPI document lists the API's routes. The typed client drives a
 * write / read / watch round trip through it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance } from "fastify";
import { Replicator } from "../../src/index.js";
import { CrdtApiError, CrdtClient, crdtApi, type WatchEvent } from "../../packages/crdt-node/src/index.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { http } from "./helpers.js";

describe("crdtApi mounted in an application's fastify server", () => {
  let nats: NatsServer;
  let r: Replicator;
  let app: FastifyInstance;
  let base: string;
  before(async () => {
    nats = await startNatsServer();
    r = await Replicator.start({ nodeId: "embedded-1", nats: { servers: nats.url }, ...FAST });
    app = Fastify();
    await app.register(swagger, { openapi: { openapi: "3.1.0", info: { title: "my app", version: "1" } } });
    // The application's own routes, parsers and error answers.
    app.addContentTypeParser("text/plain", { parseAs: "string" }, (_req, body, done) => done(null, body));
    app.setErrorHandler((error, _req, reply) => void reply.code(418).send({ mine: (error as Error).message }));
    app.post("/echo", async (req) => ({ echoed: req.body }));
    app.get("/boom", async () => {
      throw new Error("app error");
    });
    await app.register(crdtApi, { replicator: r, prefix: "/crdt" });
    base = await app.listen({ host: "127.0.0.1", port: 0 });
  });
  after(async () => {
    await app?.close();
    await r?.close();
    await nats?.stop();
  });

  test("the application's routes keep their parsers and error handler; the API's keep theirs", async () => {
    const echo = await http("POST", `${base}/echo`, "hello", { "content-type": "text/plain" });
    assert.equal(echo.status, 200, echo.text);
    assert.deepEqual(echo.body, { echoed: "hello" });
    const json = await http("POST", `${base}/echo`, { a: 1 });
    assert.deepEqual(json.body, { echoed: { a: 1 } }, "fastify's JSON parser still serves the application");
    assert.deepEqual((await http("GET", `${base}/boom`)).body, { mine: "app error" });

    const plain = await http("POST", `${base}/crdt/v1/keys/k`, "hello", { "content-type": "text/plain" });
    assert.equal(plain.status, 415, "the API reads JSON only");
    assert.equal(plain.body.code, "UNSUPPORTED_MEDIA_TYPE");
    const bad = await http("POST", `${base}/crdt/v1/keys/k`, { type: "gcounter", op: "nope" });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /op "nope" is not an operation of gcounter; use "increment"/);
    assert.equal((await http("GET", `${base}/v1/keys`)).status, 404, "only under its prefix");

    const paths = Object.keys((app.swagger() as { paths: Record<string, unknown> }).paths);
    for (const p of ["/echo", "/crdt/v1/keys", "/crdt/v1/keys/{key}", "/crdt/v1/watch", "/crdt/v1/cluster", "/crdt/v1/stats"]) assert.ok(paths.includes(p), `${p} in ${paths}`);
  });

  test("the typed client: write, read, page, watch, and typed errors", async () => {
    const c = new CrdtClient({ url: `${base}/crdt` });
    const ctl = new AbortController();
    const events: WatchEvent[] = [];
    const watching = (async () => {
      for await (const e of c.watch({ prefix: "cart-", initial: true, signal: ctl.signal })) events.push(e);
    })();
    try {
      await waitFor(async () => (await c.stats()).watchers.open === 1, { message: "watching" });
      const written = await c.write("cart-1", { type: "ormap", op: "update", field: "fruit", valueType: "orset", update: { op: "add", value: "apple" } });
      assert.deepEqual(written.value, { fruit: ["apple"] });
      assert.equal(written.valueType, "orset");
      const read = await c.read("cart-1");
      assert.deepEqual(read?.value, { fruit: ["apple"] });
      assert.equal(await c.read("cart-none"), undefined);
      await c.write("cart-2", { type: "gcounter", op: "increment", by: 2 });
      const all = [];
      for await (const k of c.allKeys({ prefix: "cart-", limit: 1 })) all.push(k.key);
      assert.deepEqual(all, ["cart-1", "cart-2"]);
      await c.delete("cart-2");
      await waitFor(() => events.some((e) => e.event === "delete" && e.data.key === "cart-2"), { message: "the delete event", describe: () => events });
      const change = events.find((e) => e.event === "change" && e.data.key === "cart-1");
      assert.ok(change && change.event === "change");
      assert.deepEqual(change.data.value, { fruit: ["apple"] });
      assert.equal(change.data.origin, "local");
      assert.ok(events.every((e) => e.id !== ""));
      await assert.rejects(c.write("cart-1", { type: "gcounter", op: "increment" }), (e: unknown) => e instanceof CrdtApiError && e.status === 409 && e.code === "TYPE_MISMATCH");
      await assert.rejects(c.read("cart-2"), (e: unknown) => e instanceof CrdtApiError && e.status === 410);
      assert.equal((await c.cluster()).node, "embedded-1");
    } finally {
      ctl.abort();
      await watching.catch(() => undefined);
    }
  });
});
