/**
 * Quorum safety on the in-memory bus, a few fixed seeds: five replicators split into two sides
 * (the seed picks a minority of 1 or 2) for three times removalTimeoutMs while every node keeps
 * trying majority writes (ORSet adds and counter increments). Only one side ever acknowledges a
 * majority write; after the heal, a majority read (from a node of the minority) sees every
 * acknowledged write. (The 10,000-schedule simulation covers random schedules; this pins the case.)
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Key, MemoryNetwork, Replicator, WriteTimeoutError } from "../../src/index.js";
import { mulberry32 } from "../../src/transport/memory.js";
import { waitFor } from "../helpers/wait.js";

const IDS = ["n0", "n1", "n2", "n3", "n4"];
const REMOVAL_MS = 800;
const set = Key.orset<string>("s");
const counter = Key.gcounter("k");

async function scenario(seed: number): Promise<void> {
  const random = mulberry32(seed);
  const net = new MemoryNetwork({ seed });
  const nodes: Replicator[] = [];
  try {
    for (const id of IDS) {
      nodes.push(
        await Replicator.start({
          nodeId: id,
          transport: net.connect(id),
          heartbeatIntervalMs: 50,
          failureTimeoutMs: 300,
          removalTimeoutMs: REMOVAL_MS,
          coordinationTimeoutMs: 150,
        }),
      );
    }
    await waitFor(() => nodes.every((n) => n.members().filter((m) => m.counted).length === 5), { timeoutMs: 10_000, message: "all admitted" });

    const shuffled = [...IDS].sort(() => random() - 0.5);
    const minority = shuffled.slice(0, 1 + Math.floor(random() * 2));
    const majority = IDS.filter((id) => !minority.includes(id));
    net.partition(minority, majority);
    const cutAt = Date.now();
    const acked = { adds: [] as string[], increments: 0, bySide: { minority: 0, majority: 0 } };
    await Promise.all(
      nodes.map(async (n) => {
        const side = minority.includes(n.nodeId) ? "minority" : "majority";
        for (let i = 0; Date.now() - cutAt < 3 * REMOVAL_MS; i++) {
          const element = `${n.nodeId}-${i}`;
          const write = random() < 0.5 ? n.update(set, (s, self) => s.add(self, element), { writeTo: "majority" }) : n.update(counter, (c, self) => c.increment(self, 1), { writeTo: "majority" });
          await write.then(
            (v) => {
              acked.bySide[side]++;
              if (v.kind === "orset") acked.adds.push(element);
              else acked.increments++;
            },
            (e: unknown) => assert.ok(e instanceof WriteTimeoutError, String(e)),
          );
        }
      }),
    );
    assert.equal(acked.bySide.minority, 0, `seed ${seed}: the minority ${minority.join(",")} acknowledged a majority write`);
    assert.ok(acked.bySide.majority > 0, `seed ${seed}: the majority side acknowledged nothing`);

    net.heal();
    const reader = nodes[IDS.indexOf(minority[0]!)]!;
    let elements: readonly string[] = [];
    let total = 0;
    // A majority read succeeds once the minority node admits its peers again; then it must see everything.
    await waitFor(async () => {
      try {
        elements = (await reader.get(set, { readFrom: "majority" }))?.elements ?? [];
        total = (await reader.get(counter, { readFrom: "majority" }))?.value ?? 0;
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs: 15_000, message: `seed ${seed}: a majority read after the heal` });
    assert.deepEqual(acked.adds.filter((e) => !elements.includes(e)), [], `seed ${seed}: acknowledged adds missing from a majority read`);
    assert.ok(total >= acked.increments, `seed ${seed}: counter ${total} < ${acked.increments} acknowledged increments`);
  } finally {
    net.heal();
    await Promise.allSettled(nodes.map((n) => n.close()));
  }
}

describe("majority writes across a partition longer than removalTimeoutMs (in memory)", () => {
  for (const seed of [1, 7, 42]) {
    test(`seed ${seed}`, { timeout: 60_000 }, () => scenario(seed));
  }
});
