/**
 * The benchmark suite (issue 6). `npm run bench` runs the quick suite (< 4 minutes on a 2-core
 * machine, large sizes scaled down and stated); `npm run bench -- --full` the issue's full sizes.
 *
 *   npm run bench -- --only convergence,kv     some scenarios
 *   npm run bench -- --runs 5                  more repetitions (≥ 3)
 *   npm run bench -- --render bench/results/X.json   re-render latest.md and the charts from a result
 *
 * Every node is a worker process (bench/worker.ts) against a nats-server started here; every child
 * is killed by PID on exit, Ctrl-C and errors. Results: bench/results/<timestamp>.json, latest.json,
 * latest.md and the SVG charts it embeds.
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { stopAllNatsServers } from "../test/helpers/nats-server.js";
import { ScenarioResources, type BenchContext } from "./lib/context.js";
import { machineInfo } from "./lib/machine.js";
import { killAllWorkers } from "./lib/procs.js";
import { Progress } from "./lib/progress.js";
import { checkGoals, render, writeResults, type BenchResults, type Scenarios } from "./lib/report.js";
import { runBigSet } from "./scenarios/bigset.js";
import { runBytes } from "./scenarios/bytes.js";
import { runChurn } from "./scenarios/churn.js";
import { runCodec } from "./scenarios/codec.js";
import { runConvergence } from "./scenarios/convergence.js";
import { runDurability } from "./scenarios/durability.js";
import { runKv } from "./scenarios/kv.js";
import { runLocks } from "./scenarios/locks.js";
import { runNodeCount } from "./scenarios/nodes.js";
import { runScale } from "./scenarios/scale.js";
import { runSecurity } from "./scenarios/security.js";
import { runSwarm } from "./scenarios/swarm.js";
import { runRestarts } from "./scenarios/restarts.js";
import { runThroughput } from "./scenarios/throughput.js";
import { runQueue } from "./scenarios/queue.js";
import { runHuge } from "./scenarios/huge.js";

const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));

const SCENARIOS: { name: keyof Scenarios; title: string; run: (ctx: BenchContext) => Promise<unknown> }[] = [
  { name: "convergence", title: "1. Convergence latency (vs raw NATS fan-out)", run: runConvergence },
  { name: "throughput", title: "2. Throughput (vs raw NATS 1→1)", run: runThroughput },
  { name: "bytes", title: "3. Bytes on the wire", run: runBytes },
  { name: "kv", title: "4. Against NATS JetStream KV", run: runKv },
  { name: "scale", title: "5. Scale", run: runScale },
  { name: "codec", title: "6. Codec", run: runCodec },
  { name: "durability", title: "7. Durability (write-through vs write-behind)", run: runDurability },
  { name: "security", title: "8. Authenticated messages (cluster key, signatures)", run: runSecurity },
  { name: "churn", title: "9. Map churn (heap and bytes per key after keys come and go)", run: runChurn },
  { name: "restarts", title: "10. Metadata after 100 writer restarts (vs fresh)", run: runRestarts },
  { name: "bigset", title: "11. Big values (one element added to a large ORSet)", run: runBigSet },
  { name: "nodes", title: "12. Node count (3 → 12 processes, vs raw NATS fan-out to the same N)", run: runNodeCount },
  { name: "swarm", title: "13. 200 nodes in memory (heartbeat and anti-entropy traffic per node)", run: runSwarm },
  { name: "locks", title: "14. Coordination: JetStream lock (vs the raw KV update round trip)", run: runLocks },
  { name: "queue", title: "15. Queue (vs raw JetStream publish + fetch)", run: runQueue },
  { name: "huge", title: "16. 10 M keys on one node (heap, catch-up, idle anti-entropy, snapshot)", run: runHuge },
];

interface Args {
  full: boolean;
  runs: number;
  only: Set<string> | undefined;
  render: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { full: false, runs: 3, only: undefined, render: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split("=", 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--full") args.full = true;
    else if (flag === "--quick") args.full = false;
    else if (flag === "--runs") args.runs = Math.max(3, Number.parseInt(value(), 10) || 3);
    else if (flag === "--only") args.only = new Set(value().split(","));
    else if (flag === "--render") args.render = value();
    else if (flag === "--help" || flag === "-h") {
      console.log(`usage: npm run bench [-- --full] [--only ${SCENARIOS.map((s) => s.name).join(",")}] [--runs N] [--render result.json]`);
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]} (try --help)`);
  }
  for (const n of args.only ?? []) {
    if (!SCENARIOS.some((s) => s.name === n)) throw new Error(`unknown scenario "${n}"; one of ${SCENARIOS.map((s) => s.name).join(", ")}`);
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.render !== undefined) {
    const r = JSON.parse(readFileSync(args.render, "utf8")) as BenchResults;
    r.goals = checkGoals(r.scenarios);
    writeResults(RESULTS, r);
    console.log(render(r).markdown);
    return;
  }
  const progress = new Progress();
  const started = new Date();
  const t0 = Date.now();
  const machine = machineInfo();
  if (!args.full) process.env["BENCH_QUICK"] = "1";
  process.stderr.write(
    `crdt-replicator bench — ${args.full ? "full" : "quick"} mode, ${args.runs} runs per figure; ${machine.cores} cores, Node ${machine.node}, nats-server ${machine.natsServer}; fresh memory ${machine.memoryTouch?.firstNsPerByte} ns/B at first touch, ${machine.memoryTouch?.againNsPerByte} after\n`,
  );
  const scenarios: Scenarios = {};
  const errors: Record<string, string> = {};
  const timing: BenchResults["timing"] = {};
  const selected = SCENARIOS.filter((s) => args.only === undefined || args.only.has(s.name));
  for (const [i, s] of selected.entries()) {
    progress.section(`${s.title}  [${i + 1}/${selected.length}]`);
    const res = new ScenarioResources(args.full, args.runs, progress);
    const s0 = Date.now();
    const load0 = loadavg()[0]!;
    try {
      (scenarios as Record<string, unknown>)[s.name] = await s.run(res);
    } catch (error) {
      errors[s.name] = error instanceof Error ? (error.stack ?? error.message) : String(error);
      progress.note(`FAILED: ${String(error instanceof Error ? error.message : error).split("\n")[0]}`);
    } finally {
      await res.close();
      timing[s.name] = { seconds: (Date.now() - s0) / 1000, load1Start: round2(load0), load1End: round2(loadavg()[0]!) };
    }
  }
  progress.stop();
  const result: BenchResults = {
    version: 1,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    durationSeconds: (Date.now() - t0) / 1000,
    mode: args.full ? "full" : "quick",
    runs: args.runs,
    machine,
    scenarios,
    errors,
    timing,
    goals: checkGoals(scenarios),
  };
  // A partial run (--only) keeps its own record but leaves latest.* (what the README shows) alone.
  const file = writeResults(RESULTS, result, args.only === undefined);
  console.log(render(result).markdown.replace(/^!\[.*\n/gm, ""));
  process.stderr.write(
    `\nresults: ${file}\n${args.only === undefined ? `report:  ${RESULTS}latest.md (+ SVG charts)\n` : "(partial run: latest.md left as it was)\n"}took ${Math.round(result.durationSeconds)} s\n`,
  );
  if (Object.keys(errors).length > 0) process.exitCode = 1;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    killAllWorkers();
    await stopAllNatsServers();
  });
