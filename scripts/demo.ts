/**
 * npm run demo [-- --duration <s>] [-- --chaos] [-- --memory]
 *
 * Two data centers on this machine, each a 3-server NATS cluster (nats-server with --cluster and
 * --routes): east (3 nodes + a read-only relay) and west (2 nodes), every node given all three
 * server URLs of its DC and of the other DC (--remote-dc); a gentle load generator writes to the five
 * writable nodes; every node serves its live dashboard. Every node is a separate crdt-node process
 * (packages/crdt-node/bin/crdt-node.ts through tsx: no build needed).
 *
 * The relay sits in east on east's NATS with --read-only. It sees west's writes too: east's DC
 * leader receives west's batches and they reach every east member. It is configured with
 * --remote-dc west like every east node, so whichever east member leads (normally the oldest
 * writer; the relay only if it outlives them) keeps the cross-DC flow going.
 *
 * --chaos: while the load runs, SIGKILL one NATS server of east (its clients fail over to the two
 * others) and one node, then start both again at the same addresses; the convergence check at the
 * end must still pass.
 *
 * Without a nats-server binary (or with --memory) the same topology runs in this one process over
 * the in-memory transport (both DCs on one bus, so no cross-DC link is needed), dashboards included.
 *
 * Ctrl-C (or --duration) stops the load, checks that every node holds the same values, and stops
 * every process this script started, by PID — also on an uncaught error.
 */
import type { ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CrdtClient } from "../packages/crdt-node/src/client.js";
import { parseConfig, type NodeConfig } from "../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../packages/crdt-node/src/daemon.js";
import { startLoad, type Load } from "../packages/crdt-node/src/loadgen.js";
import { MemoryNetwork } from "../src/transport/memory.js";
import { startNatsCluster, supervisedNode, type DemoNatsCluster, type Supervised, type Supervisor } from "./demo-processes.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NATS_SERVERS_PER_DC = 3;
/** Demo nodes run anti-entropy more often than the default 30 s, so a node restarted empty catches up within seconds. */
const ANTI_ENTROPY_MS = 3_000;

interface NodeSpec {
  id: string;
  dc: "east" | "west";
  readOnly?: boolean;
}
const TOPOLOGY: NodeSpec[] = [
  { id: "east-1", dc: "east" },
  { id: "east-2", dc: "east" },
  { id: "east-3", dc: "east" },
  { id: "west-1", dc: "west" },
  { id: "west-2", dc: "west" },
  { id: "east-relay", dc: "east", readOnly: true },
];
/** The node --chaos kills and restarts (not a DC's first node, the one that normally leads). */
const CHAOS_NODE = "east-2";

// ------------------------------------------------------------------ arguments

function usage(): never {
  console.log(`usage: npm run demo -- [--duration <seconds>] [--chaos] [--memory] [--rate <writes/s>]
  --duration  stop by itself after this many seconds, checking that every node converged (default: run until Ctrl-C)
  --chaos     while the load runs, kill and restart a NATS server and a node (needs nats-server)
  --memory    run in one process over the in-memory transport even if nats-server is installed
  --rate      load generator writes per second (default 4)`);
  process.exit(0);
}

const argv = process.argv.slice(2);
let duration: number | undefined;
let forceMemory = false;
let chaos = false;
let rate = 4;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--duration") duration = Number(argv[++i]);
  else if (a === "--memory") forceMemory = true;
  else if (a === "--chaos") chaos = true;
  else if (a === "--rate") rate = Number(argv[++i]);
  else if (a === "--help" || a === "-h") usage();
  else {
    console.error(`demo: unknown argument ${a}`);
    usage();
  }
}
if (duration !== undefined && !(duration > 0)) throw new Error("--duration needs a positive number of seconds");
if (!(rate > 0)) throw new Error("--rate needs a positive number");
if (chaos && forceMemory) throw new Error("--chaos kills processes: it needs nats-server, not --memory");

// ------------------------------------------------------------------ cleanup, whatever happens

const children = new Set<ChildProcess>();
const clusters: DemoNatsCluster[] = [];
const nodes: { node: Supervised; url: string; close(): Promise<void> }[] = [];
const daemons: Daemon[] = [];
let load: Load | undefined;
let stopping: Promise<void> | undefined;

const supervisor: Supervisor = {
  children,
  log: (line) => console.log(line),
  unexpectedExit(name, why, output) {
    if (stopping !== undefined) return;
    console.error(`demo: ${name} exited unexpectedly (${why}); its last output:\n${output}`);
    void shutdown(1);
  },
};

function killAllNow(): void {
  for (const c of children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

function shutdown(code: number): Promise<void> {
  stopping ??= (async () => {
    await load?.stop().catch(() => undefined);
    await Promise.allSettled(daemons.map((d) => d.close()));
    // Nodes first (they leave their cluster cleanly), then the NATS servers.
    await Promise.allSettled(nodes.map((n) => n.close()));
    await Promise.allSettled(clusters.map((c) => c.close()));
    killAllNow();
    console.log(`demo: stopped ${daemons.length > 0 ? `${daemons.length} in-process nodes` : `${nodes.length} nodes and ${clusters.length * NATS_SERVERS_PER_DC} NATS servers`}`);
    process.exit(code);
  })();
  return stopping;
}

process.on("exit", killAllNow);
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
process.on("uncaughtException", (e) => {
  console.error("demo: uncaught error:", e);
  void shutdown(1);
});
process.on("unhandledRejection", (e) => {
  console.error("demo: unhandled rejection:", e);
  void shutdown(1);
});

// ------------------------------------------------------------------ helpers

function findNatsServer(): string | undefined {
  const dirs = process.env.NATS_SERVER_BIN ? [] : (process.env.PATH ?? "").split(delimiter);
  const candidates = process.env.NATS_SERVER_BIN ? [process.env.NATS_SERVER_BIN] : dirs.filter(Boolean).map((d) => join(d, "nats-server"));
  return candidates.find((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`demo: ${what} (gave up after ${timeoutMs / 1000} s)`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The node's crdt-node arguments (without --http: the supervisor picks the port at every start). */
function nodeArgs(spec: NodeSpec, nats: readonly string[], remote: string | undefined): string[] {
  const args = ["--node-id", spec.id, "--dc", spec.dc, "--nats", nats.join(","), "--anti-entropy-interval-ms", String(ANTI_ENTROPY_MS)];
  if (remote !== undefined) args.push("--remote-dc", remote, "--xdc-interval-ms", "1000");
  if (spec.readOnly) args.push("--read-only");
  return args;
}

/** An in-process node's config, on any free port (bound at once: no race). */
function config(args: string[]): NodeConfig {
  const r = parseConfig([...args, "--http", "127.0.0.1:0"], {});
  if (!("config" in r)) throw new Error("unexpected help");
  return r.config;
}

async function valuesOf(url: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const { key } of new CrdtClient({ url }).allKeys()) {
    const r = await fetch(`${url}/v1/keys/${encodeURIComponent(key)}`);
    if (r.ok) out.set(key, JSON.stringify(((await r.json()) as { value: unknown }).value));
  }
  return out;
}

/** Wait until every node holds the same keys and values; print the result. */
async function checkConvergence(urls: Map<string, string>, timeoutMs: number): Promise<boolean> {
  let last = "";
  try {
    await until("nodes did not converge", timeoutMs, async () => {
      const all = await Promise.all([...urls.values()].map(valuesOf));
      const text = all.map((m) => JSON.stringify([...m].sort()));
      last = [...urls.keys()].map((id, i) => `${id}: ${text[i]}`).join("\n");
      return all[0]!.size > 0 && text.every((t) => t === text[0]);
    });
  } catch {
    console.log(`demo: NOT converged:\n${last}`);
    return false;
  }
  const sample = await valuesOf(urls.values().next().value!);
  console.log(`demo: converged: ${sample.size} keys identical on ${urls.size} nodes (page-views = ${sample.get("page-views")})`);
  return true;
}

/**
 * While the load runs (over `seconds`): SIGKILL a NATS server of east, start it again; then SIGKILL
 * a node, start it again (empty: it catches up by anti-entropy). Both back before the load stops.
 */
async function runChaos(seconds: number): Promise<void> {
  const server = clusters.find((c) => c.dc === "east")!.servers[0]!;
  const node = nodes.find((n) => n.node.name === CHAOS_NODE)!;
  const step = (seconds * 1000) / 6;
  await sleep(step);
  console.log(`demo: chaos: killing ${server.name}`);
  await server.kill();
  await sleep(step);
  await server.start();
  console.log(`demo: chaos: ${server.name} is back`);
  await until(`${server.name} did not rejoin its cluster`, 30_000, () => clusters.find((c) => c.dc === "east")!.routed());
  console.log(`demo: chaos: killing ${CHAOS_NODE}`);
  await node.node.kill();
  await sleep(step);
  await node.node.start();
  console.log(`demo: chaos: ${CHAOS_NODE} is back`);
}

// ------------------------------------------------------------------ main

async function startInMemory(urls: Map<string, string>): Promise<void> {
  const network = new MemoryNetwork();
  for (const spec of TOPOLOGY) {
    const d = await startDaemon(config(nodeArgs(spec, ["nats://in-memory:4222"], undefined)), {
      transport: network.connect(spec.id),
      log: (l) => console.log(l),
    });
    daemons.push(d);
    await d.started;
    urls.set(spec.id, d.url);
  }
}

async function startProcesses(bin: string, urls: Map<string, string>): Promise<void> {
  for (const dc of ["east", "west"] as const) {
    const cluster = await startNatsCluster(bin, dc, NATS_SERVERS_PER_DC, supervisor);
    clusters.push(cluster);
    await until(`the NATS cluster of ${dc} did not form`, 30_000, () => cluster.routed());
  }
  const natsOf = (dc: string): string[] => clusters.find((c) => c.dc === dc)!.urls;
  const startNode = async (spec: NodeSpec): Promise<void> => {
    const other = spec.dc === "east" ? "west" : "east";
    const n = await supervisedNode(spec.id, nodeArgs(spec, natsOf(spec.dc), `${other}=${natsOf(other).join(",")}`), ROOT, supervisor);
    nodes.push(n);
    urls.set(spec.id, n.url);
    await n.node.start();
  };
  // east-1 and west-1 first, so they are the oldest members: their DCs' leaders. Then the rest.
  const first = ["east-1", "west-1"];
  await Promise.all(TOPOLOGY.filter((s) => first.includes(s.id)).map(startNode));
  await Promise.all(TOPOLOGY.filter((s) => !first.includes(s.id)).map(startNode));
  for (const c of clusters) console.log(`demo: NATS cluster ${c.dc}: ${c.urls.join(", ")}`);
}

async function main(): Promise<void> {
  const bin = forceMemory ? undefined : findNatsServer();
  if (chaos && bin === undefined) throw new Error("demo: --chaos needs nats-server on PATH (or NATS_SERVER_BIN): apt-get install -y nats-server");
  const urls = new Map<string, string>();
  if (bin === undefined) {
    if (!forceMemory) {
      console.log("demo: no nats-server binary on PATH (or NATS_SERVER_BIN). For the real multi-process demo install one:");
      console.log("        apt-get install -y nats-server");
      console.log("      Running the same topology in this process over the in-memory transport instead.");
    }
    await startInMemory(urls);
  } else {
    await startProcesses(bin, urls);
  }

  console.log(`\ndemo: ${bin === undefined ? "in-memory" : `multi-process (${NATS_SERVERS_PER_DC} NATS servers per DC)`} cluster is up. Dashboards:`);
  for (const spec of TOPOLOGY) console.log(`  ${spec.id.padEnd(11)} ${spec.dc}  ${urls.get(spec.id)}/${spec.readOnly ? "   (read-only relay)" : ""}`);
  console.log(`\ntry:  curl -s -XPOST ${urls.get("west-1")}/v1/keys/page-views -H 'content-type: application/json' -d '{"type":"gcounter","op":"increment","by":5}'`);
  console.log(`      curl -s ${urls.get("east-relay")}/v1/keys/page-views\n`);

  const writers = TOPOLOGY.filter((s) => !s.readOnly).map((s) => urls.get(s.id)!);
  load = startLoad({ targets: writers, rate, log: (l) => console.log(l) });
  console.log(`demo: load generator: ${rate} writes/s over ${writers.length} writable nodes. ${duration ? `Stopping in ${duration} s.` : "Ctrl-C to stop."}`);
  const chaosDone = chaos ? runChaos(duration ?? 60) : Promise.resolve();

  if (duration !== undefined) {
    await Promise.all([sleep(duration * 1000), chaosDone]);
    await load.stop();
    console.log(`demo: load stopped after ${load.counts.ok} writes (${load.counts.failed} failed); checking convergence…`);
    const ok = await checkConvergence(urls, 45_000);
    await shutdown(ok && load.counts.ok > 0 ? 0 : 1);
  } else {
    await chaosDone;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  void shutdown(1);
});
