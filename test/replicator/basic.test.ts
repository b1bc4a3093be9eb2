import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GCounter, Key, ORSet, type Replicator } from "../../src/index.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

describe("three nodes over a real nats-server", () => {
  let c: TestCluster;
  let a: Replicator, b: Replicator, d: Replicator;
  before(async () => {
    c = await startCluster(["a", "b", "c"]);
    [a, b, d] = c.nodes as [Replicator, Replicator, Replicator];
  });
  after(() => c.close());

  test("concurrent increments 10/20/30 converge to 60 everywhere", async () => {
    const k = Key.gcounter("hits");
    await Promise.all([
      a.update(k, (v, self) => v.increment(self, 10)),
      b.update(k, (v, self) => v.increment(self, 20)),
      d.update(k, (v, self) => v.increment(self, 30)),
    ]);
    await waitFor(() => c.nodes.every((n) => n.get(k)?.value === 60), { message: "not 60 everywhere" });
  });

  test("one ORSet add per node gives three elements everywhere", async () => {
    const k = Key.orset<string>("s");
    await a.update(k, (v, self) => v.add(self, "x"));
    await b.update(k, (v, self) => v.add(self, "y"));
    await d.update(k, (v, self) => v.add(self, "z"));
    await waitFor(() => c.nodes.every((n) => n.get(k)?.elements.join() === "x,y,z"));
  });

  test("5 sequential increments give 15 everywhere", async () => {
    const k = Key.gcounter("seq");
    for (let i = 1; i <= 5; i++) await a.update(k, (v, self) => v.increment(self, i));
    await waitFor(() => c.nodes.every((n) => n.get(k)?.value === 15));
  });

  test("writeTo all: every node already holds the write when it resolves", async () => {
    const k = Key.gcounter("all");
    await a.update(k, (v, self) => v.increment(self, 7), { writeTo: "all" });
    for (const n of c.nodes) assert.equal(n.get(k)?.value, 7);
  });

  test("majority write then majority read from another node returns it", async () => {
    const k = Key.orset<string>("maj");
    await a.update(k, (v, self) => v.add(self, "m"), { writeTo: "majority" });
    const holders = c.nodes.filter((n) => n.get(k)?.has("m")).length;
    assert.ok(holders >= 2, `majority holds the write (${holders})`);
    const read = await d.get(k, { readFrom: "majority" });
    assert.ok(read instanceof ORSet && read.has("m"));
  });

  test("subscribers fire on change and not on idempotent merges", async () => {
    const k = Key.gcounter("sub");
    const seen: (number | undefined)[] = [];
    const off = b.subscribe(k, (v) => seen.push(v?.value));
    await a.update(k, (v, self) => v.increment(self, 2));
    await waitFor(() => seen.includes(2));
    await b.sync("a"); // a full digest exchange that changes nothing
    assert.deepEqual(seen, [2]);
    off();
    assert.ok(b.get(k) instanceof GCounter);
  });
});
