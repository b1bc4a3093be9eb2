/**
 * The demo's child processes: each one behind TCP proxies that never move, in front of ports picked
 * afresh at every start. A process that loses the free-port race (EADDRINUSE: another process took
 * a port between picking it and binding it) is started again on other ports, and one killed by the
 * chaos schedule comes back at the same addresses, so nobody needs telling.
 *
 * - A NATS cluster of a DC: `nats-server --cluster … --routes …`, every route through the peer's
 *   route proxy, advertising its own route proxy to the others and no server URLs to clients
 *   (`--no_advertise`): clients use the proxies they were given, so a restart on other ports is
 *   invisible to them.
 * - A crdt-node: its URL is a proxy in front of its current HTTP port.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
import { freePort } from "../test/helpers/nats-server.js";
import { startTcpProxy, type TcpProxy } from "../test/helpers/tcp-proxy.js";

const START_ATTEMPTS = 5;
const STOP_GRACE_MS = 5_000;

export interface Supervisor {
  /** The processes running (the demo kills them by PID at exit, whatever happens); each leaves the set once it exited. */
  readonly children: Set<ChildProcess>;
  /** A process exited that nobody stopped: the demo fails. */
  unexpectedExit(name: string, why: string, output: string): void;
  log(line: string): void;
}

export interface ProcessSpec {
  name: string;
  /** Ports each start needs (fresh ones every time). */
  portCount: number;
  command: (ports: number[]) => { file: string; args: string[]; cwd?: string };
  ready: (ports: number[]) => Promise<boolean>;
  readyTimeoutMs: number;
  /** How a port is picked (default: one free now, which another process may take before it is bound). */
  pickPort?: () => Promise<number>;
}

/** One restartable process: `command(ports)` with fresh ports at every start, ready when `ready(ports)`. */
export class Supervised {
  readonly name: string;
  ports: number[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private expectExit = false;

  constructor(
    private readonly spec: ProcessSpec,
    private readonly sup: Supervisor,
  ) {
    this.name = spec.name;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Start and wait until ready; on EADDRINUSE start again on other ports. */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.ports = await Promise.all(Array.from({ length: this.spec.portCount }, () => (this.spec.pickPort ?? freePort)()));
      const outcome = await this.spawnOnce();
      if (outcome === "ready") return;
      if (outcome.lostPortRace && attempt < START_ATTEMPTS) {
        this.sup.log(`demo: ${this.name} lost a free-port race (EADDRINUSE); starting again on other ports`);
        continue;
      }
      throw new Error(`demo: ${this.name} did not start: ${outcome.why}\n${outcome.output}`);
    }
  }

  private async spawnOnce(): Promise<"ready" | { lostPortRace: boolean; why: string; output: string }> {
    const { file, args, cwd } = this.spec.command(this.ports);
    this.expectExit = false;
    // detached: Ctrl-C reaches only the demo, which stops the nodes first, then the servers.
    const child = spawn(file, args, { cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.child = child;
    this.sup.children.add(child);
    this.sup.log(`demo: started ${this.name} (pid ${child.pid})`);
    let tail = "";
    const keep = (b: Buffer): void => {
      tail = (tail + b.toString()).slice(-4000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    let starting = true;
    // "close": after the output streams ended, so an EADDRINUSE line has been read.
    this.exited = new Promise((resolve) =>
      child.once("close", (code, signal) => {
        this.sup.children.delete(child); // gone: its PID may be reused, never to be killed again
        if (!starting && !this.expectExit) this.sup.unexpectedExit(this.name, String(signal ?? code), tail);
        resolve();
      }),
    );
    const deadline = Date.now() + this.spec.readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        await this.exited;
        return { lostPortRace: /EADDRINUSE|address already in use/i.test(tail), why: `exited (${child.signalCode ?? child.exitCode})`, output: tail };
      }
      if (await this.spec.ready(this.ports).catch(() => false)) {
        starting = false;
        return "ready";
      }
      if (Date.now() > deadline) {
        await this.kill();
        return { lostPortRace: false, why: `not ready after ${this.spec.readyTimeoutMs / 1000} s`, output: tail };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** SIGKILL (a crash), expected: the demo goes on. */
  async kill(): Promise<void> {
    this.expectExit = true;
    if (this.running) this.child!.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM, SIGKILL after a grace period. */
  async stop(): Promise<void> {
    this.expectExit = true;
    if (!this.running) return;
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), STOP_GRACE_MS);
    this.child!.kill("SIGTERM");
    await this.exited;
    clearTimeout(timer);
  }
}

/** A 3-server (or `size`) NATS cluster of one DC; `urls`: the client proxies, one per server. */
export interface DemoNatsCluster {
  readonly dc: string;
  readonly servers: Supervised[];
  readonly urls: string[];
  /** Every server has a route to every other. */
  routed(): Promise<boolean>;
  close(): Promise<void>;
}

export async function startNatsCluster(bin: string, dc: string, size: number, sup: Supervisor, pickPort?: () => Promise<number>): Promise<DemoNatsCluster> {
  const servers: Supervised[] = [];
  const clientProxies: TcpProxy[] = [];
  const routeProxies: TcpProxy[] = [];
  // Ports of server i: [client, cluster, monitoring].
  for (let i = 0; i < size; i++) {
    clientProxies.push(await startTcpProxy(() => servers[i]!.ports[0]!));
    routeProxies.push(await startTcpProxy(() => servers[i]!.ports[1]!));
  }
  for (let i = 0; i < size; i++) {
    const name = `nats-${dc}-${i + 1}`;
    const routes = routeProxies.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p.port}`);
    servers.push(
      new Supervised(
        {
          name,
          portCount: 3,
          command: ([client, cluster, monitor]) => ({
            file: bin,
            args: [
              "-a", "127.0.0.1", "-p", String(client), "-m", String(monitor), "-n", name,
              "--cluster_name", dc, "--cluster", `nats://127.0.0.1:${cluster}`, "--routes", routes.join(","),
              "--cluster_advertise", `127.0.0.1:${routeProxies[i]!.port}`, "--no_advertise=true",
            ],
          }),
          ready: async ([client]) => speaksNats(client!),
          readyTimeoutMs: 15_000,
          ...(pickPort === undefined ? {} : { pickPort }),
        },
        sup,
      ),
    );
  }
  await Promise.all(servers.map((s) => s.start()));
  const routed = async (): Promise<boolean> => {
    const counts = await Promise.all(servers.map(async (s) => ((await (await fetch(`http://127.0.0.1:${s.ports[2]}/routez`)).json()) as { num_routes: number }).num_routes));
    return counts.every((n) => n >= size - 1);
  };
  return {
    dc,
    servers,
    urls: clientProxies.map((p) => p.url),
    routed,
    async close() {
      await Promise.allSettled(servers.map((s) => s.stop()));
      await Promise.allSettled([...clientProxies, ...routeProxies].map((p) => p.close()));
    },
  };
}

/** A crdt-node process behind a front proxy: `url` stays the same across restarts. */
export async function supervisedNode(id: string, args: readonly string[], cwd: string, sup: Supervisor): Promise<{ node: Supervised; url: string; close(): Promise<void> }> {
  let node: Supervised | undefined;
  const front = await startTcpProxy(() => node!.ports[0]!);
  const url = `http://127.0.0.1:${front.port}`;
  node = new Supervised(
    {
      name: id,
      portCount: 1,
      command: ([port]) => ({ file: process.execPath, args: ["--import", "tsx", "packages/crdt-node/bin/crdt-node.ts", ...args, "--http", `127.0.0.1:${port}`], cwd }),
      ready: async ([port]) => (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) })).ok,
      readyTimeoutMs: 60_000,
    },
    sup,
  );
  return {
    node,
    url,
    async close() {
      await node.stop();
      await front.close();
    },
  };
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
