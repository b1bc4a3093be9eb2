/**
 * Real nats-server child processes for tests, on free loopback ports (never 4222, so a developer's
 * own server is left alone). Every process is tracked and killed by PID when the test process exits,
 * even if a test forgot to stop it or failed half-way.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { reaper } from "./reaper.js";

export interface NatsServerOptions {
  port?: number;
  /** Extra command-line arguments. */
  args?: string[];
  user?: string;
  password?: string;
  jetstream?: boolean;
  /** Server max_payload in bytes (set through a config file: there is no flag for it). */
  maxPayload?: number;
  /** Extra lines for the config file (e.g. a `cluster { ... }` block). */
  config?: string;
  /** Extra environment variables of the server process (a config file may read them as `$NAME`). */
  env?: Record<string, string>;
  /** How long to wait for the server to accept connections (default 10 s). */
  startTimeoutMs?: number;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** PID of the current process (changes on restart). */
  readonly pid: number;
  /** SIGTERM, then SIGKILL if still alive after a deadline; resolves once the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL (a crash); resolves once the process has exited. */
  kill(): Promise<void>;
  /** Stop if running, then start again on the same port (and the same JetStream store). */
  restart(): Promise<void>;
  /** SIGSTOP: the server hangs, its kernel still accepts TCP connections (a hung broker). */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** Replace the config file's extra lines (`config`) and have the running server reload it (SIGHUP). */
  reload(config: string): void;
}

/** Temp dirs (config, JetStream store) still to remove. */
const dirs = new Set<string>();
const { children: live, installHooks } = reaper(removeDirs);

/** Kill every server this process started. Safe to call many times. */
export async function stopAllNatsServers(): Promise<void> {
  await Promise.all([...live].map((c) => terminate(c)));
  removeDirs();
}

function removeDirs(): void {
  for (const d of dirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort: it is under the OS temp dir anyway
    }
  }
  dirs.clear();
}

export function findBinary(): string {
  const explicit = process.env["NATS_SERVER_BIN"];
  const candidates = explicit
    ? [explicit]
    : (process.env["PATH"] ?? "").split(delimiter).filter(Boolean).map((d) => join(d, "nats-server"));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error(
    "nats-server binary not found on PATH (or NATS_SERVER_BIN). Install it: `apt-get install -y nats-server`",
  );
}

/** A port that was free a moment ago on 127.0.0.1 (the kernel's choice for port 0). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const addr = srv.address();
        const p = typeof addr === "object" && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port !== 4222 && port !== 0) return port;
  }
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = findBinary();
  installHooks();
  const dir = mkdtempSync(join(tmpdir(), "nats-test-"));
  dirs.add(dir);
  const removeDir = (): void => {
    dirs.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  const fixedPort = opts.port !== undefined;
  let port = opts.port ?? (await freePort());

  let config = opts.config;
  const conf = join(dir, "server.conf");
  const writeConfig = (): void => {
    const lines = [opts.maxPayload === undefined ? "" : `max_payload: ${opts.maxPayload}`, config ?? ""];
    writeFileSync(conf, lines.join("\n") + "\n");
  };
  const argsFor = (p: number): string[] => {
    const args = ["-a", "127.0.0.1", "-p", String(p)];
    if (opts.maxPayload !== undefined || config !== undefined) {
      writeConfig();
      args.push("-c", conf);
    }
    if (opts.user !== undefined) args.push("--user", opts.user, "--pass", opts.password ?? "");
    if (opts.jetstream) args.push("-js", "-sd", join(dir, "js"));
    return args.concat(opts.args ?? []);
  };

  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    // The free port may be taken between freePort() and the bind: pick another one, a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        child = await spawnAndWait(bin, argsFor(port), port, startTimeoutMs, opts.env);
        return;
      } catch (err) {
        if (fixedPort || attempt >= 3 || !/address already in use/i.test(String(err))) throw err;
        port = await freePort();
      }
    }
  };
  try {
    await launch();
  } catch (err) {
    removeDir();
    throw err;
  }

  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return child?.pid ?? -1;
    },
    async stop() {
      if (child) await terminate(child);
      removeDir();
    },
    pause() {
      if (child?.pid !== undefined) process.kill(child.pid, "SIGSTOP");
    },
    resume() {
      if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGCONT");
    },
    reload(lines: string) {
      if (opts.maxPayload === undefined && config === undefined) throw new Error("reload needs a server started with a config file (`config`)");
      config = lines;
      writeConfig();
      if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGHUP");
    },
    async kill() {
      if (child) await terminate(child, 0);
    },
    async restart() {
      if (child) await terminate(child);
      // Same port now: it was just released (nats-server binds with SO_REUSEADDR), retry briefly anyway.
      const deadline = Date.now() + startTimeoutMs;
      for (;;) {
        try {
          child = await spawnAndWait(bin, argsFor(port), port, startTimeoutMs, opts.env);
          return;
        } catch (err) {
          if (Date.now() > deadline || !/address already in use/i.test(String(err))) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  };
}

async function spawnAndWait(bin: string, args: string[], port: number, timeoutMs: number, env?: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  live.add(child);
  let output = "";
  const keep = (b: Buffer): void => {
    output = (output + b.toString()).slice(-4000); // the tail explains a failed start
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited = false;
  child.once("exit", () => {
    exited = true;
    live.delete(child);
  });
  // A forgotten server must not keep the test process alive; the exit hook still kills it.
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  const deadline = Date.now() + timeoutMs;
  while (!(await acceptsClients(port))) {
    if (exited || Date.now() > deadline) {
      await terminate(child, 0);
      throw new Error(
        `nats-server ${args.join(" ")} ${exited ? "exited" : `not ready after ${timeoutMs} ms`}:\n${output}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

/** True when something on the port speaks NATS (sends its INFO line). */
function acceptsClients(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    sock.once("data", (b) => done(b.toString().startsWith("INFO")));
    sock.once("error", () => done(false));
    sock.once("close", () => done(false));
  });
}

/** SIGTERM (or SIGKILL when graceMs is 0), SIGKILL after graceMs, resolve when the process exited. */
function terminate(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    live.delete(child);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      live.delete(child);
      resolve();
    });
    child.kill(graceMs === 0 ? "SIGKILL" : "SIGTERM");
    child.kill("SIGCONT"); // a paused (SIGSTOPped) server handles the SIGTERM only once continued
  });
}
