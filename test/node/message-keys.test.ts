/**
 * crdt-node with --cluster-key-file, --node-key-file and --trusted-keys: daemons sharing the key
 * replicate; a daemon with another cluster key, or with a signing key its peers do not trust, is
 * not a member and none of its writes reaches them.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createNodeKey } from "../../src/index.js";
import { parseConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { http, waitReady } from "./helpers.js";

describe("crdt-node message authentication flags", () => {
  const dir = mkdtempSync(join(tmpdir(), "crdt-keys-"));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const clusterKey = file("cluster.key", "k".repeat(40) + "\n");
  const otherKey = file("other.key", "x".repeat(40) + "\n");
  const keys = { a: createNodeKey(), b: createNodeKey(), rogue: createNodeKey() };
  // a and b trust each other; the rogue lists itself and them, but nobody lists the rogue.
  const trusted = file("trusted.json", JSON.stringify({ a: keys.a.publicKey, b: keys.b.publicKey }));
  const rogueTrusted = file("rogue-trusted.json", JSON.stringify({ a: keys.a.publicKey, b: keys.b.publicKey, rogue: keys.rogue.publicKey }));
  let server: NatsServer;
  const daemons: Daemon[] = [];

  async function node(id: string, flags: string[]): Promise<Daemon> {
    const r = parseConfig(["--node-id", id, "--http", "127.0.0.1:0", "--nats", server.url, ...flags], {});
    assert.ok("config" in r);
    const d = await startDaemon(r.config, { log: () => undefined });
    daemons.push(d);
    await waitReady(d.url, {}, 30_000);
    return d;
  }
  const signed = (id: keyof typeof keys, trust = trusted): string[] => [
    "--cluster-key-file", clusterKey, "--node-key-file", file(`${id}.nk`, keys[id].seed), "--trusted-keys", trust,
  ];
  const members = async (d: Daemon): Promise<string[]> =>
    ((await http("GET", `${d.url}/v1/cluster`)).body?.members ?? []).map((m: { node: string }) => m.node).sort();

  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await Promise.allSettled(daemons.map((d) => d.close()));
    await server?.stop();
  });

  test("shared keys replicate; another cluster key or an untrusted signer is no member and writes nothing into them", async () => {
    const a = await node("a", signed("a"));
    const b = await node("b", signed("b"));
    const stranger = await node("stranger", ["--cluster-key-file", otherKey]);
    const rogue = await node("rogue", signed("rogue", rogueTrusted));
    await waitFor(async () => JSON.stringify(await members(a)) === '["a","b"]' && JSON.stringify(await members(b)) === '["a","b"]', {
      timeoutMs: 20_000,
      message: "a and b see exactly each other",
    });
    for (const [d, by] of [[stranger, 100], [rogue, 1000]] as const) {
      assert.equal((await http("POST", `${d.url}/v1/keys/hits`, { type: "gcounter", op: "increment", by })).status, 200);
    }
    assert.equal((await http("POST", `${a.url}/v1/keys/hits`, { type: "gcounter", op: "increment", by: 1 })).status, 200);
    assert.equal((await http("POST", `${a.url}/v1/keys/marker?consistency=all`, { type: "flag", op: "enable" })).status, 200);
    await waitFor(async () => (await http("GET", `${b.url}/v1/keys/marker`)).body?.value === true, { timeoutMs: 20_000, message: "b has a's marker" });
    for (const d of [a, b]) {
      assert.equal((await http("GET", `${d.url}/v1/keys/hits`)).body?.value, 1, "only a's increment counts");
      assert.deepEqual(await members(d), ["a", "b"]);
    }
    const rejected = (await http("GET", `${a.url}/metrics`)).text;
    const counted = (reasons: string): boolean => new RegExp(`reason="(${reasons})"[^\\n]* [1-9]`).test(rejected);
    assert.ok(counted("bad-signature|unauthenticated"), "the stranger's messages (another cluster key) are counted as rejected");
    assert.ok(counted("untrusted-signer"), "the rogue's messages (a key nobody trusts) are counted as rejected");
  });
});
