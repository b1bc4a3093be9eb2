/**
 * crdt-node secrets in its configuration: NATS login (flags, variables, credentials in the URL),
 * the message-authentication keys (NodeConfig.security), HTTPS files. Good input gives exactly the
 * expected shape; bad input is a ConfigError naming the flag and its variable, never the secret.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { nkeys } from "@nats-io/transport-node";
import { ConfigError } from "../../src/errors.js";
import { parseConfig, replicatorOptions, type NodeConfig } from "../../packages/crdt-node/src/config.js";

const dir = mkdtempSync(join(tmpdir(), "crdt-credentials-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function config(argv: string[], env: Record<string, string> = {}): NodeConfig {
  const r = parseConfig(["--node-id", "n1", ...argv], env);
  assert.ok("config" in r, "expected a config, got help");
  return r.config;
}

/** A ConfigError matching `pattern`, whose message does not contain `secret`. */
function rejects(argv: string[], env: Record<string, string>, pattern: RegExp, secret?: string): void {
  assert.throws(
    () => parseConfig(["--node-id", "n1", ...argv], env),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, pattern);
      if (secret !== undefined) assert.ok(!e.message.includes(secret), `the message shows the secret: ${e.message}`);
      return true;
    },
  );
}

const seedOf = (kp: ReturnType<typeof nkeys.createUser>): string => new TextDecoder().decode(kp.getSeed());
const user = nkeys.createUser();
const userSeed = seedOf(user);
const creds = file("node.creds", "-----BEGIN NATS USER JWT-----\neyJ0eXAi.x.y\n------END NATS USER JWT------\n");
const pem = file("some.pem", "-----BEGIN CERTIFICATE-----\n");

describe("crdt-node NATS login", () => {
  test("each kind from flags or variables, passed to the connection and to remote DCs", () => {
    assert.deepEqual(config(["--nats-user", "u", "--nats-pass", "p"]).natsLogin, { user: "u", pass: "p" });
    assert.deepEqual(config([], { CRDT_NATS_USER: "u", CRDT_NATS_PASS: "p" }).natsLogin, { user: "u", pass: "p" });
    assert.deepEqual(config([], { CRDT_NATS_TOKEN: "t" }).natsLogin, { token: "t" });
    assert.deepEqual(config(["--nats-nkey", userSeed]).natsLogin, { nkey: userSeed });
    assert.deepEqual(config([], { CRDT_NATS_NKEY: file("user.nk", `\n${userSeed}\n`) }).natsLogin, { nkey: userSeed }, "a seed file, whitespace trimmed");
    assert.deepEqual(config(["--nats-creds", creds]).natsLogin, { credsFile: creds });
    assert.deepEqual(config(["--nats-tls-ca", pem]).natsLogin, { tls: { caFile: pem } });
    assert.deepEqual(config([], { CRDT_NATS_TLS_CERT: pem, CRDT_NATS_TLS_KEY: pem, CRDT_NATS_TLS_CA: pem, CRDT_NATS_TOKEN: "t" }).natsLogin, {
      token: "t",
      tls: { caFile: pem, certFile: pem, keyFile: pem },
    });
    const c = config(["--nats-token", "t", "--nats-tls-ca", pem, "--remote-dc", "west=nats://w:4222", "--remote-dc", "south=nats://s:pw@s:4222"]);
    const o = replicatorOptions(c);
    assert.deepEqual(o.nats, { servers: ["nats://127.0.0.1:4222"], name: "crdt-node n1", token: "t", tls: { caFile: pem } });
    assert.deepEqual(o.dataCenterReplication?.remotes, [
      { name: "west", servers: ["nats://w:4222"], connection: { token: "t", tls: { caFile: pem } } },
      { name: "south", servers: ["nats://s:4222"], connection: { user: "s", pass: "pw", tls: { caFile: pem } } },
    ]);
  });

  test("credentials in the NATS URL become the login and leave the URL", () => {
    const c = config(["--nats", "nats://crdt:p%40ss@a:4222,nats://b:4222"]);
    assert.deepEqual(c.nats, ["nats://a:4222", "nats://b:4222"]);
    assert.deepEqual(c.natsLogin, { user: "crdt", pass: "p@ss" });
    assert.deepEqual(config([], { CRDT_NATS_URL: "tls://s3cr3t@a:4222" }).natsLogin, { token: "s3cr3t" }, "a user without password is a token");
  });

  test("bad NATS login settings: the flag and the variable named, the secret not shown", () => {
    rejects(["--nats-user", "u"], {}, /--nats-user \/ CRDT_NATS_USER and --nats-pass \/ CRDT_NATS_PASS go together/);
    rejects([], { CRDT_NATS_PASS: "hunter22" }, /--nats-user \/ CRDT_NATS_USER and --nats-pass \/ CRDT_NATS_PASS go together/, "hunter22");
    rejects(["--nats-user", "u", "--nats-pass", "hunter22", "--nats-token", "tok"], {}, /one way to log in to NATS, not --nats-user \/ CRDT_NATS_USER and --nats-token \/ CRDT_NATS_TOKEN/, "hunter22");
    rejects(["--nats", "nats://u:hunter22@a:1", "--nats-token", "tok"], {}, /--nats \/ CRDT_NATS_URL: credentials in the URL and --nats-token \/ CRDT_NATS_TOKEN: keep one/, "hunter22");
    rejects(["--nats", "nats://u:hunter22@a:1,nats://u:other@b:1"], {}, /--nats \/ CRDT_NATS_URL: the URLs carry different credentials/, "hunter22");
    rejects(["--nats", "http://u:hunter22@a:1"], {}, /--nats \/ CRDT_NATS_URL: "http:\/\/\*\*\*@a:1" must be nats:\/\//, "hunter22");
    rejects(["--remote-dc", "w=nats://u:hunter22@a:1,nats://v:x@b:1"], {}, /--remote-dc \/ CRDT_REMOTE_DCS w: the URLs carry different credentials/, "hunter22");
    const account = seedOf(nkeys.createAccount());
    rejects(["--nats-nkey", account], {}, /--nats-nkey \/ CRDT_NATS_NKEY must be an nkey user seed/, account);
    rejects([], { CRDT_NATS_NKEY: file("bad.nk", "SUNOTASEED") }, /--nats-nkey \/ CRDT_NATS_NKEY must be an nkey user seed/, "SUNOTASEED");
    rejects(["--nats-nkey", join(dir, "missing.nk")], {}, /--nats-nkey \/ CRDT_NATS_NKEY: cannot read ".*missing\.nk" \(ENOENT\)/);
    rejects(["--nats-creds", join(dir, "missing.creds")], {}, /--nats-creds \/ CRDT_NATS_CREDS: cannot read/);
    rejects(["--nats-creds", pem], {}, /--nats-creds \/ CRDT_NATS_CREDS: .* is not a NATS \.creds file/);
    rejects(["--nats-tls-cert", pem], {}, /--nats-tls-cert \/ CRDT_NATS_TLS_CERT and --nats-tls-key \/ CRDT_NATS_TLS_KEY go together/);
    rejects([], { CRDT_NATS_TLS_CA: join(dir, "nope.pem") }, /--nats-tls-ca \/ CRDT_NATS_TLS_CA: cannot read/);
  });
});

describe("crdt-node message authentication keys (NodeConfig.security)", () => {
  const peer = nkeys.createUser();
  const trusted = file("trusted.json", JSON.stringify({ n1: user.getPublicKey(), "east-2": peer.getPublicKey() }));
  const nodeKey = file("n1.nk", `${userSeed}\n`);

  test("cluster key inline or from a file; node key with trusted keys; exactly the option's shape", () => {
    assert.deepEqual(config(["--cluster-key", "0123456789abcdef0123456789abcdef"]).security, { clusterKey: "0123456789abcdef0123456789abcdef" });
    assert.deepEqual(config([], { CRDT_CLUSTER_KEY_FILE: file("cluster.key", "  0123456789abcdef0123456789abcdefXYZ\n") }).security, { clusterKey: "0123456789abcdef0123456789abcdefXYZ" });
    assert.deepEqual(config(["--node-key-file", nodeKey], { CRDT_TRUSTED_KEYS: trusted }).security, {
      nodeKey: userSeed,
      trustedKeys: { n1: user.getPublicKey(), "east-2": peer.getPublicKey() },
    });
    assert.deepEqual(config(["--cluster-key", "0123456789abcdef0123456789abcdef"], { CRDT_NODE_KEY_FILE: nodeKey, CRDT_TRUSTED_KEYS: trusted }).security, {
      clusterKey: "0123456789abcdef0123456789abcdef",
      nodeKey: userSeed,
      trustedKeys: { n1: user.getPublicKey(), "east-2": peer.getPublicKey() },
    });
    assert.equal(config([]).security, undefined);
  });

  test("bad keys: the flag and the variable named, the secret not shown", () => {
    rejects(["--cluster-key", "short-secret"], {}, /--cluster-key \/ CRDT_CLUSTER_KEY: the cluster key must have at least 32 bytes/, "short-secret");
    rejects([], { CRDT_CLUSTER_KEY_FILE: file("short.key", "tiny\n") }, /--cluster-key-file \/ CRDT_CLUSTER_KEY_FILE: the cluster key must have at least 32/, "tiny");
    rejects(["--cluster-key", "0123456789abcdef0123456789abcdef", "--cluster-key-file", trusted], {}, /--cluster-key \/ CRDT_CLUSTER_KEY and --cluster-key-file \/ CRDT_CLUSTER_KEY_FILE: give one/, "0123456789abcdef0123456789abcdef");
    rejects([], { CRDT_CLUSTER_KEY_FILE: join(dir, "none.key") }, /--cluster-key-file \/ CRDT_CLUSTER_KEY_FILE: cannot read/);
    rejects(["--node-key-file", nodeKey], {}, /--node-key-file \/ CRDT_NODE_KEY_FILE and --trusted-keys \/ CRDT_TRUSTED_KEYS go together/);
    rejects(["--trusted-keys", trusted], {}, /--node-key-file \/ CRDT_NODE_KEY_FILE and --trusted-keys \/ CRDT_TRUSTED_KEYS go together/);
    rejects(["--node-key-file", file("junk.nk", "SUJUNK"), "--trusted-keys", trusted], {}, /--node-key-file \/ CRDT_NODE_KEY_FILE: .* does not hold an nkey seed/, "SUJUNK");
    const bad = (name: string, text: string): string[] => ["--node-key-file", nodeKey, "--trusted-keys", file(name, text)];
    rejects(bad("t1.json", "{ not json"), {}, /--trusted-keys \/ CRDT_TRUSTED_KEYS \(.*t1\.json\) is not JSON/);
    rejects(bad("t2.json", `["${peer.getPublicKey()}"]`), {}, /--trusted-keys \/ CRDT_TRUSTED_KEYS .* must be a JSON object of node id → public nkey/);
    rejects(bad("t3.json", `{"bad id": "${peer.getPublicKey()}"}`), {}, /--trusted-keys \/ CRDT_TRUSTED_KEYS .*: "bad id" is not a node id/);
    rejects(bad("t4.json", `{"east-2": "UNOTAKEY"}`), {}, /--trusted-keys \/ CRDT_TRUSTED_KEYS .*: the key of east-2 is not a public nkey/);
    rejects(bad("t5.json", `{"east-2": "${userSeed}"}`), {}, /the key of east-2 is not a public nkey/, userSeed);
    rejects(bad("t6.json", "{}"), {}, /--trusted-keys \/ CRDT_TRUSTED_KEYS .* lists no node/);
    rejects(bad("t7.json", `{"n1": "${peer.getPublicKey()}"}`), {}, /--trusted-keys \/ CRDT_TRUSTED_KEYS lists U\w+ for this node \(n1\), but --node-key-file \/ CRDT_NODE_KEY_FILE holds the key of U\w+/, userSeed);
  });
});

describe("crdt-node HTTPS files", () => {
  test("both or neither, readable", () => {
    assert.deepEqual(config(["--tls-cert", pem, "--tls-key", pem]).https, { certFile: pem, keyFile: pem });
    assert.deepEqual(config([], { CRDT_HTTP_TLS_CERT: pem, CRDT_HTTP_TLS_KEY: pem }).https, { certFile: pem, keyFile: pem });
    rejects(["--tls-cert", pem], {}, /--tls-cert \/ CRDT_HTTP_TLS_CERT and --tls-key \/ CRDT_HTTP_TLS_KEY go together/);
    rejects([], { CRDT_HTTP_TLS_CERT: pem, CRDT_HTTP_TLS_KEY: join(dir, "none.key") }, /--tls-key \/ CRDT_HTTP_TLS_KEY: cannot read/);
  });
});

test("--help lists the secret flags with their variables and shows no value from the environment", () => {
  const env = { CRDT_NATS_PASS: "hunter22", CRDT_NATS_TOKEN: "tok-99", CRDT_CLUSTER_KEY: "0123456789abcdef0123456789abcdefSECRET" };
  const r = parseConfig(["--help"], env);
  assert.ok("help" in r);
  for (const s of ["--nats-user", "NATS_USER", "--nats-pass", "NATS_PASS", "--nats-token", "NATS_TOKEN", "--nats-nkey", "NATS_NKEY", "--nats-creds", "NATS_CREDS", "--nats-tls-ca", "NATS_TLS_CA", "--nats-tls-cert", "NATS_TLS_CERT", "--nats-tls-key", "NATS_TLS_KEY", "--cluster-key", "CLUSTER_KEY", "--cluster-key-file", "CLUSTER_KEY_FILE", "--node-key-file", "NODE_KEY_FILE", "--trusted-keys", "TRUSTED_KEYS", "--tls-cert", "HTTP_TLS_CERT", "--tls-key", "HTTP_TLS_KEY"]) {
    assert.ok(r.help.includes(s), `help mentions ${s}`);
  }
  for (const secret of Object.values(env)) assert.ok(!r.help.includes(secret));
});
