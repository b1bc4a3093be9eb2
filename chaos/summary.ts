/**
 * The one-screen report of a chaos run (pure): operations by kind and outcome, faults injected,
 * the survival rule, what was lost, convergence; on failure the violations, the seed and the
 * command that replays the schedule.
 */
import { CLEAR_MS, type CheckResult } from "./checker.js";
import type { FaultRecord, Op } from "./records.js";

export interface RunFacts {
  seed: number;
  minutes: number;
  nodes: number;
  brokers: number;
  rate: number;
  ops: readonly Op[];
  faults: readonly FaultRecord[];
  result: CheckResult;
  /** From the end of the workload until every node held the same state; undefined: never. */
  convergenceMs: number | undefined;
  runDir: string;
}

export const SURVIVAL_RULE =
  `majority-acknowledged writes must always survive; locally acknowledged ones (200, nodes run with snapshot write-through) too, ` +
  `unless their node was SIGKILLed and its snapshot directory wiped before it had ${CLEAR_MS / 1000} s of clear weather ` +
  `(up, links open, brokers up and routed) after the acknowledgement; a majority write that timed out (504) after applying ` +
  `locally must survive too, unless its node was SIGKILLed before such clear weather`;

export function replayCommand(f: Pick<RunFacts, "seed" | "minutes" | "nodes" | "rate">): string {
  return `npm run chaos -- --seed ${f.seed} --minutes ${f.minutes} --nodes ${f.nodes} --rate ${f.rate}`;
}

export function summarize(f: RunFacts): string {
  const r = f.result;
  const lines: string[] = [];
  lines.push(
    `chaos run, seed ${f.seed}: ${f.nodes} nodes, ${f.brokers} brokers, ${f.minutes} min, ${f.rate} ops/s — ${r.ok ? "PASS" : "FAIL"}`,
    "",
    "operations            ok  unknown  failed",
  );
  const rows = new Map<string, [number, number, number]>();
  for (const op of f.ops) {
    const name = `${op.kind === "read" ? "read" : "write"} ${op.type} ${op.level}`;
    const row = rows.get(name) ?? [0, 0, 0];
    row[op.outcome === "ok" ? 0 : op.outcome === "unknown" ? 1 : 2]++;
    rows.set(name, row);
  }
  for (const [name, [ok, unknown, failed]] of [...rows].sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push(`  ${name.padEnd(28)}${String(ok).padStart(6)}${String(unknown).padStart(9)}${String(failed).padStart(8)}`);
  }
  lines.push(`  total ${f.ops.length}`, "");

  const injected = new Map<string, number>();
  let skipped = 0;
  for (const x of f.faults) {
    if (x.note?.startsWith("skipped")) skipped++;
    else injected.set(x.kind, (injected.get(x.kind) ?? 0) + 1);
  }
  const offsets = f.faults.filter((x) => x.clockOffsetMs !== undefined).length;
  lines.push(
    `faults injected: ${[...injected].map(([k, n]) => `${k} ${n}`).join(", ") || "none"}${skipped > 0 ? ` (${skipped} skipped: target busy or too many nodes down)` : ""}`,
    `  restarts with a new clock offset: ${offsets}`,
    "",
    `rule: ${SURVIVAL_RULE}.`,
    `acknowledged writes that must survive: ${r.mustSurvive}; excused (node crashed before clear weather): ${r.excused}`,
    `lost: ${r.lost}   stale majority reads: ${r.staleReads}   converged: ${r.converged ? `yes, ${f.convergenceMs === undefined ? "?" : (f.convergenceMs / 1000).toFixed(1)} s after the last operation` : "NO"}`,
  );
  if (!r.ok) {
    lines.push("", `${r.violations.length} violations:`);
    for (const v of r.violations.slice(0, 20)) lines.push(`  [${v.check}] ${v.message}`);
    if (r.violations.length > 20) lines.push(`  … ${r.violations.length - 20} more in ${f.runDir}/result.json`);
  }
  lines.push("", `run directory: ${f.runDir}`, `replay: ${replayCommand(f)}`);
  return lines.join("\n");
}
