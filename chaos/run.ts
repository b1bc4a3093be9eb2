/**
 * `npm run chaos -- [--minutes 2] [--seed S] [--nodes 5] [--rate 60] [--out DIR]`: a Jepsen-style
 * run against real processes. A 3-server NATS cluster (every route through a cuttable proxy),
 * `--nodes` crdt-node processes (each behind its own proxies), clients logging every operation, and
 * a seeded fault schedule; then a heal, a wait for convergence, and the checker. Exits 0 on a pass,
 * 1 on a failed check (printing the seed and the replay command), 2 when the harness itself broke.
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { CrdtClient } from "../packages/crdt-node/src/client.js";
import { startNatsCluster, type NatsCluster } from "../test/helpers/nats-cluster.js";
import { stopAllNatsServers } from "../test/helpers/nats-server.js";
import { sleep, waitFor } from "../test/helpers/wait.js";
import { canonicalState, check, type NodeState } from "./checker.js";
import { playSchedule } from "./faults.js";
import { ChaosNode, killAllNodes, makeDataRoot } from "./nodes.js";
import type { FaultRecord, Op } from "./records.js";
import { generateSchedule } from "./schedule.js";
import { replayCommand, summarize } from "./summary.js";
import { startWorkload, type Workload } from "./workload.js";

const BROKERS = 3;
const HEAL_MS = 20_000;
const CONVERGENCE_TIMEOUT_MS = 120_000;
const COORDINATION_TIMEOUT_MS = 3_000;

interface Settings {
  minutes: number;
  seed: number;
  nodes: number;
  rate: number;
  out: string | undefined;
}

function settings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: "string", default: "2" },
      seed: { type: "string" },
      nodes: { type: "string", default: "5" },
      rate: { type: "string", default: "60" },
      out: { type: "string" },
    },
  });
  const number = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}; got ${JSON.stringify(v)}`);
    return n;
  };
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : number("seed", values.seed, 0);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer; got ${values.seed}`);
  return {
    minutes: number("minutes", values.minutes!, 0.5),
    seed,
    nodes: Math.round(number("nodes", values.nodes!, 3)),
    rate: number("rate", values.rate!, 1),
    out: values.out,
  };
}

/** Every key's JSON view on one node, or undefined when the node does not answer. */
async function readState(url: string): Promise<NodeState | undefined> {
  try {
    const state: NodeState = {};
    for await (const { key } of new CrdtClient({ url, timeoutMs: 5_000 }).allKeys()) {
      const view = (await (await fetch(`${url}/v1/keys/${key}`, { signal: AbortSignal.timeout(5_000) })).json()) as NodeState[string];
      state[key] = { type: view.type, value: view.value, ...(view.detail === undefined ? {} : { detail: view.detail }) };
    }
    return state;
  } catch {
    return undefined;
  }
}

/** Whether the node sees all `n` members reachable and counting toward its quorums. */
async function clusterFormed(url: string, n: number): Promise<boolean> {
  const res = await fetch(`${url}/v1/cluster`, { signal: AbortSignal.timeout(2_000) });
  const body = (await res.json()) as { members?: { reachable: boolean; counted?: boolean; self?: boolean }[] };
  return body.members?.filter((m) => m.reachable && (m.counted ?? true)).length === n;
}

async function main(): Promise<number> {
  const s = settings(process.argv.slice(2));
  const durationMs = Math.round(s.minutes * 60_000);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const runDir = s.out ?? join("chaos", "runs", `${stamp}-seed${s.seed}`);
  mkdirSync(runDir, { recursive: true });
  const schedule = generateSchedule({ seed: s.seed, durationMs, nodes: s.nodes, brokers: BROKERS, healMs: HEAL_MS });
  writeFileSync(join(runDir, "schedule.json"), JSON.stringify(schedule, null, 2));
  console.log(`chaos: seed ${s.seed}, ${s.minutes} min, ${s.nodes} nodes, ${schedule.faults.length} faults scheduled; run directory ${runDir}`);

  let brokers: NatsCluster | undefined;
  const nodes: ChaosNode[] = [];
  const dataRoot = makeDataRoot();
  let workload: Workload | undefined;
  try {
    brokers = await startNatsCluster({ size: BROKERS, name: "chaos", noAdvertise: true });
    // Every node may use every broker (the NATS client picks one at random and fails over).
    const brokerPorts = brokers.servers.map((b) => b.port);
    for (let i = 0; i < s.nodes; i++) {
      nodes.push(
        await ChaosNode.create({
          index: i,
          brokerPorts,
          dataDir: join(dataRoot, `n${i + 1}`),
          logDir: runDir,
          clockOffsetMs: schedule.initialClockOffsetsMs[i]!,
          coordinationTimeoutMs: COORDINATION_TIMEOUT_MS,
          clusterSize: s.nodes,
        }),
      );
    }
    await Promise.all(nodes.map((n) => n.start()));
    await waitFor(async () => (await Promise.all(nodes.map((n) => clusterFormed(n.url, s.nodes)))).every(Boolean), {
      timeoutMs: 60_000,
      message: "every node to see every other one and count it toward its quorums",
    });
    console.log(`chaos: ${s.nodes} nodes up (${nodes.map((n) => `${n.id} ${n.clockOffsetMs >= 0 ? "+" : ""}${n.clockOffsetMs} ms`).join(", ")}); running`);

    const t0 = performance.now();
    const now = (): number => Math.round(performance.now() - t0);
    const ops: Op[] = [];
    const faults: FaultRecord[] = [];
    workload = startWorkload({
      seed: s.seed,
      urls: nodes.map((n) => n.url),
      rate: s.rate,
      workers: 16,
      requestTimeoutMs: COORDINATION_TIMEOUT_MS + 7_000,
      now,
      record: (op) => {
        ops.push(op);
        appendFileSync(join(runDir, "ops.jsonl"), `${JSON.stringify(op)}\n`);
      },
    });
    const progress = setInterval(() => {
      const ok = ops.filter((o) => o.outcome === "ok").length;
      console.log(`chaos: ${(now() / 1000).toFixed(0)} s, ${ops.length} operations (${ok} ok), ${faults.length} faults done`);
    }, 15_000);
    await playSchedule(schedule.faults, {
      nodes,
      brokers,
      now,
      record: (f) => {
        faults.push(f);
        appendFileSync(join(runDir, "faults.jsonl"), `${JSON.stringify(f)}\n`);
      },
    });
    if (durationMs > now()) await sleep(durationMs - now());
    await workload.stop();
    clearInterval(progress);

    // Heal: every fault undid itself already; make sure, then wait for one state everywhere.
    brokers.heal();
    for (const n of nodes) {
      n.restoreLink();
      n.resume();
    }
    const healedAt = now();
    let finals: (NodeState | undefined)[] = [];
    let convergenceMs: number | undefined;
    const same = (states: (NodeState | undefined)[]): boolean =>
      states.every((x) => x !== undefined && canonicalState(x) === canonicalState(states[0]!));
    await waitFor(
      async () => {
        finals = await Promise.all(nodes.map((n) => readState(n.url)));
        if (!same(finals)) return false;
        convergenceMs ??= now() - healedAt;
        await sleep(1_000); // and stays so: nothing still in flight changes it
        const again = await Promise.all(nodes.map((n) => readState(n.url)));
        const stable = same(again) && canonicalState(again[0]!) === canonicalState(finals[0]!);
        if (!stable) convergenceMs = undefined;
        return stable;
      },
      { timeoutMs: CONVERGENCE_TIMEOUT_MS, intervalMs: 500 },
    ).catch(() => {
      convergenceMs = undefined;
    });
    writeFileSync(join(runDir, "finals.json"), JSON.stringify(finals, null, 2));

    const result = check({ ops, faults, finals });
    writeFileSync(join(runDir, "result.json"), JSON.stringify(result, null, 2));
    const text = summarize({ seed: s.seed, minutes: s.minutes, nodes: s.nodes, brokers: BROKERS, rate: s.rate, ops, faults, result, convergenceMs, runDir });
    writeFileSync(join(runDir, "summary.txt"), `${text}\n`);
    console.log(`\n${text}`);
    return result.ok ? 0 : 1;
  } catch (error) {
    console.error(`chaos: the harness failed: ${error instanceof Error ? error.stack : String(error)}`);
    console.error(`chaos: seed ${s.seed}; replay: ${replayCommand(s)}; logs in ${relative(".", runDir)}`);
    return 2;
  } finally {
    await workload?.stop(); // a no-op after a normal run; after a harness failure it ends the clients first
    await Promise.all(nodes.map((n) => n.close().catch(() => undefined)));
    killAllNodes();
    await brokers?.stop().catch(() => undefined);
    await stopAllNatsServers();
  }
}

process.exit(await main());
