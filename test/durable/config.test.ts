/**
 * An unusable snapshot directory fails `Replicator.start` with a ConfigError naming the path,
 * before anything connects; a missing leaf directory is created; a start that fails after the
 * database was opened releases it.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { ConfigError, ConnectionError, Key, Replicator, type ReplicatorOptions } from "../../src/index.js";
import { FAST } from "../helpers/cluster.js";
import { freePort, startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { removeTempDirs, tempDir } from "./helpers.js";

const run = promisify(execFile);

describe("snapshot.dir problems", () => {
  let server: NatsServer;
  let root: string;
  before(async () => {
    server = await startNatsServer();
    root = tempDir();
  });
  after(async () => {
    await server?.stop();
    removeTempDirs();
  });
  const options = (dir: string, nodeId = "n"): ReplicatorOptions => ({
    nodeId,
    nats: { servers: server.url },
    ...FAST,
    snapshot: { dir, intervalMs: 60_000 },
  });
  const rejectsNaming = async (dir: string, pattern: RegExp): Promise<void> => {
    await assert.rejects(Replicator.start(options(dir)), (e: unknown) => {
      assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
      assert.equal(e.name, "ConfigError");
      assert.ok(e.message.includes(dir), `the message names ${dir}: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    });
  };

  test("a missing parent directory", async () => {
    const dir = join(root, "no-such-parent", "snap");
    await rejectsNaming(dir, /parent directory .* does not exist/);
    assert.equal(existsSync(join(root, "no-such-parent")), false, "nothing was created");
  });

  test("a path that is a file", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "hello");
    await rejectsNaming(file, /is a file, not a directory/);
    await rejectsNaming(join(file, "snap"), /is not a directory/);
  });

  test("a non-empty directory that is not a LevelDB", async () => {
    const dir = join(root, "home-like");
    mkdirSync(dir);
    writeFileSync(join(dir, "notes.txt"), "mine");
    await rejectsNaming(dir, /not empty and holds no LevelDB/);
  });

  test("a parent without write permission", async () => {
    const parent = join(root, "read-only");
    mkdirSync(parent);
    chmodSync(parent, 0o555);
    try {
      // Root ignores permissions (CAP_DAC_OVERRIDE), so the start runs in a child that keeps uid 0
      // (it can still read the checkout, wherever it is) but holds no capabilities.
      const fixture = fileURLToPath(new URL("./fixtures/start-with-snapshot.ts", import.meta.url));
      const command = [process.execPath, "--import", "tsx", fixture, server.url, join(parent, "snap")];
      const argv = process.getuid?.() === 0 ? ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", ...command] : command;
      const { stdout } = await run(argv[0]!, argv.slice(1), { cwd: process.cwd(), timeout: 60_000 });
      const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as { ok: boolean; name?: string; message?: string };
      assert.equal(result.ok, false, "start must fail");
      assert.equal(result.name, "ConfigError");
      assert.ok(result.message?.includes(join(parent, "snap")), result.message);
      assert.match(result.message!, /cannot be created/);
    } finally {
      chmodSync(parent, 0o755);
    }
  });

  test("a directory in use by another replicator", async () => {
    const dir = join(root, "shared");
    const first = await Replicator.start(options(dir, "one"));
    try {
      await rejectsNaming(dir, /in use by another process/);
      await first.update(Key.gcounter("still-fine"), (v, self) => v.increment(self, 1));
    } finally {
      await first.close();
    }
  });

  test("the leaf directory is created when its parent exists", async () => {
    const dir = join(root, "fresh-leaf");
    const r = await Replicator.start(options(dir));
    await r.close();
    assert.ok(statSync(dir).isDirectory());
    assert.ok(existsSync(join(dir, "CURRENT")));
  });

  test("a start that fails to connect releases the directory for the next attempt", async () => {
    const dir = join(root, "retry");
    const deadPort = await freePort();
    await assert.rejects(
      Replicator.start({ ...options(dir), nats: { servers: `nats://127.0.0.1:${deadPort}`, timeout: 2_000 } }),
      (e: unknown) => e instanceof ConnectionError || (e instanceof Error && !(e instanceof ConfigError)),
    );
    const r = await Replicator.start(options(dir));
    await r.close();
  });
});
