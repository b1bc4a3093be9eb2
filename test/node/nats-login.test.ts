/**
 * crdt-node logs in to a real nats-server configured for each credential kind: user/password
 * (flags, variables, or in the URL), token, nkey, a JWT .creds file, TLS with a CA made by openssl,
 * and mutual TLS. With the right credentials the node gets ready and a write over HTTP works; with
 * wrong ones /readyz answers 503 saying the authentication failed at which server, without the
 * secret. Also: HTTPS for the node's own API, on a real crdt-node process.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { nkeys } from "@nats-io/transport-node";
import { parseConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { jwtSetup } from "../helpers/nats-jwt.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { makePki, type TestPki } from "../helpers/tls-certs.js";
import { waitFor } from "../helpers/wait.js";
import { http, spawnNode, waitReady } from "./helpers.js";

const quiet = { log: () => undefined };

let pki: TestPki;
let otherPki: TestPki;
before(() => {
  pki = makePki("crdt-test-ca");
  otherPki = makePki("untrusted-ca");
});
after(() => {
  pki?.remove();
  otherPki?.remove();
});

/** A file in the test PKI's temp dir (removed with it). */
function file(name: string, text: string): string {
  const path = join(pki.dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

async function daemon(nodeId: string, args: string[], env: Record<string, string> = {}): Promise<Daemon> {
  const r = parseConfig(["--node-id", nodeId, "--http", "127.0.0.1:0", ...args], env);
  assert.ok("config" in r);
  return startDaemon(r.config, quiet);
}

/** Ready, and a write over HTTP answers 200 with the new value. */
async function assertWorks(d: Daemon): Promise<void> {
  await waitReady(d.url, {}, 30_000);
  const w = await http("POST", `${d.url}/v1/keys/visits`, { type: "gcounter", op: "increment", by: 3 });
  assert.equal(w.status, 200, w.text);
  assert.equal(w.body.value, 3);
}

/** /readyz: 503, naming an authentication failure at `server`, never showing `secret`. */
async function assertAuthFailed(d: Daemon, server: NatsServer, secret: string): Promise<void> {
  let last = "";
  await waitFor(async () => {
    const r = await http("GET", `${d.url}/readyz`);
    last = r.text;
    return r.status === 503 && /authentication failed/.test(r.body?.reason);
  }, { timeoutMs: 30_000, message: "/readyz names the authentication failure", describe: () => last });
  assert.ok(last.includes(`127.0.0.1:${server.port}`), `names the server: ${last}`);
  assert.ok(!last.includes(secret), `shows no secret: ${last}`);
  assert.equal((await http("POST", `${d.url}/v1/keys/visits`, { type: "gcounter", op: "increment" })).status, 503);
}

/** Start a server, check the right login works and the wrong one is named on /readyz, stop all. */
async function check(config: string, good: { args: string[]; env?: Record<string, string> }, bad: { args: string[]; env?: Record<string, string>; secret: string }): Promise<void> {
  const server = await startNatsServer({ config });
  const nodes: Daemon[] = [];
  try {
    const url = (args: string[]) => args.map((a) => a.replace("$URL", server.url).replace("$PORT", String(server.port)));
    const right = await daemon("right", url(["--nats", "$URL", ...good.args]), good.env);
    nodes.push(right);
    const wrong = await daemon("wrong", url(["--nats", "$URL", ...bad.args]), bad.env);
    nodes.push(wrong);
    await assertWorks(right);
    await assertAuthFailed(wrong, server, bad.secret);
  } finally {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await server.stop();
  }
}

const USERS = `authorization { users = [ { user: "crdt", password: "right-pass-1" } ] }`;

describe("crdt-node logs in to NATS", () => {
  test("user and password, from the variables; a wrong password is named on /readyz", async () => {
    await check(USERS, { args: [], env: { CRDT_NATS_USER: "crdt", CRDT_NATS_PASS: "right-pass-1" } }, { args: ["--nats-user", "crdt", "--nats-pass", "wrong-pass-2"], secret: "wrong-pass-2" });
  });

  test("user and password inside the NATS URL", async () => {
    await check(USERS, { args: ["--nats", "nats://crdt:right-pass-1@127.0.0.1:$PORT"] }, { args: ["--nats", "nats://crdt:wrong-pass-3@127.0.0.1:$PORT"], secret: "wrong-pass-3" });
  });

  test("token", async () => {
    await check(`authorization { token: "right-token-1" }`, { args: ["--nats-token", "right-token-1"] }, { args: [], env: { CRDT_NATS_TOKEN: "wrong-token-2" }, secret: "wrong-token-2" });
  });

  test("nkey, from a seed file; another seed is refused", async () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const stranger = new TextDecoder().decode(nkeys.createUser().getSeed());
    await check(
      `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }`,
      { args: ["--nats-nkey", file("user.nk", `${seed}\n`)] },
      { args: ["--nats-nkey", stranger], secret: stranger },
    );
  });

  test("a JWT .creds file; a user of another account is refused", async () => {
    const jwt = jwtSetup();
    await check(jwt.serverConfig, { args: ["--nats-creds", file("node.creds", jwt.userCreds("node"))] }, { args: [], env: { CRDT_NATS_CREDS: file("stranger.creds", jwt.strangerCreds()) }, secret: "SU" });
  });

  test("credentials revoked while running: /readyz names the authentication failure", async () => {
    const server = await startNatsServer({ config: USERS });
    const d = await daemon("revoked", ["--nats", server.url], { CRDT_NATS_USER: "crdt", CRDT_NATS_PASS: "right-pass-1" });
    try {
      await assertWorks(d);
      server.reload(USERS.replace("right-pass-1", "rotated-pass-2"));
      await waitFor(async () => {
        const r = await http("GET", `${d.url}/readyz`);
        return r.status === 503 && /^NATS authentication failed at nats:\/\/127\.0\.0\.1:\d+: .*restart the node$/.test(r.body?.reason);
      }, { timeoutMs: 30_000, message: "/readyz names the refused credentials" });
    } finally {
      await d.close();
      await server.stop();
    }
  });

  test("TLS: the server's certificate is checked against --nats-tls-ca; another CA is not trusted", async () => {
    const cert = pki.server("nats-tls");
    const server = await startNatsServer({ config: `tls { cert_file: "${cert.cert}", key_file: "${cert.key}" }` });
    const nodes: Daemon[] = [];
    try {
      const right = await daemon("tls-right", ["--nats", server.url, "--nats-tls-ca", pki.ca.cert]);
      nodes.push(right);
      const wrong = await daemon("tls-wrong", ["--nats", server.url, "--nats-tls-ca", otherPki.ca.cert]);
      nodes.push(wrong);
      await assertWorks(right);
      await waitFor(async () => {
        const r = await http("GET", `${wrong.url}/readyz`);
        return r.status === 503 && /starting: NATS server unreachable at nats:\/\/127\.0\.0\.1:\d+.*certificate/i.test(r.body?.reason);
      }, { timeoutMs: 30_000, message: "/readyz says the server's certificate is not trusted" });
    } finally {
      await Promise.allSettled(nodes.map((n) => n.close()));
      await server.stop();
    }
  });

  test("mutual TLS: the server verifies --nats-tls-cert/--nats-tls-key; no client certificate, no connection", async () => {
    const cert = pki.server("nats-mtls");
    const client = pki.client("crdt-node");
    const server = await startNatsServer({ config: `tls { cert_file: "${cert.cert}", key_file: "${cert.key}", ca_file: "${pki.ca.cert}", verify: true }` });
    const nodes: Daemon[] = [];
    try {
      const right = await daemon("mtls-right", ["--nats", server.url, "--nats-tls-ca", pki.ca.cert], { NATS_TLS_CERT: client.cert, NATS_TLS_KEY: client.key });
      nodes.push(right);
      const anonymous = await daemon("mtls-anonymous", ["--nats", server.url, "--nats-tls-ca", pki.ca.cert]);
      nodes.push(anonymous);
      await assertWorks(right);
      await waitFor(async () => {
        const r = await http("GET", `${anonymous.url}/readyz`);
        return r.status === 503 && /^starting: NATS server unreachable at nats:\/\/127\.0\.0\.1:\d+/.test(r.body?.reason);
      }, { timeoutMs: 30_000, message: "/readyz says the node cannot connect" });
      assert.equal((await http("GET", `${anonymous.url}/readyz`)).status, 503);
    } finally {
      await Promise.allSettled(nodes.map((n) => n.close()));
      await server.stop();
    }
  });
});

/** A request over HTTPS trusting only `ca`; `json` is sent as the body. */
function overHttps(method: string, url: string, ca: Buffer, json?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = json === undefined ? {} : { "content-type": "application/json" };
    const req = httpsRequest(url, { method, ca, headers, timeout: 15_000 }, (res) => {
      let body = "";
      res.on("data", (b: Buffer) => (body += b.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on("error", reject);
    req.end(json === undefined ? undefined : JSON.stringify(json));
  });
}

describe("crdt-node serves its API over HTTPS", () => {
  test("--tls-cert/--tls-key: a client trusting the CA gets /healthz, /readyz and a write over https; the password stays out of the output", async () => {
    const server = await startNatsServer({ config: USERS });
    const cert = pki.server("api");
    const node = await spawnNode(["--node-id", "https-1", "--nats", server.url, "--tls-cert", cert.cert, "--tls-key", cert.key], { CRDT_NATS_USER: "crdt", CRDT_NATS_PASS: "right-pass-1" });
    try {
      assert.match(node.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(pki.ca.cert);
      const health = await overHttps("GET", `${node.url}/healthz`, ca);
      assert.equal(health.status, 200);
      assert.equal(JSON.parse(health.body).node, "https-1");
      await waitFor(async () => (await overHttps("GET", `${node.url}/readyz`, ca)).status === 200, { timeoutMs: 30_000, message: "ready over https" });
      const write = await overHttps("POST", `${node.url}/v1/keys/secure`, ca, { type: "gcounter", op: "increment", by: 4 });
      assert.equal(write.status, 200, write.body);
      assert.equal(JSON.parse(write.body).value, 4);
      await assert.rejects(overHttps("GET", `${node.url}/healthz`, readFileSync(otherPki.ca.cert)), /self[- ]signed|unable to verify|certificate/i, "a client trusting another CA refuses the server");
      assert.ok(!node.output().includes("right-pass-1"), node.output());
    } finally {
      await node.stop();
      await server.stop();
    }
  });
});
