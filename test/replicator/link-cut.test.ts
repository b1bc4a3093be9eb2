/**
 * One node's link to NATS cut through a TCP proxy while every node keeps writing; after the link is
 * restored everything converges within seconds, the cut node's own writes included.
 *   - "reset": the connection drops at once (the client buffers its publishes and reconnects);
 *     once shorter than removalTimeoutMs (peers only mark the node unreachable), once longer
 *     (peers remove it and it rejoins).
 *   - "blackhole": bytes stop but the connection stays up, so the client only notices through its
 *     pings; what it published into the dead link is lost and must be repaired.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Key, Replicator } from "../../src/index.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { sleep, waitFor } from "../helpers/wait.js";

describe("link cut", () => {
  let server: NatsServer;
  let proxy: TcpProxy;
  const nodes: Replicator[] = [];
  before(async () => {
    server = await startNatsServer();
    proxy = await startTcpProxy(server.port);
    for (const id of ["a", "b"]) nodes.push(await Replicator.start({ nodeId: id, nats: { servers: server.url }, ...FAST }));
    // The cut node pings often, so a blackholed link is noticed in ~2 s rather than ~4-6 s.
    nodes.push(
      await Replicator.start({ nodeId: "cut", nats: { servers: proxy.url, pingInterval: 1_000, maxPingOut: 2 }, ...FAST }),
    );
    await waitFor(() => nodes.every((n) => n.members().length === 3), { timeoutMs: 15_000 });
  });
  after(async () => {
    proxy?.restore();
    await Promise.allSettled(nodes.map((n) => n.close()));
    await proxy?.close();
    await server?.stop();
  });

  /** Every node writes every ~50 ms until `until` resolves; returns what every replica must end up with. */
  async function writeUntil(round: string, until: Promise<void>): Promise<{ total: number; elements: string[]; lastWriteAt: number }> {
    const counter = Key.gcounter(`${round}-counter`);
    const set = Key.orset<string>(`${round}-set`);
    let total = 0;
    let done = false;
    void until.then(() => (done = true));
    const elements: string[] = [];
    await Promise.all(
      nodes.map(async (n) => {
        for (let i = 0; !done; i++) {
          await n.update(counter, (v, self) => v.increment(self, 1));
          await n.update(set, (v, self) => v.add(self, `${n.nodeId}-${i}`));
          total++;
          elements.push(`${n.nodeId}-${i}`);
          await sleep(50);
        }
      }),
    );
    return { total, elements: elements.sort(), lastWriteAt: performance.now() };
  }

  async function cutAndConverge(round: string, mode: "reset" | "blackhole", cutMs: number): Promise<void> {
    const cut = nodes[2]!;
    const counter = Key.gcounter(`${round}-counter`);
    const set = Key.orset<string>(`${round}-set`);
    const repairsBefore = nodes.map((n) => new Map(n.stats.repairs));
    let stopWriting!: () => void;
    const writing = writeUntil(round, new Promise<void>((r) => (stopWriting = r)));
    await sleep(300);
    proxy.cut(mode);
    await sleep(cutMs);
    proxy.restore();
    const restoredAt = performance.now();
    await sleep(300); // writes continue after the restore as well
    stopWriting();
    const { total, elements, lastWriteAt } = await writing;
    assert.ok(cut.get(counter)!.value > 0);
    await waitFor(
      () => nodes.every((n) => n.get(counter)?.value === total && n.get(set)?.size === elements.length),
      {
        timeoutMs: 20_000,
        intervalMs: 10,
        message: `${round}: converge after restore`,
        describe: () => ({ total, counters: nodes.map((n) => n.get(counter)?.value), sets: nodes.map((n) => n.get(set)?.size) }),
      },
    );
    const now = performance.now();
    const repairs = nodes.map((n, i) =>
      [...n.stats.repairs].map(([cause, count]) => `${cause}+${count - (repairsBefore[i]!.get(cause) ?? 0)}`).filter((x) => !x.endsWith("+0")),
    );
    console.log(
      `${round}: ${mode} cut of ${cutMs} ms; all converged ${(now - restoredAt).toFixed(0)} ms after restore, ` +
        `${(now - lastWriteAt).toFixed(0)} ms after the last write; repairs a/b/cut: ${JSON.stringify(repairs)}`,
    );
    for (const n of nodes) assert.deepEqual([...n.get(set)!.elements].sort(), elements);
    // Membership heals too.
    await waitFor(() => nodes.every((n) => n.members().length === 3 && n.members().every((m) => m.reachable)), {
      timeoutMs: 10_000,
      message: `${round}: everyone reachable again`,
    });
  }

  test("reset cut shorter than removal (peers mark the node unreachable)", async () => {
    await cutAndConverge("reset-short", "reset", 2_500);
  });

  test("reset cut longer than removal (peers remove the node, it rejoins)", async () => {
    await cutAndConverge("reset-long", "reset", 5_000);
  });

  test("blackhole cut (a silently dead link, noticed by pings)", async () => {
    await cutAndConverge("blackhole", "blackhole", 4_000);
  });
});
