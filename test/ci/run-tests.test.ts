/**
 * scripts/run-tests.mjs bounds every test file's wall-clock time: a file that hangs (a synchronous
 * loop no in-process timer can stop, or a promise that never settles) fails the run within the
 * bound, with its processes killed, and the closing "# pass" / "# fail" lines still add up.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { waitFor } from "../helpers/wait.js";

const FIXTURES = "test/ci/fixtures";
const BOUND_MS = 4_000;
const dir = mkdtempSync(join(tmpdir(), "run-tests-"));
const pidsFile = join(dir, "pids.json");
const leftovers: number[] = [];

after(() => {
  for (const pid of leftovers) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone, as it should be
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runTests(files: string[]): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  // Without this test's own node:test context, or the files' runners would skip their files.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn(process.execPath, ["scripts/run-tests.mjs", ...files], {
    env: { ...env, TEST_FILE_TIMEOUT_MS: String(BOUND_MS), RUN_TESTS_FIXTURE_PIDS: pidsFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (b) => (out += b));
  child.stderr.on("data", (b) => (out += b));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, ms: Date.now() - t0 })));
}

test("hanging files fail within the bound, killed with their children; the others still count", async () => {
  const files = ["spins", "waits", "passes"].map((f) => join(FIXTURES, `${f}.fixture.ts`));
  const { code, out, ms } = await runTests(files);
  const pids = JSON.parse(readFileSync(pidsFile, "utf8")) as number[];
  leftovers.push(...pids);

  assert.equal(code, 1, out);
  // Two at a time: both hanging files end within one bound plus the kill grace and start-up.
  assert.ok(ms < BOUND_MS + 30_000, `the run took ${ms} ms`);
  assert.match(out, /not ok - test\/ci\/fixtures\/spins\.fixture\.ts timed out/);
  assert.match(out, /not ok - test\/ci\/fixtures\/waits\.fixture\.ts timed out/);
  assert.match(out, /^# pass 1$/m);
  assert.match(out, /^# fail 2$/m);
  const closing = out.trimEnd().split("\n").slice(-9).join("\n");
  assert.match(closing, /# pass 1\n# fail 2\n/, "the closing lines CI reads");
  // The spinning file and the child it started are gone (killed by the runner, not by this test).
  await waitFor(() => pids.every((pid) => !alive(pid)), { timeoutMs: 10_000, message: `still alive: ${pids.filter(alive)}` });
});

test("a run of passing files exits 0 with its counts", async () => {
  const { code, out } = await runTests([join(FIXTURES, "passes.fixture.ts")]);
  assert.equal(code, 0, out);
  assert.match(out, /^# pass 1$/m);
  assert.match(out, /^# fail 0$/m);
});
