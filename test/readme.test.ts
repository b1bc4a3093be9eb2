/**
 * The README's opening example runs as written: its first ```ts block, pointed at a test server
 * (the only edits: the server URL, and the package name resolved to this checkout's source), runs
 * in a process of its own and prints what the example reads.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { startNatsServer, type NatsServer } from "./helpers/nats-server.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

let server: NatsServer;
before(async () => {
  server = await startNatsServer();
});
after(async () => {
  await server?.stop();
});

test("the README's first example runs as written and prints its reads", async () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example !== undefined, "the README opens with a ```ts example");
  assert.ok(example.includes('from "crdt-replicator"') && example.includes("nats://127.0.0.1:4222"));
  const source = example
    .replace('from "crdt-replicator"', `from ${JSON.stringify(pathToFileURL(join(ROOT, "src", "index.ts")).href)}`)
    .replace("nats://127.0.0.1:4222", server.url);
  const dir = join(ROOT, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "readme-example.ts");
  writeFileSync(file, source);
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", file], { cwd: ROOT, timeout: 60_000 });
  assert.deepEqual(stdout.trim().split("\n"), ["1", "[ 'alice' ]"]);
});
