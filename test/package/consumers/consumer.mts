// A strict TypeScript consumer of the packed library, compiled by tsc against its declarations:
// two replicas converge through the NATS server at NATS_URL.
import { Key, LWWRegister, Replicator, type ReplicatorOptions } from "crdt-replicator";

const options = (nodeId: string): ReplicatorOptions => ({ nodeId, nats: { servers: process.env.NATS_URL ?? "" } });
const a = await Replicator.start(options("ts-a"));
const b = await Replicator.start(options("ts-b"));
const greeting = Key.lwwRegister<string>("ts-greeting");
await a.update(greeting, (r: LWWRegister<string>, self: string) => r.set(self, "hello"));
const deadline = Date.now() + 60_000;
let seen: string | undefined;
while ((seen = b.get(greeting)?.value) !== "hello") {
  if (Date.now() > deadline) throw new Error(`no convergence: b sees ${seen}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log("converged", seen);
await a.close();
await b.close();
