/**
 * writeLineSync (test/helpers/line-out.ts): a worker's lines reach the test even when the test reads
 * them late and the worker exits right after printing. process.stdout.write drops what it queued
 * when the pipe was full (the baseline below shows it does, on this machine), which once made a
 * queue test miss a producer's last enqueues and its FINISHED line.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

const LINES = 30_000; // ~330 KB: several times a pipe's buffer

/** Lines received from the writer when the test starts reading only after `lateMs`. */
async function linesReadLate(how: "sync" | "plain", lateMs: number): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/ci/fixtures/line-writer.ts", String(LINES), how], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    let text = "";
    // Listening from the start (an unread child's output is discarded when it exits), then paused:
    // the reader lags on purpose, and the pipe fills up.
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
    const ended = once(child.stdout, "end");
    child.stdout.pause();
    await sleep(lateMs);
    child.stdout.resume();
    await ended;
    return text.split("\n").filter((l) => l.startsWith("line ")).length;
  } finally {
    child.kill("SIGKILL");
  }
}

test("every line written with writeLineSync arrives, though the reader lags and the writer exits at once", async () => {
  assert.equal(await linesReadLate("sync", 1_500), LINES);
});

test("baseline: process.stdout.write loses lines in the same situation", async () => {
  assert.ok((await linesReadLate("plain", 1_500)) < LINES);
});
