/**
 * Cross-DC completeness over real nats-servers (one per DC), with members killed for real:
 *
 * - a change the east leader missed on its delta subject, and learned only by intra-DC
 *   anti-entropy, still crosses (increments and a delete), with cross-DC anti-entropy off;
 * - a DC whose nodes all died (no snapshots) and restarted is whole on every node within seconds,
 *   not after the next intra-DC round (30 s);
 * - a send the remote DC did not take is sent again by a later flush.
 */
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { Key, Replicator, type ReplicatorOptions } from "../../src/index.js";
import type { RepairCause } from "../../src/extension/stats.js";
import { freePort, startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { waitFor } from "../helpers/wait.js";
import { startChildNode, type ChildNode } from "../replicator/fixtures/child-node.js";
import { nodeOptions, waitStable, type DcName } from "./two-dcs.js";

const LONG = { timeoutMs: 20_000 };
/** The cross-DC flush interval of these tests (XDC_DEFAULTS); "a few flushes" is bounded generously. */
const FLUSH_MS = 200;
const FEW_FLUSHES_MS = 5_000;

/** Everything a test starts, stopped by PID/handle afterwards even when the test fails. */
class Rig {
  readonly servers: NatsServer[] = [];
  readonly proxies: TcpProxy[] = [];
  readonly nodes: Replicator[] = [];
  readonly children: ChildNode[] = [];

  async server(): Promise<NatsServer> {
    const s = await startNatsServer();
    this.servers.push(s);
    return s;
  }

  async proxy(to: NatsServer): Promise<TcpProxy> {
    const p = await startTcpProxy(to.port);
    this.proxies.push(p);
    return p;
  }

  async node(options: ReplicatorOptions): Promise<Replicator> {
    const r = await Replicator.start(options);
    this.nodes.push(r);
    return r;
  }

  async child(options: ReplicatorOptions): Promise<ChildNode> {
    const c = await startChildNode(options);
    this.children.push(c);
    return c;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.children.map((c) => c.kill()));
    await Promise.allSettled(this.nodes.map((n) => n.close()));
    await Promise.allSettled(this.proxies.map((p) => p.close()));
    await Promise.allSettled(this.servers.map((s) => s.stop()));
  }
}

/** A node of `dc` on `url`, replicating to the other DC at `remoteUrl`, with extra options. */
function opts(dc: DcName, id: string, url: string, remoteUrl: string, more: Partial<ReplicatorOptions> = {}): ReplicatorOptions {
  return { ...nodeOptions(dc, id, url, remoteUrl), ...more };
}

const reachable = (n: Replicator): number => n.members().filter((m) => m.reachable).length;
const repairs = (n: Replicator, ...causes: RepairCause[]): number => causes.reduce((s, c) => s + (n.stats.repairs.get(c) ?? 0), 0);

let rig: Rig;
afterEach(() => rig.close());

describe("a change the leader learned only by intra-DC anti-entropy crosses", () => {
  // A link cut of a second or two must not make anyone unreachable (a leader change would run a
  // cross-DC round and repair by itself); intra-DC and cross-DC periodic rounds stay at their
  // defaults (30 s, off), so what repairs is the leader's reconnect round with its DC.
  const TIMINGS: Partial<ReplicatorOptions> = { failureTimeoutMs: 8_000, removalTimeoutMs: 30_000 };

  /**
   * East: e1 (leader, through a proxy to its NATS), e2 (a child process: the writer), e3. West: w1,
   * w2. `prepare` runs with everyone connected; `act` runs on e2 while e1 is cut off; then e2 is
   * killed (nobody can repair from its buffer) and e1's link restored.
   */
  async function missedByTheLeader(
    prepare: (e2: ChildNode, others: Replicator[]) => Promise<void>,
    act: (e2: ChildNode, e1: Replicator, e3: Replicator) => Promise<void>,
  ) {
    rig = new Rig();
    const east = await rig.server();
    const west = await rig.server();
    const link = await rig.proxy(east);
    const w1 = await rig.node(opts("west", "w1", west.url, east.url, TIMINGS));
    const w2 = await rig.node(opts("west", "w2", west.url, east.url, TIMINGS));
    const e1 = await rig.node(opts("east", "e1", link.url, west.url, TIMINGS));
    const e2 = await rig.child(opts("east", "e2", east.url, west.url, TIMINGS));
    const e3 = await rig.node(opts("east", "e3", east.url, west.url, TIMINGS));
    await waitFor(() => [e1, e3].every((n) => reachable(n) === 3 && n.leader() === "e1") && [w1, w2].every((n) => reachable(n) === 2), {
      ...LONG,
      message: "east sees e1, e2, e3 with e1 leading; west sees w1, w2",
    });
    await waitFor(() => repairs(e1, "leader", "reconnect") >= 1, { ...LONG, message: "e1's first cross-DC round" });
    await prepare(e2, [e1, e3, w1, w2]);

    const roundsBefore = repairs(e1, "reconnect");
    link.cut();
    await act(e2, e1, e3);
    await e2.kill();
    link.restore();
    await waitFor(() => repairs(e1, "reconnect") > roundsBefore, { ...LONG, message: "e1 reconnected and ran its rounds" });
    return { e1, e3, west: [w1, w2] };
  }

  test("increments written while the leader was cut off reach the other DC", async () => {
    const k = Key.gcounter("hits");
    const { e1, e3, west } = await missedByTheLeader(
      async () => {},
      async (e2, e1, e3) => {
        for (let i = 0; i < 100; i++) await e2.send({ op: "increment", key: k.id, by: 1 });
        await waitFor(() => e3.get(k)?.value === 100, { ...LONG, message: "e3 got e2's increments" });
        assert.equal(e1.get(k), undefined, "e1 was cut off: it missed them");
      },
    );
    await waitFor(() => e1.get(k)?.value === 100, { ...LONG, message: "e1 learned the increments from e3 by anti-entropy" });
    const learnedAt = Date.now();
    await waitFor(() => west.every((n) => n.get(k)?.value === 100), {
      timeoutMs: FEW_FLUSHES_MS,
      message: `west reads 100 within a few flushes (${FLUSH_MS} ms each) of e1 learning it`,
      describe: () => west.map((n) => n.get(k)?.value),
    });
    assert.ok(Date.now() - learnedAt < FEW_FLUSHES_MS);
    assert.ok(e1.isLeader && e3.leader() === "e1", "e1 led throughout: no leader round repaired it");
    assert.equal(e3.stats.crossdcSendCount, 0, "only the leader sends");
  });

  test("a delete made while the leader was cut off reaches the other DC", async () => {
    const k = Key.gcounter("doomed");
    const { e1, e3, west } = await missedByTheLeader(
      async (e2, others) => {
        await e2.send({ op: "increment", key: k.id, by: 1 });
        await waitFor(() => others.every((n) => n.get(k)?.value === 1), { ...LONG, message: "everyone has the key" });
      },
      async (e2, e1, e3) => {
        await e2.send({ op: "delete", key: k.id });
        await waitFor(() => e3.get(k) === undefined, { ...LONG, message: "e3 got the delete" });
        assert.equal(e1.get(k)?.value, 1, "e1 was cut off: it missed the delete");
      },
    );
    await waitFor(() => e1.get(k) === undefined, { ...LONG, message: "e1 learned the delete from e3 by anti-entropy" });
    await waitFor(() => west.every((n) => n.get(k) === undefined && n.tombstoneCount === 1), {
      timeoutMs: FEW_FLUSHES_MS,
      message: "west lost the key within a few flushes of e1 learning the delete",
      describe: () => west.map((n) => n.get(k)?.value),
    });
    assert.ok(e1.isLeader && e3.leader() === "e1", "e1 led throughout");
  });
});

describe("a DC restarted from nothing", () => {
  test("all three restarted nodes hold the other DC's data within seconds", async () => {
    rig = new Rig();
    const east = await rig.server();
    const west = await rig.server();
    const w1 = await rig.node(opts("west", "w1", west.url, east.url));
    const w2 = await rig.node(opts("west", "w2", west.url, east.url));
    const children: ChildNode[] = [];
    for (const id of ["e1", "e2", "e3"]) children.push(await rig.child(opts("east", id, east.url, west.url)));
    await waitFor(() => [w1, w2].every((n) => reachable(n) === 2), { ...LONG, message: "west sees w1, w2" });

    const KEYS = 300;
    const key = (i: number) => Key.gcounter(`k${i}`);
    for (let i = 0; i < KEYS; i++) await (i % 2 === 0 ? w1 : w2).update(key(i), (c, self) => c.increment(self, i + 1));
    const gone = Key.gcounter("gone");
    await w1.update(gone, (c, self) => c.increment(self, 1));
    await w2.delete(gone);
    const last = key(KEYS - 1);
    await waitFor(async () => (await Promise.all(children.map((c) => c.send({ op: "get", key: last.id })))).every((v) => v === KEYS), {
      ...LONG,
      message: "the east children have west's writes",
    });

    await Promise.all(children.map((c) => c.kill())); // no snapshots: east's data is gone
    const restartedAt = Date.now();
    // Started together, as after a whole-DC outage; intra-DC anti-entropy stays at 30 s.
    const restarted = await Promise.all(["e1", "e2", "e3"].map((id) => rig.node(opts("east", id, east.url, west.url))));
    assert.equal(restarted[0]!.options.antiEntropyIntervalMs, 30_000);
    const whole = (n: Replicator): boolean => n.size === KEYS && n.tombstoneCount === 1 && n.get(last)?.value === KEYS;
    await waitFor(() => restarted.every(whole), {
      timeoutMs: 15_000,
      message: "every restarted east node holds west's data",
      describe: () => restarted.map((n) => [n.nodeId, n.isLeader, n.size, n.tombstoneCount]),
    });
    const tookMs = Date.now() - restartedAt;
    assert.ok(tookMs < 15_000, `took ${tookMs} ms`);
    for (let i = 0; i < KEYS; i += 37) for (const n of restarted) assert.equal(n.get(key(i))?.value, i + 1);
    assert.equal(restarted.filter((n) => n.isLeader).length, 1);
    // What east pulled and spread came from west: none of it is sent back.
    const sent = await waitStable(() => restarted.reduce((s, n) => s + n.stats.crossdcSendCount, 0), 1_000, 10_000, "east kept sending");
    assert.equal(sent, 0, "east sent west's data back");
  });
});

describe("a cross-DC send the remote DC did not take", () => {
  test("is sent again by a later flush", async () => {
    rig = new Rig();
    const east = await rig.server();
    const west = await rig.server();
    // West's nodes reach their own server through a proxy: cutting it leaves west's server up but
    // with nobody to take a batch ("no responders"), while east's link to it stays connected, so
    // no reconnect round runs on east. West's own link to east points at a closed port: west never
    // runs a cross-DC round either. Only east's flusher can deliver the write.
    const westNodesLink = await rig.proxy(west);
    const nowhere = `nats://127.0.0.1:${await freePort()}`;
    const w1 = await rig.node(opts("west", "w1", westNodesLink.url, nowhere));
    const w2 = await rig.node(opts("west", "w2", westNodesLink.url, nowhere));
    const e1 = await rig.node(opts("east", "e1", east.url, west.url));
    const e2 = await rig.node(opts("east", "e2", east.url, west.url));
    await waitFor(() => [e1, e2].every((n) => reachable(n) === 2 && n.leader() === "e1") && [w1, w2].every((n) => reachable(n) === 2), {
      ...LONG,
      message: "both DCs settled, e1 leads east",
    });
    await waitFor(() => repairs(e1, "leader") >= 1, { ...LONG, message: "e1's first cross-DC round (so none runs later)" });
    const warm = Key.gcounter("warm");
    await e2.update(warm, (c, self) => c.increment(self, 1));
    await waitFor(() => [w1, w2].every((n) => n.get(warm)?.value === 1), { ...LONG, message: "west gets east's writes" });
    const rounds = repairs(e1, "leader", "reconnect", "periodic");
    // Nothing is pending now (west has everything): every send attempt from here on carries the write.
    const sent = e1.stats.crossdcSendCount;
    const failed = e1.stats.crossdcStaleSkipCount;

    westNodesLink.cut();
    await waitFor(() => westNodesLink.connections === 0, LONG);
    const k = Key.gcounter("retried");
    await e2.update(k, (c, self) => c.increment(self, 7));
    await waitFor(() => e1.stats.crossdcSendCount > sent && e1.stats.crossdcStaleSkipCount > failed, {
      ...LONG,
      message: "e1 sent the write and the send failed",
    });
    assert.ok([w1, w2].every((n) => n.get(k) === undefined), "west did not get it");

    westNodesLink.restore();
    await waitFor(() => [w1, w2].every((n) => n.get(k)?.value === 7), {
      ...LONG,
      message: "a later flush delivered the write",
      describe: () => [w1, w2].map((n) => n.get(k)?.value),
    });
    assert.equal(repairs(e1, "leader", "reconnect", "periodic"), rounds, "no cross-DC round ran on e1: a flush delivered it");
  });
});
