/**
 * OpenTelemetry metrics (src/metrics): every instrument exists from the start with node and dc on
 * every point, and each one moves when its event happens — three replicators on a real
 * nats-server, each with its own MeterProvider. Then the attachment itself, on a bare context:
 * the global provider by default, close() removing the callback and the recorder, two providers
 * on one replicator.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import { DataPointType } from "@opentelemetry/sdk-metrics";
import { Level } from "level";
import { Key, type Replicator } from "../../src/index.js";
import type { Member } from "../../src/cluster/membership.js";
import { BASE_ATTRIBUTES, GOAKT_METRIC_NAMES, METER_NAME, METRICS, attachMetrics } from "../../src/metrics/metrics.js";
import { PACKAGE_VERSION } from "../../src/metrics/version.js";
import type { ReplicatorContext } from "../../src/extension/context.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { Store } from "../../src/replicator/store.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";
import { testMeter, type Collected, type TestMeter } from "./collect.js";

const DC = "dc-east";
const P = "crdt.replicator.";
const OBSERVABLE = METRICS.filter((m) => m.type !== "Histogram").map((m) => m.name);
const CROSS_DC = METRICS.filter((m) => m.name.startsWith(`${P}crossdc.`) && m.type !== "Histogram").map((m) => m.name);
const SNAPSHOT = METRICS.filter((m) => m.name.startsWith(`${P}snapshot.`)).map((m) => m.name);

/** Wait (bounded) until a fresh collection satisfies `check`; returns that collection. */
async function until(meter: TestMeter, check: (c: Collected) => boolean, message: string): Promise<Collected> {
  let last: Collected | undefined;
  await waitFor(
    async () => {
      last = await meter.collect();
      return check(last);
    },
    { timeoutMs: 10_000, message, describe: () => (last === undefined ? "nothing collected" : summary(last)) },
  );
  return last!;
}

function summary(c: Collected): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, m] of c.byName) {
    out[name] = m.dataPoints.map((p) => (typeof p.value === "number" ? p.value : `count=${(p.value as { count: number }).count}`));
  }
  return out;
}

/** node and dc on every point of every metric. */
function assertBaseAttributes(c: Collected, node: string, dc = DC): void {
  for (const [name, m] of c.byName) {
    assert.ok(m.dataPoints.length > 0, `${name} has points`);
    for (const p of m.dataPoints) {
      assert.equal(p.attributes["node"], node, `${name} node attribute`);
      assert.equal(p.attributes["dc"], dc, `${name} dc attribute`);
    }
  }
}

describe("metrics of three replicators over a real nats-server", { timeout: 120_000 }, () => {
  let c: TestCluster;
  let a: Replicator, b: Replicator;
  let ma: TestMeter, mb: TestMeter, md: TestMeter;
  let raw: NatsConnection | undefined;
  /** a's first collection, taken right after it started, before anything happened. */
  let fresh: Collected;

  before(async () => {
    [ma, mb, md] = [testMeter(), testMeter(), testMeter()];
    c = await startCluster([], { dataCenter: DC });
    try {
      a = await c.add("a", { meterProvider: ma.provider });
      fresh = await ma.collect();
      b = await c.add("b", { meterProvider: mb.provider });
      await c.add("c", { meterProvider: md.provider });
      await waitFor(() => c.nodes.every((n) => n.members().filter((m) => m.counted).length === 3), { timeoutMs: 15_000, message: "members did not admit each other" });
    } catch (error) {
      await c.close();
      throw error;
    }
  });

  after(async () => {
    await raw?.close().catch(() => undefined);
    await c?.close();
    await Promise.allSettled([ma, mb, md].map((m) => m?.provider.shutdown()));
  });

  test("every counter and gauge exists from the start, GoAkt's twelve among them, with node and dc", () => {
    for (const name of OBSERVABLE) assert.ok(fresh.byName.has(name), `${name} exported at start`);
    for (const name of GOAKT_METRIC_NAMES) assert.ok(fresh.byName.has(name), `${name} exported at start`);
    assertBaseAttributes(fresh, "a");
    assert.equal(fresh.value(`${P}store.size`), 0);
    assert.equal(fresh.value(`${P}tombstone.count`), 0);
    assert.equal(fresh.value(`${P}merge.count`), 0);
    assert.equal(fresh.value(`${P}delta.publish.count`), 0);
    // Every reason and cause is a series from the start.
    assert.equal(fresh.points(`${P}rejected`).length, 17);
    assert.equal(fresh.points(`${P}repairs`).length, 6);
    assert.equal(fresh.value(`${P}members`, { reachable: true }), 1);
    assert.equal(fresh.value(`${P}members`, { reachable: false }), 0);
  });

  test("instruments carry the definitions' units, descriptions and kinds; scope is crdt-replicator@version", async () => {
    const now = await ma.collect();
    assert.deepEqual(now.scopes, [{ name: METER_NAME, version: PACKAGE_VERSION }]);
    for (const def of METRICS) {
      const m = now.byName.get(def.name);
      if (m === undefined) continue; // histograms appear with their first value (checked below)
      assert.equal(m.descriptor.unit, def.unit, `${def.name} unit`);
      assert.equal(m.descriptor.description, def.description, `${def.name} description`);
      const expected = def.type === "ObservableGauge" ? DataPointType.GAUGE : def.type === "Histogram" ? DataPointType.HISTOGRAM : DataPointType.SUM;
      assert.equal(m.dataPointType, expected, `${def.name} kind`);
      if (def.type === "ObservableCounter") assert.equal((m as { isMonotonic?: boolean }).isMonotonic, true, `${def.name} monotonic`);
    }
  });

  test("an update: publish count, bytes and store size on the writer; receive and merge counts and store size on the others", async () => {
    const before = await Promise.all([ma.collect(), mb.collect(), md.collect()]);
    const k = Key.gcounter("hits");
    await a.update(k, (v, self) => v.increment(self, 5));

    const ca = await until(
      ma,
      (x) =>
        x.value(`${P}delta.publish.count`) > before[0].value(`${P}delta.publish.count`) &&
        x.value(`${P}bytes.published`) > before[0].value(`${P}bytes.published`) &&
        x.value(`${P}store.size`) === 1,
      "a's publish count, bytes published and store size",
    );
    assert.ok(ca.histogramCount(`${P}delta.bytes`) > 0, "delta.bytes recorded");
    for (const [i, meter] of [[1, mb], [2, md]] as const) {
      const x = await until(
        meter,
        (x) =>
          x.value(`${P}delta.receive.count`) > before[i].value(`${P}delta.receive.count`) &&
          x.value(`${P}merge.count`) > before[i].value(`${P}merge.count`) &&
          x.value(`${P}store.size`) === 1,
        `node ${i}: receive count, merge count, store size`,
      );
      assert.ok(x.histogramCount(`${P}replication.lag`) > 0, "replication lag recorded");
      assertBaseAttributes(x, i === 1 ? "b" : "c");
    }
  });

  test("histograms use the advised bucket boundaries", async () => {
    const k = Key.gcounter("buckets");
    await a.update(k, (v, self) => v.increment(self, 1));
    const cb = await until(mb, (x) => x.histogramCount(`${P}replication.lag`) > 0, "b recorded replication lag");
    const ca = await until(ma, (x) => x.histogramCount(`${P}delta.bytes`) > 0, "a recorded delta bytes");
    const def = (name: string): readonly number[] => METRICS.find((m) => m.name === name)!.boundaries!;
    assert.deepEqual(cb.histogramBoundaries(`${P}replication.lag`), def(`${P}replication.lag`));
    assert.deepEqual(ca.histogramBoundaries(`${P}delta.bytes`), def(`${P}delta.bytes`));
    assert.ok(def(`${P}replication.lag`)[0]! < 0.001, "sub-millisecond first bucket (in seconds)");
  });

  test("coordinated write and read: counts and latency on the coordinating node", async () => {
    const k = Key.gcounter("coordinated");
    const [wa, rb] = await Promise.all([ma.collect(), mb.collect()]);
    await a.update(k, (v, self) => v.increment(self, 3), { writeTo: "all" });
    const ca = await ma.collect();
    assert.equal(ca.value(`${P}coordinated.write.count`), wa.value(`${P}coordinated.write.count`) + 1);
    assert.ok(ca.histogramCount(`${P}coordinated.duration`) > wa.histogramCount(`${P}coordinated.duration`));

    assert.equal((await b.get(k, { readFrom: "all" }))?.value, 3);
    const cb = await mb.collect();
    assert.equal(cb.value(`${P}coordinated.read.count`), rb.value(`${P}coordinated.read.count`) + 1);
    assert.ok(cb.histogramCount(`${P}coordinated.duration`) > rb.histogramCount(`${P}coordinated.duration`));
    assert.equal(cb.value(`${P}coordinated.write.count`), rb.value(`${P}coordinated.write.count`), "b coordinated no write");
  });

  test("sync(): anti-entropy count and repair cause manual", async () => {
    const x = await mb.collect();
    await b.sync("a");
    const y = await mb.collect();
    assert.equal(y.value(`${P}antientropy.count`), x.value(`${P}antientropy.count`) + 1);
    assert.equal(y.value(`${P}repairs`, { cause: "manual" }), x.value(`${P}repairs`, { cause: "manual" }) + 1);
    for (const cause of ["gap", "reconnect", "periodic", "leader"]) {
      assert.equal(y.value(`${P}repairs`, { cause }), x.value(`${P}repairs`, { cause }), `cause ${cause} unchanged`);
    }
  });

  test("the join's anti-entropy counted under cause join", async () => {
    // b and c joined after a, so each pulled from an older member once.
    await until(mb, (x) => x.value(`${P}repairs`, { cause: "join" }) >= 1, "b's join round");
    await until(md, (x) => x.value(`${P}repairs`, { cause: "join" }) >= 1, "c's join round");
  });

  test("delete: the tombstone gauge rises and the store shrinks on every node", async () => {
    const k = Key.orset<string>("doomed");
    await a.update(k, (v, self) => v.add(self, "x"));
    await waitFor(() => c.nodes.every((n) => n.get(k)?.has("x") === true), { message: "the key replicated" });
    const before = await Promise.all([ma.collect(), mb.collect(), md.collect()]);
    await a.delete(k);
    for (const [i, meter] of [ma, mb, md].entries()) {
      await until(
        meter,
        (x) =>
          x.value(`${P}tombstone.count`) === before[i]!.value(`${P}tombstone.count`) + 1 &&
          x.value(`${P}store.size`) === before[i]!.value(`${P}store.size`) - 1,
        `node ${i}: tombstone gauge +1, store size -1`,
      );
    }
  });

  test("garbage on the delta subject: rejected count with reason decode on every node", async () => {
    const before = await Promise.all([ma.collect(), mb.collect(), md.collect()]);
    raw = await connect({ servers: c.server.url, timeout: 5_000 });
    raw.publish("crdt.deltas", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x07, 0x01, 0x02]));
    await raw.flush();
    for (const [i, meter] of [ma, mb, md].entries()) {
      const x = await until(
        meter,
        (x) => x.value(`${P}rejected`, { reason: "decode" }) === before[i]!.value(`${P}rejected`, { reason: "decode" }) + 1,
        `node ${i}: one decode rejection`,
      );
      for (const p of x.points(`${P}rejected`)) assert.equal(typeof p.attributes["reason"], "string");
    }
  });

  test("members gauge: three reachable", async () => {
    await until(
      mb,
      (x) => x.value(`${P}members`, { reachable: true }) === 3 && x.value(`${P}members`, { reachable: false }) === 0,
      "three reachable members",
    );
  });

  test("cross-DC and snapshot instruments are present and 0 on a node without them; node and dc everywhere", async () => {
    // These nodes run with neither `dataCenterReplication` nor `snapshot`.
    for (const meter of [ma, mb, md]) {
      const x = await meter.collect();
      for (const name of [...CROSS_DC, ...SNAPSHOT]) assert.equal(x.value(name), 0, `${name} is 0`);
      assert.equal(x.histogramCount(`${P}crossdc.batch.bytes`), 0);
    }
    assertBaseAttributes(await ma.collect(), "a");
    assertBaseAttributes(await mb.collect(), "b");
    assertBaseAttributes(await md.collect(), "c");
  });
});

describe("cross-DC metrics: one node per DC, each DC on its own nats-server", { timeout: 90_000 }, () => {
  let east: TestCluster, west: TestCluster;
  let e: Replicator, w: Replicator;
  let me: TestMeter, mw: TestMeter;

  before(async () => {
    [me, mw] = [testMeter(), testMeter()];
    east = await startCluster([], { dataCenter: "east" });
    try {
      west = await startCluster([], { dataCenter: "west" });
    } catch (error) {
      await east.close();
      throw error;
    }
    try {
      const dcr = (name: string, cluster: TestCluster) => ({ remotes: [{ name, servers: cluster.server.url }], intervalMs: 100 });
      e = await east.add("e1", { meterProvider: me.provider, dataCenterReplication: dcr("west", west) });
      w = await west.add("w1", { meterProvider: mw.provider, dataCenterReplication: dcr("east", east) });
    } catch (error) {
      await Promise.allSettled([east.close(), west.close()]);
      throw error;
    }
  });

  after(async () => {
    await Promise.allSettled([east?.close(), west?.close()]);
    await Promise.allSettled([me, mw].map((m) => m?.provider.shutdown()));
  });

  test("a write crosses: send count and batch bytes at the sender, receive count and lag at the receiver", async () => {
    const k = Key.gcounter("xdc");
    // Buffered at once; sent once the flusher settled as its DC's leader (two heartbeats).
    await e.update(k, (v, self) => v.increment(self, 4));
    await waitFor(() => w.get(k)?.value === 4, { timeoutMs: 15_000, message: "the write reached the other DC" });
    const ce = await until(
      me,
      (x) => x.value(`${P}crossdc.send.count`) >= 1 && x.histogramCount(`${P}crossdc.batch.bytes`) >= 1,
      "east sent a batch",
    );
    const cw = await until(
      mw,
      (x) => x.value(`${P}crossdc.receive.count`) >= 1 && x.value(`${P}crossdc.replication.lag`) > 0,
      "west received a batch and measured its lag",
    );
    assert.ok(cw.value(`${P}crossdc.replication.lag`) < 30e9, "lag in ns, below 30 s");
    assertBaseAttributes(ce, "e1", "east");
    assertBaseAttributes(cw, "w1", "west");
    // Each node, leading its DC, compared stores with the other DC when it settled as leader.
    await until(me, (x) => x.value(`${P}repairs`, { cause: "leader" }) >= 1, "east's leader round");
  });

  test("a remote DC that is down: its flushes are skipped and counted", async () => {
    const before = await me.collect();
    await west.server.stop();
    await e.update(Key.gcounter("xdc-down"), (v, self) => v.increment(self, 1));
    await until(
      me,
      (x) => x.value(`${P}crossdc.stale.skip.count`) > before.value(`${P}crossdc.stale.skip.count`),
      "a skipped flush counted",
    );
  });
});

describe("snapshot metrics of a replicator with a LevelDB snapshot", { timeout: 60_000 }, () => {
  let c: TestCluster;
  let dir: string;
  const meters: TestMeter[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "crdt-metrics-snap-"));
    c = await startCluster([], { dataCenter: DC });
  });
  after(async () => {
    await c?.close();
    await Promise.allSettled(meters.map((m) => m.provider.shutdown()));
    rmSync(dir, { recursive: true, force: true });
  });

  test("each snapshot write counts; a corrupt entry skipped on restore counts; failures stay 0", async () => {
    const snapshot = { dir: join(dir, "db"), intervalMs: 100 };
    const m1 = testMeter();
    meters.push(m1);
    const r1 = await c.add("s", { meterProvider: m1.provider, snapshot });
    await r1.update(Key.gcounter("kept"), (v, self) => v.increment(self, 1));
    await until(m1, (x) => x.value(`${P}snapshot.writes`) >= 1, "a snapshot written");
    await r1.close();

    // Spoil one entry behind the replicator's back, then start again from the same directory.
    const db = new Level<string, Uint8Array>(snapshot.dir, { valueEncoding: "view" });
    await db.put("v/spoiled", new Uint8Array([0xff, 0xff, 0xff, 0x01]));
    await db.close();

    const m2 = testMeter();
    meters.push(m2);
    const r2 = await c.add("s", { meterProvider: m2.provider, snapshot });
    const x = await m2.collect();
    assert.equal(x.value(`${P}snapshot.skipped`), 1);
    assert.equal(x.value(`${P}snapshot.failures`), 0);
    assert.equal(x.value(`${P}store.size`), 1, "the good entry restored");
    assertBaseAttributes(x, "s");
    assert.equal(r2.get(Key.gcounter("kept"))?.value, 1);
  });
});

// ------------------------------------------------------------------ the attachment itself

function bareContext(nodeId = "n1"): { ctx: ReplicatorContext; stats: ReplicatorStats; store: Store; membersCalls: () => number } {
  const stats = new ReplicatorStats();
  const store = new Store();
  let calls = 0;
  const self: Member = { node: nodeId, dataCenter: DC, roles: [], reachable: true, startedAtMs: 0, incarnation: 1, self: true, counted: true };
  const ctx = {
    nodeId,
    options: { dataCenter: DC },
    stats,
    store,
    members: () => {
      calls++;
      return [self];
    },
  } as unknown as ReplicatorContext;
  return { ctx, stats, store, membersCalls: () => calls };
}

describe("attachMetrics", () => {
  test("uses the global meter provider by default", async () => {
    const meter = testMeter();
    assert.ok(metrics.setGlobalMeterProvider(meter.provider));
    try {
      const { ctx, stats } = bareContext();
      const handle = attachMetrics(ctx);
      stats.mergeCount = 7;
      stats.record("delta.bytes", 100);
      const x = await meter.collect();
      assert.equal(x.value(`${P}merge.count`), 7);
      assert.equal(x.histogramCount(`${P}delta.bytes`), 1);
      handle.close();
    } finally {
      metrics.disable();
      await meter.provider.shutdown();
    }
  });

  test("no meter provider registered: nothing listens to stats.record (what only a histogram wants is not measured); one registered: it does", async () => {
    metrics.disable();
    const { ctx, stats } = bareContext();
    const noop = attachMetrics(ctx);
    assert.equal(stats.recording, false, "the API's no-op meter drops every value");
    noop.close();
    const meter = testMeter();
    const real = attachMetrics(ctx, meter.provider);
    try {
      assert.equal(stats.recording, true);
      stats.record("replication.lag", 0.5);
      assert.equal((await meter.collect()).histogramCount(`${P}replication.lag`), 1);
    } finally {
      real.close();
      await meter.provider.shutdown();
    }
    assert.equal(stats.recording, false, "closed: nobody listens again");
  });

  test("observables read the stats and the store; histograms go through stats.record", async () => {
    const meter = testMeter();
    const { ctx, stats, store } = bareContext();
    const handle = attachMetrics(ctx, meter.provider);
    try {
      stats.crossdcSendCount = 2;
      stats.crossdcReceiveCount = 3;
      stats.crossdcStaleSkipCount = 4;
      stats.crossdcReplicationLagNs = 1_234_567.6;
      stats.snapshotWriteCount = 5;
      stats.snapshotFailureCount = 1;
      stats.snapshotSkippedEntries = 2;
      stats.subscriberErrorCount = 9;
      stats.reject("oversized");
      stats.reject("oversized");
      stats.repair("leader");
      store.addTombstone({ key: "t", kind: "gcounter", deletedAtMs: 1, originNode: "n1" }, "local");
      stats.record("crossdc.batch.bytes", 5_000);
      stats.record("replication.lag", 0.3);
      const x = await meter.collect();
      assert.equal(x.value(`${P}crossdc.send.count`), 2);
      assert.equal(x.value(`${P}crossdc.receive.count`), 3);
      assert.equal(x.value(`${P}crossdc.stale.skip.count`), 4);
      assert.equal(x.value(`${P}crossdc.replication.lag`), 1_234_568);
      assert.equal(x.value(`${P}snapshot.writes`), 5);
      assert.equal(x.value(`${P}snapshot.failures`), 1);
      assert.equal(x.value(`${P}snapshot.skipped`), 2);
      assert.equal(x.value(`${P}subscriber.errors`), 9);
      assert.equal(x.value(`${P}rejected`, { reason: "oversized" }), 2);
      assert.equal(x.value(`${P}rejected`, { reason: "decode" }), 0);
      assert.equal(x.value(`${P}repairs`, { cause: "leader" }), 1);
      assert.equal(x.value(`${P}tombstone.count`), 1);
      assert.equal(x.histogramCount(`${P}crossdc.batch.bytes`), 1);
      assert.equal(x.histogramCount(`${P}replication.lag`), 1);
      assert.ok(Math.abs(x.histogramSum(`${P}replication.lag`) - 0.0003) < 1e-12, "recorded in ms, exported in seconds");
      assertBaseAttributes(x, "n1");
    } finally {
      handle.close();
      await meter.provider.shutdown();
    }
  });

  test("close() removes the batch callback and stops recording histograms; idempotent", async () => {
    const meter = testMeter();
    const { ctx, stats, membersCalls } = bareContext();
    const handle = attachMetrics(ctx, meter.provider);
    try {
      stats.record("coordinated.latency", 1);
      assert.equal((await meter.collect()).histogramCount(`${P}coordinated.duration`), 1);
      assert.equal(membersCalls(), 1, "the callback ran once per collection");
      handle.close();
      handle.close();
      stats.record("coordinated.latency", 2);
      assert.equal((await meter.collect()).histogramCount(`${P}coordinated.duration`), 1, "closed: no more records");
      assert.equal(membersCalls(), 1, "the callback no longer runs");
    } finally {
      await meter.provider.shutdown();
    }
  });

  test("two providers on one replicator: both record; closing one leaves the other recording", async () => {
    const [m1, m2] = [testMeter(), testMeter()];
    const { ctx, stats } = bareContext();
    const h1 = attachMetrics(ctx, m1.provider);
    const h2 = attachMetrics(ctx, m2.provider);
    try {
      stats.record("coordinated.latency", 2);
      assert.equal((await m1.collect()).histogramCount(`${P}coordinated.duration`), 1);
      assert.equal((await m2.collect()).histogramCount(`${P}coordinated.duration`), 1);
      h1.close();
      stats.record("coordinated.latency", 3);
      assert.equal((await m1.collect()).histogramCount(`${P}coordinated.duration`), 1, "closed: no more records");
      assert.equal((await m2.collect()).histogramCount(`${P}coordinated.duration`), 2);
      h2.close();
      stats.record("coordinated.latency", 4);
      assert.equal((await m2.collect()).histogramCount(`${P}coordinated.duration`), 2, "both closed: nothing records");
    } finally {
      h1.close();
      h2.close();
      await Promise.all([m1.provider.shutdown(), m2.provider.shutdown()]);
    }
  });
});

describe("METRICS", () => {
  test("GoAkt's twelve names, exactly, in GoAkt's order", () => {
    assert.deepEqual(GOAKT_METRIC_NAMES, [
      "crdt.replicator.store.size",
      "crdt.replicator.merge.count",
      "crdt.replicator.delta.publish.count",
      "crdt.replicator.delta.receive.count",
      "crdt.replicator.coordinated.write.count",
      "crdt.replicator.coordinated.read.count",
      "crdt.replicator.antientropy.count",
      "crdt.replicator.tombstone.count",
      "crdt.replicator.crossdc.send.count",
      "crdt.replicator.crossdc.receive.count",
      "crdt.replicator.crossdc.replication.lag",
      "crdt.replicator.crossdc.stale.skip.count",
    ]);
    const kinds = Object.fromEntries(METRICS.filter((m) => m.goakt).map((m) => [m.name, m.type]));
    for (const gauge of ["store.size", "tombstone.count", "crossdc.replication.lag"]) assert.equal(kinds[`${P}${gauge}`], "ObservableGauge");
    assert.equal(METRICS.find((m) => m.name === `${P}crossdc.replication.lag`)!.unit, "ns");
  });

  test("unique names; unit, description and node/dc on every one; sorted boundaries on histograms", () => {
    assert.equal(new Set(METRICS.map((m) => m.name)).size, METRICS.length);
    for (const m of METRICS) {
      assert.ok(m.name.startsWith(P), m.name);
      assert.ok(m.unit.length > 0 && m.description.length > 0, m.name);
      assert.deepEqual(m.attributes.slice(0, 2), [...BASE_ATTRIBUTES], m.name);
      if (m.type === "Histogram") {
        const b = m.boundaries ?? [];
        assert.ok(b.length > 0 && b.every((x, i) => i === 0 || x > b[i - 1]!), `${m.name} boundaries ascending`);
      } else {
        assert.equal(m.boundaries, undefined);
      }
    }
  });

  test("the meter's version is package.json's", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { name: string; version: string };
    assert.equal(METER_NAME, pkg.name);
    assert.equal(PACKAGE_VERSION, pkg.version);
  });
});
