/**
 * A member that left while this node was cut off (cluster/gone-from-peers.ts): three replicators on
 * the in-memory bus in virtual time. n2 restarts without a snapshot (a fresh writer id; its old one
 * is retired) and is cut off at once, before its fold could run; n1 leaves for good while n2 is cut
 * off, so n2 never hears the leave. After the link heals, n2 drops n1 within removalTimeoutMs +
 * failureTimeoutMs of hearing n0 again (plus heartbeat and tick slack), its fold — which waits for
 * every member it knows to be reachable — then runs, and no key holds more than one id per live node.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Key, MemoryNetwork, Replicator, type Crdt } from "../../src/index.js";
import { dataTypes } from "../../src/crdt/registry.js";
import { VirtualClock } from "../sim/virtual-clock.js";

const FAIL = 500;
const REMOVE = 1_000;
const counter = Key.gcounter("c");

test("a node cut off while a member left for good drops it after the partition heals, and its fold then runs", async () => {
  const clock = new VirtualClock(Date.UTC(2025, 0, 1));
  const net = new MemoryNetwork({ seed: 11, clock });
  const nodes = new Map<string, Replicator>();
  const drive = async <T>(p: Promise<T>): Promise<T> => {
    assert.ok(await clock.settles(p, 20_000), "timed out in virtual time");
    return p;
  };
  const start = async (id: string): Promise<Replicator> => {
    const options = { nodeId: id, transport: net.connect(id), clock, heartbeatIntervalMs: 100, failureTimeoutMs: FAIL, removalTimeoutMs: REMOVE, antiEntropyIntervalMs: 500, pruneIntervalMs: 250 };
    const n = await drive(Replicator.start(options));
    nodes.set(id, n);
    return n;
  };
  const writers = (n: Replicator): string[] => {
    const v = n.entries().find((e) => e.key === "c")!.value as Crdt;
    return dataTypes.get(v.kind)!.pruning!.writers(v);
  };
  try {
    for (const id of ["n0", "n1", "n2"]) await start(id);
    const all = (): Replicator[] => [...nodes.values()];
    assert.ok(await clock.until(() => all().every((n) => n.members().length === 3 && n.members().every((m) => m.counted)), 30_000), "cluster formed");
    let total = 0;
    for (const n of all()) await drive(n.update(counter, (c, self) => c.increment(self, 2))), (total += 2);
    await clock.advance(2_000);

    // n2 restarts without a snapshot and is cut off before its fold: its old id is retired, not folded.
    const oldWriter = nodes.get("n2")!.writerId;
    await drive(nodes.get("n2")!.close());
    nodes.delete("n2");
    const a = await start("n2");
    net.disconnect("n2");
    assert.notEqual(a.writerId, oldWriter);
    await drive(a.update(counter, (c, self) => c.increment(self, 1)));
    total += 1;
    await clock.advance(300);
    // n1 leaves for good; only n0 hears it.
    await drive(nodes.get("n1")!.close());
    nodes.delete("n1");
    await clock.advance(3 * REMOVE);
    assert.ok(a.members().some((m) => m.node === "n1" && !m.reachable), "n2, cut off, still holds n1 (it never heard the leave)");
    assert.equal(a.stats.retiredFolds, 0, "and its fold waits");

    net.reconnect("n2");
    const healedAt = clock.now();
    assert.ok(await clock.until(() => a.members().every((m) => m.node !== "n1"), REMOVE + 3 * FAIL), "n2 dropped n1 within removalTimeoutMs + 3 × failureTimeoutMs of the heal");
    const droppedAfterMs = clock.now() - healedAt;
    assert.ok(await clock.until(() => a.stats.retiredFolds >= 1, 10_000), "n2's fold ran once every member it knows was reachable");
    const converged = (): boolean => {
      const [x, y] = all().map((n) => JSON.stringify(n.entries().map((e) => [e.key, e.value.toState()])));
      return x === y;
    };
    assert.ok(await clock.until(() => converged() && all().every((n) => !writers(n).includes(oldWriter)), 10_000), "every replica dropped n2's retired id");
    for (const n of all()) {
      assert.equal((n.get(counter) as { value: number }).value, total, `${n.nodeId}: the counter is exact`);
      const ids = writers(n);
      assert.ok(ids.length <= 3, `${n.nodeId}: one id per node (n0, n1 gone, n2): ${ids.join(", ")}`);
    }
    console.log(`n2 dropped n1 ${droppedAfterMs} ms (virtual) after the heal`);
  } finally {
    for (const n of nodes.values()) await drive(n.close()).catch(() => {});
  }
});
