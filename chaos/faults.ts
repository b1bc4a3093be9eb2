/**
 * Plays a fault schedule against the live cluster: each fault starts at its offset, lasts its
 * duration, then is undone (a killed node restarts and is waited for). A fault whose target is still
 * busy with an earlier one (a slow restart) is skipped and logged as such. Every fault really
 * injected is reported with the times it really started and ended.
 */
import type { NatsCluster } from "../test/helpers/nats-cluster.js";
import { sleep } from "../test/helpers/wait.js";
import type { ChaosNode } from "./nodes.js";
import type { FaultRecord } from "./records.js";
import { MAX_NODES_FAULTED, type ScheduledFault } from "./schedule.js";

export interface FaultTargets {
  nodes: readonly ChaosNode[];
  brokers: NatsCluster;
  /** ms since the run started. */
  now(): number;
  record(fault: FaultRecord): void;
}

export async function playSchedule(faults: readonly ScheduledFault[], t: FaultTargets): Promise<void> {
  const busy = new Set<string>();
  const running: Promise<void>[] = [];
  for (const f of faults) {
    const wait = f.at - t.now();
    if (wait > 0) await sleep(wait);
    const owner = f.kind.startsWith("broker") || f.kind === "partition" ? "brokers" : `node ${f.target}`;
    // Restarts run longer than scheduled on a loaded machine: keep the schedule's limits for real.
    const nodesBusy = [...busy].filter((b) => b !== "brokers").length;
    const why = busy.has(owner) ? `${owner} still busy with an earlier fault` : owner !== "brokers" && nodesBusy >= MAX_NODES_FAULTED ? `${nodesBusy} nodes already faulted` : undefined;
    if (why !== undefined) {
      t.record({ kind: f.kind, target: f.target, start: t.now(), end: t.now(), note: `skipped: ${why}` });
      continue;
    }
    busy.add(owner);
    running.push(
      inject(f, t).finally(() => busy.delete(owner)),
    );
  }
  await Promise.all(running);
}

async function inject(f: ScheduledFault, t: FaultTargets): Promise<void> {
  const start = t.now();
  const base = { kind: f.kind, target: f.target, start };
  switch (f.kind) {
    case "kill":
    case "kill-wipe":
    case "restart": {
      const node = t.nodes[f.target]!;
      const killed = f.kind === "restart" ? await node.stop() : (await node.kill(), true);
      if (f.kind === "kill-wipe") node.wipe();
      await sleep(f.durationMs);
      if (f.clockOffsetMs !== undefined) node.clockOffsetMs = f.clockOffsetMs;
      await node.start();
      const shifted = f.clockOffsetMs === undefined ? {} : { clockOffsetMs: f.clockOffsetMs };
      t.record({ ...base, end: t.now(), killed, ...(f.kind === "kill-wipe" ? { wiped: true } : {}), ...shifted });
      return;
    }
    case "pause": {
      const node = t.nodes[f.target]!;
      node.pause();
      await sleep(f.durationMs);
      node.resume();
      break;
    }
    case "link-reset":
    case "link-blackhole": {
      const node = t.nodes[f.target]!;
      node.cutLink(f.kind === "link-reset" ? "reset" : "blackhole");
      await sleep(f.durationMs);
      node.restoreLink();
      break;
    }
    case "broker-kill": {
      const broker = t.brokers.servers[f.target]!;
      await broker.kill();
      await sleep(f.durationMs);
      await broker.restart();
      break;
    }
    case "broker-pause": {
      const broker = t.brokers.servers[f.target]!;
      broker.pause();
      await sleep(f.durationMs);
      broker.resume();
      break;
    }
    case "partition": {
      const others = t.brokers.servers.map((_, i) => i).filter((i) => i !== f.target);
      t.brokers.partition([others, [f.target]]);
      await sleep(f.durationMs);
      t.brokers.heal();
      break;
    }
  }
  t.record({ ...base, end: t.now() });
}
