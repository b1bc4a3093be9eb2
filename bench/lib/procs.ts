/**
 * Bench worker processes (orchestrator side). Every node of a scenario is a separate OS process
 * (`bench/worker.ts`, started by `child_process.fork` under tsx's loader) driven over IPC with
 * request/reply commands. Every child is tracked and killed by PID on exit, SIGINT/SIGTERM and
 * errors (test/helpers/reaper.ts, as the nats-servers of test/helpers/nats-server.ts are).
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { reaper } from "../../test/helpers/reaper.js";

const WORKER = fileURLToPath(new URL("../worker.ts", import.meta.url));

const { children: live, installHooks, killAll } = reaper(() => {});

/** Kill every worker still running (by PID). */
export function killAllWorkers(): void {
  killAll();
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  cmd: string;
}

export interface WorkerReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export class BenchWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited = false;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.on("message", (m: WorkerReply | { type: "ready" }) => {
      if ("type" in m) return;
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`worker ${this.name}: ${p.cmd} failed: ${m.error}`));
    });
    child.once("exit", (code, signal) => {
      this.exited = true;
      live.delete(child);
      for (const p of this.pending.values()) p.reject(new Error(`worker ${this.name} exited (${signal ?? code}) during ${p.cmd}`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Fork a worker and wait until it has loaded its modules. */
  static async spawn(name: string, env: Record<string, string> = {}): Promise<BenchWorker> {
    installHooks();
    // BENCH_CPU_PROF=<dir>: every worker writes a V8 CPU profile there when it exits.
    const prof = process.env["BENCH_CPU_PROF"];
    const execArgv = ["--import", "tsx", "--expose-gc"];
    if (prof) execArgv.push("--cpu-prof", `--cpu-prof-dir=${prof}/${name}`);
    // BENCH_NODE_FLAGS="--trace-gc ...": more flags for every worker (e.g. to see what starts its collections).
    execArgv.push(...(process.env["BENCH_NODE_FLAGS"]?.split(" ").filter((f) => f !== "") ?? []));
    const child = fork(WORKER, [name], {
      execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, ...env },
    });
    live.add(child);
    const w = new BenchWorker(name, child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${name} did not start within 30 s`)), 30_000);
      const onMsg = (m: { type?: string }): void => {
        if (m.type !== "ready") return;
        clearTimeout(timer);
        child.off("message", onMsg);
        resolve();
      };
      child.on("message", onMsg);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`worker ${name} exited with ${code} while starting`));
      });
    });
    return w;
  }

  /** Run a command in the worker; resolves with its result. */
  call<T = unknown>(cmd: string, args: object = {}): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`worker ${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, cmd });
      this.child.send({ id, cmd, args });
    });
  }

  /** Ask the worker to close what it holds and exit; SIGKILL (by PID) if it takes longer than `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.call("exit").catch(() => undefined);
    const timer = setTimeout(() => this.kill(), graceMs);
    await gone;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.exited || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Stop several workers, never throwing. */
export async function stopWorkers(workers: readonly (BenchWorker | undefined)[]): Promise<void> {
  await Promise.allSettled(workers.map((w) => w?.stop()));
}
