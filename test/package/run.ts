/**
 * Child processes of the package tests (npm, the consumers, the daemon from its tarball): each one
 * killed by PID when the test process exits, even when a test fails half-way (helpers/reaper.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { reaper } from "../helpers/reaper.js";

const children = reaper(() => undefined);

export interface Ran {
  stdout: string;
  stderr: string;
}

/** Runs `command` to its end (at most `timeoutMs`); rejects with its output unless it exits 0. */
export function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  const child = start(command, args, options);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  const timeoutMs = options.timeoutMs ?? 300_000;
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(" ")} exited with ${code ?? signal} (bound ${timeoutMs} ms)\n${stdout}\n${stderr}`));
    });
  });
}

/** Starts `command` (stdout and stderr piped) and registers it to be killed at exit. */
export function start(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): ChildProcess {
  children.installHooks();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  children.children.add(child);
  child.once("exit", () => children.children.delete(child));
  return child;
}

/** Stops `child` (SIGTERM, then SIGKILL after 5 s) and waits for its exit. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  child.kill("SIGTERM");
  await exited;
  clearTimeout(timer);
}
