/**
 * Every example in examples/ runs as documented (`npx tsx examples/<name>.ts`, its `crdt-replicator`
 * resolved to this checkout) against a real nats-server, and prints what it promises. The daemon
 * example talks to a real crdt-node.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startNatsServer, type NatsServer } from "./helpers/nats-server.js";
import { spawnNode, type NodeProcess } from "./node/helpers.js";
import { run } from "./package/run.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

let server: NatsServer;
before(async () => {
  server = await startNatsServer();
});
after(async () => {
  await server?.stop();
});

async function example(name: string, env: Record<string, string> = {}): Promise<string[]> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", join("examples", name)], {
    cwd: ROOT,
    env: { ...process.env, NATS_URL: server.url, ...env },
    timeoutMs: 120_000,
  });
  return stdout.trim().split("\n");
}

describe("examples", () => {
  test("each example has a test here", () => {
    assert.deepEqual(readdirSync(join(ROOT, "examples")).sort(), ["daemon-http.ts", "majority-counter.ts", "two-replicas.ts"]);
  });

  test("two-replicas: both replicas end up with both elements", async () => {
    assert.deepEqual(await example("two-replicas.ts"), ["alice sees [ 'alice', 'bob' ]", "bob sees [ 'alice', 'bob' ]"]);
  });

  test("majority-counter: a majority read on the third node sees both majority writes", async () => {
    assert.deepEqual(await example("majority-counter.ts"), ["orders on n3 (majority read): 5"]);
  });

  test("daemon-http: writes and reads through a running crdt-node", async () => {
    let node: NodeProcess | undefined;
    try {
      node = await spawnNode(["--node-id", "example-1", "--nats", server.url], {}, 60_000);
      assert.deepEqual(await example("daemon-http.ts", { CRDT_NODE_URL: node.url }), [
        "visits 3",
        "tags [ 'new', 'sale' ]",
        "keys [ 'tags:orset', 'visits:gcounter' ]",
      ]);
    } finally {
      await node?.stop();
    }
  });
});
