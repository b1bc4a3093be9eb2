/**
 * What a schedule logged, and the checks run on it once the cluster healed: pure functions of the
 * log, the topology epochs and the final replicas.
 *
 * A write "must survive" when a majority acknowledged it, or when its writer (that incarnation of
 * the node) is still running at the end: a local write stands on its node, which never loses it.
 * Any other write (a node stopped before it left) may be lost, but never applied twice.
 */
import { GCounter, ORSet, PNCounter, type Crdt } from "../../src/index.js";
import { coverageOf, isCovered, parseWriter, retiredBy } from "../../src/crdt/writer-ids.js";
import { MAJORITY } from "./world.js";

export type Level = "local" | "majority";
export type WriteOutcome = "pending" | "ok" | "timeout" | "deleted";
export type ReadOutcome = "pending" | "ok" | "timeout";

/** Points on one logical time line (start and end of operations, stops of nodes), to order them. */
export interface Span {
  readonly startedAt: number;
  readonly startEpoch: number;
  /** N when it started: the members its node counted (the quorum is a majority of them). */
  readonly members: number;
  endedAt?: number;
  endEpoch?: number;
}

export interface WriteRecord extends Span {
  /** e.g. "gcounter", "orset-add" (a unique element, never removed), "lww", "delete". */
  readonly op: string;
  readonly key: string;
  readonly node: string;
  /** The writer id the node wrote under (set when the write applied locally). */
  writer?: string;
  /** False for an update that changed nothing (it resolves at once, without asking anyone). */
  changed?: boolean;
  readonly level: Level;
  /** Counters: the writer's slot (increments or decrements) right after this write. */
  /** `by`: the write's own amount (`after` also holds what a comeback re-issued into the slot, see own-writer.ts). */
  slot?: { readonly side: "inc" | "dec"; readonly after: number; readonly by: number };
  /** A unique element added to an ORSet. */
  readonly element?: string;
  outcome: WriteOutcome;
}

export interface ReadRecord extends Span {
  readonly key: string;
  readonly node: string;
  outcome: ReadOutcome;
  value?: Crdt | undefined;
}

export interface StopRecord {
  readonly node: string;
  /**
   * The writer ids the stopped process wrote under (its unreplicated local writes may be gone): the
   * one it started with and any it renewed to after a fold (replicator/own-writer.ts).
   */
  readonly writers: readonly string[];
  readonly at: number;
}

export interface SimLog {
  readonly writes: WriteRecord[];
  readonly reads: ReadRecord[];
  readonly stops: StopRecord[];
}

export interface CheckReport {
  failures: string[];
  /** Writes that had to survive and did not. */
  lost: number;
  /**
   * Majority writes and reads answered by fewer than a majority of the five: allowed when the
   * node's N had shrunk by vote (or it started alone, knowing only itself), as the README's quorum
   * rule says, but then losing those few nodes' state may lose such a write.
   */
  fewerThanMajorityOfFive: { writes: number; reads: number };
}

/** Final state of one running node: its key values. */
export type Replica = ReadonlyMap<string, Crdt>;

export function acknowledgedByMajority(w: WriteRecord): boolean {
  return w.level === "majority" && w.outcome === "ok" && w.changed === true;
}

/** Nodes that hold a majority write once acknowledged: a majority of the N its writer counted. */
export function quorumOf(members: number): number {
  return Math.floor(members / 2) + 1;
}

/** At most two nodes ever lose their state (schedule.ts), so a write held by three cannot be lost. */
export function mustSurvive(w: WriteRecord, stoppedWriters: ReadonlySet<string>): boolean {
  if (w.writer === undefined || w.outcome === "deleted" || w.changed !== true) return false;
  return (acknowledgedByMajority(w) && quorumOf(w.members) >= MAJORITY) || !stoppedWriters.has(w.writer);
}

/** `absorbed`: a leader absorbed a removed node's ids under a marker in this run (see checkCounters). */
export function check(log: SimLog, sides: readonly Map<string, readonly string[]>[], replicas: readonly Replica[], absorbed = false): CheckReport {
  const report: CheckReport = { failures: [], lost: 0, fewerThanMajorityOfFive: { writes: 0, reads: 0 } };
  const stopped = new Set(log.stops.flatMap((s) => s.writers));
  for (const w of log.writes) if (w.outcome === "pending") report.failures.push(`never settled: write ${describeWrite(w)}`);
  for (const r of log.reads) if (r.outcome === "pending") report.failures.push(`never settled: read of ${r.key} on ${r.node}`);
  checkCounters(log, stopped, replicas, report, absorbed);
  checkSetAdds(log, stopped, replicas, report);
  checkSplitBrain(log, sides, report);
  checkReads(log, report, absorbed);
  return report;
}

/**
 * Per writer slot: the final value is the slot after one of its writes (no partial or doubled
 * amount), at least the last that must survive. Slots folded into their node's fold id (its
 * retired writer ids, crdt/writer-ids.ts) are checked together with the node's other slots: their
 * sum is a sum of one such value per writer of the node. Once a leader absorbed a removed node's
 * ids (`absorbed`: their amount moved into the leader's slot, under a marker that later expires),
 * every counter is checked as a whole: its value is a sum of one such value per writer.
 */
function checkCounters(log: SimLog, stopped: ReadonlySet<string>, replicas: readonly Replica[], report: CheckReport, absorbed: boolean): void {
  const bySlot = new Map<string, WriteRecord[]>();
  for (const w of log.writes) {
    if (w.slot === undefined || w.writer === undefined) continue;
    const id = `${w.key}\u0000${w.slot.side}\u0000${w.writer}`;
    const list = bySlot.get(id);
    if (list) list.push(w);
    else bySlot.set(id, [w]);
  }
  const replica = replicas[0];
  if (replica === undefined) return;
  /** Per key, side and fold id: the writers it covers, each with its possible final slots and the least one. */
  const folded = new Map<string, { key: string; side: "inc" | "dec"; fold: string; writers: { allowed: number[]; least: number; writes: WriteRecord[] }[] }>();
  for (const writes of bySlot.values()) {
    const { key, writer } = writes[0]!;
    const side = writes[0]!.slot!.side;
    const counter = sideOf(replica.get(key), side);
    const fold = counter === undefined ? undefined : absorbed ? EVERY_SLOT : foldIdOfNode(counter, writer!);
    if (fold !== undefined) {
      // Checked by the writes' own amounts: a slot written after a comeback also holds what it re-issued.
      let sum = 0;
      const totals = writes.map((w) => ({ w, total: (sum += w.slot!.by) }));
      const leastTotal = Math.max(0, ...totals.filter(({ w }) => mustSurvive(w, stopped)).map(({ total }) => total));
      const id = `${key}\u0000${side}\u0000${fold}`;
      const entry = folded.get(id) ?? { key, side, fold, writers: [] };
      entry.writers.push({ allowed: [0, ...totals.map(({ total }) => total)].filter((a) => a >= leastTotal), least: leastTotal, writes });
      folded.set(id, entry);
      continue;
    }
    const allowed = [0, ...writes.map((w) => w.slot!.after)];
    const final = counter?.slot(writer!) ?? 0;
    if (!allowed.includes(final)) {
      report.failures.push(`inexact counter: ${key} slot ${side} of ${writer}: ${final} is not the slot after any of its writes (${[...new Set(allowed)].join(", ")})`);
    }
    for (const w of writes) {
      if (mustSurvive(w, stopped) && final < w.slot!.after) {
        report.lost++;
        report.failures.push(`lost: ${describeWrite(w)} (slot ${side} of ${writer} is ${final}, it made it ${w.slot!.after})`);
      }
    }
  }
  for (const { key, side, fold, writers } of folded.values()) {
    const counter = sideOf(replica.get(key), side)!;
    const final = fold === EVERY_SLOT ? counter.value : nodeShare(counter, fold);
    let sums = new Set([0]);
    for (const w of writers) {
      const next = new Set<number>();
      for (const s of sums) for (const a of w.allowed) next.add(s + a);
      sums = next;
    }
    if (sums.has(final)) continue;
    const least = writers.reduce((n, w) => n + w.least, 0);
    if (final < least) report.lost++;
    const what = writers.map((w) => `${w.writes[0]!.writer} (${[...new Set(w.allowed)].join("|")})`).join(" + ");
    report.failures.push(`${final < least ? "lost" : "inexact counter"} after a fold: ${key} slot ${side} of ${fold} is ${final}, not a sum of ${what}`);
  }
}

/** The group of a counter holding a marker: every slot at once. */
const EVERY_SLOT = "*";

/**
 * The fold id of `writer`'s node in `counter`, if any: the node's slots are then checked together
 * (`nodeShare`), since a node that comes back after another folded its ids (replicator/own-writer.ts)
 * re-issues what the fold missed under its live id.
 */
function foldIdOfNode(counter: GCounter, writer: string): string | undefined {
  const coverage = coverageOf(counter.nodes);
  const node = parseWriter(writer)?.node;
  if (coverage === undefined || node === undefined || !coverage.rank.has(node)) return undefined;
  return counter.nodes.find((id) => parseWriter(id)?.node === node && parseWriter(id)!.fold && parseWriter(id)!.rank === coverage.rank.get(node));
}

/** The sum of the slots of `fold`'s node: its fold id and its ids the fold does not cover. */
function nodeShare(counter: GCounter, fold: string): number {
  const node = parseWriter(fold)!.node;
  return counter.nodes.filter((id) => parseWriter(id)?.node === node).reduce((n, id) => n + counter.slot(id), 0);
}

function sideOf(v: Crdt | undefined, side: "inc" | "dec"): GCounter | undefined {
  if (v instanceof GCounter) return side === "inc" ? v : GCounter.empty();
  if (v instanceof PNCounter) return side === "inc" ? v.increments : v.decrements;
  return undefined;
}

/** `pruneMarkerTtlMs` of the schedules: longer than any of their faults, shorter than the time the prune is given to settle. */
export const MARKER_TTL_MS = 20_000;

/**
 * After the prune settles, no key holds a retired writer id, and a key holds one id per node at
 * most — so never more than the live writers (`live`: each running node's writer id; a node that
 * restarted writes under its fold id once it folded, crdt/writer-ids.ts) plus `gone(value)`: ids a
 * value may keep of nodes that left for good (once their markers expired, none in a counter; in a
 * set, the marker an element they added is re-issued under stays while the element does).
 */
export function checkWriterIds(replicas: readonly Replica[], live: readonly string[], writers: (v: Crdt) => string[] | undefined, gone: (v: Crdt) => number = () => 0): string[] {
  const failures: string[] = [];
  for (const replica of replicas) {
    for (const [key, value] of replica) {
      const ids = writers(value) ?? [];
      const kept = ids.filter((id) => live.some((writer) => id !== writer && retiredBy(writer, id)));
      if (kept.length > 0) failures.push(`retired writer ids kept: ${key} holds ${kept.join(", ")} (live writers: ${live.join(", ")})`);
      const nodes = new Set(ids.map((id) => parseWriter(id)?.node ?? id));
      if (ids.length > nodes.size || ids.length > live.length + gone(value)) failures.push(`more than one id per node: ${key} holds ${ids.join(", ")} (live writers: ${live.join(", ")})`);
    }
  }
  return failures;
}

function checkSetAdds(log: SimLog, stopped: ReadonlySet<string>, replicas: readonly Replica[], report: CheckReport): void {
  const replica = replicas[0];
  if (replica === undefined) return;
  for (const w of log.writes) {
    if (w.element === undefined || !mustSurvive(w, stopped)) continue;
    const set = replica.get(w.key);
    if (!(set instanceof ORSet) || !set.has(w.element)) {
      report.lost++;
      report.failures.push(`lost: ${describeWrite(w)}`);
    }
  }
}

/**
 * A majority write acknowledged while the topology did not change was acknowledged by nodes on the
 * writer's side only: that side must hold a majority of the N the writer counted (the quorum rule),
 * and no two sides may both have acknowledged majority writes in one topology epoch (split brain).
 * Likewise for majority reads. Quorums of fewer than three of the five are counted for the summary.
 */
function checkSplitBrain(log: SimLog, sides: readonly Map<string, readonly string[]>[], report: CheckReport): void {
  /** Per epoch, per side: one majority write it acknowledged. */
  const ackedSides = new Map<number, Map<string, WriteRecord>>();
  for (const w of log.writes) {
    if (!acknowledgedByMajority(w)) continue;
    if (quorumOf(w.members) < MAJORITY) report.fewerThanMajorityOfFive.writes++;
    if (w.endEpoch !== w.startEpoch) continue;
    const side = sides[w.startEpoch]?.get(w.node) ?? [];
    const name = `{${side.join(",")}}`;
    if (side.length < quorumOf(w.members)) {
      report.failures.push(`quorum violated: ${describeWrite(w)}, while its side ${name} held ${side.length} of the N=${w.members} it counted`);
    }
    const seen = ackedSides.get(w.startEpoch) ?? new Map<string, WriteRecord>();
    if (!seen.has(name)) seen.set(name, w);
    ackedSides.set(w.startEpoch, seen);
  }
  for (const r of log.reads) {
    if (r.outcome !== "ok") continue;
    if (quorumOf(r.members) < MAJORITY) report.fewerThanMajorityOfFive.reads++;
    if (r.endEpoch !== r.startEpoch) continue;
    const side = sides[r.startEpoch]?.get(r.node) ?? [];
    if (side.length < quorumOf(r.members)) {
      report.failures.push(`quorum violated: majority read of ${r.key} on ${r.node} at #${r.startedAt} answered while its side {${side.join(",")}} held ${side.length} of the N=${r.members} it counted`);
    }
  }
  for (const [epoch, bySide] of ackedSides) {
    if (bySide.size < 2) continue;
    const each = [...bySide].map(([side, w]) => `side ${side}: ${describeWrite(w)}`);
    report.failures.push(`split brain: in topology epoch ${epoch}, two sides acknowledged majority writes; ${each.join("; ")}`);
  }
}

/**
 * A majority read that started after a majority write was acknowledged overlaps its quorum, so it
 * sees the write, unless a node lost its state (stopped) in between. Once a leader absorbed a removed
 * node's ids (`absorbed`), part of that node's amount sits in the leader's slot, so a counter write
 * the writer's own slots do not show is checked on the whole counter: it must hold at least every
 * writer's amount up to its last majority write acknowledged before the read (`leastSeenTotal`).
 */
function checkReads(log: SimLog, report: CheckReport, absorbed: boolean): void {
  for (const r of log.reads) {
    if (r.outcome !== "ok") continue;
    for (const w of log.writes) {
      if (w.key !== r.key || !acknowledgedByMajority(w) || !acknowledgedBefore(w, r, log)) continue;
      const seen =
        w.slot !== undefined
          ? countedFor(r.value, w.slot.side, w.writer!) >= w.slot.after || (absorbed && (sideOf(r.value, w.slot.side)?.value ?? 0) >= leastSeenTotal(log, r, w.slot.side))
          : w.element === undefined || (r.value instanceof ORSet && r.value.has(w.element));
      if (!seen) report.failures.push(`stale read: majority read of ${r.key} on ${r.node} (N=${r.members}, started at #${r.startedAt}) missed ${describeWrite(w)}`);
    }
  }
}

/** Whether majority write `w` was acknowledged before read `r` started, and no node lost its state in between. */
function acknowledgedBefore(w: WriteRecord, r: ReadRecord, log: SimLog): boolean {
  return w.endedAt! < r.startedAt && !log.stops.some((s) => s.at > w.endedAt! && s.at < r.endedAt!);
}

/**
 * The least a majority read `r` of a counter's `side` must count: per writer id, the sum of its
 * writes' own amounts up to its last majority write acknowledged before `r` (the slot holds the
 * earlier ones too).
 */
function leastSeenTotal(log: SimLog, r: ReadRecord, side: "inc" | "dec"): number {
  const totals = new Map<string, { sum: number; least: number }>();
  for (const w of log.writes) {
    if (w.key !== r.key || w.slot?.side !== side || w.writer === undefined) continue;
    const t = totals.get(w.writer) ?? { sum: 0, least: 0 };
    t.sum += w.slot.by;
    if (acknowledgedByMajority(w) && acknowledgedBefore(w, r, log)) t.least = t.sum;
    totals.set(w.writer, t);
  }
  let least = 0;
  for (const t of totals.values()) least += t.least;
  return least;
}

/** The writer's slot, or, once a fold took it in, its node's share (which holds at least it). */
function countedFor(v: Crdt | undefined, side: "inc" | "dec", writer: string): number {
  const counter = sideOf(v, side);
  if (counter === undefined) return 0;
  const coverage = coverageOf(counter.nodes);
  if (coverage === undefined || !isCovered(writer, coverage)) return counter.slot(writer);
  return nodeShare(counter, foldIdOfNode(counter, writer)!);
}

export function describeWrite(w: WriteRecord): string {
  const what = w.slot !== undefined ? `${w.slot.side === "inc" ? "+" : "-"}→${w.slot.after}` : (w.element ?? "");
  return `${w.level} ${w.op} ${w.key} ${what} on ${w.node} (N=${w.members}, ${w.writer ?? "not applied"}) at #${w.startedAt}, ${w.outcome}${w.endedAt !== undefined ? ` at #${w.endedAt}` : ""}`;
}
