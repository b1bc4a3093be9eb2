/**
 * Two replicas of a shared set converge through NATS: each adds its own element, both end up with
 * both. Run with a NATS server on 127.0.0.1:4222 (or NATS_URL): npx tsx examples/two-replicas.ts
 */
import { Key, Replicator } from "crdt-replicator";

const nats = { servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" };
const alice = await Replicator.start({ nodeId: "alice", nats });
const bob = await Replicator.start({ nodeId: "bob", nats });

const online = Key.orset<string>("online");
await alice.update(online, (s, self) => s.add(self, "alice")); // local writes: they return at once
await bob.update(online, (s, self) => s.add(self, "bob"));

// Each replica hears the other's delta; wait (at most 30 s) until both hold both elements.
const both = (r: Replicator): boolean => r.get(online)?.size === 2;
const deadline = Date.now() + 30_000;
while (!(both(alice) && both(bob))) {
  if (Date.now() > deadline) throw new Error("the replicas did not converge within 30 s");
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log("alice sees", [...alice.get(online)!.elements].sort());
console.log("bob sees", [...bob.get(online)!.elements].sort());

await alice.close();
await bob.close();
