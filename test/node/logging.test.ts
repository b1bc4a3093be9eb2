/**
 * crdt-node's JSON log lines, read from real processes' stdout: every line is a JSON object with
 * time, level name, node and DC; a NATS server restart is one disconnect and one reconnect line per
 * node; stopping the leader is one leader-change line on the node that takes over; requests are
 * logged at debug only.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { http, spawnNode, waitReady, type NodeProcess } from "./helpers.js";

interface LogLine {
  level: string;
  time: string;
  node: string;
  dc: string;
  msg: string;
  [field: string]: unknown;
}

/** The process's stdout as JSON lines (its stderr is mixed in by the helper: nothing but JSON is expected there either). */
function lines(n: NodeProcess): LogLine[] {
  return n
    .output()
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
}

const count = (n: NodeProcess, msg: string): number => lines(n).filter((l) => l.msg === msg).length;

describe("crdt-node JSON logs", () => {
  let nats: NatsServer;
  const nodes = new Map<string, NodeProcess>();

  before(async () => {
    nats = await startNatsServer();
    for (const id of ["log-a", "log-b"]) {
      const n = await spawnNode(["--node-id", id, "--dc", "east", "--nats", nats.url, ...(id === "log-b" ? ["--log-level", "debug"] : [])]);
      nodes.set(id, n);
      await waitReady(n.url);
    }
    await waitFor(async () => (await http("GET", `${nodes.get("log-a")!.url}/v1/cluster`)).body?.members?.length === 2, { timeoutMs: 20_000, message: "the two nodes see each other" });
  });
  after(async () => {
    await Promise.allSettled([...nodes.values()].map((n) => n.stop()));
    await nats?.stop();
  });

  test("every line is JSON with ISO time, level name, node and DC; start-up says where it listens", async () => {
    for (const [id, n] of nodes) {
      await waitFor(() => lines(n).some((l) => l.level === "info" && l.msg === "member joined"), { timeoutMs: 10_000, message: `${id} logged its peer joining` });
      const all = lines(n);
      for (const l of all) {
        assert.equal(l.node, id);
        assert.equal(l.dc, "east");
        assert.ok(["trace", "debug", "info", "warn", "error", "fatal"].includes(l.level), l.level);
        assert.ok(!Number.isNaN(Date.parse(l.time)), l.time);
      }
      assert.ok(all.some((l) => l.level === "info" && l.msg.startsWith(`listening on ${n.url}`)));
    }
  });

  test("requests are logged at debug: with --log-level debug, not at the default info", async () => {
    const [a, b] = [nodes.get("log-a")!, nodes.get("log-b")!];
    await http("GET", `${a.url}/v1/keys`);
    await http("GET", `${b.url}/v1/keys`);
    await waitFor(() => lines(b).some((l) => l.level === "debug" && l.msg === "request completed"), { timeoutMs: 10_000, message: "b logged the request" });
    assert.ok(lines(b).some((l) => l.level === "debug" && l.msg === "incoming request" && (l.req as { url?: string } | undefined)?.url === "/v1/keys"));
    assert.ok(!lines(a).some((l) => /request/.test(l.msg)), "no request lines at info");
  });

  test("a NATS server restart: one disconnect (warn) and one reconnect (info) line per node", async () => {
    await nats.restart();
    for (const [id, n] of nodes) {
      await waitFor(() => count(n, "NATS reconnected") === 1, { timeoutMs: 30_000, message: `${id} logged the reconnect` });
      await waitReady(n.url);
    }
    await sleep(2_000); // a few more heartbeats: no further lines for the same restart
    for (const [id, n] of nodes) {
      const disconnects = lines(n).filter((l) => l.msg === "NATS disconnected; reconnecting");
      assert.equal(disconnects.length, 1, `${id}: ${JSON.stringify(disconnects)}`);
      assert.equal(disconnects[0]!.level, "warn");
      assert.equal(count(n, "NATS reconnected"), 1, id);
    }
  });

  test("the leader stops: the node taking over logs one leader change and the leave", async () => {
    const cluster = (await http("GET", `${nodes.get("log-a")!.url}/v1/cluster`)).body as { leader: string };
    const leader = cluster.leader;
    const other = leader === "log-a" ? "log-b" : "log-a";
    const survivor = nodes.get(other)!;
    const before = lines(survivor).filter((l) => l.msg === "leader changed").length;
    assert.equal(await nodes.get(leader)!.stop(), 0);
    const changes = (): LogLine[] => lines(survivor).filter((l) => l.msg === "leader changed").slice(before);
    await waitFor(() => changes().length >= 1, { timeoutMs: 30_000, message: `${other} logged the leader change` });
    await waitFor(() => lines(survivor).some((l) => l.msg === "member left" && l.member === leader), { timeoutMs: 30_000, message: `${other} logged ${leader} leaving` });
    await sleep(2_000);
    assert.deepEqual(changes().map((l) => [l.level, l.leader]), [["info", other]], "once, naming the new leader");
    assert.equal(lines(survivor).filter((l) => l.msg === "member left" && l.member === leader).length, 1);
    assert.ok(lines(nodes.get(leader)!).some((l) => l.msg === "SIGTERM: leaving the cluster"), "the stopped node said why");
  });
});
