/**
 * The chaos run's judge: a pure function of the operation log, the faults really injected and the
 * final state every node reports after the heal. It knows nothing of the replicator's internals.
 *
 * Which acknowledged writes must survive (the rule the summary states). Nodes run with snapshot
 * write-through, so a 200 means the write is in the node's LevelDB:
 * - a write acknowledged by a majority (HTTP 200 with ?consistency=majority): always;
 * - a write acknowledged locally (HTTP 200 at local level): always, unless its node lost its disk
 *   (SIGKILL and a wiped snapshot directory) before it had CLEAR_MS of clear weather after the
 *   acknowledgement — the node up and running, its links open, every broker up and routed —
 *   in which the write could reach a peer;
 * - a majority write that timed out (504) after applying locally: the library promises it stands
 *   and replicates, but it answered before it was durable, so any SIGKILL of its node before
 *   clear weather excuses it.
 * Counters: the final value lies between the sum of increments that must survive and the sum of
 * increments not known to have failed. Sets: every add that must survive is present and nothing
 * else appears. Registers: the final timestamp is at least that of every write that must survive,
 * the value one that was written. Maps: every put that must survive left its field, with a written
 * value. Majority reads: a majority read that began after a majority write was acknowledged sees
 * it. Convergence: every node holds the same keys with the same values.
 */
import type { FaultRecord, Op, ReadOp, ReadValue, WriteOp } from "./records.js";
import { RESTARTS } from "./schedule.js";

export const CLEAR_MS = 5_000;

/** A node's JSON view of one key, as GET /v1/keys/:key returns it. */
export interface KeyView {
  type: string;
  value: unknown;
  detail?: unknown;
}
export type NodeState = Record<string, KeyView>;

export interface CheckInput {
  ops: readonly Op[];
  faults: readonly FaultRecord[];
  /** Final state per node (index = node); undefined when the node could not be read. */
  finals: readonly (NodeState | undefined)[];
}

export interface Violation {
  check: "counter" | "set" | "register" | "map" | "majority-read" | "convergence";
  key?: string;
  node?: number;
  message: string;
  ops?: number[];
}

export interface CheckResult {
  ok: boolean;
  violations: Violation[];
  /** Acknowledged writes that must survive and did not (counter increments counted one each). */
  lost: number;
  /** Majority reads that missed a majority write acknowledged before they began. */
  staleReads: number;
  mustSurvive: number;
  /** Locally acknowledged writes excused by a crash of their node, or the loss of its disk (see the rule above). */
  excused: number;
  converged: boolean;
}

const NODE_FAULT_KINDS = new Set(["kill", "kill-wipe", "restart", "pause", "link-reset", "link-blackhole"]);

/** Intervals during which `node` may not have been able to reach any peer. */
function stormsOf(node: number, faults: readonly FaultRecord[]): [number, number][] {
  return faults
    .filter((f) => !NODE_FAULT_KINDS.has(f.kind) || f.target === node)
    .map((f): [number, number] => [f.start, f.end])
    .sort((a, b) => a[0] - b[0]);
}

/** True when [from, to] holds a stretch of at least `ms` that no interval covers. */
export function hasClearStretch(from: number, to: number, storms: readonly [number, number][], ms: number): boolean {
  let clearSince = from;
  for (const [s, e] of storms) {
    if (e <= clearSince) continue;
    if (s >= to) break;
    if (Math.min(s, to) - clearSince >= ms) return true;
    clearSince = Math.max(clearSince, e);
  }
  return to - clearSince >= ms;
}

function acknowledgedLocally(w: WriteOp): boolean {
  return (w.outcome === "ok" && w.level === "local") || w.localApplied === true;
}

/** Whether an acknowledged write must be reflected in the final state (see the module comment). */
export function mustSurvive(w: WriteOp, faults: readonly FaultRecord[]): boolean {
  if (w.outcome === "ok" && w.level === "majority") return true;
  if (!acknowledgedLocally(w)) return false;
  const durable = w.outcome === "ok";
  const loss = faults
    .filter((f) => f.target === w.node && f.killed === true && (f.wiped === true || !durable) && RESTARTS.includes(f.kind as never) && f.start >= w.start)
    .reduce((min, f) => Math.min(min, f.start), Infinity);
  if (loss === Infinity) return true;
  return hasClearStretch(w.end, loss, stormsOf(w.node, faults), CLEAR_MS);
}

/** Canonical text of a node's whole state, for equality across nodes. */
export function canonicalState(s: NodeState): string {
  return Object.keys(s)
    .sort()
    .map((k) => `${k}=${canonical(s[k]!)}`)
    .join("\n");
}

/** Canonical text of a view, for equality across nodes (set elements sorted). */
function canonical(v: KeyView): string {
  const value = v.type === "orset" && Array.isArray(v.value) ? [...(v.value as string[])].sort() : v.value;
  return JSON.stringify({ type: v.type, value, detail: v.detail ?? null }, (_k, x: unknown) =>
    x !== null && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );
}

function timestampOf(v: KeyView | undefined): number {
  const ts = (v?.detail as { timestamp?: unknown } | undefined)?.timestamp;
  return typeof ts === "number" ? ts : -Infinity;
}

export function check(input: CheckInput): CheckResult {
  const violations: Violation[] = [];
  let lost = 0;
  let staleReads = 0;
  const writes = input.ops.filter((o): o is WriteOp => o.kind === "write");
  const reads = input.ops.filter((o): o is ReadOp => o.kind === "read");
  const surviving = new Set(writes.filter((w) => mustSurvive(w, input.faults)));
  const excused = writes.filter((w) => acknowledgedLocally(w) && !surviving.has(w)).length;
  const byKey = new Map<string, WriteOp[]>();
  for (const w of writes) byKey.set(w.key, [...(byKey.get(w.key) ?? []), w]);

  // Convergence: same keys, same values on every node.
  const readable = input.finals.map((s, node) => ({ s, node })).filter((x): x is { s: NodeState; node: number } => x.s !== undefined);
  for (const node of input.finals.keys()) {
    if (input.finals[node] === undefined) violations.push({ check: "convergence", node, message: `node ${node} could not be read after the heal` });
  }
  const reference = readable[0];
  let converged = readable.length === input.finals.length;
  if (reference !== undefined) {
    const keys = new Set(readable.flatMap((x) => Object.keys(x.s)));
    for (const key of [...keys].sort()) {
      const texts = readable.map((x) => (x.s[key] === undefined ? "(absent)" : canonical(x.s[key]!)));
      if (texts.some((t) => t !== texts[0])) {
        converged = false;
        violations.push({ check: "convergence", key, message: `nodes disagree on ${key}: ${readable.map((x, i) => `node ${x.node}=${texts[i]}`).join("; ")}` });
      }
    }
  }

  for (const [key, ws] of byKey) {
    const attempted = ws.filter((w) => w.outcome !== "failed");
    const required = ws.filter((w) => surviving.has(w));
    for (const { s, node } of readable) {
      const view = s[key];
      const type = ws[0]!.type;
      if (type === "gcounter") {
        const value = typeof view?.value === "number" ? view.value : 0;
        const floor = required.reduce((sum, w) => sum + (w.args.by ?? 0), 0);
        const ceiling = attempted.reduce((sum, w) => sum + (w.args.by ?? 0), 0);
        if (value < floor) {
          lost += floor - value;
          violations.push({ check: "counter", key, node, message: `${key} is ${value} on node ${node}, below the ${floor} that acknowledged increments must survive` });
        }
        if (value > ceiling) violations.push({ check: "counter", key, node, message: `${key} is ${value} on node ${node}, above the ${ceiling} ever attempted` });
      } else if (type === "orset") {
        const elements = new Set(Array.isArray(view?.value) ? (view.value as string[]) : []);
        const missing = required.filter((w) => !elements.has(w.args.value!));
        if (missing.length > 0) {
          lost += missing.length;
          violations.push({ check: "set", key, node, message: `${key} on node ${node} lacks ${missing.length} acknowledged adds: ${missing.slice(0, 5).map((w) => w.args.value).join(", ")}`, ops: missing.map((w) => w.id) });
        }
        const written = new Set(attempted.map((w) => w.args.value));
        const phantoms = [...elements].filter((e) => !written.has(e));
        if (phantoms.length > 0) violations.push({ check: "set", key, node, message: `${key} on node ${node} holds elements nobody added: ${phantoms.slice(0, 5).join(", ")}` });
      } else if (type === "lwwregister") {
        const ts = timestampOf(view);
        const missing = required.filter((w) => w.timestamp !== undefined && w.timestamp > ts);
        if (missing.length > 0) {
          lost += missing.length;
          violations.push({ check: "register", key, node, message: `${key} on node ${node} has timestamp ${ts}, older than ${missing.length} acknowledged writes (newest ${Math.max(...missing.map((w) => w.timestamp!))})`, ops: missing.map((w) => w.id) });
        }
        const value = view?.value ?? null;
        if (value !== null && !attempted.some((w) => w.args.value === value)) {
          violations.push({ check: "register", key, node, message: `${key} on node ${node} holds ${JSON.stringify(value)}, which nobody wrote` });
        }
      } else {
        const fields = (view?.value ?? {}) as Record<string, unknown>;
        const missing = required.filter((w) => !(w.args.field! in fields));
        if (missing.length > 0) {
          lost += missing.length;
          violations.push({ check: "map", key, node, message: `${key} on node ${node} lacks fields of ${missing.length} acknowledged puts: ${missing.slice(0, 5).map((w) => w.args.field).join(", ")}`, ops: missing.map((w) => w.id) });
        }
        for (const [field, value] of Object.entries(fields)) {
          if (!attempted.some((w) => w.args.field === field && w.args.value === value)) {
            violations.push({ check: "map", key, node, message: `${key}.${field} on node ${node} holds ${JSON.stringify(value)}, which nobody put` });
          }
        }
      }
    }
  }

  // A majority read sees every majority write acknowledged before it began.
  for (const r of reads) {
    if (r.outcome !== "ok" || r.level !== "majority") continue;
    const before = (byKey.get(r.key) ?? []).filter((w) => w.level === "majority" && w.outcome === "ok" && w.end < r.start);
    const missed = missedWrites(r.type, r.value ?? null, before);
    if (missed.length > 0) {
      staleReads++;
      const restart = input.faults.filter((f) => f.target === r.node && RESTARTS.includes(f.kind as never) && f.start < r.start).at(-1);
      const hint = restart !== undefined && r.start - restart.start < 30_000 ? `; node ${r.node} restarted (${restart.kind}) at ${restart.start} ms` : "";
      violations.push({ check: "majority-read", key: r.key, node: r.node, message: `majority read #${r.id} of ${r.key} on node ${r.node} at ${r.start} ms missed ${missed.length} majority writes acknowledged before it (first #${missed[0]!.id} on node ${missed[0]!.node} at ${missed[0]!.end} ms)${hint}`, ops: [r.id, ...missed.map((w) => w.id)] });
    }
  }

  return { ok: violations.length === 0, violations, lost, staleReads, mustSurvive: surviving.size, excused, converged };
}

/** The acknowledged majority writes a read's value fails to reflect. */
function missedWrites(type: string, value: ReadValue, before: WriteOp[]): WriteOp[] {
  if (before.length === 0) return [];
  if (type === "gcounter") {
    const need = before.reduce((sum, w) => sum + (w.args.by ?? 0), 0);
    return (typeof value === "number" ? value : 0) >= need ? [] : before;
  }
  if (type === "orset") {
    const seen = new Set(Array.isArray(value) ? value : []);
    return before.filter((w) => !seen.has(w.args.value!));
  }
  if (type === "lwwregister") {
    const ts = value !== null && typeof value === "object" && !Array.isArray(value) ? value.timestamp : -Infinity;
    return before.filter((w) => w.timestamp !== undefined && w.timestamp > ts);
  }
  return [];
}
