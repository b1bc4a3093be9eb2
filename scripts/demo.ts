/**
 * npm run demo [-- --duration <s>] [-- --memory]
 *
 * Two data centers on this machine: east (3 nodes + a read-only relay) and west (2 nodes), each on
 * its own nats-server, replicating across with --remote-dc; a gentle load generator writes to the
 * five writable nodes; every node serves its live dashboard. Every node is a separate crdt-node
 * process (bin/crdt-node.ts through tsx: no build needed).
 *
 * The relay sits in east on east's NATS with --read-only. It sees west's writes too: east's DC
 * leader receives west's batches and they reach every east member. It is configured with
 * --remote-dc west like every east node, so whichever east member leads (normally the oldest
 * writer; the relay only if it outlives them) keeps the cross-DC flow going.
 *
 * Without a nats-server binary (or with --memory) the same topology runs in this one process over
 * the in-memory transport (both DCs on one bus, so no cross-DC link is needed), dashboards included.
 *
 * Ctrl-C (or --duration) stops the load, checks that every node holds the same values, and stops
 * every process this script started, by PID — also on an uncaught error.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createConnection, createServer } from "node:net";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CrdtClient } from "../src/node/client.js";
import { parseConfig, type NodeConfig } from "../src/node/config.js";
import { startDaemon, type Daemon } from "../src/node/daemon.js";
import { startLoad, type Load } from "../src/node/loadgen.js";
import { MemoryNetwork } from "../src/transport/memory.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

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

// ------------------------------------------------------------------ arguments

function usage(): never {
  console.log(`usage: npm run demo -- [--duration <seconds>] [--memory] [--rate <writes/s>]
  --duration  stop by itself after this many seconds (default: run until Ctrl-C)
  --memory    run in one process over the in-memory transport even if nats-server is installed
  --rate      load generator writes per second (default 4)`);
  process.exit(0);
}

const argv = process.argv.slice(2);
let duration: number | undefined;
let forceMemory = false;
let rate = 4;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--duration") duration = Number(argv[++i]);
  else if (a === "--memory") forceMemory = true;
  else if (a === "--rate") rate = Number(argv[++i]);
  else if (a === "--help" || a === "-h") usage();
  else {
    console.error(`demo: unknown argument ${a}`);
    usage();
  }
}
if (duration !== undefined && !(duration > 0)) throw new Error("--duration needs a positive number of seconds");
if (!(rate > 0)) throw new Error("--rate needs a positive number");

// ------------------------------------------------------------------ cleanup, whatever happens

const children = new Set<ChildProcess>();
const daemons: Daemon[] = [];
let load: Load | undefined;
let stopping: Promise<void> | undefined;

function killAllNow(): void {
  for (const c of children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => c.once("exit", () => resolve()));
  const timer = setTimeout(() => c.pid !== undefined && process.kill(c.pid, "SIGKILL"), 5_000);
  if (c.pid !== undefined) process.kill(c.pid, "SIGTERM");
  await gone;
  clearTimeout(timer);
}

function shutdown(code: number): Promise<void> {
  stopping ??= (async () => {
    await load?.stop().catch(() => undefined);
    await Promise.allSettled(daemons.map((d) => d.close()));
    // Nodes first (they leave their cluster cleanly), then the NATS servers.
    const nodes = [...children].filter((c) => (c as ChildProcess & { role?: string }).role !== "nats");
    await Promise.allSettled(nodes.map(stopChild));
    await Promise.allSettled([...children].map(stopChild));
    console.log(`demo: stopped ${daemons.length > 0 ? `${daemons.length} in-process nodes` : `${children.size} processes`}`);
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

function speaksNats(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once("data", (b) => done(b.toString().startsWith("INFO")));
    sock.once("error", () => done(false));
  });
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`demo: ${what} (gave up after ${timeoutMs / 1000} s)`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function track(c: ChildProcess, name: string, role: "nats" | "node"): ChildProcess {
  (c as ChildProcess & { role?: string }).role = role;
  children.add(c);
  console.log(`demo: started ${name} (pid ${c.pid})`);
  let tail = "";
  const keep = (b: Buffer): void => {
    tail = (tail + b.toString()).slice(-2000);
  };
  c.stdout?.on("data", keep);
  c.stderr?.on("data", keep);
  c.once("exit", (code, signal) => {
    if (stopping === undefined) {
      console.error(`demo: ${name} exited unexpectedly (${signal ?? code}); its last output:\n${tail}`);
      void shutdown(1);
    }
  });
  return c;
}

function config(spec: NodeSpec, nats: string, remote: string | undefined, port: number): NodeConfig {
  const args = ["--node-id", spec.id, "--dc", spec.dc, "--nats", nats, "--http", `127.0.0.1:${port}`];
  if (remote !== undefined) args.push("--remote-dc", remote, "--xdc-interval-ms", "1000");
  if (spec.readOnly) args.push("--read-only");
  const r = parseConfig(args, {});
  if (!("config" in r)) throw new Error("unexpected help");
  return r.config;
}

function toArgs(c: NodeConfig): string[] {
  const args = ["--node-id", c.nodeId, "--dc", c.dataCenter, "--nats", c.nats.join(","), "--http", `${c.http.host}:${c.http.port}`];
  for (const r of c.remoteDcs) args.push("--remote-dc", `${r.name}=${r.servers.join(",")}`, "--xdc-interval-ms", String(c.xdcIntervalMs));
  if (c.readOnly) args.push("--read-only");
  return args;
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
async function checkConvergence(urls: Map<string, string>): Promise<boolean> {
  let last = "";
  try {
    await until("nodes did not converge", 30_000, async () => {
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

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const bin = forceMemory ? undefined : findNatsServer();
  const urls = new Map<string, string>();
  const ports = await Promise.all(TOPOLOGY.map(() => freePort()));
  if (bin === undefined) {
    if (!forceMemory) {
      console.log("demo: no nats-server binary on PATH (or NATS_SERVER_BIN). For the real multi-process demo install one:");
      console.log("        apt-get install -y nats-server");
      console.log("      Running the same topology in this process over the in-memory transport instead.");
    }
    const network = new MemoryNetwork();
    for (const [i, spec] of TOPOLOGY.entries()) {
      const d = await startDaemon(config(spec, "nats://in-memory:4222", undefined, ports[i]!), {
        transport: network.connect(spec.id),
        log: (l) => console.log(l),
      });
      daemons.push(d);
      await d.started;
      urls.set(spec.id, d.url);
    }
  } else {
    const natsUrl = { east: "", west: "" };
    for (const dc of ["east", "west"] as const) {
      const port = await freePort();
      track(spawn(bin, ["-a", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "pipe", "pipe"], detached: true }), `nats-server ${dc}`, "nats");
      natsUrl[dc] = `nats://127.0.0.1:${port}`;
      await until(`nats-server ${dc} did not start`, 10_000, () => speaksNats(port));
    }
    const startNode = async (i: number): Promise<void> => {
      const spec = TOPOLOGY[i]!;
      const other = spec.dc === "east" ? "west" : "east";
      const c = config(spec, natsUrl[spec.dc], `${other}=${natsUrl[other]}`, ports[i]!);
      // detached: Ctrl-C reaches only this script, which stops the nodes first, then the servers.
      const child = spawn(process.execPath, ["--import", "tsx", "bin/crdt-node.ts", ...toArgs(c)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true });
      track(child, spec.id, "node");
      urls.set(spec.id, `http://127.0.0.1:${ports[i]}`);
      await until(`${spec.id} did not become ready`, 60_000, async () => (await fetch(`${urls.get(spec.id)}/readyz`)).ok);
    };
    // east-1 and west-1 first, so they are the oldest members: their DCs' leaders. Then the rest.
    const first = [0, 3];
    await Promise.all(first.map(startNode));
    await Promise.all(TOPOLOGY.map((_, i) => i).filter((i) => !first.includes(i)).map(startNode));
    console.log(`demo: nats-servers east ${natsUrl.east}, west ${natsUrl.west}`);
  }

  console.log(`\ndemo: ${bin === undefined ? "in-memory" : "multi-process"} cluster is up. Dashboards:`);
  for (const spec of TOPOLOGY) console.log(`  ${spec.id.padEnd(11)} ${spec.dc}  ${urls.get(spec.id)}/${spec.readOnly ? "   (read-only relay)" : ""}`);
  console.log(`\ntry:  curl -s -XPOST ${urls.get("west-1")}/v1/keys/page-views -H 'content-type: application/json' -d '{"type":"gcounter","op":"increment","by":5}'`);
  console.log(`      curl -s ${urls.get("east-relay")}/v1/keys/page-views\n`);

  const writers = TOPOLOGY.filter((s) => !s.readOnly).map((s) => urls.get(s.id)!);
  load = startLoad({ targets: writers, rate, log: (l) => console.log(l) });
  console.log(`demo: load generator: ${rate} writes/s over ${writers.length} writable nodes. ${duration ? `Stopping in ${duration} s.` : "Ctrl-C to stop."}`);

  if (duration !== undefined) {
    await new Promise((r) => setTimeout(r, duration! * 1000));
    await load.stop();
    console.log(`demo: load stopped after ${load.counts.ok} writes (${load.counts.failed} failed); checking convergence…`);
    const ok = await checkConvergence(urls);
    await shutdown(ok && load.counts.ok > 0 ? 0 : 1);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  void shutdown(1);
});
