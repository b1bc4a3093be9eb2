/**
 * Library misuse that must not corrupt anything (real nats-server, two replicators): `update`
 * stores only a value made from the one it passed to `modify`; an async or throwing `modify`
 * rejects the call and nothing else happens (no unhandled rejection, no change, nothing sent).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Flag, GCounter, InvalidArgumentError, Key, LWWMap, ORMap, ORSet, PNCounter, type Replicator } from "../../src/index.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

const NOT_DERIVED = (e: unknown) => e instanceof InvalidArgumentError && /derived from the value passed to modify/.test(e.message);

describe("update accepts only a value derived from the current one", () => {
  let c: TestCluster;
  let a: Replicator;
  let b: Replicator;
  before(async () => {
    c = await startCluster(["a", "b"]);
    [a, b] = c.nodes as [Replicator, Replicator];
  });
  after(() => c.close());

  test("another key's value, a stale copy, a merged or reset value: rejected, and no replica changes", async () => {
    const x = Key.gcounter("misuse-x");
    const y = Key.gcounter("misuse-y");
    await a.update(x, (v, self) => v.increment(self, 5));
    await a.update(y, (v, self) => v.increment(self, 1000));
    await waitFor(() => b.get(x)?.value === 5 && b.get(y)?.value === 1000);

    // The jump: another key's value, one more increment on top (5 → 1001 before).
    await assert.rejects(a.update(x, (_v, self) => a.get(y)!.increment(self, 1)), NOT_DERIVED);
    await assert.rejects(a.update(x, () => a.get(y)!), NOT_DERIVED);
    // A copy read before a newer write: storing it would undo that write here only.
    const stale = a.get(x)!;
    await a.update(x, (v, self) => v.increment(self, 1));
    await assert.rejects(a.update(x, (_v, self) => stale.increment(self, 1)), NOT_DERIVED);
    await assert.rejects(a.update(x, () => stale), NOT_DERIVED);
    // Merged in or delta dropped: a state that its delta would not carry to peers.
    const elsewhere = GCounter.empty().increment("z", 7);
    await assert.rejects(a.update(x, (v) => v.merge(elsewhere.resetDelta())), NOT_DERIVED);
    await assert.rejects(a.update(x, (v, self) => v.increment(self, 1).merge(elsewhere)), NOT_DERIVED);
    await assert.rejects(a.update(x, (v, self) => v.increment(self, 1).resetDelta()), NOT_DERIVED);
    await assert.rejects(a.update(x, (v, self) => v.increment(self, 1).delta!), NOT_DERIVED);

    assert.equal(a.get(x)?.value, 6);
    // A good write afterwards: both replicas agree on 7 (nothing of the rejected ones leaked).
    await a.update(x, (v, self) => v.increment(self, 1));
    await waitFor(() => b.get(x)?.value === 7, { message: "b did not converge to 7" });
    assert.equal(a.get(x)?.value, 7);
    assert.equal(b.get(y)?.value, 1000);
  });

  test("the value passed back unchanged, chained and nested mutations, and new keys all work", async () => {
    const counter = Key.gcounter("ok-counter");
    await a.update(counter, (v, self) => v.increment(self, 1).increment(self, 2));
    assert.equal((await a.update(counter, (v) => v)).value, 3);

    const pn = Key.pncounter("ok-pn");
    assert.equal((await a.update(pn, (v, self) => v.increment(self, 5).decrement(self, 2))).value, 3);
    assert.equal((await a.update(pn, (v, self) => v.decrement(self, 1))).value, 2);

    const set = Key.orset<string>("ok-set");
    await a.update(set, (v, self) => v.add(self, "p").add(self, "q").remove("p"));
    assert.deepEqual(a.get(set)?.elements, ["q"]);

    const map = Key.orMap<GCounter>("ok-map", "gcounter");
    await a.update(map, (m, self) => m.update(self, "f", (g, n) => g.increment(n, 4)).update(self, "g", (g, n) => g.increment(n, 1)).remove(self, "g"));
    await a.update(map, (m, self) => m.update(self, "f", (g, n) => g.increment(n, 1)));

    const lww = Key.lwwMap<string>("ok-lww");
    await a.update(lww, (m, self) => m.put(self, "k", "v1").put(self, "k", "v2"));
    const flag = Key.flag("ok-flag");
    await a.update(flag, (f) => f.enable());
    assert.equal((await a.update(flag, (f) => f.enable())).enabled, true);
    const register = Key.lwwRegister<string>("ok-register");
    await a.update(register, (r, self) => r.set(self, "one").set(self, "two"));
    const mv = Key.mvRegister<string>("ok-mv");
    await a.update(mv, (r, self) => r.set(self, "one"));
    const gset = Key.gset<string>("ok-gset");
    await a.update(gset, (s, self) => s.add(self, "e").add(self, "f"));
    const pnMap = Key.pncounterMap("ok-pnmap");
    await a.update(pnMap, (m, self) => m.increment(self, "k", 3).decrement(self, "k", 1));

    await waitFor(
      () =>
        b.get(counter)?.value === 3 &&
        b.get(pn)?.value === 2 &&
        (b.get(set) as ORSet<string> | undefined)?.elements.join() === "q" &&
        (b.get(map) as ORMap<GCounter> | undefined)?.get("f")?.value === 5 &&
        (b.get(lww) as LWWMap<string> | undefined)?.get("k") === "v2" &&
        (b.get(flag) as Flag | undefined)?.enabled === true &&
        b.get(register)?.value === "two" &&
        b.get(mv)?.values.join() === "one" &&
        b.get(gset)?.size === 2 &&
        b.get(pnMap)?.get("k") === 2,
      { message: "b did not converge on the derived writes" },
    );
    assert.ok(b.get(pn) instanceof PNCounter);
  });
});

describe("a modify function that is async or throws", () => {
  let c: TestCluster;
  let a: Replicator;
  before(async () => {
    c = await startCluster(["a"]);
    [a] = c.nodes as [Replicator];
  });
  after(() => c.close());

  test("rejects the call only: no unhandled rejection, no change", async () => {
    const unhandled: unknown[] = [];
    const listen = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", listen);
    try {
      const k = Key.gcounter("async");
      await a.update(k, (v, self) => v.increment(self, 1));
      const boom = new Error("boom");
      const synchronous = (e: unknown) => e instanceof InvalidArgumentError && /modify must be synchronous/.test(e.message);
      await assert.rejects(
        a.update(k, (async () => {
          throw boom;
        }) as never),
        synchronous,
      );
      await assert.rejects(a.update(k, (async (v: GCounter, self: string) => v.increment(self, 1)) as never), synchronous);
      await assert.rejects(a.update(k, (() => Promise.reject(boom)) as never), synchronous);
      await assert.rejects(
        a.update(k, () => {
          throw boom;
        }),
        (e) => e === boom,
      );
      // Rejections are reported after the microtask queue drains: give them a few turns to show up.
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(unhandled, []);
      assert.equal(a.get(k)?.value, 1);
    } finally {
      process.off("unhandledRejection", listen);
    }
  });
});
