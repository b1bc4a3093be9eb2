/**
 * The HTTP API's contract: /openapi.json from a running crdt-node (real nats-server) is a valid
 * OpenAPI 3.1 document, equal to the committed docs/openapi.json, and real answers of every route —
 * successes and errors — match the response schemas it gives for their status. Also: paging
 * through GET /v1/keys while keys come and go, and a majority read of a key this node does not
 * hold, without ?type=.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { Key, Replicator } from "../../src/index.js";
import { parseConfig, type NodeConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { keysPage } from "../../packages/crdt-node/src/keys-page.js";
import { FAST } from "../helpers/cluster.js";
import { freePort, startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { http, openSse, ROOT, type Reply } from "./helpers.js";

function cfg(args: string[]): NodeConfig {
  const r = parseConfig([...args, "--http", "127.0.0.1:0"], {});
  if (!("config" in r)) throw new Error("help");
  return r.config;
}
const quiet = { log: () => undefined };

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };

describe("the OpenAPI document and the answers it describes", () => {
  let nats: NatsServer;
  let a: Daemon, b: Daemon, idle: Daemon;
  let holder: Replicator;
  let doc: Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const compiled = new Map<object, ValidateFunction>();
  /** Which (route, status) pairs were checked: every route must be, with a success and an error. */
  const seen = new Set<string>();

  before(async () => {
    nats = await startNatsServer({ jetstream: true }); // JetStream: the lock and queue routes
    a = await startDaemon(cfg(["--node-id", "doc-a", "--nats", nats.url]), quiet);
    await a.started;
    b = await startDaemon(cfg(["--node-id", "doc-b", "--nats", nats.url]), quiet);
    await b.started;
    // A member whose writes stay with it (its deltas leave only after a minute): what b must ask for.
    holder = await Replicator.start({ nodeId: "doc-holder", nats: { servers: nats.url }, ...FAST, flushIntervalMs: 60_000 });
    await waitFor(async () => (await http("GET", `${b.url}/v1/cluster`)).body?.members?.filter((m: { counted: boolean }) => m.counted).length === 3, {
      timeoutMs: 20_000,
      message: "b counts 3 members",
    });
    // Never ready: its NATS port has no server. With a token, to show 401.
    idle = await startDaemon(cfg(["--node-id", "doc-idle", "--nats", `nats://127.0.0.1:${await freePort()}`, "--token", "secret-token"]), quiet);
    doc = (await http("GET", `${a.url}/openapi.json`)).body as Doc;
  });
  after(async () => {
    await Promise.allSettled([a?.close(), b?.close(), idle?.close(), holder?.close()]);
    await nats?.stop();
  });

  /** Assert that `r`, the answer to `method path` (the document's path template), is documented and matches its schema. */
  function conforms(method: string, template: string, r: Reply): void {
    const op = doc.paths[template]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${template} is in the document`);
    const documented = op.responses[String(r.status)];
    assert.ok(documented, `${method} ${template} answered ${r.status}, which the document does not list: ${r.text.slice(0, 200)}`);
    const type = (r.headers.get("content-type") ?? "").split(";")[0]!.trim();
    const media = documented.content?.[type];
    assert.ok(media, `${method} ${template} ${r.status}: content type ${type} is not documented`);
    if (type === "application/json") {
      let validate = compiled.get(media.schema);
      if (validate === undefined) compiled.set(media.schema, (validate = ajv.compile(media.schema)));
      assert.ok(validate(r.body), `${method} ${template} ${r.status}: ${JSON.stringify(validate.errors)}\n${r.text.slice(0, 400)}`);
    }
    seen.add(`${method} ${template} ${r.status < 400 ? "ok" : "error"}`);
  }

  test("the served document is valid OpenAPI 3.1 and is the committed docs/openapi.json", async () => {
    const v = new Validator();
    const verdict = await v.validate(structuredClone(doc) as Record<string, unknown>);
    assert.ok(verdict.valid, JSON.stringify(verdict.errors, null, 2));
    assert.equal(v.version, "3.1");
    const committed = JSON.parse(readFileSync(`${ROOT}docs/openapi.json`, "utf8"));
    assert.deepEqual(doc, committed, "docs/openapi.json is stale: run npm run openapi");
  });

  test("real answers of every route match the document, successes and errors", async () => {
    const key = (d: Daemon, k: string, q = "") => `${d.url}/v1/keys/${encodeURIComponent(k)}${q}`;
    const K = "/v1/keys/{key}";
    conforms("GET", "/healthz", await http("GET", `${a.url}/healthz`));
    conforms("GET", "/readyz", await http("GET", `${a.url}/readyz`));
    conforms("GET", "/readyz", await http("GET", `${idle.url}/readyz`)); // 503
    conforms("GET", "/metrics", await http("GET", `${a.url}/metrics`));
    conforms("GET", "/metrics", await http("GET", `${idle.url}/metrics`)); // 401
    conforms("GET", "/", await http("GET", `${a.url}/`));

    conforms("POST", K, await http("POST", key(a, "c-counter"), { type: "gcounter", op: "increment", by: 2 }));
    conforms("POST", K, await http("POST", key(a, "c-map"), { type: "ormap", op: "update", field: "f", valueType: "orset", update: { op: "add", value: { deep: [1] } } }));
    conforms("POST", K, await http("POST", key(a, "c-lww"), { type: "lwwRegister", op: "set", value: "x", timestamp: 5 }));
    conforms("POST", K, await http("POST", key(a, "c-counter"), { type: "gcounter", op: "increment", by: -1 })); // 400
    conforms("POST", K, await http("POST", key(a, "c-counter"), { type: "orset", op: "add", value: 1 })); // 409
    conforms("POST", K, await http("POST", key(a, "c-counter"), "x=1", { "content-type": "text/plain" })); // 415
    conforms("POST", K, await http("POST", key(a, "c-big"), { type: "gset", op: "add", value: "x".repeat(1024 * 1024) })); // 413
    conforms("POST", K, await http("POST", key(a, "c-counter", "?consistency=9&timeoutMs=200"), { type: "gcounter", op: "increment" })); // 504

    conforms("GET", K, await http("GET", key(a, "c-counter")));
    conforms("GET", K, await http("GET", key(a, "c-map", "?consistency=majority")));
    conforms("GET", K, await http("GET", key(a, "c-nothing"))); // 404
    conforms("GET", K, await http("GET", key(a, "c-counter", "?consistency=most"))); // 400
    conforms("GET", K, await http("GET", key(a, "c-counter", "?consistency=9&timeoutMs=200"))); // 504

    conforms("DELETE", K, await http("DELETE", key(a, "c-lww")));
    conforms("DELETE", K, await http("DELETE", key(a, "c-lww"))); // 410
    conforms("GET", K, await http("GET", key(a, "c-lww"))); // 410
    conforms("POST", K, await http("POST", key(a, "c-lww"), { type: "lwwregister", op: "set", value: 1 })); // 410
    conforms("DELETE", K, await http("DELETE", key(a, "c-nothing"))); // 404
    await http("POST", key(a, "c-doomed"), { type: "flag", op: "enable" });
    conforms("DELETE", K, await http("DELETE", key(a, "c-doomed", "?consistency=9&timeoutMs=200"))); // 504

    conforms("GET", "/v1/keys", await http("GET", `${a.url}/v1/keys?prefix=c-`));
    conforms("GET", "/v1/keys", await http("GET", `${a.url}/v1/keys?prefix=c-&limit=1`));
    conforms("GET", "/v1/keys", await http("GET", `${a.url}/v1/keys?cursor=nonsense`)); // 400
    conforms("GET", "/v1/keys", await http("GET", `${a.url}/v1/keys?limit=0`)); // 400
    conforms("GET", "/v1/cluster", await http("GET", `${a.url}/v1/cluster`));
    conforms("GET", "/v1/cluster", await http("GET", `${idle.url}/v1/cluster`)); // 401
    conforms("GET", "/v1/cluster", await http("GET", `${idle.url}/v1/cluster`, undefined, { authorization: "Bearer secret-token" })); // 503
    conforms("GET", "/v1/stats", await http("GET", `${a.url}/v1/stats`));
    conforms("GET", "/v1/stats", await http("GET", `${idle.url}/v1/stats`, undefined, { authorization: "Bearer secret-token" })); // 503

    // Locks and queues (JetStream): errors from the idle node (503) and from the lock's rules.
    const auth = { authorization: "Bearer secret-token" };
    const L = "/v1/locks/{name}";
    const granted = await http("POST", `${a.url}/v1/locks/doc-lock/acquire`, { ttlMs: 30_000 });
    conforms("POST", `${L}/acquire`, granted);
    const token = granted.body.fencingToken as number;
    conforms("POST", `${L}/acquire`, await http("POST", `${b.url}/v1/locks/doc-lock/acquire`, {})); // 409 held
    conforms("POST", `${L}/renew`, await http("POST", `${a.url}/v1/locks/doc-lock/renew`, { fencingToken: token }));
    conforms("POST", `${L}/renew`, await http("POST", `${a.url}/v1/locks/doc-lock/renew`, { fencingToken: token + 1000 })); // 409
    conforms("GET", L, await http("GET", `${a.url}/v1/locks/doc-lock`));
    conforms("GET", L, await http("GET", `${idle.url}/v1/locks/doc-lock`, undefined, auth)); // 503
    conforms("DELETE", L, await http("DELETE", `${a.url}/v1/locks/doc-lock?fencingToken=${token}`));
    conforms("DELETE", L, await http("DELETE", `${a.url}/v1/locks/doc-lock?fencingToken=nope`)); // 400
    const Q = "/v1/queues/{name}";
    conforms("POST", Q, await http("POST", `${a.url}/v1/queues/doc-queue`, { item: { n: 1 } }));
    conforms("POST", Q, await http("POST", `${a.url}/v1/queues/doc-queue`, { item: { n: 2 } }));
    conforms("GET", Q, await http("GET", `${a.url}/v1/queues/doc-queue`));
    conforms("GET", `${Q}/peek`, await http("GET", `${a.url}/v1/queues/doc-queue/peek`));
    conforms("POST", `${Q}/dequeue`, await http("POST", `${a.url}/v1/queues/doc-queue/dequeue`));
    const taken = await http("POST", `${b.url}/v1/queues/doc-queue/take`);
    conforms("POST", `${Q}/take`, taken);
    conforms("POST", `${Q}/ack`, await http("POST", `${b.url}/v1/queues/doc-queue/ack`, { receipt: taken.body.receipt }));
    for (const [m, path] of [["POST", Q], ["GET", Q], ["GET", `${Q}/peek`], ["POST", `${Q}/dequeue`], ["POST", `${Q}/take`], ["POST", `${Q}/ack`]] as const) {
      const url = `${idle.url}${path.replace("{name}", "doc-queue")}`;
      conforms(m, path, await http(m, url, m === "POST" ? { item: 1, receipt: "x" } : undefined, auth)); // 503
    }

    // The watch stream: its content type, and each event's data against the document's event schema.
    const watchDoc = doc.paths["/v1/watch"]!.get!.responses["200"]!.content!["text/event-stream"]!.schema;
    const validEvent = ajv.compile(watchDoc);
    const sse = await openSse(`${b.url}/v1/watch?prefix=c-&initial=1`);
    try {
      assert.equal(sse.status, 200);
      await http("POST", key(a, "c-counter"), { type: "gcounter", op: "increment" });
      await http("DELETE", key(a, "c-map"));
      await waitFor(() => sse.events.some((e) => e.event === "delete"), { message: "a delete event", describe: () => sse.events });
      for (const e of sse.events) assert.ok(validEvent(e.data), `${e.event} ${JSON.stringify(e.data)}: ${JSON.stringify(validEvent.errors)}`);
      assert.deepEqual(new Set(sse.events.map((e) => e.event)), new Set(["snapshot", "change", "delete"]));
    } finally {
      sse.close();
    }
    const refused = await http("GET", `${idle.url}/v1/watch`, undefined, { authorization: "Bearer secret-token" });
    conforms("GET", "/v1/watch", refused); // 503
    seen.add("GET /v1/watch ok");

    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        const m = method.toUpperCase();
        if (m === "HEAD") continue; // fastify's automatic HEAD of each GET
        assert.ok(seen.has(`${m} ${path} ok`), `${m} ${path}: no success checked`);
        if (path !== "/healthz" && path !== "/") assert.ok(seen.has(`${m} ${path} error`), `${m} ${path}: no error checked`);
      }
    }
  });

  test("paging through GET /v1/keys sees every key that exists throughout, once, while others come and go", async () => {
    const stay = Array.from({ length: 40 }, (_, i) => `p-${String(i).padStart(2, "0")}-stay`);
    for (const k of stay) assert.equal((await http("POST", `${a.url}/v1/keys/${k}`, { type: "flag", op: "enable" })).status, 200);
    const seenKeys: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await http("GET", `${a.url}/v1/keys?prefix=p-&limit=7${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.keys.length <= 7);
      seenKeys.push(...r.body.keys.map((k: { key: string }) => k.key));
      cursor = r.body.nextCursor;
      // Between pages: new keys before and after the cursor, and a deleted one.
      await http("POST", `${a.url}/v1/keys/p-${String(pages).padStart(2, "0")}-new`, { type: "flag", op: "enable" });
      await http("POST", `${a.url}/v1/keys/p-99-late-${pages}`, { type: "flag", op: "enable" });
      if (pages === 2) await http("DELETE", `${a.url}/v1/keys/p-99-late-0`);
      pages++;
    } while (cursor !== null && pages < 100);
    assert.equal(cursor, null, "the last page says so");
    for (const k of stay) assert.equal(seenKeys.filter((s) => s === k).length, 1, `${k} seen once`);
    assert.equal(new Set(seenKeys).size, seenKeys.length, "no key twice");
    assert.deepEqual(seenKeys, [...seenKeys].sort(), "in key order");
    const afterFirst = keysPage(["p-00-new", "p-00-stay"], "p-", 1, undefined).nextCursor!;
    const defaults = await http("GET", `${a.url}/v1/keys?prefix=p-&cursor=${encodeURIComponent(afterFirst)}`);
    assert.equal(defaults.status, 200, "a cursor alone pages with the default limit");
    assert.equal(defaults.body.keys[0].key, "p-00-stay");
    assert.equal(defaults.body.nextCursor, null, "fewer keys than the default limit: one page");
    const otherPrefix = await http("GET", `${a.url}/v1/keys?prefix=q-&cursor=${encodeURIComponent(afterFirst)}`);
    assert.equal(otherPrefix.status, 400);
    assert.match(otherPrefix.body.error, /keep the prefix while paging/);
  });

  test("GET ?consistency=all of a key only a peer holds finds it there, without ?type=", async () => {
    await holder.update(Key.orset<string>("held-elsewhere"), (s, self) => s.add(self, "only-on-holder"));
    assert.equal((await http("GET", `${b.url}/v1/keys/held-elsewhere`)).status, 404, "b does not hold it");
    const r = await http("GET", `${b.url}/v1/keys/held-elsewhere?consistency=all`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.type, "orset");
    assert.deepEqual(r.body.value, ["only-on-holder"]);
    assert.equal((await http("GET", `${b.url}/v1/keys/held-elsewhere`)).status, 200, "and b keeps it (read repair)");
    assert.equal((await http("GET", `${b.url}/v1/keys/held-nowhere?consistency=all`)).status, 404);
  });
});
