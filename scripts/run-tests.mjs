#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test through tsx (Node 20's --test takes no globs), each
// file in its own process group under a wall-clock bound, TEST_FILE_TIMEOUT_MS (default 1 200 000,
// 20 minutes: the slowest file, the 1,000 simulated schedules, takes ~70 s alone but over 10 min on a
// machine loaded 10×):
// a file that hangs is killed with every process it started and counted as failed, so a hang fails
// CI instead of stalling it. node:test's --test-timeout is not enough: it bounds one test, not a
// hook or a file that never exits, and no in-process timer fires while a test spins in a
// synchronous loop (a join that never converges).
//
// Arguments: parts of paths to run only the matching test files, or paths of files to run as they
// are (whatever their names). TEST_CONCURRENCY files (default 2) run at a time; a file's TAP output
// is printed whole when it ends, and the closing "# pass N" / "# fail N" lines CI reads sum them all.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const given = args.filter((a) => existsSync(a) && statSync(a).isFile());
const filter = args.filter((a) => !given.includes(a));
const found =
  given.length > 0 && filter.length === 0
    ? []
    : readdirSync("test", { recursive: true })
        .map(String)
        .filter((f) => f.endsWith(".test.ts"))
        .map((f) => join("test", f))
        .filter((f) => filter.length === 0 || filter.some((part) => f.includes(part)));
const files = [...new Set([...given, ...found])].sort();
if (files.length === 0) {
  console.error("no test files matched", args);
  process.exit(1);
}
const concurrency = positive("TEST_CONCURRENCY", 2);
const fileTimeoutMs = positive("TEST_FILE_TIMEOUT_MS", 1_200_000);
/** After SIGTERM, how long a file's processes get to clean up (their reapers) before SIGKILL. */
const GRACE_MS = 5_000;

const COUNTS = ["tests", "suites", "pass", "fail", "cancelled", "skipped", "todo"];
const totals = Object.fromEntries(COUNTS.map((c) => [c, 0]));
const running = new Set();
const started = Date.now();

// Interrupted: the files' process groups go with this runner.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    for (const child of running) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    process.exit(1);
  });
}

console.log("TAP version 13");
let next = 0;
let failedFiles = 0;
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, async () => {
  while (next < files.length) await runFile(files[next++]);
}));
console.log(`# files ${files.length}`);
if (failedFiles > 0) console.log(`# files failed ${failedFiles}`);
for (const c of COUNTS) console.log(`# ${c} ${totals[c]}`);
console.log(`# duration_ms ${Date.now() - started}`);
process.exit(totals.fail > 0 || failedFiles > 0 ? 1 : 0);

function positive(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

/** Runs one file in its own process group; prints its TAP (less its own summary) and adds its counts. */
function runFile(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", file], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group: a timeout kills the file's children (nats-server...) too
    });
    running.add(child);
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    let timedOut = false;
    const killGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const watchdog = setTimeout(() => {
      timedOut = true;
      killGroup("SIGTERM");
      setTimeout(() => killGroup("SIGKILL"), GRACE_MS).unref();
    }, fileTimeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(watchdog);
      running.delete(child);
      killGroup("SIGKILL"); // whatever the file left behind in its group
      const counts = Object.fromEntries(COUNTS.map((c) => [c, 0]));
      const lines = [];
      for (const line of out.split("\n")) {
        const m = /^# (\w+) (\d+)$/.exec(line);
        if (m !== null && m[1] in counts) counts[m[1]] = Number(m[2]);
        else if (line !== "TAP version 13" && !/^# duration_ms /.test(line) && line !== "") lines.push(line);
      }
      const failed = timedOut || code !== 0 || counts.fail > 0;
      if (failed && counts.fail === 0) {
        // Killed, or died before node:test could report: one failure for the file itself.
        counts.tests += 1;
        counts.fail += 1;
      }
      if (failed) failedFiles += 1;
      for (const c of COUNTS) totals[c] += counts[c];
      const took = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(`# file ${file} (${took} s)${failed ? " FAILED" : ""}`);
      for (const line of lines) console.log(line);
      if (timedOut) {
        console.log(
          `not ok - ${file} timed out: still running after ${fileTimeoutMs} ms (TEST_FILE_TIMEOUT_MS); killed with its children` +
            (signal !== null ? ` (${signal})` : ""),
        );
      }
      resolve();
    });
  });
}
