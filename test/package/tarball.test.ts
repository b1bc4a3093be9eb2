/**
 * The packages the way users arrive (issue 14): both packages packed with `npm pack`, installed from
 * their tarballs into empty projects (their dependencies from the registry), then used. One library
 * install serves the ESM, CommonJS and strict TypeScript consumers, each a two-node convergence
 * against a real nats-server; a second project installs the daemon and runs `crdt-node` from it.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort, startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { run, start, stop } from "./run.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CONSUMERS = fileURLToPath(new URL("./consumers", import.meta.url));
const NPM_INSTALL = ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"];

interface Packed {
  filename: string;
  files: { path: string }[];
}

let server: NatsServer;
let work: string;
let library: Packed;
let daemon: Packed;
/** The empty project the library alone is installed into. */
let libraryProject: string;

async function pack(args: string[]): Promise<Packed> {
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work, ...args], { cwd: ROOT, timeoutMs: 600_000 });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as Packed[];
  return packed!;
}

function emptyProject(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true }));
  return dir;
}

/** The packages an install put in `project`'s node_modules (npm's hidden lockfile). */
function installed(project: string): string[] {
  const lock = JSON.parse(readFileSync(join(project, "node_modules", ".package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
  return Object.keys(lock.packages).map((p) => p.slice(p.lastIndexOf("node_modules/") + "node_modules/".length));
}

function consumer(file: string): Promise<{ stdout: string }> {
  return run(process.execPath, [file], { cwd: libraryProject, env: { ...process.env, NATS_URL: server.url }, timeoutMs: 120_000 });
}

before(async () => {
  server = await startNatsServer();
  work = mkdtempSync(join(tmpdir(), "crdt-packages-"));
  library = await pack([]); // prepack builds the library
  daemon = await pack(["-w", "crdt-node"]); // then the daemon, against the library's fresh build
  libraryProject = emptyProject("library-user");
  await run("npm", [...NPM_INSTALL, join(work, library.filename)], { cwd: libraryProject, timeoutMs: 600_000 });
  for (const f of readdirSync(CONSUMERS)) copyFileSync(join(CONSUMERS, f), join(libraryProject, f));
});

after(async () => {
  await server?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("the packed packages", () => {
  test("each tarball has its LICENSE, README and manifest; the library's has the changelog, no daemon and no ts-proto output", () => {
    for (const p of [library, daemon]) {
      const files = p.files.map((f) => f.path);
      for (const f of ["LICENSE", "README.md", "package.json"]) assert.ok(files.includes(f), `${p.filename} has ${f}`);
      assert.ok(!files.some((f) => f.startsWith("test/") || f.endsWith(".test.js")), `${p.filename} ships no tests`);
    }
    const files = library.files.map((f) => f.path);
    assert.ok(files.includes("CHANGELOG.md"));
    assert.ok(files.includes("dist/src/index.js") && files.includes("dist/src/index.d.ts"));
    assert.deepEqual(files.filter((f) => /(^|\/)(gen\/crdt|bin\/|node\/)/.test(f) || f.startsWith("packages/")), [], "no ts-proto code, no daemon");
    const daemonFiles = daemon.files.map((f) => f.path);
    assert.ok(daemonFiles.includes("dist/bin/crdt-node.js") && daemonFiles.includes("src/dashboard.html"));
  });

  test("the library's source maps carry their sources: none points at a file the tarball lacks", () => {
    const dist = join(libraryProject, "node_modules", "crdt-replicator", "dist");
    const maps = readdirSync(dist, { recursive: true }).map(String).filter((f) => f.endsWith(".map"));
    assert.ok(maps.length > 50, `found ${maps.length} source maps`);
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(dist, m), "utf8")) as { sources: string[]; sourcesContent?: (string | null)[] };
      assert.equal(map.sourcesContent?.length, map.sources.length, `${m} inlines its sources`);
      assert.ok(map.sourcesContent!.every((s) => typeof s === "string" && s.length > 0), `${m} inlines its sources`);
    }
  });

  test("a library user's install: at most 25 packages, no HTTP framework, CLI parser or OpenTelemetry SDK", () => {
    const names = installed(libraryProject);
    assert.ok(names.includes("crdt-replicator"));
    assert.ok(names.length <= 25, `${names.length} packages: ${names.join(", ")}`);
    assert.deepEqual(names.filter((n) => n === "fastify" || n === "commander" || n.startsWith("@opentelemetry/sdk-") || n === "crdt-node"), []);
  });

  test("ESM: import, two replicas converge; importing loads no native addon, snapshots load LevelDB's", async () => {
    const { stdout } = await consumer("consumer.mjs");
    assert.deepEqual(stdout.trim().split("\n"), ["converged 5 5", "snapshots load classic-level"]);
  });

  test("CommonJS: require, two replicas converge, the library's error classes are the ones it throws", async () => {
    const { stdout } = await consumer("consumer.cjs");
    assert.deepEqual(stdout.trim().split("\n"), ["converged alice,bob", "typed error true"]);
  });

  // Not exactOptionalPropertyTypes: @nats-io/nats-core's own declarations fail it.
  test("strict TypeScript: compiles against the declarations (lib check on), two replicas converge", async () => {
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        types: ["node"],
        typeRoots: [join(ROOT, "node_modules", "@types")],
        outDir: "ts-out",
      },
      files: ["consumer.mts"],
    };
    writeFileSync(join(libraryProject, "tsconfig.json"), JSON.stringify(tsconfig));
    await run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], { cwd: libraryProject, timeoutMs: 180_000 });
    const { stdout } = await consumer(join("ts-out", "consumer.mjs"));
    assert.deepEqual(stdout.trim().split("\n"), ["converged hello"]);
  });

  test("the daemon from its tarball: npx crdt-node answers --help, and crdt-node serves its API against NATS", async () => {
    const project = emptyProject("daemon-user");
    await run("npm", [...NPM_INSTALL, join(work, library.filename), join(work, daemon.filename)], { cwd: project, timeoutMs: 600_000 });
    const { stdout } = await run("npx", ["--no-install", "crdt-node", "--help"], { cwd: project, timeoutMs: 120_000 });
    assert.match(stdout, /Usage: crdt-node/);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let node: ChildProcess | undefined;
    try {
      node = start(join(project, "node_modules", ".bin", "crdt-node"), ["--node-id", "packed-1", "--nats", server.url, "--http", `127.0.0.1:${port}`], { cwd: project });
      let output = "";
      node.stdout!.on("data", (b: Buffer) => (output += b.toString()));
      node.stderr!.on("data", (b: Buffer) => (output += b.toString()));
      await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok === true, { timeoutMs: 60_000, intervalMs: 200, message: "the packed crdt-node became ready", describe: () => output });
      const write = await fetch(`${base}/v1/keys/packed`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "gcounter", op: "increment", by: 4 }) });
      assert.equal(write.status, 200, await write.text());
      const read = (await (await fetch(`${base}/v1/keys/packed`)).json()) as { value: unknown };
      assert.equal(read.value, 4);
    } finally {
      if (node !== undefined) await stop(node);
    }
  });
});
