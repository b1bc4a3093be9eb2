/**
 * The operations a schedule issues: random local and majority writes of several data types,
 * deletes, and majority reads, each on a random running node, none awaited (they overlap with the
 * faults and with each other). Every one is logged with its outcome for the checks.
 */
import {
  GCounter,
  Key,
  KeyDeletedError,
  ReadTimeoutError,
  WriteTimeoutError,
  type Crdt,
  type Replicator,
} from "../../src/index.js";
import { describeWrite, type Level, type ReadRecord, type SimLog, type Span, type WriteOutcome, type WriteRecord } from "./checks.js";
import type { World } from "./world.js";

const keys = {
  g: [Key.gcounter("g0"), Key.gcounter("g1")],
  pn: Key.pncounter("pn"),
  /** Elements added here are unique and never removed: an acknowledged one must stay. */
  acked: Key.orset<string>("acked"),
  set: [Key.orset<string>("s0"), Key.orset<string>("s1")],
  lww: Key.lwwRegister<string>("lww"),
  mv: Key.mvRegister<number>("mv"),
  flag: Key.flag("flag"),
  map: Key.lwwMap<number>("map"),
  orMap: Key.orMap<GCounter>("ormap", "gcounter"),
  doomed: [Key.gcounter("d0"), Key.gcounter("d1")],
};

export class Workload {
  readonly log: SimLog = { writes: [], reads: [], stops: [] };
  /** Operations by "kind level outcome". */
  readonly ops = new Map<string, number>();
  /** Operations that failed in a way no fault explains. */
  readonly failures: string[] = [];
  /** Logical time: orders the starts and ends of operations and the stops of nodes. */
  private point = 0;

  constructor(
    private readonly world: World,
    private readonly rnd: () => number,
    private readonly seed: number,
    private readonly trace: (line: string) => void,
  ) {}

  get pending(): boolean {
    return this.log.writes.some((x) => x.outcome === "pending") || this.log.reads.some((x) => x.outcome === "pending");
  }

  /** Call before stopping `node`: what it has not sent yet may be lost from now on. */
  stopping(node: Replicator): void {
    const since = Math.max(0, ...this.log.stops.filter((s) => s.node === node.nodeId).map((s) => s.at));
    const writers = new Set([node.writerId]);
    for (const w of this.log.writes) if (w.node === node.nodeId && w.startedAt > since && w.writer !== undefined) writers.add(w.writer);
    this.log.stops.push({ node: node.nodeId, writers: [...writers], at: ++this.point });
    this.trace(`#${this.point} stop ${node.nodeId} (${node.writerId})`);
  }

  /** One random operation on a random running node; writes go to a majority with probability `majorityRate`. */
  issue(step: number, majorityRate: number): void {
    const rnd = this.rnd;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const n = pick(this.world.live());
    const level: Level = rnd() < majorityRate ? "majority" : "local";
    const to = { writeTo: level };
    const el = `e${Math.floor(rnd() * 6)}`;
    /** An update of `key` on `n` at `level`, logged with its writer and whether it changed anything. */
    const update = <T extends Crdt<T>>(op: string, key: Key<T>, modify: (v: T, self: string, rec: WriteRecord) => T, element?: string): void =>
      this.write(op, key.id, n, level, element, (rec) =>
        n.update(
          key,
          (v, self) => {
            const next = modify(v, self, rec);
            rec.writer = self;
            rec.changed = next.delta !== undefined; // an update that changes nothing resolves at once, acknowledged by nobody
            return next;
          },
          to,
        ),
      );
    const r = rnd();
    if (r < 0.16) {
      const by = 1 + Math.floor(rnd() * 5);
      update("gcounter", pick(keys.g), (v, self, rec) => {
        const next = v.increment(self, by);
        rec.slot = { side: "inc", after: next.slot(self), by };
        return next;
      });
    } else if (r < 0.24) {
      const by = 1 + Math.floor(rnd() * 3);
      const down = rnd() < 0.4;
      update("pncounter", keys.pn, (v, self, rec) => {
        const next = down ? v.decrement(self, by) : v.increment(self, by);
        rec.slot = { side: down ? "dec" : "inc", after: (down ? next.decrements : next.increments).slot(self), by };
        return next;
      });
    } else if (r < 0.32) {
      const element = `u${this.seed}-${step}`;
      update("orset-add", keys.acked, (v, self) => v.add(self, element), element);
    } else if (r < 0.42) {
      const add = rnd() < 0.65;
      update("orset", pick(keys.set), (v, self) => (add ? v.add(self, el) : v.remove(el)));
    } else if (r < 0.48) {
      // Default timestamps: the replicator's hybrid clock, on the virtual clock, so a seed replays which write wins.
      update("lww", keys.lww, (v, self) => v.set(self, `${n.nodeId}-${step}`));
    } else if (r < 0.53) {
      update("mv", keys.mv, (v, self) => v.set(self, step));
    } else if (r < 0.55) {
      update("flag", keys.flag, (v, self) => v.enable(self));
    } else if (r < 0.62) {
      const put = rnd() < 0.75;
      update("lwwmap", keys.map, (v, self) => (put ? v.put(self, el, step) : v.remove(self, el)));
    } else if (r < 0.7) {
      const inc = rnd() < 0.8;
      update("ormap", keys.orMap, (v, self) => (inc ? v.update(self, el, (g) => g.increment(self, 1)) : v.remove(self, el)));
    } else if (r < 0.78) {
      update("doomed", pick(keys.doomed), (v, self) => v.increment(self, 1));
    } else if (r < 0.8) {
      const k = pick(keys.doomed);
      this.write("delete", k.id, n, level, undefined, (rec) => ((rec.writer = n.writerId), (rec.changed = true), n.delete(k, to)));
    } else if (majorityRate > 0) {
      this.read(n, rnd() < 0.7 ? pick(keys.g) : keys.acked);
    }
  }

  /** Run a write (not awaited), logging it and its outcome. */
  private write(op: string, key: string, n: Replicator, level: Level, element: string | undefined, run: (rec: WriteRecord) => Promise<unknown>): void {
    const node = n.nodeId;
    const rec: WriteRecord = { ...this.span(n), op, key, node: n.nodeId, level, outcome: "pending", ...(element !== undefined ? { element } : {}) };
    this.log.writes.push(rec);
    this.trace(`#${rec.startedAt} ${node}: ${level} ${op} ${key}`);
    run(rec)
      .then(
        (): WriteOutcome => "ok",
        (error: unknown): WriteOutcome => {
          if (error instanceof WriteTimeoutError) return "timeout";
          if (error instanceof KeyDeletedError) return "deleted";
          this.failures.push(`unexpected error: ${op} on ${node}: ${String(error)}`);
          return "timeout";
        },
      )
      .then((outcome) => {
        this.end(rec);
        rec.outcome = outcome;
        this.count(`${op} ${level} ${outcome}`);
        this.trace(`#${rec.endedAt} ${describeWrite(rec)}`);
      });
  }

  /** A majority read (not awaited), logged with the value it returned. */
  private read(n: Replicator, key: Key<Crdt>): void {
    const rec: ReadRecord = { ...this.span(n), key: key.id, node: n.nodeId, outcome: "pending" };
    this.log.reads.push(rec);
    this.trace(`#${rec.startedAt} ${n.nodeId}: majority read ${key.id}`);
    n.get(key, { readFrom: "majority" }).then(
      (value) => {
        this.end(rec);
        rec.outcome = "ok";
        rec.value = value;
        this.count("read majority ok");
        this.trace(`#${rec.endedAt} read of ${key.id} on ${n.nodeId} from #${rec.startedAt}: ${describeValue(value)}`);
      },
      (error: unknown) => {
        this.end(rec);
        rec.outcome = "timeout";
        if (!(error instanceof ReadTimeoutError)) this.failures.push(`unexpected error: read on ${n.nodeId}: ${String(error)}`);
        this.count("read majority timeout");
        this.trace(`#${rec.endedAt} read of ${key.id} on ${n.nodeId} from #${rec.startedAt}: timeout`);
      },
    );
  }

  private span(n: Replicator): Span {
    return { startedAt: ++this.point, startEpoch: this.world.epoch, members: Math.max(n.options.minClusterSize, n.members().length) };
  }

  private end(s: Span): void {
    s.endedAt = ++this.point;
    s.endEpoch = this.world.epoch;
  }

  private count(k: string): void {
    this.ops.set(k, (this.ops.get(k) ?? 0) + 1);
  }
}

function describeValue(v: Crdt | undefined): string {
  if (v instanceof GCounter) return v.nodes.map((n) => `${n}=${v.slot(n)}`).join(" ");
  return v === undefined ? "absent" : JSON.stringify((v as unknown as { elements?: unknown }).elements ?? v.kind);
}
