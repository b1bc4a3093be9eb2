/**
 * crdt-node test helpers: real crdt-node child processes (packages/crdt-node/bin/crdt-node.ts through tsx, no build)
 * on free loopback ports, killed by PID when the test process exits even if a test failed; an HTTP
 * client; and an SSE reader with bounded waits.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { reaper } from "../helpers/reaper.js";
import { waitFor } from "../helpers/wait.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const { children: live, installHooks: hook } = reaper(() => {});

export interface NodeProcess {
  readonly url: string;
  readonly pid: number;
  output(): string;
  /** SIGTERM, SIGKILL after 5 s; resolves with the exit code once the process is gone. */
  stop(): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

/** Start `packages/crdt-node/bin/crdt-node.ts` with `args` (add `--http 127.0.0.1:0` yourself or get it by default). */
export async function spawnNode(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<NodeProcess> {
  hook();
  const withHttp = args.includes("--http") ? args : [...args, "--http", "127.0.0.1:0"];
  const child = spawn(process.execPath, ["--import", "tsx", "packages/crdt-node/bin/crdt-node.ts", ...withHttp], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.kill("SIGTERM");
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  try {
    await waitFor(() => /listening on (https?:\/\/\S+)/.test(out) || child.exitCode !== null, { timeoutMs, message: "crdt-node did not listen" });
    const url = /listening on (https?:\/\/\S+)/.exec(out)?.[1];
    if (url === undefined) throw new Error(`crdt-node exited early:\n${out}`);
    return { url, pid: child.pid!, output: () => out, stop, exited };
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${out}`);
  }
}

export interface Reply {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

/** A JSON request; `body` is sent as JSON unless it is a string. */
export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const init: RequestInit = { method, headers: { ...headers }, signal: AbortSignal.timeout(15_000) };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] ??= "application/json";
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

export async function waitReady(url: string, headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await http("GET", `${url}/readyz`, undefined, headers)).status === 200, { timeoutMs, message: `${url} not ready` });
}

export interface SseEvent {
  event: string;
  data: any;
}

/** Read `GET url` as Server-Sent Events into `events` until `close()`. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<{ events: SseEvent[]; status: number; close(): void }> {
  const ctl = new AbortController();
  const res = await fetch(url, { headers, signal: ctl.signal });
  const events: SseEvent[] = [];
  if (res.ok && res.body) {
    void (async () => {
      const decoder = new TextDecoder();
      let buf = "";
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true });
          let i: number;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let event = "message";
            let data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) event = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (data !== "") events.push({ event, data: JSON.parse(data) });
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return { events, status: res.status, close: () => ctl.abort() };
}

/** PIDs that are still alive among `pids`. */
export function alive(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}
