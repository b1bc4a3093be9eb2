/**
 * Many schedules in a row (seeds `firstSeed`, `firstSeed + 1`, …) and their summary: operations by
 * kind, level and outcome, faults, writes lost, failing seeds with the command that replays each.
 * One seed in twenty is a two-DC schedule.
 */
import { runSchedule, type ScheduleOptions, type ScheduleResult } from "./schedule.js";
import { runTwoDcSchedule } from "./two-dcs.js";

/** One seed in twenty runs two data centers (two-dcs.ts) instead of one DC of five (schedule.ts). */
export const isTwoDcSeed = (seed: number): boolean => seed % 20 === 19;

export interface Summary {
  schedules: number;
  failed: ScheduleResult[];
  lost: number;
  fewerThanMajorityOfFive: { writes: number; reads: number };
  ops: Map<string, number>;
  faults: Map<string, number>;
  convergedOnItsOwn: number;
  virtualMs: number;
  events: number;
  wallMs: number;
}

export const DEFAULT_SEED = 20240611;

export function replayCommand(seed: number): string {
  return `npm run sim -- --seed ${seed} --schedules 1`;
}

export async function runSchedules(
  firstSeed: number,
  count: number,
  options: ScheduleOptions & { onResult?: (r: ScheduleResult, done: number) => void; twoDcOnly?: boolean } = {},
): Promise<Summary> {
  const started = performance.now();
  const s: Summary = { schedules: 0, failed: [], lost: 0, fewerThanMajorityOfFive: { writes: 0, reads: 0 }, ops: new Map(), faults: new Map(), convergedOnItsOwn: 0, virtualMs: 0, events: 0, wallMs: 0 };
  // Two-DC only: the two-DC seeds from `firstSeed` on (one in twenty), `count` of them.
  let first = firstSeed;
  while (options.twoDcOnly === true && !isTwoDcSeed(first)) first++;
  const step = options.twoDcOnly === true ? 20 : 1;
  for (let i = 0; i < count; i++) {
    const seed = first + i * step;
    let r: ScheduleResult;
    try {
      r = await (isTwoDcSeed(seed) ? runTwoDcSchedule(seed, options) : runSchedule(seed, options));
    } catch (error) {
      r = { seed, failures: [`threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`], lost: 0, fewerThanMajorityOfFive: { writes: 0, reads: 0 }, ops: new Map(), faults: new Map(), convergedOnItsOwn: false, virtualMs: 0, events: 0 };
    }
    s.schedules++;
    s.lost += r.lost;
    s.fewerThanMajorityOfFive.writes += r.fewerThanMajorityOfFive.writes;
    s.fewerThanMajorityOfFive.reads += r.fewerThanMajorityOfFive.reads;
    if (r.failures.length > 0) s.failed.push(r);
    if (r.convergedOnItsOwn) s.convergedOnItsOwn++;
    s.virtualMs += r.virtualMs;
    s.events += r.events;
    for (const [k, v] of r.ops) s.ops.set(k, (s.ops.get(k) ?? 0) + v);
    for (const [k, v] of r.faults) s.faults.set(k, (s.faults.get(k) ?? 0) + v);
    options.onResult?.(r, s.schedules);
  }
  s.wallMs = performance.now() - started;
  return s;
}

/** One failing schedule: its seed, how to replay it, and (the first few of) what went wrong. */
export function describeFailure(r: ScheduleResult): string {
  const shown = r.failures.slice(0, 8).map((f) => `  - ${f}`);
  if (r.failures.length > shown.length) shown.push(`  - … ${r.failures.length - shown.length} more`);
  return `seed ${r.seed} failed (replay: ${replayCommand(r.seed)}):\n${shown.join("\n")}`;
}

export function formatSummary(s: Summary): string {
  const sorted = (m: Map<string, number>): string[] => [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `    ${k}: ${v}`);
  const total = [...s.ops.values()].reduce((a, b) => a + b, 0);
  return [
    `schedules: ${s.schedules} (${s.failed.length} failed${s.failed.length > 0 ? `: seeds ${s.failed.slice(0, 20).map((r) => r.seed).join(", ")}${s.failed.length > 20 ? ", …" : ""}` : ""})`,
    `operations: ${total} (kind, level, outcome)`,
    ...sorted(s.ops),
    `faults:`,
    ...sorted(s.faults),
    `acknowledged writes lost: ${s.lost}`,
    `majority quorums of fewer than 3 of the 5 nodes (N shrunk by vote, or a node started alone): ${s.fewerThanMajorityOfFive.writes} writes, ${s.fewerThanMajorityOfFive.reads} reads`,
    `converged after healing: ${s.schedules - schedulesWith(s, "diverged")} of ${s.schedules} (on their own, without explicit digest rounds: ${s.convergedOnItsOwn})`,
    ...(s.failed.length > 0 ? ["failed schedules by kind of failure:", ...sorted(failureKinds(s))] : []),
    `virtual time: ${(s.virtualMs / 1000).toFixed(0)} s, ${s.events} timer events; wall time: ${(s.wallMs / 1000).toFixed(1)} s`,
  ].join("\n");
}

/** Each failure reads "<kind>: <detail>". */
function kindOf(failure: string): string {
  return failure.slice(0, Math.max(0, failure.indexOf(":")));
}

function schedulesWith(s: Summary, kind: string): number {
  return s.failed.filter((r) => r.failures.some((f) => kindOf(f) === kind)).length;
}

function failureKinds(s: Summary): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const r of s.failed) for (const kind of new Set(r.failures.map(kindOf))) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  return kinds;
}
