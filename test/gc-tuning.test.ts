/**
 * tuneGarbageCollection (nodejs/node#61967): short-lived Buffers die in scavenges, not in full
 * mark-compacts of the heap, on every Node line; and it touches V8 only on the lines that need it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, test } from "node:test";
import { hasBufferMarkingRegression } from "../src/gc-tuning.js";

const run = promisify(execFile);
const CHURN = fileURLToPath(new URL("./helpers/buffer-churn.ts", import.meta.url));

interface Churn {
  tuned: boolean;
  markCompacts: number;
  collections: number;
}

/** 512 MiB of 1 MiB Buffers that die at once, in a fresh process (V8 flags are process-wide). */
async function churn(mode: "plain" | "tuned"): Promise<Churn> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", CHURN, mode], { timeout: 60_000, env: { ...process.env, MB: "512" } });
  return JSON.parse(stdout) as Churn;
}

describe("tuneGarbageCollection", () => {
  test("the regression is V8 13.6 and later: Node 24 and up, not 22 or 20", () => {
    assert.equal(hasBufferMarkingRegression("11.3.244.8-node.38"), false);
    assert.equal(hasBufferMarkingRegression("12.4.254.21-node.57"), false);
    assert.equal(hasBufferMarkingRegression("13.5.212.10"), false);
    assert.equal(hasBufferMarkingRegression("13.6.233.17-node.53"), true);
    assert.equal(hasBufferMarkingRegression("14.1.146.11"), true);
  });

  test("after it, 512 MiB of short-lived Buffers cause no full mark-compact, on this Node line", async () => {
    const tuned = await churn("tuned");
    assert.equal(tuned.tuned, hasBufferMarkingRegression(process.versions.v8), "it sets the flag exactly where V8 has the regression");
    assert.ok(tuned.collections > 0, "the churn made the collector run at all");
    assert.equal(tuned.markCompacts, 0, JSON.stringify(tuned));
  });

  test("where V8 has the regression, the same churn without it does mark-compact (what the setting is for)", async (t) => {
    const plain = await churn("plain");
    if (!hasBufferMarkingRegression(process.versions.v8)) {
      assert.equal(plain.markCompacts, 0, `V8 ${process.versions.v8} collects short-lived Buffers in scavenges by itself`);
      return;
    }
    t.diagnostic(`V8 ${process.versions.v8}: ${plain.markCompacts} mark-compacts of ${plain.collections} collections`);
    assert.ok(plain.markCompacts >= 3, JSON.stringify(plain));
  });
});
