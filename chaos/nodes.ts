/**
 * The chaos run's crdt-node processes: each one `packages/crdt-node/bin/crdt-node.ts` through tsx (no build), with a
 * fixed HTTP port (stable across restarts), a LevelDB snapshot directory written through (a 200
 * means the write is on disk), a clock offset preload, and one TCP proxy per broker, so cutting a
 * node's link cuts all its ways to the broker cluster.
 * Every process is SIGKILLed by PID when the harness exits, however it exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/helpers/nats-server.js";
import { reaper } from "../test/helpers/reaper.js";
import { startTcpProxy, type TcpProxy } from "../test/helpers/tcp-proxy.js";
import { waitFor } from "../test/helpers/wait.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CLOCK_PRELOAD = fileURLToPath(new URL("./clock-offset.ts", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const START_ATTEMPTS = 5;
const STOP_GRACE_MS = 10_000;

const tempDirs = new Set<string>();
const processes = reaper(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

export interface NodeSetup {
  index: number;
  /** Client ports of the brokers; the node reaches each through a proxy of its own. */
  brokerPorts: number[];
  /** The node's own directory (under `makeDataRoot()`); its snapshots go to `<dataDir>/snapshot`. */
  dataDir: string;
  logDir: string;
  clockOffsetMs: number;
  coordinationTimeoutMs: number;
  /** The cluster's size, the daemon's --min-cluster-size: a node restarted alone is no majority. */
  clusterSize: number;
}

export class ChaosNode {
  readonly index: number;
  readonly id: string;
  /** Stable for the node's life: a proxy in front of whatever port the current process listens on. */
  readonly url: string;
  clockOffsetMs: number;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: WriteStream;

  /** The node's own HTTP port, picked afresh at every start; `url` reaches it through `front`. */
  private port = 0;

  private constructor(
    private readonly setup: NodeSetup,
    private readonly front: TcpProxy,
    private readonly proxies: TcpProxy[],
  ) {
    this.url = `http://127.0.0.1:${front.port}`;
    this.index = setup.index;
    this.id = `n${setup.index + 1}`;
    this.clockOffsetMs = setup.clockOffsetMs;
    this.log = createWriteStream(join(setup.logDir, `${this.id}.log`), { flags: "a" });
  }

  static async create(setup: NodeSetup): Promise<ChaosNode> {
    processes.installHooks();
    const proxies = await Promise.all(setup.brokerPorts.map((p) => startTcpProxy(p)));
    // The workload keeps one URL per node; the node's real port may change between starts.
    let node: ChaosNode | undefined;
    const front = await startTcpProxy(() => node!.port);
    node = new ChaosNode(setup, front, proxies);
    return node;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Spawn the process and wait until it answers /readyz (restored and connected). A free port can be
   * taken by another process between picking it and the node binding it: then start again on another.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      try {
        await this.spawnOnce();
        return;
      } catch (err) {
        if (!this.lostPortRace || attempt >= START_ATTEMPTS) throw err;
        this.log.write(`--- ${new Date().toISOString()} port ${this.port} was taken; starting again on another\n`);
      }
    }
  }

  private lostPortRace = false;

  private async spawnOnce(): Promise<void> {
    this.lostPortRace = false;
    mkdirSync(this.setup.dataDir, { recursive: true });
    const args = [
      "--import", "tsx", "--import", CLOCK_PRELOAD, "packages/crdt-node/bin/crdt-node.ts",
      "--node-id", this.id,
      "--nats", this.proxies.map((p) => p.url).join(","),
      "--http", `127.0.0.1:${this.port}`,
      "--snapshot-dir", join(this.setup.dataDir, "snapshot"),
      "--snapshot-write-through",
      "--coordination-timeout-ms", String(this.setup.coordinationTimeoutMs),
      "--min-cluster-size", String(this.setup.clusterSize),
    ];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, CHAOS_CLOCK_OFFSET_MS: String(this.clockOffsetMs) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    processes.children.add(child);
    this.child = child;
    // "close" comes after the output streams ended, so every line (an EADDRINUSE among them) was read.
    this.exited = new Promise((resolve) => child.once("close", () => resolve()));
    void this.exited.then(() => processes.children.delete(child));
    this.log.write(`--- ${new Date().toISOString()} start pid ${child.pid} clock offset ${this.clockOffsetMs} ms\n`);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => {
        if (line.includes("EADDRINUSE")) this.lostPortRace = true;
        this.log.write(`${new Date().toISOString()} ${line}\n`);
      });
    }
    await waitFor(
      async () => {
        if (!this.running) {
          await this.exited;
          throw new Error(`${this.id} exited while starting (see ${this.id}.log)`);
        }
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2_000) });
        return res.status === 200;
      },
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100, message: `${this.id} to be ready` },
    );
  }

  /** SIGKILL: a crash. */
  async kill(): Promise<void> {
    if (this.running) this.child!.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM (a clean close: final snapshot, leave); true when it had to be SIGKILLed after the grace period. */
  async stop(): Promise<boolean> {
    if (!this.running) return false;
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      this.child?.kill("SIGKILL");
    }, STOP_GRACE_MS);
    this.child!.kill("SIGTERM");
    await this.exited;
    clearTimeout(timer);
    return forced;
  }

  pause(): void {
    if (this.running) this.child!.kill("SIGSTOP");
  }

  resume(): void {
    if (this.running) this.child!.kill("SIGCONT");
  }

  /** Remove the snapshot directory (the next start restores nothing). */
  wipe(): void {
    rmSync(join(this.setup.dataDir, "snapshot"), { recursive: true, force: true });
  }

  cutLink(mode: "reset" | "blackhole"): void {
    for (const p of this.proxies) p.cut(mode);
  }

  restoreLink(): void {
    for (const p of this.proxies) p.restore();
  }

  /** Kill the process, close the proxies and the log. */
  async close(): Promise<void> {
    if (this.running) {
      this.child!.kill("SIGCONT");
      await this.stop();
    }
    await Promise.all([this.front, ...this.proxies].map((p) => p.close()));
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }
}

/** A fresh temp directory for the nodes' data, removed when the harness exits (however it exits). */
export function makeDataRoot(): string {
  processes.installHooks();
  const dir = mkdtempSync(join(tmpdir(), "crdt-chaos-"));
  tempDirs.add(dir);
  return dir;
}

/** Kill every node process still running (by PID) and remove the data directories. */
export function killAllNodes(): void {
  processes.killAll();
}
