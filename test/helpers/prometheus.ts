/**
 * A real Prometheus server (Debian's `prometheus`, installed by .ci/run) scraping the given targets,
 * on a free loopback port with its storage in a temp dir; killed by PID when the test process
 * exits, even if a test failed half-way.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./nats-server.js";
import { reaper } from "./reaper.js";
import { waitFor } from "./wait.js";

const dirs = new Set<string>();
const { children: live, installHooks } = reaper(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
});

export interface PrometheusServer {
  readonly url: string;
  readonly pid: number;
  /** An instant query through /api/v1/query: the result vector (throws on a query error). */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** /api/v1/label/<name>/values restricted to the series `match` selects. */
  labelValues(name: string, match: string): Promise<string[]>;
  /** SIGTERM, then SIGKILL after 5 s; removes the storage dir. */
  stop(): Promise<void>;
}

/** Scrape `targets` (host:port, path /metrics) every `scrapeIntervalS` seconds. */
export async function startPrometheus(targets: string[], scrapeIntervalS = 1): Promise<PrometheusServer> {
  installHooks();
  const dir = mkdtempSync(join(tmpdir(), "crdt-prometheus-"));
  dirs.add(dir);
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    `global:\n  scrape_interval: ${scrapeIntervalS}s\n  evaluation_interval: ${scrapeIntervalS}s\nscrape_configs:\n  - job_name: crdt-node\n    metrics_path: /metrics\n    static_configs:\n      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]\n`,
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    "prometheus",
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  live.add(child);
  let log = "";
  child.stderr!.on("data", (b: Buffer) => (log = (log + b.toString()).slice(-4_000)));
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      live.delete(child);
      resolve();
    }),
  );
  child.once("error", () => undefined); // a missing binary: reported by the wait below
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      child.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
  };
  const api = async (path: string): Promise<any> => {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data: any; error?: string };
    if (body.status !== "success") throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.pid === undefined) throw new Error(`prometheus exited (is it installed? apt-get install -y prometheus):\n${log}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: 30_000, message: `prometheus did not become ready:\n${log}` },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    pid: child.pid!,
    query: async (expr) => (await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    labelValues: async (name, match) => api(`/api/v1/label/${encodeURIComponent(name)}/values?match[]=${encodeURIComponent(match)}`),
    stop,
  };
}
