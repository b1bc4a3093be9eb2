/**
 * Cross-DC replication over real nats-server processes: one server per DC (east, west), two or
 * more replicators per DC, each replicating to the other DC every 200 ms.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GCounter, Key, Replicator } from "../../src/index.js";
import { freePort, startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { leaderRoundDone, nodeOptions, settle, startTwoDcs, waitStable, type ChildNode, type TwoDcs } from "./two-dcs.js";

const LONG = { timeoutMs: 20_000 };
const sends = (nodes: Replicator[]): number => nodes.reduce((n, r) => n + r.stats.crossdcSendCount, 0);
const leaderOf = (nodes: Replicator[]): Replicator => {
  const l = nodes.find((n) => n.isLeader);
  assert.ok(l, "a leader");
  return l;
};

describe("two DCs, two nodes each", () => {
  let x: TwoDcs;
  let e1: Replicator, e2: Replicator, w1: Replicator, w2: Replicator;
  let all: Replicator[];
  before(async () => {
    x = await startTwoDcs({ east: ["e1", "e2"], west: ["w1", "w2"] });
    [e1, e2] = x.east.nodes as [Replicator, Replicator];
    [w1, w2] = x.west.nodes as [Replicator, Replicator];
    all = [e1, e2, w1, w2];
  });
  after(() => x.close());

  test("writes on either side reach every node of the other, deletes too", async () => {
    const hits = Key.gcounter("hits");
    const tags = Key.orset<string>("tags");
    const doomed = Key.gcounter("doomed");
    await e2.update(hits, (c, self) => c.increment(self, 3)); // a follower's write
    await w2.update(hits, (c, self) => c.increment(self, 4));
    await e1.update(tags, (s, self) => s.add(self, "from-east"));
    await w1.update(tags, (s, self) => s.add(self, "from-west"));
    await w1.update(doomed, (c, self) => c.increment(self, 1));
    await waitFor(() => all.every((n) => n.get(hits)?.value === 7), { ...LONG, message: "hits = 7 everywhere", describe: () => all.map((n) => n.get(hits)?.value) });
    await waitFor(() => all.every((n) => n.get(tags)?.elements.join() === "from-east,from-west"), { ...LONG, message: "both tags everywhere" });
    await waitFor(() => all.every((n) => n.get(doomed)?.value === 1), LONG);
    await w2.delete(doomed);
    await waitFor(() => all.every((n) => n.get(doomed) === undefined && n.tombstoneCount >= 1), { ...LONG, message: "the delete crossed" });
    for (const n of [w1, w2]) {
      assert.ok(n.stats.crossdcReceiveCount > 0);
      assert.ok(n.stats.crossdcReplicationLagNs > 0, "lag gauge set");
    }
  });

  test("exactly one node per DC sends: its leader", () => {
    for (const dc of [x.east, x.west]) {
      const leader = leaderOf(dc.nodes);
      for (const n of dc.nodes) {
        if (n === leader) assert.ok(n.stats.crossdcSendCount > 0, `${n.nodeId} (leader) sent`);
        else assert.equal(n.stats.crossdcSendCount, 0, `${n.nodeId} (follower) sent nothing`);
      }
    }
  });

  test("no echo: a counter incremented once in east reads the exact total in both DCs, and batches stop", async () => {
    const once = Key.pncounter("once");
    await e2.update(once, (c, self) => c.increment(self, 5));
    await waitFor(() => all.every((n) => n.get(once)?.value === 5), { ...LONG, message: "5 everywhere" });
    // Idle now: the send counters must stop growing. An echo (east → west → east …) would keep
    // them growing forever and this would time out. 1 s = 5 flush intervals of silence.
    const total = await waitStable(() => sends(all) + all.reduce((n, r) => n + r.stats.crossdcReceiveCount, 0), 1_000, 10_000, "cross-DC traffic did not stop");
    assert.ok(total > 0);
    for (const n of all) assert.equal(n.get(once)?.value, 5, `${n.nodeId} still reads 5`);
  });

  test("200 increments of one key in a burst cross as one entry", async () => {
    const hot = Key.gcounter("hot");
    const leader = leaderOf(x.east.nodes);
    const before = leader.stats.crossdcSendCount;
    const received = w1.stats.mergeCount;
    for (let i = 0; i < 200; i++) await e2.update(hot, (c, self) => c.increment(self, 1));
    await waitFor(() => all.every((n) => n.get(hot)?.value === 200), { ...LONG, message: "200 everywhere" });
    await waitStable(() => sends(all), 600, 10_000, "sends did not stop");
    const batches = leader.stats.crossdcSendCount - before;
    // The burst may straddle a couple of flush ticks on a loaded machine; never one batch per update.
    assert.ok(batches >= 1 && batches <= 6, `${batches} batches for 200 updates`);
    // West got the key once per batch, not once per increment.
    assert.ok(w1.stats.mergeCount - received <= batches + 2, `west merged ${w1.stats.mergeCount - received} times`);
  });
});

describe("leader failover", () => {
  let x: TwoDcs;
  let crashed: ChildNode;
  let e2: Replicator, e3: Replicator, w1: Replicator, w2: Replicator;
  before(async () => {
    x = await startTwoDcs({ east: [], west: ["w1", "w2"] });
    [w1, w2] = x.west.nodes as [Replicator, Replicator];
    // The oldest east node, in its own process, leads east; it flushes only once a minute, so
    // whatever it buffers is still unsent when it crashes.
    crashed = await x.addChild("east", "e1", { intervalMs: 60_000 });
    e2 = await x.add("east", "e2");
    e3 = await x.add("east", "e3");
    await waitFor(() => [e2, e3].every((n) => n.members().filter((m) => m.reachable).length === 3 && n.leader() === "e1"), {
      ...LONG,
      message: "east sees e1, e2, e3 and e1 leads",
    });
    // West started alone, so its leader's first round with east failed and is being retried; once
    // one succeeds it stops. A retry still pending would pull the test's write across before the
    // crash (a legitimate path, but not the one under test).
    await leaderRoundDone(leaderOf([w1, w2]), "west's leader completed a round with east", LONG.timeoutMs);
  });
  after(() => x.close());

  test("a crashed leader's unflushed writes cross through the new leader's digest round", async () => {
    const k = Key.gcounter("before-crash");
    await e2.update(k, (c, self) => c.increment(self, 11));
    await waitFor(() => e3.get(k)?.value === 11, LONG); // east has it (so the leader e1 does too)
    assert.equal(w1.get(k), undefined, "not crossed yet: e1 holds it for a minute");
    await crashed.kill();
    await waitFor(() => e2.isLeader && e3.leader() === "e2", { ...LONG, message: "e2 leads east after the crash" });
    await waitFor(() => [w1, w2].every((n) => n.get(k)?.value === 11), { ...LONG, message: "the write crossed after failover" });
    // The data may cross by e2's first flush before its leader round (which pulls from west too) ends.
    await waitFor(() => (e2.stats.repairs.get("leader") ?? 0) >= 1, { ...LONG, message: "e2 ran a leader round" });
  });

  test("the new leader's own writes reach west; after it closes, the next one takes over", async () => {
    const k = Key.gcounter("after-crash");
    await e3.update(k, (c, self) => c.increment(self, 2));
    await waitFor(() => [w1, w2].every((n) => n.get(k)?.value === 2), { ...LONG, message: "e3's write crossed via e2" });
    await e2.close(); // graceful: final flush, leave
    await waitFor(() => e3.isLeader, { ...LONG, message: "e3 leads east" });
    await e3.update(k, (c, self) => c.increment(self, 5));
    await waitFor(() => [w1, w2].every((n) => n.get(k)?.value === 7), { ...LONG, message: "e3's write crossed as leader" });
    assert.ok(e3.stats.crossdcSendCount > 0);
    // West's writes still reach the surviving east node.
    await w2.update(k, (c, self) => c.increment(self, 1));
    await waitFor(() => e3.get(k)?.value === 8, LONG);
  });
});

describe("a remote DC's server stops for a while", () => {
  let x: TwoDcs;
  let e1: Replicator, e2: Replicator, w1: Replicator, w2: Replicator;
  before(async () => {
    x = await startTwoDcs({ east: ["e1", "e2"], west: ["w1", "w2"] });
    [e1, e2] = x.east.nodes as [Replicator, Replicator];
    [w1, w2] = x.west.nodes as [Replicator, Replicator];
  });
  after(() => x.close());

  test("east keeps working and west catches up when its server returns; skips are counted", async () => {
    const k = Key.gcounter("during-outage");
    const warm = Key.gcounter("warm");
    await e1.update(warm, (c, self) => c.increment(self, 1));
    await waitFor(() => [w1, w2].every((n) => n.get(warm)?.value === 1), LONG);
    const leader = leaderOf([e1, e2]);
    const skipsBefore = leader.stats.crossdcStaleSkipCount;

    await x.west.server.stop();
    await e2.update(k, (c, self) => c.increment(self, 10));
    await e1.update(k, (c, self) => c.increment(self, 20));
    await waitFor(() => [e1, e2].every((n) => n.get(k)?.value === 30), { ...LONG, message: "east converges without west" });
    await waitFor(() => leader.stats.crossdcStaleSkipCount > skipsBefore + 2, { ...LONG, message: "stale skips counted" });

    // A west node cut off from its own DC still reaches east directly (its link to east is up).
    await w1.update(k, (c, self) => c.increment(self, 100));

    await x.west.server.restart();
    const nodes = [e1, e2, w1, w2];
    await waitFor(() => nodes.every((n) => n.get(k)?.value === 130), {
      ...LONG,
      message: "everyone reads 130 after west returned",
      describe: () => nodes.map((n) => [n.nodeId, n.get(k)?.value]),
    });
    await settle(x);
    await waitStable(() => sends(nodes), 1_000, 10_000, "sends did not stop after the catch-up");
  });
});

describe("a remote DC that is down when the nodes start", () => {
  let westServer: NatsServer | undefined;
  const nodes: Replicator[] = [];
  let eastServer: NatsServer;
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await Promise.allSettled([eastServer?.stop(), westServer?.stop()]);
  });

  test("start() does not wait for it; the data crosses once it is up", async () => {
    eastServer = await startNatsServer();
    const westPort = await freePort();
    const westUrl = `nats://127.0.0.1:${westPort}`;
    const t0 = Date.now();
    const e1 = await Replicator.start(nodeOptions("east", "e1", eastServer.url, westUrl));
    nodes.push(e1);
    const e2 = await Replicator.start(nodeOptions("east", "e2", eastServer.url, westUrl));
    nodes.push(e2);
    assert.ok(Date.now() - t0 < 5_000, `start took ${Date.now() - t0} ms`);
    const k = Key.gcounter("early");
    await e2.update(k, (c, self) => c.increment(self, 9));
    await waitFor(() => e1.get(k)?.value === 9 && e1.isLeader, LONG);
    await waitFor(() => e1.stats.crossdcStaleSkipCount > 0, { ...LONG, message: "the unreachable DC is skipped and counted" });

    westServer = await startNatsServer({ port: westPort });
    const w1 = await Replicator.start(nodeOptions("west", "w1", westServer.url, eastServer.url));
    nodes.push(w1);
    const w2 = await Replicator.start(nodeOptions("west", "w2", westServer.url, eastServer.url));
    nodes.push(w2);
    await waitFor(() => [w1, w2].every((n) => n.get(k)?.value === 9), { ...LONG, message: "west got the early write" });
    assert.ok(w1.get(k) instanceof GCounter);
    await waitStable(() => sends(nodes), 1_000, 10_000, "sends did not stop");
  });
});

describe("a remote DC whose nodes start after the leader settled", () => {
  const nodes: Replicator[] = [];
  const servers: NatsServer[] = [];
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await Promise.allSettled(servers.map((s) => s.stop()));
  });

  test("the leader's failed round is retried, without waiting for a periodic round or a reconnect", async () => {
    const [east, west] = [await startNatsServer(), await startNatsServer()];
    servers.push(east, west);
    // West's server is up, so the link is too, but no west node answers yet: the round fails.
    const e1 = await Replicator.start(nodeOptions("east", "e1", east.url, west.url));
    nodes.push(e1);
    await e1.update(Key.gcounter("k"), (c, self) => c.increment(self, 1));
    await waitFor(() => e1.isLeader && e1.stats.crossdcStaleSkipCount > 0, { ...LONG, message: "e1 leads and its flush found no west node" });
    assert.equal(e1.stats.repairs.get("leader") ?? 0, 0, "no leader round can complete without a west node");
    const w1 = await Replicator.start(nodeOptions("west", "w1", west.url, east.url));
    nodes.push(w1);
    // Periodic rounds are off (the default) and e1's link to west never dropped.
    await waitFor(() => (e1.stats.repairs.get("leader") ?? 0) >= 1, { ...LONG, message: "e1 retried its leader round" });
  });
});

describe("periodic cross-DC anti-entropy", () => {
  let x: TwoDcs;
  before(async () => {
    x = await startTwoDcs({ east: ["e1", "e2"], west: ["w1", "w2"] }, { antiEntropy: true, antiEntropyIntervalMs: 300 });
  });
  after(() => x.close());

  test("only leaders run rounds, and rounds between converged DCs send no batches", async () => {
    const k = Key.gcounter("ae");
    await x.east.nodes[1]!.update(k, (c, self) => c.increment(self, 1));
    const all = [...x.east.nodes, ...x.west.nodes];
    await waitFor(() => all.every((n) => n.get(k)?.value === 1), LONG);
    const periodic = (n: Replicator): number => n.stats.repairs.get("periodic") ?? 0;
    const leaders = [leaderOf(x.east.nodes), leaderOf(x.west.nodes)];
    const start = leaders.map(periodic);
    await waitFor(() => leaders.every((l, i) => periodic(l) >= start[i]! + 3), { ...LONG, message: "leaders ran periodic rounds" });
    await waitStable(() => sends(all), 1_000, 10_000, "converged DCs kept sending");
    for (const n of all) if (!leaders.includes(n)) assert.equal(n.stats.crossdcSendCount, 0, `${n.nodeId} sent`);
  });
});
