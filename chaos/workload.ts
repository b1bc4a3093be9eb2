/**
 * The chaos run's clients: concurrent workers sending operations to random nodes over the
 * crdt-node HTTP API at a bounded total rate — counter increments, set adds, register sets and map
 * puts (half local, half majority) and majority reads — and logging each one with its times, node,
 * arguments and outcome. Written values are unique per run (`v<op id>`), so the checker can tell
 * every write apart.
 */
import { mulberry32 } from "../src/transport/memory.js";
import { sleep } from "../test/helpers/wait.js";
import type { Level, Op, Outcome, ReadValue, ValueType } from "./records.js";

export const KEYS: Readonly<Record<ValueType, readonly string[]>> = {
  gcounter: ["ctr-0", "ctr-1", "ctr-2"],
  orset: ["set-0", "set-1"],
  lwwregister: ["reg-0", "reg-1"],
  lwwmap: ["map-0"],
};
const MAP_FIELDS = 20;

export interface WorkloadOptions {
  seed: number;
  /** Node base URLs, by index. */
  urls: readonly string[];
  /** Total operations per second across all workers. */
  rate: number;
  workers: number;
  /** Per-request deadline; a write past it is `unknown`. */
  requestTimeoutMs: number;
  /** ms since the run started. */
  now(): number;
  record(op: Op): void;
}

/** A planned operation, before it is sent. */
type Plan =
  | { kind: "write"; node: number; type: ValueType; key: string; level: Level; args: { by?: number; value?: string; field?: string } }
  | { kind: "read"; node: number; type: ValueType; key: string; level: Level };

export interface Workload {
  /** Stop sending; resolves once every operation in flight has ended and been logged. */
  stop(): Promise<void>;
}

export function startWorkload(o: WorkloadOptions): Workload {
  const random = mulberry32(o.seed ^ 0x0c1a05);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  let nextId = 0;
  let nextSlot = o.now();
  let stopping = false;

  const plan = (id: number): Plan => {
    const node = Math.floor(random() * o.urls.length);
    const level: Level = random() < 0.5 ? "local" : "majority";
    const r = random();
    if (r < 0.25) return { kind: "write", node, type: "gcounter", key: pick(KEYS.gcounter), level, args: { by: 1 + Math.floor(random() * 5) } };
    if (r < 0.45) return { kind: "write", node, type: "orset", key: pick(KEYS.orset), level, args: { value: `v${id}` } };
    if (r < 0.6) return { kind: "write", node, type: "lwwregister", key: pick(KEYS.lwwregister), level, args: { value: `v${id}` } };
    if (r < 0.7) return { kind: "write", node, type: "lwwmap", key: pick(KEYS.lwwmap), level, args: { field: `f${Math.floor(random() * MAP_FIELDS)}`, value: `v${id}` } };
    const type = pick(["gcounter", "orset", "lwwregister"] as const);
    return { kind: "read", node, type, key: pick(KEYS[type]), level: "majority" };
  };

  const worker = async (): Promise<void> => {
    while (!stopping) {
      // Slots are shared: the workers together keep to `rate`, however long each request takes.
      const slot = (nextSlot = Math.max(nextSlot + 1000 / o.rate, o.now()));
      const wait = slot - o.now();
      if (wait > 0) await sleep(wait);
      if (stopping) return;
      const id = ++nextId;
      o.record(await perform(id, plan(id), o));
    }
  };
  const workers = Array.from({ length: o.workers }, () => worker());
  return {
    async stop() {
      stopping = true;
      await Promise.all(workers);
    },
  };
}

async function perform(id: number, p: Plan, o: WorkloadOptions): Promise<Op> {
  const url = o.urls[p.node]!;
  const start = o.now();
  const base = { id, node: p.node, key: p.key, type: p.type, level: p.level, start };
  const query = p.kind === "read" ? `?consistency=majority&type=${p.type}` : p.level === "majority" ? "?consistency=majority" : "";
  let status: number;
  let body: { value?: unknown; detail?: { timestamp?: number }; code?: string; error?: string } | undefined;
  try {
    const res = await fetch(`${url}/v1/keys/${p.key}${query}`, {
      method: p.kind === "read" ? "GET" : "POST",
      ...(p.kind === "write" ? { body: JSON.stringify(requestBody(p)), headers: { "content-type": "application/json" } } : {}),
      signal: AbortSignal.timeout(o.requestTimeoutMs),
    });
    status = res.status;
    body = (await res.json().catch(() => undefined)) as typeof body;
  } catch (error) {
    // Refused: the request never reached a node, so it did not happen. Anything else (reset,
    // timeout) may have happened after the node received it.
    const refused = (error as { cause?: { code?: string } }).cause?.code === "ECONNREFUSED";
    const outcome: Outcome = refused || p.kind === "read" ? "failed" : "unknown";
    const message = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    return p.kind === "read" ? { ...base, kind: "read", end: o.now(), outcome, error: message } : { ...base, kind: "write", args: p.args, end: o.now(), outcome, error: message };
  }
  const end = o.now();
  if (p.kind === "read") {
    if (status === 200) return { ...base, kind: "read", end, outcome: "ok", status, value: readValue(p.type, body) };
    if (status === 404) return { ...base, kind: "read", end, outcome: "ok", status, value: null };
    return { ...base, kind: "read", end, outcome: "failed", status, error: body?.code ?? "" };
  }
  const write = { ...base, kind: "write" as const, args: p.args, end, status };
  if (status === 200) {
    return { ...write, outcome: "ok", ...(p.type === "lwwregister" ? { timestamp: body?.detail?.timestamp } : {}) };
  }
  if (status === 504 && body?.code === "COORDINATION_TIMEOUT") {
    // The write applied locally, then missed its quorum: a local acknowledgement, not a majority one.
    const ownTimestamp = p.type === "lwwregister" && body.value === p.args.value ? { timestamp: body.detail?.timestamp } : {};
    return { ...write, outcome: "unknown", localApplied: true, error: body.code, ...ownTimestamp };
  }
  // 4xx and "not ready" are refused before the write is applied; a 500 or a close might come after.
  const outcome: Outcome = status < 500 || body?.code === "NOT_READY" ? "failed" : "unknown";
  return { ...write, outcome, error: body?.code ?? "" };
}

function requestBody(p: Extract<Plan, { kind: "write" }>): Record<string, unknown> {
  switch (p.type) {
    case "gcounter":
      return { type: "gcounter", op: "increment", by: p.args.by };
    case "orset":
      return { type: "orset", op: "add", value: p.args.value };
    case "lwwregister":
      return { type: "lwwregister", op: "set", value: p.args.value };
    case "lwwmap":
      return { type: "lwwmap", op: "put", field: p.args.field, value: p.args.value };
  }
}

function readValue(type: ValueType, body: { value?: unknown; detail?: { timestamp?: number } } | undefined): ReadValue {
  if (type === "lwwregister") return { value: (body?.value as string | null) ?? null, timestamp: body?.detail?.timestamp ?? -1 };
  return (body?.value ?? null) as ReadValue;
}
