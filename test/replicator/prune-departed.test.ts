/**
 * Departed nodes pruned for real, with node names that churn (a Deployment's pods): two members stay,
 * and eight more, each in its own OS process under a name of its own, join one after another, write
 * to a counter and a set (acknowledged by all), and leave — half gracefully, half by SIGKILL (then
 * voted out). The leader absorbs each departed node's ids under a marker (crdt/writer-ids.ts),
 * which expires after pruneMarkerTtlMs. Afterwards the counter is exact and holds the two live
 * members' ids alone — however many names came and went — and the set holds every add, with one id
 * per departed node whose element it still holds (its marker).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Key, type Replicator, type ReplicatorOptions } from "../../src/index.js";
import { dataTypes } from "../../src/crdt/registry.js";
import { waitFor } from "../helpers/wait.js";
import { startChildNode, type ChildNode } from "./fixtures/child-node.js";
import { twoMembers } from "./fixtures/two-members.js";

const DEPARTED = 8;
const TIMINGS: Partial<ReplicatorOptions> = {
  heartbeatIntervalMs: 200,
  failureTimeoutMs: 1_500,
  removalTimeoutMs: 3_000,
  coordinationTimeoutMs: 5_000,
  antiEntropyIntervalMs: 500,
  pruneIntervalMs: 500,
  pruneRetiredAfterMs: 1_000,
  pruneMarkerTtlMs: 10_000,
};

describe("nodes of ever new names join, write and leave", () => {
  const members = twoMembers(TIMINGS);
  const { nodes } = members;
  const opts = (nodeId: string): ReplicatorOptions => members.options(nodeId);

  test("the counter ends exact with the live members' ids alone; the set keeps every add", { timeout: 600_000 }, async () => {
    const [a, b] = nodes as [Replicator, Replicator];
    let child: ChildNode | undefined;
    const counter = Key.gcounter("k");
    const set = Key.orset<string>("s");
    let expected = 0;
    const added: string[] = [];
    const ids = (n: Replicator, key: string): string[] => {
      const e = n.entry(key);
      return e === undefined ? [] : dataTypes.get(e.kind)!.pruning!.writers(e.value);
    };
    for (let i = 0; i < DEPARTED; i++) {
      const name = `pod-${i}`;
      child = members.child = await startChildNode(opts(name));
      await waitFor(() => [a, b].every((n) => n.members().some((m) => m.node === name && m.reachable && m.counted)), {
        timeoutMs: 30_000,
        message: `a and b count ${name}`,
        describe: () => [a, b].map((n) => `${n.nodeId} sees ${n.members().map((m) => `${m.node}${m.reachable ? "" : " (unreachable)"}${m.counted ? "" : " (not counted)"}`).join(", ")}`).join("; "),
      });
      await child.send({ op: "increment", key: "k", by: i + 1, writeTo: "majority" }, 30_000);
      expected += i + 1;
      await child.send({ op: "add", key: "s", element: name, writeTo: "majority" }, 30_000);
      added.push(name);
      await a.update(counter, (v, self) => v.increment(self, 1), { writeTo: "majority", timeoutMs: 10_000 });
      expected += 1;
      if (i % 2 === 0) await child.stop();
      else await child.kill();
      child = members.child = undefined;
      // The next pod joins once this one is out of the membership: a dead member still counted in N
      // would need a majority vote that two live members of four cannot give (quorum rule).
      await waitFor(() => [a, b].every((n) => !n.members().some((m) => m.node === name)), { timeoutMs: 30_000, message: `a and b removed ${name}` });
    }
    const departed = (n: Replicator, key: string): string[] => ids(n, key).filter((id) => id.startsWith("pod-"));
    let seen = "";
    await waitFor(
      () => {
        seen = [a, b].map((n) => `${n.nodeId}: k=${n.get(counter)?.value} [${ids(n, "k").join(",")}] s=[${ids(n, "s").join(",")}] members ${n.members().map((m) => `${m.node}${m.reachable ? "" : "?"}${m.counted ? "" : "-"}`).join(",")}`).join("; ");
        return [a, b].every((n) => n.get(counter)?.value === expected && departed(n, "k").length === 0 && departed(n, "s").every((id) => id.includes("#")));
      },
      { timeoutMs: 120_000, intervalMs: 250, message: "every departed node's ids absorbed, and the counter's markers expired", describe: () => seen },
    );
    for (const n of [a, b]) {
      assert.equal(n.get(counter)?.value, expected, `${n.nodeId}'s counter is exact`);
      assert.deepEqual(ids(n, "k"), [a.writerId], `${n.nodeId}'s counter holds the live writer's id alone (b never wrote to it)`);
      assert.deepEqual([...n.get(set)!.elements].sort(), [...added].sort(), `${n.nodeId} holds every add`);
      assert.ok(departed(n, "s").length <= DEPARTED, "one marker per departed node whose element stays");
    }
    // Once those elements are removed, the set's markers go too: only the live members' ids are left.
    for (const name of added) await a.update(set, (s) => s.remove(name));
    await waitFor(() => [a, b].every((n) => departed(n, "s").length === 0 && n.get(set)?.elements.length === 0), {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: "the set's markers expired once no element held their dots",
      describe: () => [a, b].map((n) => `${n.nodeId}: [${ids(n, "s").join(",")}]`).join("; "),
    });
  });
});
