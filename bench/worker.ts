/**
 * A bench worker process: one node (replicator or raw NATS client) of a scenario, driven by the
 * orchestrator (bench/run.ts) over IPC. Each message is `{ id, cmd, args }`; the reply is
 * `{ id, ok, result | error }`. The worker exits when asked, or when the orchestrator goes away.
 */
import { tuneGarbageCollection } from "../src/index.js";
import { nodeHandlers, stopNode } from "./lib/node.js";
import { convergenceWorker } from "./scenarios/convergence.js";
import { throughputWorker } from "./scenarios/throughput.js";
import { bytesWorker } from "./scenarios/bytes.js";
import { kvWorker } from "./scenarios/kv.js";
import { scaleWorker } from "./scenarios/scale.js";
import { codecWorker } from "./scenarios/codec.js";
import { durabilityWorker } from "./scenarios/durability.js";
import { restartsWorker } from "./scenarios/restarts.js";
import { bigsetWorker } from "./scenarios/bigset.js";

type Handler = (args: never) => unknown;

const handlers: Record<string, Handler> = {
  ...nodeHandlers,
  ...convergenceWorker,
  ...throughputWorker,
  ...bytesWorker,
  ...kvWorker,
  ...scaleWorker,
  ...codecWorker,
  ...durabilityWorker,
  ...restartsWorker,
  ...bigsetWorker,
  exit: async () => {
    try {
      await stopNode();
    } finally {
      setImmediate(() => process.exit(0));
    }
  },
};

if (typeof process.send !== "function") {
  console.error("bench/worker.ts is started by bench/run.ts (it needs an IPC channel)");
  process.exit(2);
}
// A worker is a node as its user would run one that may hold millions of keys (README, "Node 24").
tuneGarbageCollection();

process.on("message", (m: { id: number; cmd: string; args: unknown }) => {
  const h = handlers[m.cmd];
  const reply = (r: { ok: boolean; result?: unknown; error?: string }): void => {
    if (process.connected) process.send!({ id: m.id, ...r });
  };
  if (h === undefined) {
    reply({ ok: false, error: `unknown command ${m.cmd}` });
    return;
  }
  Promise.resolve()
    .then(() => h(m.args as never))
    .then(
      (result) => reply({ ok: true, result }),
      (error: unknown) => reply({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
});
// The orchestrator died or closed the channel: nothing left to do.
process.on("disconnect", () => process.exit(0));
process.send({ type: "ready" });
