/**
 * What a scenario gets from the orchestrator: the mode, the repetition count, progress output, and
 * nats-servers and worker processes that are released when the scenario ends (or fails).
 */
import { startNatsServer, type NatsServer, type NatsServerOptions } from "../../test/helpers/nats-server.js";
import type { Progress } from "./progress.js";
import { BenchWorker, stopWorkers } from "./procs.js";

export interface BenchContext {
  /** `--full`: the full sizes and rates; otherwise the quick suite (< 4 minutes). */
  readonly full: boolean;
  /** Repetitions of every measurement (≥ 3); medians are reported. */
  readonly runs: number;
  readonly progress: Progress;
  /** A nats-server on a free loopback port, stopped when the scenario ends. */
  server(options?: NatsServerOptions): Promise<NatsServer>;
  /** Worker processes (one per name), stopped when the scenario ends; `env` is added to their environment. */
  workers(names: readonly string[], env?: Record<string, string>): Promise<BenchWorker[]>;
  /** Stop one worker early (e.g. a node that joined and left). */
  release(worker: BenchWorker): Promise<void>;
}

export class ScenarioResources implements BenchContext {
  private readonly servers: NatsServer[] = [];
  private readonly procs = new Set<BenchWorker>();

  constructor(
    readonly full: boolean,
    readonly runs: number,
    readonly progress: Progress,
  ) {}

  async server(options: NatsServerOptions = {}): Promise<NatsServer> {
    const s = await startNatsServer(options);
    this.servers.push(s);
    return s;
  }

  async workers(names: readonly string[], env?: Record<string, string>): Promise<BenchWorker[]> {
    const ws = await Promise.all(names.map((n) => BenchWorker.spawn(n, env)));
    for (const w of ws) this.procs.add(w);
    return ws;
  }

  async release(worker: BenchWorker): Promise<void> {
    this.procs.delete(worker);
    await worker.stop();
  }

  async close(): Promise<void> {
    await stopWorkers([...this.procs]);
    this.procs.clear();
    await Promise.allSettled(this.servers.map((s) => s.stop()));
    this.servers.length = 0;
  }
}

/** Run `fn` `runs` times, reporting progress, and return the results in order. */
export async function repeat<T>(ctx: BenchContext, label: string, fn: (run: number) => Promise<T>, expectMs = 0): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ctx.runs; i++) {
    ctx.progress.step(`${label} — run ${i + 1}/${ctx.runs}`, expectMs);
    out.push(await fn(i));
  }
  return out;
}
