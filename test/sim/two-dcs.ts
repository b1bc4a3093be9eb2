/**
 * One seeded two-data-center schedule: east (e0, e1, e2) and west (w0, w1), each DC on its own
 * in-memory bus, every node linked to the other DC's bus (cross-DC batches and digest rounds,
 * src/xdc/), all on one virtual clock. Removed-node pruning is on with a short delay. Steps: local
 * counter increments, set adds, and increments and decrements of a PNCounterMap's fields; restarts
 * without a snapshot (a fresh writer id: the node's own fold follows); clean leaves for good (the
 * leader absorbs the node's ids after the delay), most of them replaced by a node of a new name, as
 * a deployment's pods are (so node names churn); nodes cut off from their DC for longer than the
 * removal timeout plus the delay while they keep writing (the leader folds them; they come back and
 * re-issue). Then every fault is lifted, both DCs converge, the prune settles, and per schedule:
 * counters and the map's fields exact against the write log, every acknowledged add present, no
 * node still holding a member that left (one cut off when it left drops it too:
 * cluster/gone-from-peers.ts), and one writer id per node per key: in a counter or the map never
 * more than the live writers (the markers of nodes that left have expired), in a set at most one
 * more per node that left (checks.ts `checkWriterIds`).
 *
 * A node is stopped or leaves only while linked, after its writes had time to reach its DC (an
 * in-memory stop keeps nothing): what these schedules test is pruning, not crash loss.
 */
import { Key, MemoryNetwork, Replicator, type Crdt, type PNCounterMap, type ReplicatorOptions } from "../../src/index.js";
import { dataTypes } from "../../src/crdt/registry.js";
import { mulberry32 } from "../../src/transport/memory.js";
import { absorbedBy, isMarker, parseWriter } from "../../src/crdt/writer-ids.js";
import { checkWriterIds, MARKER_TTL_MS, type Replica } from "./checks.js";
import type { ScheduleOptions, ScheduleResult } from "./schedule.js";
import { VirtualClock } from "./virtual-clock.js";
import { epochOf } from "./world.js";

const DCS = { east: ["e0", "e1", "e2"], west: ["w0", "w1"] } as const;
type DcName = keyof typeof DCS;
const ALL: readonly string[] = [...DCS.east, ...DCS.west];
const dcOf = (id: string): DcName => (id.startsWith("e") ? "east" : "west");
const otherDc = (dc: DcName): DcName => (dc === "east" ? "west" : "east");
const KEYS = 3;
/** The PNCounterMap key (its fields f0..f{KEYS - 1}). */
const MAP = "m";
/** At most this many leaves for good per schedule. */
const MAX_LEAVES = 3;

export async function runTwoDcSchedule(seed: number, options: ScheduleOptions = {}): Promise<ScheduleResult> {
  const rnd = mulberry32(seed ^ 0x2dc);
  const trace = options.trace ?? (() => {});
  const clock = new VirtualClock(epochOf(seed));
  const handlerErrors: unknown[] = [];
  const nets = {
    east: new MemoryNetwork({ seed, clock, onHandlerError: (e) => handlerErrors.push(e) }),
    west: new MemoryNetwork({ seed: seed + 1, clock, onHandlerError: (e) => handlerErrors.push(e) }),
  };
  const failureTimeoutMs = 300 + 100 * Math.floor(rnd() * 4);
  const removalTimeoutMs = failureTimeoutMs + Math.floor(rnd() * 1_500);
  const pruneRetiredAfterMs = 200 + Math.floor(rnd() * removalTimeoutMs);
  const base: Omit<ReplicatorOptions, "nodeId" | "transport"> = {
    clock,
    heartbeatIntervalMs: 100,
    failureTimeoutMs,
    removalTimeoutMs,
    antiEntropyIntervalMs: 500,
    pruneIntervalMs: 500,
    pruneRetiredAfterMs,
    pruneMarkerTtlMs: MARKER_TTL_MS,
  };
  trace(`two-DC seed ${seed}: ${JSON.stringify({ failureTimeoutMs, removalTimeoutMs, pruneRetiredAfterMs })}`);
  const running = new Map<string, Replicator>();
  const drive = (p: Promise<unknown>, limitMs: number): Promise<boolean> => clock.settles(p, limitMs);
  const start = async (id: string): Promise<void> => {
    const dc = dcOf(id);
    const other = nets[otherDc(dc)];
    const starting = Replicator.start({
      ...base,
      nodeId: id,
      dataCenter: dc,
      transport: nets[dc].connect(id),
      dataCenterReplication: {
        remotes: [{ name: otherDc(dc), connect: async () => other.connect(`${id}-xdc`) }],
        intervalMs: 200,
        antiEntropy: true,
        antiEntropyIntervalMs: 1_000,
        sendTimeoutMs: 500,
      },
    });
    if (!(await drive(starting, 10_000))) throw new Error(`${id} did not start within 10 s of virtual time`);
    running.set(id, await starting);
  };
  const stop = async (id: string): Promise<void> => {
    const r = running.get(id)!;
    running.delete(id);
    await drive(r.close(), 10_000);
  };
  /** Every node id of this schedule: the first five, then the replacements of those that left. */
  const ids: string[] = [...ALL];
  let replacements = 0;
  const live = (): Replicator[] => ids.flatMap((id) => running.get(id) ?? []);
  const faults = new Map<string, number>();
  const ops = new Map<string, number>();
  const count = (m: Map<string, number>, k: string, by = 1): void => void m.set(k, (m.get(k) ?? 0) + by);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  /**
   * Whether a running peer of `n`'s DC holds everything `n` holds: merging `n`'s values adds
   * nothing, and no marker there covers an id of `n` that `n` still holds (`n` was absorbed while
   * cut off: what it wrote beyond the absorption lives on `n` alone until its comeback re-issues
   * it under a fresh id, crdt/comeback.ts; a crash before that loses it, as it loses any local
   * write not yet replicated — not what these schedules test; two-DC seed 20316159).
   */
  const heldByDcPeer = (n: Replicator): boolean =>
    live().some((m) => {
      if (m === n || dcOf(m.nodeId) !== dcOf(n.nodeId)) return false;
      const theirs = new Map(m.entries().map((e) => [e.key, e.value]));
      return n.entries().every((e) => {
        const v = theirs.get(e.key);
        if (v === undefined || !v.merge(e.value).equals(v)) return false;
        const markers = (writers(v) ?? []).filter(isMarker);
        return !(writers(e.value) ?? []).some((id) => parseWriter(id)?.node === n.nodeId && markers.some((marker) => absorbedBy(marker, id)));
      });
    });
  const writers = (v: Crdt): string[] | undefined => dataTypes.get(v.kind)?.pruning?.writers(v);
  const totals = new Map<string, number>(); // counter key → sum of acknowledged increments
  const adds = new Map<string, string[]>(); // set key → acknowledged adds
  const fields = new Map<string, number>(); // field of the map MAP → sum of acknowledged increments and decrements
  const left = new Set<string>();
  const failures: string[] = [];
  const started = clock.now();

  try {
    for (const id of ALL) await start(id);
    const formed = await clock.until(() => live().every((n) => n.members().length === DCS[dcOf(n.nodeId)].length), 30_000);
    if (!formed) throw new Error("the DCs did not form within 30 s of virtual time");
    const reconnectAt = new Map<string, number>();
    const restartAt = new Map<string, number>();
    const steps = 30 + Math.floor(rnd() * 30);
    for (let step = 0; step < steps; step++) {
      await clock.advance(Math.floor(rnd() * 300));
      const now = clock.now();
      for (const [id, at] of reconnectAt) if (now >= at) reconnectAt.delete(id), nets[dcOf(id)].reconnect(id), trace(`${now - started} ms: reconnect ${id}`);
      for (const [id, at] of restartAt) if (now >= at) restartAt.delete(id), await start(id), trace(`${now - started} ms: start ${id}`);
      const r = rnd();
      const linked = live().filter((n) => !reconnectAt.has(n.nodeId));
      if (r < 0.05) {
        // Cut off from its own DC (its cross-DC link stays), often for longer than removal + the delay.
        const id = pick(ids);
        if (reconnectAt.has(id) || left.has(id)) continue;
        const long = rnd() < 0.6;
        const lasts = long ? removalTimeoutMs + pruneRetiredAfterMs + 1_500 + rnd() * 2_000 : rnd() * removalTimeoutMs;
        count(faults, long ? "cut off longer than removal + pruneRetiredAfterMs" : "cut off briefly");
        reconnectAt.set(id, now + lasts);
        nets[dcOf(id)].disconnect(id);
        trace(`${now - started} ms: cut off ${id} for ${Math.round(lasts)} ms`);
      } else if (r < 0.1 || (r < 0.125 && left.size < MAX_LEAVES)) {
        const leaving = r >= 0.1;
        // A leave some member of its DC hears: one that nobody hears (its only DC peer cut off) is,
        // to that peer, a partition, and a side of a partition never shrinks its membership alone.
        // A stop too: its writes must reach a linked member of its DC first (an in-memory stop keeps
        // nothing; with every DC peer cut off they would live only in the other DC, which this
        // schedule may stop next: crash loss, not what it tests).
        // A leave while a member of its DC is cut off too: with names churning, that member may come
        // back after every member that heard the leave restarted or left (the leave passes on in
        // hello answers and heartbeats; two-DC seeds 20244619, 20250779, 20252439).
        const candidates = linked.filter((n) => linked.some((m) => m !== n && dcOf(m.nodeId) === dcOf(n.nodeId)) && !restartAt.has(n.nodeId));
        if (candidates.length === 0) continue;
        const n = pick(candidates);
        // Its writes reach a peer of its DC first: those made while it was cut off wait for a repair
        // round, which may wait for its admission back.
        if (!(await clock.until(() => heldByDcPeer(n), 10_000))) continue;
        count(faults, leaving ? "clean leaves for good" : "restarts without snapshot");
        trace(`${clock.now() - started} ms: ${leaving ? "leave" : "stop"} ${n.nodeId}`);
        await stop(n.nodeId);
        if (leaving) left.add(n.nodeId);
        else restartAt.set(n.nodeId, clock.now() + rnd() * 2 * failureTimeoutMs);
        // A DC never shrinks to one node: a lone node knows no peer, so it folds only keys no other
        // node wrote (pruner.ts `ownFoldDue`) and the ids of its restarts stay (two-DC seeds
        // 20240659 and 20241539 once the workload wrote a map: a design limit, not the markers').
        const staying = ids.filter((id) => dcOf(id) === dcOf(n.nodeId) && !left.has(id)).length;
        if (leaving && (rnd() < 0.7 || staying < 2)) {
          // Replaced by a node of a new name in its DC (a deployment's new pod).
          const id = `${dcOf(n.nodeId) === "east" ? "e" : "w"}${ALL.length + ++replacements}`;
          ids.push(id);
          await start(id);
          count(faults, "leaves replaced by a node of a new name");
          trace(`${clock.now() - started} ms: start ${id} (replaces ${n.nodeId})`);
        }
      } else {
        const n = pick(live());
        const k = Math.floor(rnd() * KEYS);
        const kind = rnd();
        if (kind < 0.2) {
          const field = `f${k}`;
          const by = Math.floor(rnd() * 7) - 3;
          const write = (m: PNCounterMap, self: string): PNCounterMap => (by >= 0 ? m.increment(self, field, by) : m.decrement(self, field, -by));
          if (await drive(n.update(Key.pncounterMap(MAP), write), 5_000)) {
            fields.set(field, (fields.get(field) ?? 0) + by);
            count(ops, "pncounterMap local ok");
          }
        } else if (kind < 0.6) {
          const by = 1 + Math.floor(rnd() * 3);
          if (await drive(n.update(Key.gcounter(`c${k}`), (c, self) => c.increment(self, by)), 5_000)) {
            totals.set(`c${k}`, (totals.get(`c${k}`) ?? 0) + by);
            count(ops, "gcounter local ok");
          }
        } else {
          const element = `${n.nodeId}-${step}`;
          if (await drive(n.update(Key.orset<string>(`s${k}`), (s, self) => s.add(self, element)), 5_000)) {
            adds.set(`s${k}`, [...(adds.get(`s${k}`) ?? []), element]);
            count(ops, "orset-add local ok");
          }
        }
      }
    }
    // Heal: every node linked again, every stopped one back (not those that left).
    for (const id of reconnectAt.keys()) nets[dcOf(id)].reconnect(id);
    for (const id of restartAt.keys()) await start(id);
    const replicasNow = (): Replica[] => live().map((n) => new Map(n.entries().map((e) => [e.key, e.value])));
    const converged = (): boolean => {
      const [a, ...rest] = live().map((n) => JSON.stringify(n.entries().map((e) => [e.key, e.value.toState()]).sort(([x], [y]) => (x! < y! ? -1 : 1))));
      return rest.every((x) => x === a);
    };
    // Counters and the map of counters keep no id of a node that left once its marker expired; a set
    // keeps the marker an element it added is re-issued under, while the element stays (these
    // schedules only add).
    const counter = (v: Crdt): boolean => v.kind === "gcounter" || v.kind === "pncounter" || v.kind === "pncounterMap";
    const idFailures = (): string[] => checkWriterIds(replicasNow(), live().map((n) => n.writerId), writers, (v) => (counter(v) ? 0 : left.size));
    // A node's own fold waits for every member it knows to be reachable: one cut off while another
    // left for good must drop that member too (it never heard the leave), or it never folds.
    const ghosts = (): string[] => live().flatMap((n) => n.members().filter((m) => !m.self && !m.reachable).map((m) => `${n.nodeId} still holds ${m.node}, unreachable`));
    const pruned = (): boolean => ghosts().length === 0 && idFailures().length === 0;
    let settled = false;
    for (let waited = 0; waited < 60_000 && !settled; waited += 250) {
      await clock.advance(250);
      settled = converged() && pruned();
    }
    trace(`${clock.now() - started} ms: ${settled ? "converged and pruned" : "not settled"}; members: ${live().map((n) => `${n.nodeId} sees ${n.members().filter((m) => !m.self).map((m) => `${m.node}${m.reachable ? "" : " (unreachable)"}${m.counted ? "" : " (uncounted)"}`).join(" ")}`).join("; ")}`);
    if (!converged()) failures.push(`diverged: the two DCs' replicas differ after healing (writers ${live().map((n) => n.writerId).join(", ")}):\n${differences(live())}`);
    else failures.push(...ghosts(), ...idFailures());
    const [replica] = live();
    for (const [key, total] of totals) {
      const value = (replica?.entries().find((e) => e.key === key)?.value as { value?: number } | undefined)?.value ?? 0;
      if (value !== total) failures.push(`inexact counter: ${key} is ${value}, the acknowledged increments sum to ${total}`);
    }
    const map = replica?.entries().find((e) => e.key === MAP)?.value as PNCounterMap | undefined;
    for (const [field, total] of fields) {
      const value = map?.get(field) ?? 0;
      if (value !== total) failures.push(`inexact map field: ${MAP}.${field} is ${value}, the acknowledged writes sum to ${total}`);
    }
    let lost = 0;
    for (const [key, elements] of adds) {
      const set = replica?.entries().find((e) => e.key === key)?.value as { has?: (x: string) => boolean } | undefined;
      for (const element of elements) {
        if (set?.has?.(element) === true) continue;
        lost++;
        failures.push(`lost: the acknowledged add of ${element} to ${key}`);
      }
    }
    for (const n of live()) {
      count(faults, "two-DC: keys whose retired writer ids a node folded", n.stats.retiredFolds);
      count(faults, "two-DC: keys whose removed node's ids the leader folded", n.stats.removedFolds);
      count(faults, "two-DC: writer ids renewed after a fold (comebacks)", n.stats.writerIdRenewals);
    }
    if (handlerErrors.length > 0) failures.push(`handler threw: ${handlerErrors.map(String).join("; ")}`);
    return { seed, failures, lost, fewerThanMajorityOfFive: { writes: 0, reads: 0 }, ops, faults, convergedOnItsOwn: settled, virtualMs: clock.now() - started, events: clock.events };
  } finally {
    for (const id of [...running.keys()]) await stop(id).catch(() => {});
  }
}

/** The keys on which replicas differ, with each one's state. */
function differences(nodes: readonly Replicator[]): string {
  const keys = new Set(nodes.flatMap((n) => n.keys()));
  const lines: string[] = [];
  for (const key of [...keys].sort()) {
    const shown = nodes.map((n) => `${n.nodeId}=${JSON.stringify(n.entries().find((e) => e.key === key)?.value.toState() ?? "absent")}`);
    if (new Set(shown.map((x) => x.slice(x.indexOf("=")))).size > 1) lines.push(`${key}: ${shown.join("  ")}`);
  }
  return lines.join("\n");
}
