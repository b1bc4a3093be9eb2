/** The machine a result was measured on, recorded with every result. */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";

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
  };
}
