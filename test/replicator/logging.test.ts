/**
 * The `logger` option against a real nats-server: the library calls the given logger once per
 * event (a member joining and leaving, the leader changing, NATS disconnecting and reconnecting, a
 * burst of rejected messages summed into one line, a remote DC out of reach), and without a logger
 * it prints nothing.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ConfigError, GCounter, Key, Replicator, resolveOptions, type Logger } from "../../src/index.js";
import { FAST } from "../helpers/cluster.js";
import { freePort, startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { sleep, waitFor } from "../helpers/wait.js";

interface Line {
  level: keyof Logger;
  obj: Record<string, unknown>;
  msg: string;
}

function recorder(): Logger & { lines: Line[]; count(msg: string | RegExp): number } {
  const lines: Line[] = [];
  const at = (level: keyof Logger) => (obj: object, msg: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return {
    lines,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    count: (msg) => lines.filter((l) => (typeof msg === "string" ? l.msg === msg : msg.test(l.msg))).length,
  };
}

const CONSOLE = ["log", "info", "warn", "error", "debug", "trace"] as const;

describe("the logger option", () => {
  let server: NatsServer;
  let raw: NatsConnection;
  const nodes: Replicator[] = [];
  const printed: string[] = [];
  const saved = CONSOLE.map((k) => console[k]);
  const logs = new Map<string, ReturnType<typeof recorder>>();

  before(async () => {
    // Anything the library prints to the console during this file fails the silent node's test.
    for (const k of CONSOLE) console[k] = (...args: unknown[]) => void printed.push(`${k}: ${args.map(String).join(" ")}`);
    server = await startNatsServer();
    raw = await connect({ servers: server.url });
    for (const id of ["a", "b", "silent"]) {
      const logger = id === "silent" ? undefined : recorder();
      if (logger !== undefined) logs.set(id, logger);
      nodes.push(await Replicator.start({ nodeId: id, nats: { servers: server.url }, ...FAST, logger }));
    }
    await waitFor(() => nodes.every((n) => n.members().filter((m) => m.counted).length === 3), { timeoutMs: 15_000, message: "members did not see each other" });
  });
  after(async () => {
    for (const [i, k] of CONSOLE.entries()) console[k] = saved[i]!;
    await raw?.close().catch(() => undefined);
    await Promise.allSettled(nodes.map((n) => n.close()));
    await server?.stop();
  });

  test("a logger without the four methods is refused at start", () => {
    assert.throws(() => resolveOptions({ nodeId: "x", nats: { servers: "nats://127.0.0.1:1" }, logger: { info() {} } as unknown as Logger }), ConfigError);
  });

  test("members joining: one line per member per node", async () => {
    const a = logs.get("a")!;
    await waitFor(() => a.lines.some((l) => l.msg === "member joined" && l.obj.member === "silent"), { timeoutMs: 10_000, message: "a logged silent joining" });
    for (const [id, log] of logs) {
      const joined = log.lines.filter((l) => l.msg === "member joined").map((l) => l.obj.member);
      assert.equal(new Set(joined).size, joined.length, `${id} logged a join twice: ${joined.join(", ")}`);
      assert.ok(joined.includes("silent"), `${id} logged silent joining`);
      assert.ok(log.lines.filter((l) => l.msg === "member joined").every((l) => l.level === "info"));
    }
  });

  test("a burst of rejected messages is one warning with its count, not one line per message", async () => {
    const a = logs.get("a")!;
    for (let i = 0; i < 200; i++) raw.publish("crdt.deltas", randomBytes(40));
    await raw.flush();
    await waitFor(() => nodes[0]!.context().stats.rejected.get("decode") === 200, { timeoutMs: 10_000, message: "a rejected the 200 messages" });
    await waitFor(() => a.count(/^rejected \d+ message\(s\): decode$/) >= 1, { timeoutMs: 10_000, message: "a warned about the rejections" });
    await sleep(3 * FAST.heartbeatIntervalMs!); // a few more ticks: nothing more within the minute
    const lines = a.lines.filter((l) => l.obj.reason === "decode");
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]!.level, "warn");
    assert.ok((lines[0]!.obj.count as number) >= 1 && (lines[0]!.obj.count as number) <= 200);
  });

  test("a NATS server restart: one disconnect and one reconnect line per node", async () => {
    await server.restart();
    for (const [id, log] of logs) {
      await waitFor(() => log.count("NATS reconnected") === 1, { timeoutMs: 20_000, message: `${id} logged the reconnect` });
      assert.equal(log.count("NATS disconnected; reconnecting"), 1, id);
      assert.equal(log.lines.find((l) => l.msg === "NATS disconnected; reconnecting")!.level, "warn");
    }
    await raw.close();
    raw = await connect({ servers: server.url });
  });

  test("the leader leaves: one leader change and one leave line on the others", async () => {
    const leader = nodes[0]!.leader()!;
    const observers = [...logs].filter(([id]) => id !== leader);
    const before = new Map(observers.map(([id, log]) => [id, log.count("leader changed")]));
    await nodes.find((n) => n.nodeId === leader)!.close();
    const next = nodes.find((n) => n.nodeId !== leader)!;
    for (const [id, log] of observers) {
      await waitFor(() => log.count("leader changed") === before.get(id)! + 1, { timeoutMs: 20_000, message: `${id} logged the new leader` });
      await waitFor(() => log.lines.some((l) => l.msg === "member left" && l.obj.member === leader), { timeoutMs: 20_000, message: `${id} logged ${leader} leaving` });
    }
    await sleep(3 * FAST.heartbeatIntervalMs!);
    for (const [id, log] of observers) {
      assert.equal(log.count("leader changed"), before.get(id)! + 1, `${id}: once`);
      assert.equal(log.lines.filter((l) => l.msg === "member left" && l.obj.member === leader).length, 1, `${id}: once`);
      const line = log.lines.findLast((l) => l.msg === "leader changed")!;
      assert.equal(line.level, "info");
      assert.equal(line.obj.leader, next.leader());
    }
  });

  test("without a logger the library printed nothing through all of the above", () => {
    assert.deepEqual(printed, []);
  });
});

describe("the logger option: a remote DC out of reach", () => {
  let server: NatsServer;
  let r: Replicator | undefined;
  after(async () => {
    await r?.close();
    await server?.stop();
  });

  test("skipped cross-DC flushes and the failing connection: one warning each, not one per flush or attempt", async () => {
    server = await startNatsServer();
    const nobody = await freePort(); // no NATS server listens there
    const log = recorder();
    r = await Replicator.start({
      nodeId: "lonely",
      dataCenter: "east",
      nats: { servers: server.url },
      ...FAST,
      dataCenterReplication: { remotes: [{ name: "west", servers: [`nats://127.0.0.1:${nobody}`] }], intervalMs: 100 },
      logger: log,
    });
    const k = Key.gcounter("k");
    const stats = r.context().stats;
    // Keep something pending for the remote: every flush (the node leads its DC) finds the link down.
    await waitFor(
      async () => {
        await r!.update(k, (v: GCounter, self) => v.increment(self, 1));
        return stats.crossdcStaleSkipCount >= 10;
      },
      { timeoutMs: 20_000, intervalMs: 100, message: "flushes skipped while west is out of reach" },
    );
    await waitFor(() => log.count(/cross-DC flush\(es\) skipped/) === 1, { timeoutMs: 10_000, message: "the skipped flushes logged" });
    await sleep(3 * FAST.heartbeatIntervalMs!);
    const skips = log.lines.filter((l) => /cross-DC flush\(es\) skipped/.test(l.msg));
    assert.equal(skips.length, 1, "one line for the burst within the minute");
    assert.equal(skips[0]!.level, "warn");
    assert.ok(stats.crossdcStaleSkipCount >= 10 && (skips[0]!.obj.count as number) >= 1);
    const connectionErrors = log.lines.filter((l) => l.obj.err !== undefined);
    assert.ok(connectionErrors.length === 1 && connectionErrors[0]!.level === "warn", JSON.stringify(connectionErrors.map((l) => l.msg)));
  });
});
