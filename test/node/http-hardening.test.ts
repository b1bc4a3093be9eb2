/**
 * The daemon's HTTP door against what a browser page, a rebinding DNS name or a careless client can
 * send, on real daemons over a real nats-server: JSON-only bodies (415), Host and Origin checks,
 * CORS only when configured, the watcher cap and slow-watcher eviction, `__proto__` as ordinary
 * data, invalid UTF-8 and `null` numbers (400), and HEAD on every GET route.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { parseConfig, type NodeConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { defaultAllowedHosts, hostAllowed, jsonContentTypeProblem, originVerdict } from "../../packages/crdt-node/src/http-guard.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { http, openSse } from "./helpers.js";
import { raw } from "./raw-http.js";

function cfg(args: string[]): NodeConfig {
  const r = parseConfig([...args, "--http", "127.0.0.1:0"], {});
  if (!("config" in r)) throw new Error("help");
  return r.config;
}

const quiet = { log: () => undefined };
const JSON_CT = { "content-type": "application/json" };

describe("door rules (pure)", () => {
  test("hosts: IP literals and localhost always; names only when allowed; defaults by listen address", () => {
    const rule = new Set(["crdt.example"]);
    for (const h of ["127.0.0.1:80", "[::1]:8080", "10.1.2.3", "localhost:1", "LOCALHOST", "a.localhost:9", "crdt.example:443", "crdt.example.", undefined]) {
      assert.ok(hostAllowed(h, rule), String(h));
    }
    for (const h of ["evil.example:8080", "crdt.example.evil.example", "127.0.0.1.nip.io:80", ""]) assert.ok(!hostAllowed(h, rule), h);
    assert.ok(hostAllowed("anything", "any"));
    assert.deepEqual([...defaultAllowedHosts("127.0.0.1", "box", "n1")], []);
    assert.deepEqual([...defaultAllowedHosts("Node.Internal", "box", "n1")], ["node.internal"]);
    assert.deepEqual([...defaultAllowedHosts("0.0.0.0", "4f2a9c", "east-1")], ["4f2a9c", "east-1"], "docker: the container's name and the service (node id)");
  });

  test("origins: same origin, configured, foreign; content types", () => {
    const none = new Set<string>();
    assert.equal(originVerdict(undefined, "h:1", "http", none), "none");
    assert.equal(originVerdict("http://h:1", "h:1", "http", none), "same");
    assert.equal(originVerdict("http://h", "h:80", "http", none), "same");
    assert.equal(originVerdict("https://h:1", "h:1", "http", none), "foreign", "another scheme is another origin");
    assert.equal(originVerdict("null", "h:1", "http", none), "foreign");
    assert.equal(originVerdict("http://app:3000", "h:1", "http", new Set(["http://app:3000"])), "cors");
    assert.equal(originVerdict("http://other:3000", "h:1", "http", new Set(["http://app:3000"])), "foreign");
    assert.equal(jsonContentTypeProblem("application/json"), undefined);
    assert.equal(jsonContentTypeProblem('Application/JSON; charset="UTF-8"'), undefined);
    for (const ct of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", undefined]) {
      assert.match(jsonContentTypeProblem(ct) ?? "", /application\/json/, String(ct));
    }
  });
});

describe("crdt-node HTTP hardening", () => {
  let nats: NatsServer;
  let plain: Daemon, cors: Daemon, capped: Daemon;
  const APP = "http://app.example:3000";
  before(async () => {
    nats = await startNatsServer();
    plain = await startDaemon(cfg(["--node-id", "door-a", "--nats", nats.url]), quiet);
    cors = await startDaemon(cfg(["--node-id", "door-b", "--nats", nats.url, "--cors-origins", APP, "--allowed-hosts", "crdt.example"]), quiet);
    capped = await startDaemon(cfg(["--node-id", "door-c", "--nats", nats.url, "--max-watchers", "2"]), quiet);
    await Promise.all([plain.started, cors.started, capped.started]);
  });
  after(async () => {
    await Promise.allSettled([plain?.close(), cors?.close(), capped?.close()]);
    await nats?.stop();
  });

  const key = (d: Daemon, k: string) => `${d.url}/v1/keys/${encodeURIComponent(k)}`;
  const hostOf = (d: Daemon) => new URL(d.url).host;

  test("415 for every body that is not application/json, naming what to send; JSON with a utf-8 charset is fine", async () => {
    const body = '{"type":"gcounter","op":"increment","by":1}';
    const refused: (string | undefined)[] = [
      "application/x-www-form-urlencoded",
      "text/plain",
      "multipart/form-data; boundary=----x",
      "application/json; charset=latin1",
      "application/jsonp",
      undefined,
    ];
    for (const ct of refused) {
      const r = await raw("POST", key(plain, "ct-refused"), ct === undefined ? {} : { "content-type": ct }, body);
      assert.equal(r.status, 415, `${ct}: ${r.text}`);
      assert.equal(r.body.code, "UNSUPPORTED_MEDIA_TYPE");
      assert.match(r.body.error, /Content-Type: application\/json/, `${ct}: ${r.body.error}`);
    }
    // The browser's no-preflight form POST, exactly as a page would send it.
    const form = await raw("POST", key(plain, "ct-refused"), { "content-type": "application/x-www-form-urlencoded" }, `${encodeURIComponent(body)}=`);
    assert.equal(form.status, 415);
    assert.equal((await http("GET", key(plain, "ct-refused"))).status, 404, "nothing was written");
    const ok = await raw("POST", key(plain, "ct-ok"), { "content-type": "application/json; charset=utf-8" }, body);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.value, 1);
  });

  test("Host: other names get 421 (DNS rebinding); IPs, localhost and --allowed-hosts names are served", async () => {
    const port = new URL(plain.url).port;
    const evil = await raw("GET", `${plain.url}/v1/keys`, { host: `rebind.evil.example:${port}` });
    assert.equal(evil.status, 421, evil.text);
    assert.equal(evil.body.code, "MISDIRECTED_HOST");
    assert.match(evil.body.error, /--allowed-hosts/);
    assert.equal((await raw("GET", `${plain.url}/healthz`, { host: "rebind.evil.example" })).status, 421, "every route");
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      assert.equal((await raw("GET", `${plain.url}/v1/keys`, { host })).status, 200, host);
    }
    const cport = new URL(cors.url).port;
    assert.equal((await raw("GET", `${cors.url}/v1/keys`, { host: `crdt.example:${cport}` })).status, 200);
    assert.equal((await raw("GET", `${cors.url}/v1/keys`, { host: `evil.example:${cport}` })).status, 421);
  });

  test("Origin: foreign pages cannot change state and get no CORS headers; the node's own page can", async () => {
    const body = JSON.stringify({ type: "gcounter", op: "increment" });
    for (const origin of ["http://evil.example", "null", `https://${hostOf(plain)}`]) {
      const w = await raw("POST", key(plain, "origin-x"), { ...JSON_CT, origin }, body);
      assert.equal(w.status, 403, `${origin}: ${w.text}`);
      assert.equal(w.body.code, "ORIGIN_REFUSED");
      assert.match(w.body.error, /--cors-origins/);
      assert.equal(w.headers["access-control-allow-origin"], undefined);
      assert.equal((await raw("DELETE", key(plain, "ct-ok"), { origin })).status, 403);
    }
    assert.equal((await http("GET", key(plain, "origin-x"))).status, 404, "nothing was written");
    const read = await raw("GET", `${plain.url}/v1/keys`, { origin: "http://evil.example" });
    assert.equal(read.status, 200);
    assert.equal(read.headers["access-control-allow-origin"], undefined, "the browser will not let the page read it");
    const preflight = await raw("OPTIONS", key(plain, "origin-x"), { origin: "http://evil.example", "access-control-request-method": "POST" });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers["access-control-allow-origin"], undefined);
    // The dashboard's own requests: Origin is the node's own.
    const same = await raw("POST", key(plain, "origin-x"), { ...JSON_CT, origin: plain.url }, body);
    assert.equal(same.status, 200, same.text);
    const viaLocalhost = `http://localhost:${new URL(plain.url).port}`;
    const same2 = await raw("POST", key(plain, "origin-x"), { ...JSON_CT, origin: viaLocalhost, host: new URL(viaLocalhost).host }, body);
    assert.equal(same2.status, 200, same2.text);
  });

  test("CORS only for --cors-origins: preflight answered with methods and headers, responses and watches carry the origin", async () => {
    const pre = await raw("OPTIONS", key(cors, "cors-k"), {
      origin: APP,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, authorization",
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers["access-control-allow-origin"], APP);
    assert.match(String(pre.headers["access-control-allow-methods"]), /POST/);
    assert.match(String(pre.headers["access-control-allow-methods"]), /DELETE/);
    assert.match(String(pre.headers["access-control-allow-headers"]), /content-type/);
    assert.match(String(pre.headers["access-control-allow-headers"]), /authorization/);
    const w = await raw("POST", key(cors, "cors-k"), { ...JSON_CT, origin: APP }, JSON.stringify({ type: "flag", op: "enable" }));
    assert.equal(w.status, 200, w.text);
    assert.equal(w.headers["access-control-allow-origin"], APP);
    assert.match(String(w.headers.vary), /Origin/);
    const err = await raw("POST", key(cors, "cors-k"), { ...JSON_CT, origin: APP }, "{");
    assert.equal(err.status, 400);
    assert.equal(err.headers["access-control-allow-origin"], APP, "errors are readable by the allowed page too");
    const sse = await fetch(`${cors.url}/v1/watch`, { headers: { origin: APP } });
    assert.equal(sse.headers.get("access-control-allow-origin"), APP);
    await sse.body?.cancel();
    const other = await raw("POST", key(cors, "cors-k"), { ...JSON_CT, origin: "http://evil.example" }, JSON.stringify({ type: "flag", op: "enable" }));
    assert.equal(other.status, 403);
    const otherPre = await raw("OPTIONS", key(cors, "cors-k"), { origin: "http://evil.example", "access-control-request-method": "POST" });
    assert.equal(otherPre.status, 403);
    assert.equal(otherPre.headers["access-control-allow-origin"], undefined);
  });

  test("watchers past --max-watchers get 503 with Retry-After; a freed slot is usable again", async () => {
    const first = await openSse(`${capped.url}/v1/watch`);
    const second = await openSse(`${capped.url}/v1/watch`);
    try {
      assert.deepEqual([first.status, second.status], [200, 200]);
      const third = await raw("GET", `${capped.url}/v1/watch`);
      assert.equal(third.status, 503, third.text);
      assert.equal(third.headers["retry-after"], "5");
      assert.equal(third.body.code, "TOO_MANY_WATCHERS");
      assert.match(third.body.error, /--max-watchers/);
      const s = (await http("GET", `${capped.url}/v1/stats`)).body.watchers;
      assert.deepEqual([s.open, s.max], [2, 2]);
      assert.ok(s.refused >= 1);
      await http("POST", key(capped, "cap-k"), { type: "flag", op: "enable" });
      await waitFor(() => first.events.some((e) => e.data.key === "cap-k") && second.events.some((e) => e.data.key === "cap-k"), { message: "both watchers served" });
    } finally {
      first.close();
    }
    try {
      await waitFor(async () => (await http("GET", `${capped.url}/v1/stats`)).body.watchers.open === 1, { message: "the closed watcher's slot is freed" });
      const again = await openSse(`${capped.url}/v1/watch`);
      assert.equal(again.status, 200);
      again.close();
    } finally {
      second.close();
    }
  });

  test("a watcher that does not read is closed and counted; the others keep streaming", async () => {
    const reader = await openSse(`${plain.url}/v1/watch?prefix=big-`);
    const { port } = new URL(plain.url);
    const stuck = connect(Number(port), "127.0.0.1");
    let closed = false;
    stuck.on("close", () => (closed = true));
    stuck.on("error", () => undefined);
    await new Promise<void>((resolve) => stuck.once("connect", () => resolve()));
    stuck.write(`GET /v1/watch?prefix=big- HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    stuck.pause(); // never reads: its socket buffers fill up
    try {
      await waitFor(async () => (await http("GET", `${plain.url}/v1/stats`)).body.watchers.open === 2, { message: "both watchers open" });
      const big = "x".repeat(512 * 1024);
      let n = 0;
      await waitFor(
        async () => {
          const r = await http("POST", key(plain, "big-v"), { type: "lwwregister", op: "set", value: `${n++}${big}` });
          assert.equal(r.status, 200);
          return (await http("GET", `${plain.url}/v1/stats`)).body.watchers.dropped >= 1;
        },
        { timeoutMs: 120_000, intervalMs: 1, message: "the stuck watcher is dropped" },
      );
      const stats = (await http("GET", `${plain.url}/v1/stats`)).body.watchers;
      assert.equal(stats.dropped, 1, "only the stuck one");
      assert.equal(stats.open, 1);
      stuck.resume(); // read what was buffered: the server has closed its end
      await waitFor(() => closed, { message: "the stuck watcher's connection is closed" });
      const last = `${n - 1}`;
      await waitFor(() => reader.events.some((e) => typeof e.data.value === "string" && e.data.value.startsWith(last) && e.data.value.length === last.length + big.length), {
        timeoutMs: 30_000,
        message: "the reading watcher got the last write",
      });
    } finally {
      reader.close();
      stuck.destroy();
    }
  });

  test("__proto__, constructor and prototype are ordinary fields: stored, read back, streamed", async () => {
    const sse = await openSse(`${plain.url}/v1/watch?prefix=proto-`);
    try {
      const names = ["__proto__", "constructor", "prototype"];
      for (const [i, field] of names.entries()) {
        const r = await http("POST", key(plain, "proto-lww"), { type: "lwwmap", op: "put", field, value: { n: i } });
        assert.equal(r.status, 200, r.text);
        await http("POST", key(plain, "proto-pn"), { type: "pncountermap", op: "increment", field, by: i + 1 });
        await http("POST", key(plain, "proto-or"), { type: "ormap", op: "update", field, valueType: "gcounter", update: { op: "increment", by: i + 1 } });
      }
      // An element whose object has a __proto__ key (JSON.parse makes it an own field).
      const el = await raw("POST", key(plain, "proto-set"), JSON_CT, '{"type":"gset","op":"add","value":{"__proto__":{"polluted":true},"a":1}}');
      assert.equal(el.status, 200, el.text);
      const expected = { lww: [{ n: 0 }, { n: 1 }, { n: 2 }], pn: [1, 2, 3] };
      const own = (o: Record<string, unknown>, k: string) => Object.getOwnPropertyDescriptor(o, k)?.value;
      for (const [k, values] of [["proto-lww", expected.lww], ["proto-pn", expected.pn], ["proto-or", expected.pn]] as const) {
        const r = await http("GET", key(plain, k));
        assert.equal(r.status, 200);
        assert.deepEqual(Object.keys(r.body.value).sort(), [...names].sort(), `${k}: ${r.text}`);
        names.forEach((name, i) => assert.deepEqual(own(r.body.value, name), values[i], `${k}.${name}`));
      }
      const set = await http("GET", key(plain, "proto-set"));
      assert.deepEqual(Object.keys(set.body.value[0]).sort(), ["__proto__", "a"], set.text);
      assert.deepEqual(own(set.body.value[0], "__proto__"), { polluted: true });
      assert.equal(({} as Record<string, unknown>).polluted, undefined, "nothing leaked into Object.prototype");
      await waitFor(async () => {
        const [m, e] = await Promise.all([http("GET", key(cors, "proto-lww")), http("GET", key(cors, "proto-set"))]);
        return Object.keys(m.body?.value ?? {}).length === 3 && own(m.body.value, "__proto__")?.n === 0 && own(e.body?.value?.[0] ?? {}, "__proto__")?.polluted === true;
      }, { message: "a peer holds the same fields" });
      await waitFor(() => {
        const last = [...sse.events].reverse().find((e) => e.data.key === "proto-lww");
        return last !== undefined && Object.keys(last.data.value).length === 3 && own(last.data.value, "__proto__")?.n === 0;
      }, { message: "the watch shows the __proto__ field", describe: () => sse.events.map((e) => e.data) });
      const init = await openSse(`${plain.url}/v1/watch?prefix=proto-&initial=1`);
      try {
        await waitFor(() => init.events.some((e) => e.event === "snapshot" && e.data.key === "proto-pn" && own(e.data.value, "__proto__") === 1), {
          message: "the initial snapshot has it too",
        });
      } finally {
        init.close();
      }
    } finally {
      sse.close();
    }
  });

  test("invalid UTF-8 in a body is 400, not U+FFFD", async () => {
    const bytes = Buffer.concat([Buffer.from('{"type":"gset","op":"add","value":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const r = await raw("POST", key(plain, "utf8-k"), JSON_CT, bytes);
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.error, /UTF-8/);
    const overlong = Buffer.concat([Buffer.from('{"type":"gset","op":"add","value":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
    assert.equal((await raw("POST", key(plain, "utf8-k"), JSON_CT, overlong)).status, 400);
    assert.equal((await http("GET", key(plain, "utf8-k"))).status, 404, "nothing was written");
    const fine = await raw("POST", key(plain, "utf8-k"), JSON_CT, Buffer.from('{"type":"gset","op":"add","value":"é✓😀"}'));
    assert.deepEqual(fine.body.value, ["é✓😀"]);
  });

  test("null, strings, booleans or non-finite numbers where a number is required are 400 naming the field", async () => {
    const cases: [string, RegExp][] = [
      ['{"type":"gcounter","op":"increment","by":null}', /^by must be .*got null/],
      ['{"type":"gcounter","op":"increment","by":"2"}', /^by must be .*got "2"/],
      ['{"type":"gcounter","op":"increment","by":true}', /^by must be /],
      ['{"type":"gcounter","op":"increment","by":1e400}', /^by must be /],
      ['{"type":"pncounter","op":"decrement","by":null}', /^by must be /],
      ['{"type":"pncountermap","op":"increment","field":"f","by":null}', /^by must be /],
      ['{"type":"ormap","op":"update","field":"f","valueType":"pncounter","update":{"op":"increment","by":null}}', /^update\.by must be /],
      ['{"type":"lwwregister","op":"set","value":1,"timestamp":null}', /^timestamp must be /],
      ['{"type":"lwwmap","op":"put","field":"f","value":1,"timestamp":-1e400}', /^timestamp must be /],
    ];
    for (const [body, pattern] of cases) {
      const r = await raw("POST", key(plain, "num-k"), JSON_CT, body);
      assert.equal(r.status, 400, `${body}: ${r.text}`);
      assert.match(r.body.error, pattern, body);
    }
    assert.equal((await http("GET", key(plain, "num-k"))).status, 404, "nothing was written");
    assert.equal((await raw("POST", key(plain, "num-k"), JSON_CT, '{"type":"gcounter","op":"increment"}')).body.value, 1, "absent still means 1");
  });

  test("HEAD is answered on every GET route, /v1/watch included (headers, then the end)", async () => {
    await http("POST", key(plain, "head-k"), { type: "flag", op: "enable" });
    const routes = ["/healthz", "/readyz", "/metrics", "/", "/favicon.ico", "/v1/cluster", "/v1/stats", "/v1/keys", "/v1/keys/head-k", "/v1/keys/head-none"];
    for (const path of routes) {
      const get = await raw("GET", plain.url + path);
      const head = await raw("HEAD", plain.url + path, {}, undefined, 5_000);
      assert.equal(head.status, get.status, path);
      assert.equal(head.text, "", path);
      assert.equal(String(head.headers["content-type"]).split(";")[0], String(get.headers["content-type"]).split(";")[0], path);
    }
    const watch = await raw("HEAD", `${plain.url}/v1/watch`, {}, undefined, 5_000);
    assert.equal(watch.status, 200);
    assert.match(String(watch.headers["content-type"]), /text\/event-stream/);
    assert.equal(watch.text, "");
    assert.equal((await http("GET", `${plain.url}/v1/stats`)).body.watchers.open, 0, "a HEAD holds no watcher");
  });
});
