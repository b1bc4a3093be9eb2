// A CommonJS consumer of the packed library (require() of the ESM package): two replicas converge
// through the NATS server at NATS_URL.
const { Key, Replicator, CrdtReplicatorError } = require("crdt-replicator");

async function main() {
  const nats = { servers: process.env.NATS_URL };
  const a = await Replicator.start({ nodeId: "cjs-a", nats });
  const b = await Replicator.start({ nodeId: "cjs-b", nats });
  const online = Key.orset("cjs-online");
  await a.update(online, (s, self) => s.add(self, "alice"));
  await b.update(online, (s, self) => s.add(self, "bob"));
  const deadline = Date.now() + 60_000;
  while (a.get(online)?.size !== 2 || b.get(online)?.size !== 2) {
    if (Date.now() > deadline) throw new Error("no convergence");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  console.log("converged", [...b.get(online).elements].sort().join(","));
  await a.close();
  await b.close();
  await Promise.resolve()
    .then(() => a.update(online, (s, self) => s.add(self, "late")))
    .catch((e) => console.log("typed error", e instanceof CrdtReplicatorError));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
