/** The machine a result was measured on, recorded with every result. */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import { hasBufferMarkingRegression } from "../../src/gc-tuning.js";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  natsServer: string;
  natsClient: string;
  commit: string;
  dirty: boolean;
  loadAverage: number[];
  /**
   * What first touching fresh memory costs, ns per byte (a 64 MB typed array filled once), and
   * touching it again. On a VM whose memory faults in page by page the first is ~100× the second,
   * and it is paid for every byte a node's heap and tables grow by (a catch-up or restore of a
   * million keys grows them by a few hundred MB); absent in results from before it was measured.
   */
  memoryTouch?: { firstNsPerByte: number; againNsPerByte: number };
  /**
   * Whether every worker ran `tuneGarbageCollection()` to effect (Node 24 and later: short-lived
   * Buffers collected by scavenges, nodejs/node#61967); absent in results from before it existed.
   */
  gcTuned?: boolean;
}

/** See MachineInfo.memoryTouch. */
function memoryTouch(): { firstNsPerByte: number; againNsPerByte: number } {
  const bytes = 64 * 2 ** 20;
  const words = new Int32Array(bytes / 4);
  const t0 = performance.now();
  words.fill(-1);
  const t1 = performance.now();
  words.fill(-2);
  const t2 = performance.now();
  const nsPerByte = (ms: number): number => Math.round(((ms * 1e6) / bytes) * 1000) / 1000;
  return { firstNsPerByte: nsPerByte(t1 - t0), againNsPerByte: nsPerByte(t2 - t1) };
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 }).trim();
  } catch {
    return "";
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  const bin = process.env["NATS_SERVER_BIN"] ?? "nats-server";
  const natsServer = run(bin, ["--version"]).replace(/^nats-server:\s*/, "") || "unknown";
  let natsClient = "unknown";
  try {
    natsClient = (createRequire(import.meta.url)("@nats-io/transport-node/package.json") as { version: string }).version;
  } catch {
    // not resolvable through exports: leave unknown
  }
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    natsServer,
    natsClient,
    commit: run("git", ["rev-parse", "--short", "HEAD"]) || "unknown",
    dirty: run("git", ["status", "--porcelain", "--untracked-files=no"]) !== "",
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    memoryTouch: memoryTouch(),
    // The workers run on this same Node (bench/lib/procs.ts forks process.execPath) and call it at start.
    gcTuned: hasBufferMarkingRegression(process.versions.v8),
  };
}
