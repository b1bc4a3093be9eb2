/**
 * The README's opening example runs as written: its first ```ts block, pointed at a test server
 * (the only edits: the server URL, and the package name resolved to this checkout's source), runs
 * in a process of its own and prints what the example reads. And the daemon's configuration
 * section documents exactly what `crdt-node --help` lists.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { parseConfig } from "../packages/crdt-node/src/config.js";
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

test("the README's crdt-node configuration section and `crdt-node --help` list the same flags, variables and file keys", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("### Configuration: flags, variables, config file");
  assert.ok(start >= 0, "the daemon's configuration section");
  // The section: up to the next heading or the routes' table (another part of the daemon's docs).
  const rest = readme.slice(start).split("\n");
  const end = rest.findIndex((l, i) => i > 0 && (l.startsWith("##") || l.startsWith("| route")));
  const section = rest.slice(0, end).join("\n");
  const r = parseConfig(["--help"], {});
  assert.ok("help" in r);
  const set = (text: string, re: RegExp): string[] => [...new Set([...text.matchAll(re)].map((m) => m[1]!))].sort();
  const FLAG = /(?<![\w-])(--[a-z][a-z-]*[a-z])/g;
  const VARIABLE = /\b(CRDT_[A-Z_]*[A-Z])\b/g;
  assert.deepEqual(set(section, FLAG), set(r.help, FLAG), "every flag of --help is in the README, and the README names no other");
  assert.deepEqual(set(section, VARIABLE), set(r.help, VARIABLE), "every variable of --help is in the README, and the README names no other");
  // The third cell of a row (cells may hold escaped pipes: `<file\|seed>`).
  const FILE_KEY_CELL = /^\|(?:[^|\\]|\\.)*\|(?:[^|\\]|\\.)*\| `(\w+)` \|/gm;
  assert.deepEqual(set(section, FILE_KEY_CELL), set(r.help, /file\s+(\w+)\]/g), "every config-file key is in the table");
  for (const flag of set(r.help, FLAG)) {
    if (["--help", "--version", "--config"].includes(flag)) continue;
    assert.match(section, new RegExp(`^\\| \`${flag}[ \`]`, "m"), `${flag} has a row of its own`);
  }
});
