/**
 * `npm run docs` builds the API reference with typedoc and no warning (typedoc.json sets
 * treatWarningsAsErrors: a public member naming a type the package does not export fails it).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { run } from "./run.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

test("typedoc builds the API reference of the public API with zero warnings", async () => {
  const config = JSON.parse(readFileSync(join(ROOT, "typedoc.json"), "utf8")) as { treatWarningsAsErrors?: boolean; entryPoints?: string[] };
  assert.equal(config.treatWarningsAsErrors, true);
  assert.deepEqual(config.entryPoints, ["src/index.ts"]);
  const out = mkdtempSync(join(tmpdir(), "crdt-docs-"));
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, "node_modules", "typedoc", "bin", "typedoc"), "--out", out], { cwd: ROOT, timeoutMs: 300_000 });
    assert.doesNotMatch(stdout + stderr, /warning/i);
    assert.ok(existsSync(join(out, "classes", "Replicator.html")));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
