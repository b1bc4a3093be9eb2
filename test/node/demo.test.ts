/**
 * `npm run demo -- --duration 30 --chaos`: starts two 3-server NATS clusters and six crdt-node
 * processes, serves dashboards, kills and restarts a NATS server and a node while the load runs,
 * converges, and stops every process it started. Also the in-memory fallback.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, test } from "node:test";
import { waitFor } from "../helpers/wait.js";
import { alive, http, ROOT } from "./helpers.js";

interface Run {
  code: number | null;
  out: string;
  pids: number[];
  dashboards: string[];
}

async function runDemo(args: string[], whileRunning: (dashboards: string[]) => Promise<void>): Promise<Run> {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const pids = (): number[] => [...out.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
  const dashboards = (): string[] => [...out.matchAll(/^ {2}\S+\s+(?:east|west)\s+(http:\/\/\S+)\//gm)].map((m) => m[1]!);
  try {
    await waitFor(() => dashboards().length === 6 || child.exitCode !== null, { timeoutMs: 90_000, intervalMs: 100, message: "demo printed its dashboards" });
    assert.equal(dashboards().length, 6, out);
    await whileRunning(dashboards());
    // The bound's timer is unref'd: it must not keep the test file alive for 2 minutes once the demo stopped.
    const code = await Promise.race([exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`demo did not stop:\n${out}`)), 120_000).unref())]);
    return { code, out, pids: pids(), dashboards: dashboards() };
  } finally {
    if (child.exitCode === null) {
      child.kill("SIGTERM"); // the demo stops its own processes on SIGTERM
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    }
    for (const pid of alive(pids())) process.kill(pid, "SIGKILL");
  }
}

describe("npm run demo", () => {
  test("2 DCs × 3 NATS servers with --chaos: dashboards answer, a NATS server and a node restart, values converge, every process is stopped", { timeout: 240_000 }, async () => {
    const started = Date.now();
    const run = await runDemo(["--duration", "30", "--chaos"], async (dashboards) => {
      const page = await http("GET", `${dashboards[0]}/`);
      assert.equal(page.status, 200);
      assert.match(page.text, /crdt-node/);
      const relay = dashboards[5]!;
      await waitFor(async () => (await http("GET", `${relay}/v1/keys/page-views`)).status === 200, { timeoutMs: 30_000, message: "the relay sees the load" });
      // The relay hears its DC's members by their heartbeats: all of them within a few, not at once.
      await waitFor(async () => (await http("GET", `${relay}/v1/cluster`)).body?.members?.length === 4, {
        timeoutMs: 30_000,
        message: "east: 3 writers + the relay, in the relay's membership",
      });
      const cluster = await http("GET", `${relay}/v1/cluster`);
      assert.equal(cluster.body.readOnly, true);
      assert.equal(cluster.body.members.length, 4, "east: 3 writers + the relay");
    });
    assert.equal(run.code, 0, run.out);
    for (const dc of ["east", "west"]) {
      const urls = new RegExp(`NATS cluster ${dc}: (.*)$`, "m").exec(run.out)?.[1]?.split(", ") ?? [];
      assert.equal(urls.length, 3, `${dc}: 3 NATS servers, every one given to the nodes:\n${run.out}`);
    }
    // Killed and started again: a second pid each, and the order of events.
    for (const name of ["nats-east-1", "east-2"]) {
      const pids = [...run.out.matchAll(new RegExp(`started ${name} \\(pid (\\d+)\\)`, "g"))].map((m) => m[1]);
      assert.equal(new Set(pids).size, 2, `${name} ran twice:\n${run.out}`);
    }
    assert.match(run.out, /chaos: killing nats-east-1[\s\S]*chaos: nats-east-1 is back[\s\S]*chaos: killing east-2[\s\S]*chaos: east-2 is back[\s\S]*converged: \d+ keys identical on 6 nodes/);
    assert.ok(run.pids.length >= 14, `6 nats-servers + 6 nodes + 2 restarts:\n${run.out}`);
    assert.deepEqual(alive(run.pids), [], "no process left behind");
    console.log(`demo --duration 30 --chaos: ${Math.round((Date.now() - started) / 1000)} s`);
  });

  test("in-memory fallback serves the same dashboards and converges", { timeout: 120_000 }, async () => {
    const run = await runDemo(["--memory", "--duration", "4"], async (dashboards) => {
      const c = await http("GET", `${dashboards[0]}/v1/cluster`);
      assert.equal(c.status, 200);
      assert.deepEqual([...new Set(c.body.members.map((m: { dataCenter: string }) => m.dataCenter))].sort(), ["east", "west"]);
    });
    assert.equal(run.code, 0, run.out);
    assert.match(run.out, /converged: \d+ keys identical on 6 nodes/);
  });
});
