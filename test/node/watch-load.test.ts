/**
 * Watchers cost the daemon little: a crdt-node process with 500 SSE watchers takes 3,000 writes
 * while `/healthz` keeps answering within 100 ms (the p99 of samples taken every 10 ms throughout
 * the writes), and every watcher sees the last write. The watchers and the writer run in processes
 * of their own at the lowest CPU priority: they stand for clients on other machines, so they should
 * not take the daemon's CPU on a small test machine; this process only measures.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { setPriority } from "node:os";
import { performance } from "node:perf_hooks";
import { after, before, describe, test } from "node:test";
import { reaper } from "../helpers/reaper.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { ROOT, spawnNode, waitReady, type NodeProcess } from "./helpers.js";
import { raw } from "./raw-http.js";

const WATCHERS = 500;
const WRITES = 3_000;
const KEYS = 100;
const CONCURRENCY = 8;
/** Writes are offered at this pace (fewer when the node answers slower): 3,000 in 10 s. */
const WRITES_PER_SECOND = 300;
const HEALTHZ_BOUND_MS = 100;
const MARKER = "load-end-marker";

const { children, installHooks } = reaper(() => {});

interface Child {
  output(): string;
  stop(): Promise<void>;
}

/** Run a test/node script through tsx; killed by PID at the end, or at exit if the test fails first. */
function child(script: string, args: string[]): Child {
  installHooks();
  const c = spawn(process.execPath, ["--import", "tsx", `test/node/${script}`, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  children.add(c);
  setPriority(c.pid!, 19);
  let out = "";
  c.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
  return {
    output: () => out,
    async stop() {
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      await exited;
      children.delete(c);
    },
  };
}

/** The JSON after `done ` in a child's output, once it is there (or its failure). */
async function result(c: Child, what: string, timeoutMs: number): Promise<Record<string, number>> {
  await waitFor(() => /^(done|failed)/m.test(c.output()), { timeoutMs, message: what, describe: () => c.output() });
  const out = c.output();
  assert.ok(!out.includes("failed"), `${what}: ${out}`);
  return JSON.parse(/^done (.*)$/m.exec(out)![1]!) as Record<string, number>;
}

describe("crdt-node under 500 watchers", () => {
  let nats: NatsServer;
  let node: NodeProcess;
  before(async () => {
    nats = await startNatsServer();
    node = await spawnNode(["--node-id", "load-1", "--nats", nats.url]);
    await waitReady(node.url);
  });
  after(async () => {
    await node?.stop();
    await nats?.stop();
  });

  test(`3,000 writes with 500 watchers: /healthz p99 under ${HEALTHZ_BOUND_MS} ms, every watcher sees the last write`, async (t) => {
    const crowd = child("sse-crowd.ts", [`${node.url}/v1/watch`, String(WATCHERS), MARKER]);
    let writer: Child | undefined;
    try {
      await waitFor(() => /connected|failed/.test(crowd.output()), { timeoutMs: 60_000, message: "watchers connected", describe: () => crowd.output() });
      assert.ok(!crowd.output().includes("failed"), crowd.output());
      const watchers = async () => (await raw("GET", `${node.url}/v1/stats`)).body.watchers;
      assert.equal((await watchers()).open, WATCHERS);

      writer = child("http-writer.ts", [node.url, String(WRITES), String(KEYS), String(CONCURRENCY), String(WRITES_PER_SECOND)]);
      const latencies: number[] = [];
      while (!/^(done|failed)/m.test(writer.output())) {
        const t0 = performance.now();
        const r = await raw("GET", `${node.url}/healthz`, {}, undefined, 30_000);
        latencies.push(performance.now() - t0);
        assert.equal(r.status, 200);
        await new Promise((resolve) => setTimeout(resolve, 10)); // the sampling period
      }
      const { ms } = await result(writer, "the writes", 1_000);

      await raw("POST", `${node.url}/v1/keys/${MARKER}`, { "content-type": "application/json" }, '{"type":"flag","op":"enable"}');
      const seen = await result(crowd, "every watcher saw the last write", 120_000);

      const sorted = [...latencies].sort((a, b) => a - b);
      const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
      const w = await watchers();
      t.diagnostic(
        `${WRITES} writes in ${ms} ms; /healthz over ${sorted.length} samples: p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms, ` +
          `max ${sorted.at(-1)!.toFixed(1)} ms; the watchers read ${(seen.bytes! / 1e6).toFixed(0)} MB, ${w.dropped} dropped`,
      );
      assert.ok(sorted.length >= 20, `enough samples during the writes (${sorted.length})`);
      assert.ok(p(0.99) < HEALTHZ_BOUND_MS, `/healthz p99 ${p(0.99).toFixed(1)} ms (max ${sorted.at(-1)!.toFixed(1)} ms)`);
      assert.equal(seen.closedEarly, 0, "no watcher was closed");
      assert.equal(w.dropped, 0);
      assert.equal((await raw("GET", `${node.url}/v1/keys`)).body.length, KEYS + 1, "every write landed");
    } finally {
      await Promise.all([crowd.stop(), writer?.stop()]);
    }
  });
});
