/**
 * A counter on three replicas with majority writes and reads: a write that resolves is held by at
 * least two of the three, so a majority read on any replica sees it.
 * Run with a NATS server on 127.0.0.1:4222 (or NATS_URL): npx tsx examples/majority-counter.ts
 */
import { Key, Replicator } from "crdt-replicator";

const nats = { servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" };
const nodes = await Promise.all(["n1", "n2", "n3"].map((nodeId) => Replicator.start({ nodeId, nats })));

// Majority means ⌊N/2⌋+1 of the members a node knows: wait until each node counts all three.
const deadline = Date.now() + 30_000;
while (!nodes.every((r) => r.members().filter((m) => m.counted).length === 3)) {
  if (Date.now() > deadline) throw new Error("the three nodes did not admit each other within 30 s");
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const orders = Key.gcounter("orders");
const [n1, n2, n3] = nodes as [Replicator, Replicator, Replicator];
await n1.update(orders, (c, self) => c.increment(self, 2), { writeTo: "majority", timeoutMs: 10_000 });
await n2.update(orders, (c, self) => c.increment(self, 3), { writeTo: "majority", timeoutMs: 10_000 });

const read = await n3.get(orders, { readFrom: "majority", timeoutMs: 10_000 });
console.log("orders on n3 (majority read):", read?.value);

await Promise.all(nodes.map((r) => r.close()));
