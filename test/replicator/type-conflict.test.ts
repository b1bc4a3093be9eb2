/**
 * One key written with two data types resolves the same way on every replica: the type with the
 * lower wire tag wins (an ORMap's value type breaks a tie), whatever order the values arrive in.
 * The pure rule through the Merger (fast-check over delivery orders), then real replicators over
 * real NATS: concurrent creation, a creation on each side of a broker partition, healed by
 * repair, and one in each of two data centers. The replica that drops its value hears it (onTypeConflict) and counts it; its later
 * updates with the losing type throw KeyTypeMismatchError.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { HybridClock } from "../../src/cluster/hlc.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import {
  Flag,
  GCounter,
  GSet,
  Key,
  KeyTypeMismatchError,
  LWWRegister,
  ORMap,
  ORSet,
  PNCounter,
  Replicator,
  type Crdt,
  type TypeConflict,
} from "../../src/index.js";
import { ChangeStream } from "../../src/replicator/changes.js";
import { Merger } from "../../src/replicator/merge.js";
import { Store } from "../../src/replicator/store.js";
import { Subscriptions } from "../../src/replicator/subscriptions.js";
import { sameType, winsOver } from "../../src/replicator/type-conflict.js";
import { fcParams } from "../crdt/laws.js";
import { FAST, startCluster, type TestCluster } from "../helpers/cluster.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";
import { waitFor } from "../helpers/wait.js";
import { settle, startTwoDcs, type TwoDcs } from "../xdc/two-dcs.js";

function replica() {
  const store = new Store();
  const stats = new ReplicatorStats();
  const changes = new ChangeStream((e) => {
    throw e;
  });
  const conflicts: TypeConflict[] = [];
  changes.listenConflicts((c) => conflicts.push(c));
  const merger = new Merger(store, stats, new Subscriptions(() => {}), changes, "me", new HybridClock(Date.now, 60_000), () => -Infinity);
  return { store, stats, merger, conflicts };
}

/** One value of each of several types (two ORMaps with different value types among them). */
const VALUES: Crdt[] = [
  GCounter.empty().increment("a", 2).resetDelta(),
  PNCounter.empty().decrement("b", 1).resetDelta(),
  GSet.empty<string>().add("c", "g").resetDelta(),
  ORSet.empty<string>().add("d", "o").resetDelta(),
  LWWRegister.empty<string>().set("e", "r", 5).resetDelta(),
  Flag.empty().enable().resetDelta(),
  ORMap.empty<GCounter>("gcounter").update("f", "k", (g, n) => g.increment(n, 1)).resetDelta(),
  ORMap.empty<ORSet>("orset").update("g", "k", (s, n) => s.add(n, "x")).resetDelta(),
];
const typeOf = (v: Crdt): string => `${v.kind}<${(v as { valueKind?: string }).valueKind ?? ""}>`;

describe("the type-conflict rule (pure)", () => {
  test("the lower wire tag wins; between ORMaps, the lower value type", () => {
    const [gcounter, pncounter, , orset, , flag, mapOfCounters, mapOfSets] = VALUES as [Crdt, Crdt, Crdt, Crdt, Crdt, Crdt, Crdt, Crdt];
    assert.equal(winsOver(gcounter, orset), true);
    assert.equal(winsOver(orset, gcounter), false);
    assert.equal(winsOver(pncounter, flag), true);
    assert.equal(winsOver(mapOfCounters, mapOfSets), true);
    assert.equal(winsOver(mapOfSets, mapOfCounters), false);
  });

  test("replicas receiving the same typed values in any order end with the same type and value", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: VALUES.length - 1 }), { minLength: 2, maxLength: 6 }),
        fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
        (picked, seeds) => {
          const sent = picked.map((i) => VALUES[i]!);
          const replicas = seeds.map((seed) => {
            const r = replica();
            const order = [...sent].sort((x, y) => ((sent.indexOf(x) * 7919 + seed) % 13) - ((sent.indexOf(y) * 7919 + seed) % 13));
            for (const v of order) r.merger.value({ key: "k", kind: v.kind, originNode: "n", value: v }, "dc");
            return r;
          });
          const winner = sent.reduce((w, v) => (!sameType(v, w) && winsOver(v, w) ? v : w));
          for (const r of replicas) {
            const held = r.store.get("k")!;
            assert.equal(typeOf(held.value), typeOf(winner));
            assert.ok(held.value.equals(winner), "the winner's value, whatever arrived before it");
            // Every replacement is heard and counted, once.
            assert.equal(r.conflicts.length, r.stats.typeConflicts);
            for (const c of r.conflicts) assert.ok(winsOver({ kind: c.kept.kind, valueKind: c.kept.valueKind } as never, c.discarded.value));
          }
        },
      ),
      fcParams({ numRuns: 300 }),
    );
  });

  test("a delete removes the key whatever type its tombstone names", () => {
    const r = replica();
    r.merger.value({ key: "k", kind: "orset", originNode: "n", value: VALUES[3]! }, "dc");
    assert.equal(r.merger.tombstone({ key: "k", kind: "gcounter", deletedAtMs: Date.now(), originNode: "m" }, "dc"), true);
    assert.equal(r.store.get("k"), undefined);
    assert.notEqual(r.store.tombstone("k"), undefined);
  });
});

describe("type conflicts between real replicators", () => {
  let c: TestCluster;
  let a: Replicator;
  let b: Replicator;
  before(async () => {
    c = await startCluster(["a", "b"]);
    [a, b] = c.nodes as [Replicator, Replicator];
  });
  after(() => c.close());

  test("a key created at once as an orset on a and a gcounter on b ends a gcounter on both; a hears it", async () => {
    const heard: TypeConflict[] = [];
    a.onTypeConflict((conflict) => heard.push(conflict));
    const asSet = Key.orset<string>("both");
    const asCounter = Key.gcounter("both");
    // Both writes are applied locally before either node can hear the other's (no await in between).
    await Promise.all([a.update(asSet, (v, self) => v.add(self, "x")), b.update(asCounter, (v, self) => v.increment(self, 4))]);
    await waitFor(() => a.entry("both")?.kind === "gcounter" && b.entry("both")?.kind === "gcounter", {
      timeoutMs: 15_000,
      message: "both replicas hold the gcounter",
      describe: () => [a.entry("both")?.kind, b.entry("both")?.kind],
    });
    assert.equal(a.get(asCounter)?.value, 4);
    assert.equal(b.get(asCounter)?.value, 4);
    assert.equal(heard.length, 1);
    assert.deepEqual(heard[0]!.kept, { kind: "gcounter" });
    assert.equal(heard[0]!.discarded.kind, "orset");
    assert.deepEqual((heard[0]!.discarded.value as ORSet<string>).elements, ["x"]);
    assert.equal(a.stats.typeConflicts, 1);
    assert.equal(b.stats.typeConflicts, 0);
    await waitFor(() => (b.stats.rejected.get("type-mismatch") ?? 0) >= 1, { message: "b refused a's orset delta" });
    // The losing writer's typed calls now fail loudly; the winner's type works on both.
    await assert.rejects(a.update(asSet, (v, self) => v.add(self, "y")), KeyTypeMismatchError);
    assert.throws(() => a.get(asSet), KeyTypeMismatchError);
    await a.update(asCounter, (v, self) => v.increment(self, 1));
    await waitFor(() => b.get(asCounter)?.value === 5, { message: "b sees a's later increment" });
  });
});

describe("type conflict across a broker partition, repaired after it heals", () => {
  let nats: NatsCluster;
  const nodes: Replicator[] = [];
  before(async () => {
    nats = await startNatsCluster({ size: 2 });
    for (const [i, id] of ["a", "b"].entries()) {
      nodes.push(await Replicator.start({ nodeId: id, nats: { servers: nats.urls[i]! }, ...FAST, antiEntropyIntervalMs: 1_000 }));
    }
    await waitFor(() => nodes.every((n) => n.members().filter((m) => m.reachable).length === 2), {
      timeoutMs: 20_000,
      message: "a and b see each other",
    });
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await nats?.stop();
  });

  test("each side creates the key with its own type; after the heal both hold the winner", async () => {
    const [a, b] = nodes as [Replicator, Replicator];
    const heard: TypeConflict[] = [];
    b.onTypeConflict((conflict) => heard.push(conflict));
    nats.partition([[0], [1]]);
    // Both writes fall into the partition: NATS drops what cannot cross the cut route.
    await a.update(Key.pncounter("split"), (v, self) => v.increment(self, 3));
    await b.update(Key.lwwRegister<string>("split"), (v, self) => v.set(self, "mine"));
    await b.update(Key.pncounter("only-b"), (v, self) => v.increment(self, 1));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(b.entry("split")?.kind, "lwwRegister", "the partition kept a's write from b");
    nats.heal();
    await waitFor(() => nodes.every((n) => n.entry("split")?.kind === "pncounter" && n.get(Key.pncounter("only-b"))?.value === 1), {
      timeoutMs: 30_000,
      message: "both hold a's pncounter after the heal",
      describe: () => nodes.map((n) => n.entry("split")?.kind),
    });
    assert.equal(b.get(Key.pncounter("split"))?.value, 3);
    assert.equal(heard.length, 1);
    assert.equal(heard[0]!.discarded.kind, "lwwRegister");
    assert.equal(heard[0]!.origin === "sync" || heard[0]!.origin === "dc", true, `came by ${heard[0]!.origin}`);
    assert.equal(b.stats.typeConflicts, 1);
    assert.equal(a.stats.typeConflicts, 0);
    await assert.rejects(b.update(Key.lwwRegister<string>("split"), (v, self) => v.set(self, "again")), KeyTypeMismatchError);
  });
});

describe("type conflict between two data centers", () => {
  let x: TwoDcs;
  before(async () => {
    x = await startTwoDcs({ east: ["e1", "e2"], west: ["w1"] });
    await settle(x);
  });
  after(() => x.close());

  test("an orMap of gcounters in east and of orsets in west: every node of both DCs ends with the gcounters", async () => {
    const [e1] = x.east.nodes as [Replicator];
    const [w1] = x.west.nodes as [Replicator];
    const heard: TypeConflict[] = [];
    w1.onTypeConflict((conflict) => heard.push(conflict));
    await Promise.all([
      e1.update(Key.orMap<GCounter>("dcs", "gcounter"), (m, self) => m.update(self, "f", (g, n) => g.increment(n, 2))),
      w1.update(Key.orMap<ORSet<string>>("dcs", "orset"), (m, self) => m.update(self, "f", (s, n) => s.add(n, "west"))),
    ]);
    const all = [...x.east.nodes, ...x.west.nodes];
    await waitFor(() => all.every((n) => (n.entry("dcs")?.value as ORMap | undefined)?.valueKind === "gcounter"), {
      timeoutMs: 30_000,
      message: "every node holds the orMap of gcounters",
      describe: () => all.map((n) => (n.entry("dcs")?.value as ORMap | undefined)?.valueKind),
    });
    for (const n of all) assert.equal(n.get(Key.orMap<GCounter>("dcs", "gcounter"))?.get("f")?.value, 2);
    assert.equal(heard.length, 1);
    assert.deepEqual(heard[0]!.kept, { kind: "orMap", valueKind: "gcounter" });
    assert.equal(heard[0]!.discarded.valueKind, "orset");
    await assert.rejects(w1.update(Key.orMap<ORSet<string>>("dcs", "orset"), (m, self) => m.remove(self, "f")), KeyTypeMismatchError);
  });
});
