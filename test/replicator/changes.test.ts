/**
 * The change stream (pure, no network): every change the Merger applies is announced once, with its
 * origin, the key's new value and what was merged in; merges that change nothing and merges that
 * are rejected announce nothing; a throwing listener never stops the others.
 */
import { HybridClock } from "../../src/cluster/hlc.js";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GCounter, PNCounter } from "../../src/index.js";
import { ChangeStream, type Change } from "../../src/replicator/changes.js";
import { Merger } from "../../src/replicator/merge.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { Store } from "../../src/replicator/store.js";
import { Subscriptions } from "../../src/replicator/subscriptions.js";
import { dataTypes } from "../../src/crdt/registry.js";
import { markerFor } from "../../src/crdt/writer-ids.js";

function setup() {
  const store = new Store();
  const stats = new ReplicatorStats();
  const subscriptions = new Subscriptions(() => {});
  const errors: unknown[] = [];
  const changes = new ChangeStream((e) => errors.push(e));
  const seen: Change[] = [];
  changes.listen((c) => seen.push(c));
  const merger = new Merger(store, stats, subscriptions, changes, "me", new HybridClock(Date.now, 60_000), () => -Infinity);
  return { store, stats, subscriptions, changes, merger, seen, errors };
}

const counter = (node: string, by: number): GCounter => GCounter.empty().increment(node, by).resetDelta();

describe("change stream", () => {
  test("each path announces its change once, with origin, writer, new value and what was merged", () => {
    const { merger, seen, store } = setup();
    const mine = GCounter.empty().increment("me", 1);
    merger.write("k", "gcounter", mine.resetDelta(), mine.delta!);
    const fromDc = counter("peer", 2);
    merger.value({ key: "k", kind: "gcounter", originNode: "peer", value: fromDc }, "dc");
    const fromRound = counter("other", 3);
    merger.fullState({ entries: [{ key: "k", kind: "gcounter", originNode: "other", value: fromRound }], tombstones: [] }, "sync");
    const fromRemoteDc = counter("west-1", 4);
    merger.value({ key: "k", kind: "gcounter", originNode: "west-leader", value: fromRemoteDc }, "remote-dc");

    assert.deepEqual(
      seen.map((c) => [c.origin, c.node, (c.value as GCounter).value]),
      [
        ["local", "me", 1],
        ["dc", "peer", 3],
        ["sync", undefined, 6],
        ["remote-dc", undefined, 10],
      ],
    );
    assert.equal(seen[0]!.delta, mine.delta);
    assert.equal(seen[1]!.delta, fromDc);
    assert.equal(seen[2]!.delta, fromRound);
    assert.equal(seen[3]!.value, store.get("k")!.value, "the value announced is the one stored");
  });

  test("a bulk-pull page's values (columns) pass the same checks and are announced one by one, as entries are", () => {
    const { merger, seen, stats, store } = setup();
    store.set("typed", "gcounter", counter("x", 1), "local");
    store.addTombstone({ key: "gone", kind: "gcounter", deletedAtMs: 1, originNode: "x" }, "local");
    seen.length = 0;
    const [a, gone, typed, b] = [counter("p", 1), counter("p", 2), PNCounter.empty().increment("p", 3).resetDelta(), counter("p", 4)];
    const page = { keys: ["a", "gone", "large", "typed", "b"], hashes: new Int32Array(10), values: [a, gone, undefined, typed, b], undecoded: new Int32Array(10), data: new Uint8Array(0), originNode: "p" };
    assert.equal(merger.fullState({ entries: [], tombstones: [], page }, "sync"), 0);
    assert.deepEqual(seen.map((c) => [c.key, c.origin, c.delta]), [["a", "sync", a], ["b", "sync", b]]);
    assert.equal(store.get("a")?.value, a);
    assert.equal(store.get("b")?.value, b);
    assert.equal(store.get("large"), undefined, "a key listed without a value is left alone");
    assert.equal(stats.rejected.get("deleted-key"), 1);
    assert.equal(stats.rejected.get("type-mismatch"), 1, "the losing type of a type conflict");
  });

  test("while every listener is idle (no subscriber yet), a merge announces nothing; once one is not, it hears every change", () => {
    const store = new Store();
    const changes = new ChangeStream((e) => assert.fail(String(e)));
    const merger = new Merger(store, new ReplicatorStats(), new Subscriptions(() => {}), changes, "me", new HybridClock(Date.now, 60_000), () => -Infinity);
    assert.equal(changes.heard, false, "nobody listens");
    let idle = true;
    const heard: string[] = [];
    changes.listen((c) => heard.push(c.key), () => idle);
    assert.equal(changes.heard, false);
    merger.value({ key: "a", kind: "gcounter", originNode: "p", value: counter("p", 1) }, "sync");
    merger.write("b", "gcounter", counter("me", 1), counter("me", 1));
    idle = false;
    assert.equal(changes.heard, true);
    merger.value({ key: "c", kind: "gcounter", originNode: "p", value: counter("p", 1) }, "sync");
    merger.write("d", "gcounter", counter("me", 1), counter("me", 1));
    assert.deepEqual(heard, ["c", "d"]);
    assert.deepEqual([...store.keys()].sort(), ["a", "b", "c", "d"], "the store took every change either way");
  });

  test("heard follows listening and unlistening: a listener without an idle check is always heard; one listened again replaces its first registration", () => {
    const changes = new ChangeStream((e) => assert.fail(String(e)));
    const idleOne = (): void => {};
    const offIdle = changes.listen(idleOne, () => true);
    assert.equal(changes.heard, false);
    const always = (): void => {};
    const offAlways = changes.listen(always);
    assert.equal(changes.heard, true);
    changes.listen(always, () => true); // the same listener again, now with an idle check
    assert.equal(changes.heard, false, "its first registration (never idle) was replaced");
    const offBusy = changes.listen(() => {}, () => false);
    assert.equal(changes.heard, true);
    offBusy();
    assert.equal(changes.heard, false);
    offAlways();
    offAlways(); // twice: no effect on the others
    offIdle();
    changes.listen(always);
    assert.equal(changes.heard, true);
  });

  test("a listener listened again keeps its place: listeners hear each change in the order they first listened", () => {
    const changes = new ChangeStream((e) => assert.fail(String(e)));
    const order: string[] = [];
    const a = (): void => void order.push("a");
    changes.listen(a);
    changes.listen(() => order.push("b"));
    changes.listen(a, () => false);
    changes.emit({ key: "k", kind: "gcounter", value: counter("p", 1), delta: counter("p", 1), origin: "sync", node: undefined });
    assert.deepEqual(order, ["a", "b"]);
  });

  test("a merge that changes nothing, or is rejected, announces nothing", () => {
    const { merger, seen, stats } = setup();
    merger.value({ key: "k", kind: "gcounter", originNode: "a", value: counter("a", 5) }, "dc");
    assert.equal(seen.length, 1);
    merger.value({ key: "k", kind: "gcounter", originNode: "a", value: counter("a", 5) }, "dc"); // idempotent
    merger.value({ key: "k", kind: "gcounter", originNode: "a", value: counter("a", 3) }, "sync"); // older
    merger.value({ key: "k", kind: "pncounter", originNode: "a", value: PNCounter.empty().increment("a", 1).resetDelta() }, "dc");
    assert.equal(seen.length, 1);
    assert.equal(stats.rejected.get("type-mismatch"), 1);
  });

  test("a marker made beyond the clock-skew bound is refused and counted (it would not expire, and would renew its node's writer id above it); one within the bound merges", () => {
    const { merger, store, seen, stats } = setup();
    const pruning = dataTypes.get("gcounter")!.pruning!;
    const held = GCounter.empty().increment("x~1", 3).increment("a~1", 2).resetDelta();
    const absorbedAt = (t: number): GCounter => pruning.absorbRemoved!(held, markerFor(pruning.writers(held), "x", t)!, "a~1").resetDelta() as GCounter;
    merger.value({ key: "k", kind: "gcounter", originNode: "a", value: absorbedAt(Date.now() + 3_600_000) }, "dc");
    assert.equal(store.value("k"), undefined);
    assert.equal(seen.length, 0);
    assert.equal(stats.rejected.get("clock-skew"), 1);
    merger.value({ key: "k", kind: "gcounter", originNode: "a", value: absorbedAt(Date.now()) }, "dc");
    assert.equal((store.value("k") as GCounter).value, 5);
    assert.equal(stats.rejected.get("clock-skew"), 1);
  });

  test("a delete is announced once, with its tombstone; later values and later tombstones announce nothing", () => {
    const { merger, seen, stats } = setup();
    merger.value({ key: "k", kind: "gcounter", originNode: "a", value: counter("a", 5) }, "dc");
    const t = { key: "k", kind: "gcounter" as const, deletedAtMs: 1_000, originNode: "b" };
    assert.equal(merger.tombstone(t, "dc"), true);
    assert.equal(merger.tombstone({ ...t }, "sync"), false);
    assert.equal(merger.tombstone({ ...t, deletedAtMs: 2_000 }, "remote-dc"), false);
    merger.value({ key: "k", kind: "gcounter", originNode: "a", value: counter("a", 9) }, "dc");
    assert.equal(seen.length, 2);
    const del = seen[1]!;
    assert.equal(del.value, undefined);
    assert.deepEqual(del.tombstone, t);
    assert.equal(del.node, "b");
    assert.equal(stats.rejected.get("deleted-key"), 1);
  });

  test("a throwing listener is reported; the store, the subscribers and the other listeners still get the change", () => {
    const { merger, seen, changes, errors, store, subscriptions } = setup();
    changes.listen(() => {
      throw new Error("listener bug");
    });
    const after: string[] = [];
    changes.listen((c) => after.push(c.key));
    const told: unknown[] = [];
    subscriptions.add("k", (v) => told.push(v));
    changes.listen((c) => subscriptions.notify(c.key, c.value));
    merger.value({ key: "k", kind: "gcounter", originNode: "a", value: counter("a", 1) }, "dc");
    assert.equal(seen.length, 1);
    assert.deepEqual(after, ["k"]);
    assert.equal(told.length, 1);
    assert.equal(errors.length, 1);
    assert.equal((store.get("k")!.value as GCounter).value, 1);
  });
});
