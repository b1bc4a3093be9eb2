// An ESM consumer of the packed library: two replicas converge through the NATS server at NATS_URL.
// Importing the library loads no native addon; opening snapshots then loads LevelDB's.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Key, Replicator } from "crdt-replicator";

const nativeAddons = () => process.report.getReport().sharedObjects.filter((f) => f.endsWith(".node"));
if (nativeAddons().length > 0) throw new Error(`importing the library loaded ${nativeAddons().join(", ")}`);

const nats = { servers: process.env.NATS_URL };
const a = await Replicator.start({ nodeId: "esm-a", nats });
const b = await Replicator.start({ nodeId: "esm-b", nats });
const hits = Key.gcounter("esm-hits");
await a.update(hits, (c, self) => c.increment(self, 2));
await b.update(hits, (c, self) => c.increment(self, 3));
const deadline = Date.now() + 60_000;
while (a.get(hits)?.value !== 5 || b.get(hits)?.value !== 5) {
  if (Date.now() > deadline) throw new Error(`no convergence: a=${a.get(hits)?.value} b=${b.get(hits)?.value}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log("converged", a.get(hits).value, b.get(hits).value);
if (nativeAddons().length > 0) throw new Error(`replicating without snapshots loaded ${nativeAddons().join(", ")}`);
await a.close();
await b.close();

const dir = mkdtempSync(join(tmpdir(), "crdt-consumer-snapshots-"));
try {
  const c = await Replicator.start({ nodeId: "esm-c", nats, snapshot: { dir } });
  await c.close();
  console.log("snapshots load", nativeAddons().some((f) => f.includes("classic-level")) ? "classic-level" : "nothing");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
