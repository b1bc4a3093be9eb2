/**
 * Retired writers pruned for real: a member in its own OS process, without snapshots, killed with
 * SIGKILL and started again 20 times while it and two live members write. Every start writes under
 * a fresh writer id; each process folds the ids of the earlier ones (crdt/writer-ids.ts) once its
 * digest rounds with both peers ended. Afterwards every replica holds at most two ids of that node
 * per key (its fold id and its live writer id), the counter is exact, every set add is there, and
 * a PNCounterMap both write to holds the exact count of every field (up and down).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { Key, type Replicator, type ReplicatorOptions } from "../../src/index.js";
import { dataTypes } from "../../src/crdt/registry.js";
import { waitFor } from "../helpers/wait.js";
import { startChildNode, type ChildNode } from "./fixtures/child-node.js";
import { twoMembers } from "./fixtures/two-members.js";

const RESTARTS = 20;
const TIMINGS: Partial<ReplicatorOptions> = {
  heartbeatIntervalMs: 200,
  failureTimeoutMs: 1_500,
  removalTimeoutMs: 600_000, // the killed processes are replaced by their next incarnation, never removed
  coordinationTimeoutMs: 5_000,
  antiEntropyIntervalMs: 500,
  pruneIntervalMs: 500,
};

describe("a member crash-restarted 20 times without snapshots", () => {
  const members = twoMembers(TIMINGS);
  const { nodes } = members;
  const opts = (nodeId: string): ReplicatorOptions => members.options(nodeId);

  test("every replica keeps at most 2 of its writer ids per key; the counter and the map are exact", { timeout: 900_000 }, async () => {
    const [a, b] = nodes as [Replicator, Replicator];
    let child: ChildNode | undefined;
    const counter = Key.gcounter("k");
    const set = Key.orset<string>("s");
    const map = Key.pncounterMap("m");
    let expected = 0;
    const added: string[] = [];
    const fields: Record<string, number> = {};
    const count = (field: string, by: number): void => void (fields[field] = (fields[field] ?? 0) + by);
    for (let run = 0; run <= RESTARTS; run++) {
      child = members.child = await startChildNode(opts("c"));
      await waitFor(() => [a, b].every((n) => n.members().some((m) => m.node === "c" && m.reachable && m.counted)), { timeoutMs: 30_000, message: `a and b count c (run ${run})` });
      // Acknowledged by all three before the next kill: these must all survive the prune.
      for (let i = 0; i < 3; i++) {
        await child.send({ op: "increment", key: "k", by: run + 1, writeTo: "all" }, 30_000);
        expected += run + 1;
      }
      await child.send({ op: "add", key: "s", element: `c${run}`, writeTo: "all" }, 30_000);
      added.push(`c${run}`);
      // A field every run writes (up), one it writes down, and one per run (keys that come and stay).
      for (const [field, by] of [["up", run + 1], ["down", -(run % 3) - 1], [`r${run}`, 2]] as const) {
        await child.send({ op: "mapAdd", key: "m", field, by, writeTo: "all" }, 30_000);
        count(field, by);
      }
      await a.update(counter, (v, self) => v.increment(self, 1), { writeTo: "majority", timeoutMs: 10_000 });
      expected += 1;
      await a.update(map, (m, self) => m.increment(self, "up", 1), { writeTo: "majority", timeoutMs: 10_000 });
      count("up", 1);
      if (run < RESTARTS) await child.kill();
    }
    const cIds = (ids: string[] | null | undefined): string[] => (ids ?? []).filter((id) => id.startsWith("c~") || id.startsWith("c^"));
    const local = (n: Replicator, key: string): string[] => {
      const e = n.entry(key);
      if (e === undefined) return [];
      const pruning = dataTypes.get(e.kind)?.pruning;
      assert.ok(pruning !== undefined, `${e.kind} records writer ids: it must declare the pruning capability`);
      return pruning.writers(e.value);
    };
    const view = async (): Promise<string> => {
      const parts = [a, b].map((n) => `${n.nodeId}: k=${n.get(counter)?.value} ${cIds(local(n, "k")).join(",")} s=${cIds(local(n, "s")).join(",")} m=${cIds(local(n, "m")).join(",")}`);
      const childIds = async (key: string): Promise<string> => cIds((await child!.send({ op: "writers", key })) as string[]).join(",");
      parts.push(`c: k=${String(await child!.send({ op: "get", key: "k" }))} ${await childIds("k")} s=${await childIds("s")} m=${await childIds("m")}`);
      return parts.join("; ");
    };
    const sameCounts = (entries: readonly (readonly [unknown, number])[] | undefined): boolean =>
      isDeepStrictEqual(Object.fromEntries((entries ?? []).map(([f, v]) => [String(f), v])), fields);
    let seen = "";
    const pruned = async (): Promise<boolean> => {
      seen = await view();
      for (const n of [a, b]) {
        if (n.get(counter)?.value !== expected) return false;
        if (["k", "s", "m"].some((key) => cIds(local(n, key)).length > 2)) return false;
        if (!sameCounts(n.get(map)?.entries)) return false;
      }
      if ((await child!.send({ op: "get", key: "k" })) !== expected) return false;
      for (const key of ["k", "s", "m"]) {
        const ids = (await child!.send({ op: "writers", key })) as string[] | null;
        if (ids === null || cIds(ids).length > 2) return false; // null: no value yet, or no pruning capability
      }
      return true;
    };
    await waitFor(pruned, { timeoutMs: 60_000, intervalMs: 250, message: "every replica pruned c's retired ids", describe: () => seen });
    for (const n of [a, b]) {
      assert.equal(n.get(counter)?.value, expected, `${n.nodeId}'s counter is exact`);
      assert.deepEqual([...n.get(set)!.elements].sort(), [...added].sort(), `${n.nodeId} holds every add`);
      assert.deepEqual(Object.fromEntries(n.get(map)!.entries.map(([f, v]) => [String(f), v])), fields, `${n.nodeId}'s map is exact per field`);
    }
    assert.deepEqual(await child!.send({ op: "mapEntries", key: "m" }), fields, "c's map is exact per field");
    assert.deepEqual(((await child!.send({ op: "elements", key: "s" })) as string[]).sort(), [...added].sort());
  });
});
