/**
 * One seeded schedule: five nodes, timing options drawn per seed (removal timeouts often shorter
 * than the partitions that follow), then a run of steps in virtual time, each a fault (partition,
 * heal, disconnect, stop/start of a node, a digest round mid-fault) or an operation (local and
 * majority writes of several types, deletes, majority reads) whose outcome is logged. Then every
 * fault is lifted, the cluster repairs itself (and, should that not suffice, digest rounds run),
 * and the checks of checks.ts run on the log and the final replicas.
 *
 * Everything comes from the seed: the schedule, the bus's faults, the timers (virtual), the LWW
 * timestamps (virtual). Replaying a seed replays the run.
 */
import {
  GCounter,
  Key,
  KeyDeletedError,
  ReadTimeoutError,
  WriteTimeoutError,
  type Crdt,
  type ReplicatorOptions,
} from "../../src/index.js";
import { mulberry32 } from "../../src/transport/memory.js";
import { check, type Level, type ReadRecord, type SimLog, type Span, type WriteOutcome, type WriteRecord } from "./checks.js";
import { NODE_IDS, World } from "./world.js";

export interface ScheduleResult {
  readonly seed: number;
  readonly failures: string[];
  readonly lost: number;
  /** Operations by "kind level outcome". */
  readonly ops: Map<string, number>;
  readonly faults: Map<string, number>;
  /** Healed without explicit digest rounds. */
  readonly convergedOnItsOwn: boolean;
  readonly virtualMs: number;
  readonly events: number;
}

export interface ScheduleOptions {
  /** Print each step (for replaying one seed). */
  trace?: (line: string) => void;
}

const keys = {
  g: [Key.gcounter("g0"), Key.gcounter("g1")],
  pn: Key.pncounter("pn"),
  acked: Key.orset<string>("acked"),
  set: [Key.orset<string>("s0"), Key.orset<string>("s1")],
  lww: Key.lwwRegister<string>("lww"),
  mv: Key.mvRegister<number>("mv"),
  flag: Key.flag("flag"),
  map: Key.lwwMap<number>("map"),
  orMap: Key.orMap<GCounter>("ormap", "gcounter"),
  doomed: [Key.gcounter("d0"), Key.gcounter("d1")],
};

/** At most this many distinct nodes ever stop: a majority-acknowledged write then always keeps a holder. */
const MAX_STOPPED_NODES = 2;
/** Virtual time allowed for everything in flight to settle, then for the cluster to heal itself. */
const SETTLE_LIMIT_MS = 60_000;
const HEAL_LIMIT_MS = 30_000;

export async function runSchedule(seed: number, options: ScheduleOptions = {}): Promise<ScheduleResult> {
  const rnd = mulberry32(seed ^ 0x5eed);
  const trace = options.trace ?? (() => {});
  const failureTimeoutMs = 300 + 100 * Math.floor(rnd() * 5);
  const removalTimeoutMs = failureTimeoutMs + Math.floor(rnd() * 2_500);
  const replicatorOptions: Omit<ReplicatorOptions, "nodeId" | "transport" | "clock"> = {
    heartbeatIntervalMs: 100,
    failureTimeoutMs,
    removalTimeoutMs,
    coordinationTimeoutMs: 200 + Math.floor(rnd() * 800),
    // No periodic round: its peer is drawn with Math.random, which a seed does not replay.
    antiEntropyIntervalMs: 3_600_000,
    pruneIntervalMs: 1_000,
  };
  trace(`seed ${seed}: ${JSON.stringify(replicatorOptions)}`);
  const w = await World.start(seed, replicatorOptions);
  const started = w.clock.now();
  const log: SimLog = { writes: [], reads: [], stops: [] };
  const ops = new Map<string, number>();
  const faults = new Map<string, number>();
  const count = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
  const failures: string[] = [];
  let point = 0; // logical time: orders the starts and ends of operations and the stops of nodes
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const span = (): Span => ({ startedAt: ++point, startEpoch: w.epoch });
  const end = (s: Span): void => {
    s.endedAt = ++point;
    s.endEpoch = w.epoch;
  };

  try {
    w.net.setFaults({ dropRate: rnd() * 0.3, duplicateRate: rnd() * 0.2, reorderWindow: rnd() * 8 });
    let healAt = Infinity;
    const reconnectAt = new Map<string, number>();
    const startAt = new Map<string, number>();
    const everStopped = new Set<string>();
    const longFault = (): number => (rnd() < 0.5 ? removalTimeoutMs + rnd() * 2 * removalTimeoutMs : rnd() * removalTimeoutMs);

    /** Run a write on `node` at `level` (not awaited), logging it and its outcome. */
    const write = (op: string, key: { id: string }, node: string, level: Level, run: (rec: WriteRecord) => Promise<unknown>, element?: string): void => {
      const rec: WriteRecord = { ...span(), op, key: key.id, node, level, outcome: "pending", ...(element !== undefined ? { element } : {}) };
      log.writes.push(rec);
      run(rec)
        .then(
          (): WriteOutcome => "ok",
          (error: unknown): WriteOutcome => {
            if (error instanceof WriteTimeoutError) return "timeout";
            if (error instanceof KeyDeletedError) return "deleted";
            failures.push(`${op} on ${node} failed unexpectedly: ${String(error)}`);
            return "timeout";
          },
        )
        .then((outcome) => {
          end(rec);
          rec.outcome = outcome;
          count(ops, `${op} ${level} ${outcome}`);
        });
    };

    const operation = (step: number): void => {
      const live = w.live();
      const n = pick(live);
      const node = n.nodeId;
      const level: Level = rnd() < 0.35 ? "majority" : "local";
      const to = { writeTo: level };
      const el = `e${Math.floor(rnd() * 6)}`;
      const r = rnd();
      if (r < 0.16) {
        const k = pick(keys.g);
        const by = 1 + Math.floor(rnd() * 5);
        write("gcounter", k, node, level, (rec) =>
          n.update(k, (v, self) => {
            const next = v.increment(self, by);
            rec.writer = self;
            rec.slot = { side: "inc", after: next.slot(self) };
            return next;
          }, to),
        );
      } else if (r < 0.24) {
        const by = 1 + Math.floor(rnd() * 3);
        const down = rnd() < 0.4;
        write("pncounter", keys.pn, node, level, (rec) =>
          n.update(keys.pn, (v, self) => {
            const next = down ? v.decrement(self, by) : v.increment(self, by);
            rec.writer = self;
            rec.slot = { side: down ? "dec" : "inc", after: (down ? next.decrements : next.increments).slot(self) };
            return next;
          }, to),
        );
      } else if (r < 0.32) {
        const element = `u${seed}-${step}`;
        write("orset-add", keys.acked, node, level, (rec) =>
          n.update(keys.acked, (v, self) => {
            rec.writer = self;
            return v.add(self, element);
          }, to), element);
      } else if (r < 0.42) {
        const k = pick(keys.set);
        const add = rnd() < 0.65;
        write("orset", k, node, level, (rec) => n.update(k, (v, self) => ((rec.writer = self), add ? v.add(self, el) : v.remove(el)), to));
      } else if (r < 0.48) {
        const at = w.clock.now();
        write("lww", keys.lww, node, level, (rec) => n.update(keys.lww, (v, self) => ((rec.writer = self), v.set(self, `${node}-${step}`, Math.max(at, v.timestamp + 1))), to));
      } else if (r < 0.53) {
        write("mv", keys.mv, node, level, (rec) => n.update(keys.mv, (v, self) => ((rec.writer = self), v.set(self, step)), to));
      } else if (r < 0.55) {
        write("flag", keys.flag, node, level, (rec) => n.update(keys.flag, (v, self) => ((rec.writer = self), v.enable(self)), to));
      } else if (r < 0.62) {
        const put = rnd() < 0.75;
        const at = w.clock.now();
        write("lwwmap", keys.map, node, level, (rec) => n.update(keys.map, (v, self) => ((rec.writer = self), put ? v.put(self, el, step, at) : v.remove(self, el)), to));
      } else if (r < 0.7) {
        const inc = rnd() < 0.8;
        write("ormap", keys.orMap, node, level, (rec) =>
          n.update(keys.orMap, (v, self) => ((rec.writer = self), inc ? v.update(self, el, (g) => g.increment(self, 1)) : v.remove(self, el)), to),
        );
      } else if (r < 0.78) {
        const k = pick(keys.doomed);
        write("doomed", k, node, level, (rec) => n.update(k, (v, self) => ((rec.writer = self), v.increment(self, 1)), to));
      } else if (r < 0.8) {
        const k = pick(keys.doomed);
        write("delete", k, node, level, (rec) => ((rec.writer = n.writerId), n.delete(k, to)));
      } else {
        const k = rnd() < 0.7 ? pick(keys.g) : keys.acked;
        const rec: ReadRecord = { ...span(), key: k.id, node, outcome: "pending" };
        log.reads.push(rec);
        (n.get(k as Key<Crdt>, { readFrom: "majority" }) as Promise<Crdt | undefined>).then(
          (value) => {
            end(rec);
            rec.outcome = "ok";
            rec.value = value;
            count(ops, "read majority ok");
          },
          (error: unknown) => {
            end(rec);
            rec.outcome = "timeout";
            if (!(error instanceof ReadTimeoutError)) failures.push(`read on ${node} failed unexpectedly: ${String(error)}`);
            count(ops, "read majority timeout");
          },
        );
      }
    };

    const steps = 40 + Math.floor(rnd() * 40);
    for (let step = 0; step < steps; step++) {
      await w.clock.advance(Math.floor(rnd() * 300));
      const now = w.clock.now();
      if (now >= healAt) {
        healAt = Infinity;
        w.heal();
        trace(`${now - started} ms: heal`);
      }
      for (const [id, at] of reconnectAt) {
        if (now < at) continue;
        reconnectAt.delete(id);
        w.reconnect(id);
        trace(`${now - started} ms: reconnect ${id}`);
      }
      for (const [id, at] of startAt) {
        if (now < at) continue;
        startAt.delete(id);
        await w.startNode(id);
        trace(`${now - started} ms: start ${id}`);
      }
      const r = rnd();
      if (r < 0.05 && healAt === Infinity) {
        const cut = NODE_IDS.filter(() => rnd() < 0.5);
        if (cut.length === 0 || cut.length === NODE_IDS.length) continue;
        const lasts = longFault();
        healAt = now + lasts;
        count(faults, lasts > removalTimeoutMs ? "partitions longer than removalTimeoutMs" : "partitions");
        w.partition(cut);
        trace(`${now - started} ms: partition {${cut.join(",")}} for ${Math.round(lasts)} ms`);
      } else if (r < 0.08) {
        const id = pick(NODE_IDS);
        if (reconnectAt.has(id)) continue;
        const lasts = longFault();
        reconnectAt.set(id, now + lasts);
        count(faults, "disconnects");
        w.disconnect(id);
        trace(`${now - started} ms: disconnect ${id} for ${Math.round(lasts)} ms`);
      } else if (r < 0.1) {
        const id = pick(NODE_IDS);
        if (!w.isRunning(id) || (everStopped.size >= MAX_STOPPED_NODES && !everStopped.has(id))) continue;
        everStopped.add(id);
        const lasts = rnd() < 0.5 ? rnd() * failureTimeoutMs : longFault();
        startAt.set(id, now + lasts);
        log.stops.push({ node: id, writer: w.node(id)!.writerId, at: ++point });
        count(faults, "restarts");
        trace(`${now - started} ms: stop ${id} for ${Math.round(lasts)} ms`);
        await w.stopNode(id);
      } else if (r < 0.12) {
        const a = pick(w.live());
        void a.sync(pick(NODE_IDS));
        count(faults, "digest rounds mid-fault");
      } else {
        operation(step);
      }
    }

    // Heal: links back, stopped nodes back, no more faults; let every operation settle.
    w.heal();
    for (const id of NODE_IDS) w.reconnect(id);
    for (const id of startAt.keys()) await w.startNode(id);
    w.net.setFaults({ dropRate: 0, duplicateRate: 0, reorderWindow: 0 });
    trace(`${w.clock.now() - started} ms: healed`);
    const pending = (): boolean => log.writes.some((x) => x.outcome === "pending") || log.reads.some((x) => x.outcome === "pending");
    await w.clock.until(() => !pending(), SETTLE_LIMIT_MS);
    // The cluster repairs itself (heartbeats, gap repair, rounds at rejoin); polled every 100 ms.
    let convergedOnItsOwn = false;
    for (let waited = 0; waited < HEAL_LIMIT_MS && !convergedOnItsOwn; waited += 100) {
      await w.clock.advance(100);
      convergedOnItsOwn = w.converged();
    }
    // Otherwise: gather into n0 and scatter back with explicit rounds.
    const [hub, ...others] = w.live();
    for (let attempt = 0; attempt < 10 && !w.converged(); attempt++) {
      for (const n of [...others, ...others]) await w.drive(n.sync(hub!.nodeId), 10_000);
      await w.clock.advance(1_000);
    }
    trace(`${w.clock.now() - started} ms: ${convergedOnItsOwn ? "converged on its own" : "converged after explicit rounds"}`);

    if (!w.converged()) failures.push(`replicas differ after healing:\n${w.describe()}`);
    const replicas = w.live().map((n) => new Map(n.entries().map((e) => [e.key, e.value])));
    const report = check(log, w.sides, replicas);
    failures.push(...report.failures);
    if (w.handlerErrors.length > 0) failures.push(`handlers threw: ${w.handlerErrors.map(String).join("; ")}`);
    for (const n of w.live()) {
      const rejected = n.stats.rejectedTotal - (n.stats.rejected.get("deleted-key") ?? 0);
      if (rejected !== 0) failures.push(`${n.nodeId} rejected ${rejected} messages (other than deltas of deleted keys)`);
    }
    return {
      seed,
      failures,
      lost: report.lost,
      ops,
      faults,
      convergedOnItsOwn,
      virtualMs: w.clock.now() - started,
      events: w.clock.events,
    };
  } finally {
    await w.close();
  }
}
