/**
 * Retired writer ids across data centers, over real nats-server processes: a node of east restarts
 * without a snapshot several times while writing; its own fold (crdt/writer-ids.ts) reaches west
 * through the cross-DC batches like a write, and every replica of both DCs ends with one id of that
 * node per key (the fold id it then writes under in those keys), the counter exact and every add present.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Key, type Replicator } from "../../src/index.js";
import { dataTypes } from "../../src/crdt/registry.js";
import { waitFor } from "../helpers/wait.js";
import { startTwoDcs, type TwoDcs } from "./two-dcs.js";

const RESTARTS = 5;
/** Prune ticks and digest rounds often enough that the fold settles within seconds. */
const PRUNING = { pruneIntervalMs: 500, antiEntropyIntervalMs: 1_000 };

describe("a node restarted without snapshots, two DCs", () => {
  let x: TwoDcs;
  before(async () => {
    x = await startTwoDcs({ east: [], west: [] });
    await x.add("east", "e0", PRUNING);
    await x.add("west", "w0", PRUNING);
  });
  after(() => x.close());

  test(`after ${RESTARTS} restarts every replica in both DCs holds one id of the node per key; counter exact, every add present`, { timeout: 300_000 }, async () => {
    const hits = Key.gcounter("hits");
    const tags = Key.orset<string>("tags");
    const fields = Key.pncounterMap("fields");
    const [e0] = x.east.nodes as [Replicator];
    const [w0] = x.west.nodes as [Replicator];
    let writer: Replicator | undefined;
    for (let run = 0; run <= RESTARTS; run++) {
      if (writer !== undefined) await writer.close();
      writer = await x.add("east", "e1", PRUNING);
      await writer.update(hits, (c, self) => c.increment(self, 1));
      await writer.update(tags, (s, self) => s.add(self, `t${run}`));
      await writer.update(fields, (m, self) => m.increment(self, "f", 2));
      // Every write reached both DCs before the writer goes (a close without a snapshot keeps nothing).
      await waitFor(() => [e0, w0].every((r) => r.get(hits)?.value === run + 1 && r.get(tags)?.has(`t${run}`) === true), { timeoutMs: 30_000, message: `run ${run} in both DCs` });
    }
    const idsOf = (r: Replicator, node: string): string[][] =>
      r.entries().map((e) => (dataTypes.get(e.kind)?.pruning?.writers(e.value) ?? []).filter((id) => id.startsWith(`${node}~`) || id.startsWith(`${node}^`)));
    const all = [e0, writer!, w0];
    await waitFor(() => all.every((r) => r.size === 3 && idsOf(r, "e1").every((ids) => ids.length === 1)), {
      timeoutMs: 60_000,
      message: "one id of e1 per key on every replica of both DCs",
      describe: () => all.map((r) => `${r.nodeId}: ${JSON.stringify(idsOf(r, "e1"))}`).join("; "),
    });
    for (const r of all) {
      assert.equal(r.get(hits)!.value, RESTARTS + 1, `${r.nodeId}: counter exact`);
      assert.deepEqual([...r.get(tags)!.elements].sort(), Array.from({ length: RESTARTS + 1 }, (_, i) => `t${i}`).sort(), `${r.nodeId}: every add present`);
      assert.equal(r.get(fields)!.get("f"), 2 * (RESTARTS + 1), `${r.nodeId}: map field exact`);
      for (const ids of idsOf(r, "e1")) assert.deepEqual(ids, [writer!.writerId.replace("~", "^")], `${r.nodeId}: e1's one id is the fold id of its live writer id`);
    }
    // It goes on writing under it, and both DCs count it.
    await writer!.update(hits, (c, self) => c.increment(self, 1));
    await waitFor(() => all.every((r) => r.get(hits)?.value === RESTARTS + 2), { timeoutMs: 30_000, message: "a write after the fold in both DCs" });
  });
});
