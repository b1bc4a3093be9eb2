/**
 * Helpers of the snapshot tests: temp directories that are always removed, and replicator nodes
 * in their own OS process (fixtures/snapshot-node.ts), tracked and killed by PID even when a test
 * fails half-way or the test process itself is interrupted.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Level } from "level";
import { Snapshots, type SnapshotHandle, type SnapshotSettings } from "../../src/durable/snapshots.js";
import type { ReplicatorContext } from "../../src/extension/context.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { Store } from "../../src/replicator/store.js";
import { decodeSnapshotEntry, type SnapshotEntry } from "../../src/wire/codec.js";
import { reaper } from "../helpers/reaper.js";
import { waitFor } from "../helpers/wait.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");

// ------------------------------------------------------------------ temp dirs

const dirs = new Set<string>();

/** A fresh directory under the OS temp dir, removed by `removeTempDirs` or at process exit. */
export function tempDir(prefix = "crdt-snap-"): string {
  installHooks();
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

// ------------------------------------------------------------------ child nodes

/** One JSON line the fixture prints. */
export interface NodeEvent {
  event: string;
  [field: string]: unknown;
}

export interface ChildNode {
  readonly pid: number;
  /** Every event printed so far, in order. */
  readonly events: NodeEvent[];
  /** Resolve with the first event (past or future) that matches. */
  waitForEvent(predicate: (e: NodeEvent) => boolean, timeoutMs?: number, message?: string): Promise<NodeEvent>;
  /** The last event of this type, if any. */
  last(type: string): NodeEvent | undefined;
  /** Send a signal (SIGKILL by default) and resolve once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The tail of stderr (explains a failed start). */
  stderr(): string;
}

const { children, installHooks } = reaper(removeTempDirs);

/** Kill every child node still running (by PID) and wait for their exit. */
export async function killAllNodes(): Promise<void> {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((res) => {
          if (c.exitCode !== null || c.signalCode !== null) return res();
          c.once("exit", () => res());
          c.kill("SIGKILL");
        }),
    ),
  );
  children.clear();
}

/**
 * Start a fixture (fixtures/snapshot-node.ts unless `script` names another) in its own
 * `node --import tsx` process with `config` (JSON on argv). Its stdin is a pipe: if this process
 * dies, the child sees EOF and exits on its own.
 */
export function startChildNode(config: Record<string, unknown>, script = "snapshot-node.ts"): ChildNode {
  installHooks();
  const child = spawn(process.execPath, ["--import", "tsx", join(here, "fixtures", script), JSON.stringify(config)], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  const events: NodeEvent[] = [];
  const waiters = new Set<(e: NodeEvent) => void>();
  let buffer = "";
  let errTail = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith("{")) continue;
      let e: NodeEvent;
      try {
        e = JSON.parse(line) as NodeEvent;
      } catch {
        continue;
      }
      events.push(e);
      for (const w of [...waiters]) w(e);
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    errTail = (errTail + chunk).slice(-4000);
  });
  // "close", not "exit": it comes after the child's stdout has been read to its end, so every event
  // the child printed before it died is in `events` by then.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once("close", (code, signal) => {
      children.delete(child);
      res({ code, signal });
    });
  });
  const node: ChildNode = {
    pid: child.pid ?? -1,
    events,
    stderr: () => errTail,
    exited,
    last: (type) => {
      for (let i = events.length - 1; i >= 0; i--) if (events[i]!.event === type) return events[i];
      return undefined;
    },
    waitForEvent(predicate, timeoutMs = 20_000, message = "event") {
      const seen = events.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<NodeEvent>((res, rej) => {
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(w);
        };
        const w = (e: NodeEvent): void => {
          if (!predicate(e)) return;
          done();
          res(e);
        };
        const timer = setTimeout(() => {
          done();
          rej(new Error(`child node ${child.pid}: no ${message} within ${timeoutMs} ms; events: ${JSON.stringify(events.slice(-5))}; stderr: ${errTail}`));
        }, timeoutMs);
        waiters.add(w);
        void exited.then(({ code, signal }) => {
          if (!waiters.has(w)) return;
          done();
          rej(new Error(`child node ${child.pid} exited (${code ?? signal}) before ${message}; stderr: ${errTail}`));
        });
      });
    },
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, signal);
      await exited;
    },
  };
  return node;
}

// ------------------------------------------------------------------ snapshots without a replicator

export interface DirectSnapshots {
  store: Store;
  stats: ReplicatorStats;
  snaps: Snapshots;
  handle: SnapshotHandle;
  /** Errors reported to the (fake) replicator context. */
  errors: unknown[];
}

/** Open `dir` and attach it to a minimal context (writer id "<nodeId>~w", incarnation 42); interval 1 h. */
export async function openDirect(dir: string, nodeId = "n", settings: Partial<SnapshotSettings> = {}): Promise<DirectSnapshots> {
  const target = { store: new Store(), stats: new ReplicatorStats(), writerId: undefined as string | undefined };
  const snaps = await Snapshots.open({ dir, intervalMs: 3_600_000, ...settings }, target, nodeId);
  const errors: unknown[] = [];
  const ctx = { nodeId, incarnation: 42, writerId: target.writerId ?? `${nodeId}~w`, reportError: (e: unknown) => errors.push(e) };
  const handle = snaps.attach(ctx as unknown as ReplicatorContext);
  return { store: target.store, stats: target.stats, snaps, handle, errors };
}

/** LevelDB's chained batch, as far as the fault-injection tests patch it. */
export interface ChainedBatch {
  put(key: string, value: unknown): unknown;
  write(options?: unknown): Promise<void>;
}

/**
 * The prototype of the chained batches `snaps` writes through (every batch of a repack is one):
 * a test patches its `put` and `write` to fail or die at a chosen batch.
 */
export async function chainedBatchPrototype(snaps: Snapshots): Promise<ChainedBatch> {
  const db = (snaps as unknown as { db: { batch(): ChainedBatch & { close(): Promise<void> } } }).db;
  const probe = db.batch();
  await probe.close();
  return Object.getPrototypeOf(probe) as ChainedBatch;
}

// ------------------------------------------------------------------ reading a snapshot directly

/** Every entry of a (closed) snapshot directory, decoded; undecodable ones as `undefined`. */
export async function readSnapshotDir(dir: string): Promise<Map<string, SnapshotEntry | undefined>> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view", createIfMissing: false });
  // The LevelDB lock of a killed process is released by the kernel, but give it a moment.
  await waitFor(
    async () => {
      await db.open();
      return true;
    },
    { timeoutMs: 5_000, message: `open ${dir}` },
  );
  const out = new Map<string, SnapshotEntry | undefined>();
  try {
    for await (const [k, v] of db.iterator()) {
      try {
        out.set(k, decodeSnapshotEntry(v));
      } catch {
        out.set(k, undefined);
      }
    }
  } finally {
    await db.close();
  }
  return out;
}

/** Write raw bytes under `key` of a (closed) snapshot directory. */
export async function putRaw(dir: string, entries: [string, Uint8Array][]): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view", createIfMissing: false });
  await db.open();
  try {
    await db.batch(entries.map(([key, value]) => ({ type: "put" as const, key, value })));
  } finally {
    await db.close();
  }
}
