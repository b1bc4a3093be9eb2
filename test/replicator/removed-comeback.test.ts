/**
 * Pruning a removed node, and its comeback (ARCHITECTURE.md "Pruning retired writers"): three
 * replicators on the in-memory bus in virtual time. n2 is cut off longer than removalTimeoutMs +
 * pruneRetiredAfterMs while it keeps writing; the leader absorbs its ids under a marker (or, with a
 * member of the previous release around, folds them into `n2!inc`); the link heals; n2 notices the
 * fold, takes a fresh writer id and re-issues what the fold missed. Every replica converges, the
 * counter and each field of the map of counters equal the sum of the acknowledged writes, every
 * acknowledged add is present, and n2's old writer id is gone from every key; a marker is gone too
 * once pruneMarkerTtlMs has passed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, Key, MemoryNetwork, Replicator, type Crdt, type Transport } from "../../src/index.js";
import { TransportDecorator } from "../../src/transport/decorator.js";
import { decodeHeartbeat, encodeHeartbeat } from "../../src/wire/codec.js";
import { resolveOptions } from "../../src/replicator/options.js";
import { dataTypes } from "../../src/crdt/registry.js";
import { VirtualClock } from "../sim/virtual-clock.js";

const IDS = ["n0", "n1", "n2"] as const;
const counter = Key.pncounter("c");
const set = Key.orset<string>("s");
const map = Key.pncounterMap("m");
const KEYS = ["c", "s", "m"];

/** n1 as a member of the previous release: its heartbeats do not say it reads markers. */
class PreviousRelease extends TransportDecorator {
  override publish(subject: string, data: Uint8Array): void {
    super.publish(subject, subject.endsWith(".members") ? encodeHeartbeat({ ...decodeHeartbeat(data), readsMarkers: false }) : data);
  }
}

const MARKER_TTL_MS = 60_000;
/** Short timings in virtual time: removal after 1 s, the removed node's ids taken in 1.5 s later. */
const TIMINGS = { heartbeatIntervalMs: 100, failureTimeoutMs: 500, removalTimeoutMs: 1_000, antiEntropyIntervalMs: 500, pruneIntervalMs: 250, pruneRetiredAfterMs: 1_500, pruneMarkerTtlMs: MARKER_TTL_MS };

/**
 * Each test's virtual clock starts a day after the previous one's: incarnations only grow within a
 * process (replicator/identity.ts), so a clock starting where an earlier test's did would run behind
 * the writer ids (and markers) it makes.
 */
const day = (n: number): number => Date.UTC(2025, 0, 1 + n);

interface Cluster {
  clock: VirtualClock;
  net: MemoryNetwork;
  nodes: Map<string, Replicator>;
  /** `p`, once it settled within 20 s of virtual time. */
  drive<T>(p: Promise<T>): Promise<T>;
  all(): Replicator[];
}

/** n0, n1 and n2 on one in-memory bus from `startMs` in virtual time, formed, then `body`; closed whatever happens. */
async function inCluster(startMs: number, seed: number, wrap: (id: string, t: Transport) => Transport, body: (c: Cluster) => Promise<void>): Promise<void> {
  const clock = new VirtualClock(startMs);
  const net = new MemoryNetwork({ seed, clock });
  const nodes = new Map<string, Replicator>();
  const drive = async <T>(p: Promise<T>): Promise<T> => {
    assert.ok(await clock.settles(p, 20_000), "timed out in virtual time");
    return p;
  };
  const all = (): Replicator[] => [...nodes.values()];
  try {
    for (const id of IDS) nodes.set(id, await drive(Replicator.start({ nodeId: id, transport: wrap(id, net.connect(id)), clock, ...TIMINGS })));
    assert.ok(await clock.until(() => all().every((n) => n.members().length === 3 && n.members().every((m) => m.counted)), 30_000), "cluster formed");
    await body({ clock, net, nodes, drive, all });
  } finally {
    for (const n of nodes.values()) await drive(n.close()).catch(() => {});
  }
}

for (const mixed of [false, true]) {
  test(`a node pruned while cut off comes back with a fresh writer id and loses nothing (${mixed ? "a member of the previous release: folded into n2!inc" : "absorbed under a marker, which expires"})`, async () => {
    await inCluster(day(mixed ? 1 : 0), 7, (id, t) => (mixed && id === "n1" ? new PreviousRelease(t) : t), async ({ clock, net, nodes, drive, all }) => {
      let total = 0;
      const fields = new Map<string, number>();
      const added: string[] = [];
      const write = async (n: Replicator, i: number): Promise<void> => {
        await drive(n.update(counter, (c, self) => (i % 3 === 2 ? c.decrement(self, 1) : c.increment(self, 2))));
        total += i % 3 === 2 ? -1 : 2;
        const field = `f${i % 2}`;
        await drive(n.update(map, (m, self) => (i % 3 === 2 ? m.decrement(self, field, 1) : m.increment(self, field, 2))));
        fields.set(field, (fields.get(field) ?? 0) + (i % 3 === 2 ? -1 : 2));
        await drive(n.update(set, (s, self) => s.add(self, `${n.nodeId}-${i}`)));
        added.push(`${n.nodeId}-${i}`);
      };
      for (let i = 0; i < 6; i++) for (const n of all()) await write(n, i);
      await clock.advance(2_000);
      const x = nodes.get("n2")!;
      const oldWriter = x.writerId;
      const leader = all().find((n) => n.isLeader)!;
      assert.notEqual(leader.nodeId, "n2", "the leader is on the majority side");

      net.disconnect("n2");
      // n2 keeps writing while cut off (local writes, acknowledged by itself), as do the others.
      for (let i = 6; i < 20; i++) {
        for (const n of all()) await write(n, i);
        await clock.advance(200);
      }
      assert.ok(await clock.until(() => leader.stats.removedFolds >= 3, 30_000), "the leader folded n2's ids in every key");
      const writers = (n: Replicator, key: string): string[] => {
        const v = n.entries().find((e) => e.key === key)!.value as Crdt;
        return dataTypes.get(v.kind)!.pruning!.writers(v);
      };
      assert.ok(!writers(leader, "c").includes(oldWriter), "folded on the leader");
      const n2Ids = (n: Replicator, key: string): string[] => writers(n, key).filter((w) => w.startsWith("n2"));
      for (const key of KEYS) assert.match(n2Ids(leader, key).join(), mixed ? /^n2![0-9a-z]+$/ : /^n2#[0-9a-z]+\.[0-9a-z]+$/, `the leader holds one id of n2 in ${key}`);
      if (!mixed) assert.ok(writers(leader, "c").includes(leader.writerId), "n2's amount moved into the leader's slot");

      net.reconnect("n2");
      const converged = (): boolean => {
        const [a, ...rest] = all().map((n) => JSON.stringify(n.entries().map((e) => [e.key, e.value.toState()])));
        return rest.every((r) => r === a);
      };
      assert.ok(await clock.until(() => x.writerId !== oldWriter && converged(), 60_000), "n2 came back under a fresh writer id and every replica converged");
      assert.ok(x.stats.writerIdRenewals >= 1 && x.stats.comebackReissues >= 1);
      // Its 14 adds while cut off are re-added, each reported (the fold cannot say whether another
      // node removed one meanwhile); nothing else is: the counter is re-issued exactly.
      assert.equal(x.stats.comebackLost, 20 - 6);
      // What the snapshot layer records for a clean close's reuse is the current id.
      assert.equal(x.context().writerId, x.writerId);
      for (const n of all()) {
        assert.equal(n.get(counter)!.value, total, `${n.nodeId}: the counter is exact`);
        const elements = new Set(n.get(set)!.elements);
        assert.deepEqual(added.filter((e) => !elements.has(e)), [], `${n.nodeId}: every acknowledged add is present`);
        for (const [field, sum] of fields) assert.equal(n.get(map)!.get(field), sum, `${n.nodeId}: the map's ${field} is exact`);
        for (const key of KEYS) assert.ok(!writers(n, key).includes(oldWriter), `${n.nodeId}: n2's folded id is gone from ${key}`);
      }
      // n2 writes on under its new id, and that reaches everyone.
      await write(x, 99);
      assert.ok(await clock.until(() => all().every((n) => n.get(counter)!.value === total), 10_000));
      if (!mixed) {
        // Past pruneMarkerTtlMs every replica has dropped the marker: one id of n2 per key, its live one.
        await clock.advance(MARKER_TTL_MS);
        assert.ok(
          await clock.until(() => all().every((n) => KEYS.every((key) => n2Ids(n, key).length === 1 && !n2Ids(n, key)[0]!.includes("#"))), 10_000),
          `markers expired: ${JSON.stringify(all().map((n) => KEYS.map((key) => n2Ids(n, key))))}`,
        );
        for (const n of all()) {
          assert.equal(n.get(counter)!.value, total);
          for (const [field, sum] of fields) assert.equal(n.get(map)!.get(field), sum);
        }
      }
    });
  });
}

test("a node that left for good: its ids are absorbed under a marker, which expires; the keys keep the live writers' ids alone", async () => {
  await inCluster(day(2), 11, (_id, t) => t, async ({ clock, nodes, drive, all }) => {
    let total = 0;
    for (const n of all()) {
      await drive(n.update(counter, (c, self) => c.increment(self, 3)));
      await drive(n.update(set, (s, self) => s.add(self, n.nodeId)));
      await drive(n.update(map, (m, self) => m.increment(self, "f", 3)));
      total += 3;
    }
    const ids = (n: Replicator, key: string): string[] => {
      const v = n.entries().find((e) => e.key === key)!.value as Crdt;
      return dataTypes.get(v.kind)!.pruning!.writers(v);
    };
    assert.ok(await clock.until(() => all().every((n) => n.get(counter)?.value === total && ids(n, "s").length === 3), 10_000), "replicated");
    await drive(nodes.get("n2")!.close());
    nodes.delete("n2");
    const leader = all().find((n) => n.isLeader)!;
    assert.ok(await clock.until(() => leader.stats.removedFolds >= 3, 30_000), "the leader absorbed n2's ids in every key");
    const n2 = (n: Replicator, key: string): string[] => ids(n, key).filter((w) => w.startsWith("n2"));
    assert.ok(await clock.until(() => all().every((n) => KEYS.every((k) => /^n2#[0-9a-z]+\.[0-9a-z]+$/.test(n2(n, k).join()))), 10_000), "the marker is n2's only id everywhere");
    for (const n of all()) {
      assert.equal(n.get(counter)!.value, total, `${n.nodeId}: the counter is exact`);
      assert.equal(n.get(map)!.get("f"), total, `${n.nodeId}: the map's field is exact`);
      assert.deepEqual([...n.get(set)!.elements].sort(), ["n0", "n1", "n2"]);
    }
    await clock.advance(MARKER_TTL_MS);
    // The counter's marker goes; the set's stays while n2's element holds the dot re-issued under it.
    assert.ok(await clock.until(() => all().every((n) => n2(n, "c").length === 0 && n2(n, "m").length === 0), 10_000), "the counter's and the map's markers expired everywhere");
    assert.ok(all().every((n) => n2(n, "s").length === 1));
    await drive(leader.update(set, (s) => s.remove("n2")));
    await clock.advance(1_000);
    assert.ok(await clock.until(() => all().every((n) => n2(n, "s").length === 0), 10_000), "the set's marker expired once no element held its dot");
    for (const n of all()) {
      assert.equal(n.get(counter)!.value, total, `${n.nodeId}: the counter is still exact`);
      assert.equal(n.get(map)!.get("f"), total, `${n.nodeId}: the map's field is still exact`);
      for (const key of ["c", "m"]) assert.deepEqual(ids(n, key).sort(), ["n0", "n1"].map((id) => nodes.get(id)!.writerId).sort(), key);
    }
  });
});

test("pruneRetiredAfterMs: on by default, as long as tombstoneTtlMs; 0 turns it off; a whole number of milliseconds", () => {
  const base = { nodeId: "n1", nats: { servers: "nats://127.0.0.1:1" } };
  assert.equal(resolveOptions(base).pruneRetiredAfterMs, 24 * 3_600_000);
  assert.equal(resolveOptions(base).pruneRetiredAfterMs, resolveOptions(base).tombstoneTtlMs);
  assert.equal(resolveOptions({ ...base, pruneRetiredAfterMs: 0 }).pruneRetiredAfterMs, 0);
  assert.equal(resolveOptions({ ...base, pruneRetiredAfterMs: 86_400_000 }).pruneRetiredAfterMs, 86_400_000);
  assert.throws(() => resolveOptions({ ...base, pruneRetiredAfterMs: -1 }), ConfigError);
  assert.throws(() => resolveOptions({ ...base, pruneRetiredAfterMs: 1.5 }), ConfigError);
});
