/**
 * The simulated cluster: five replicators on one in-memory bus, all on one virtual clock, with the
 * faults a schedule applies (partitions, disconnects, stopping and starting nodes) and a record of
 * who could reach whom after each change (the "epochs" the split-brain check reads).
 */
import { MemoryNetwork, Replicator, type Crdt, type ReplicatorOptions } from "../../src/index.js";
import type { MemoryTransport } from "../../src/transport/memory.js";
import { VirtualClock } from "./virtual-clock.js";

export const NODE_IDS = ["n0", "n1", "n2", "n3", "n4"] as const;
/** Acknowledgements (self included) a majority write needs among the five. */
export const MAJORITY = Math.floor(NODE_IDS.length / 2) + 1;
/**
 * Virtual start of a seed's run: a fixed instant per seed, so a seed replays the same timestamps,
 * 10 virtual minutes apart from seed to seed. The runs of one process follow each other in seed
 * order, and incarnations only grow within a process (replicator/identity.ts): with one instant for
 * all, every run would start below the incarnations the previous ones took, its writer ids (and a
 * removed node's marker, made above them) ever further ahead of its clock.
 */
export function epochOf(seed: number): number {
  return Date.UTC(2025, 0, 1) + (Math.abs(seed) % 1_000_000) * 600_000;
}

interface Running {
  readonly replicator: Replicator;
  readonly transport: MemoryTransport;
}

export class World {
  readonly clock: VirtualClock;
  readonly net: MemoryNetwork;
  readonly handlerErrors: unknown[] = [];
  /**
   * For each topology epoch (incremented at every partition, heal, disconnect, reconnect, stop and
   * start), each running node's side: the running nodes it can reach, itself included (alone when
   * disconnected).
   */
  readonly sides: Map<string, readonly string[]>[] = [];
  private readonly running = new Map<string, Running>();
  /** Virtual time the five took to form a cluster. */
  formedAfterMs = 0;
  /** Keys whose removed node's ids a stopped process had folded (its stats go with it). */
  private stoppedRemovedFolds = 0;

  /** Keys whose removed node's ids a leader folded in this run, stopped processes included. */
  get removedFolds(): number {
    return this.stoppedRemovedFolds + [...this.running.values()].reduce((n, r) => n + r.replicator.stats.removedFolds, 0);
  }

  private constructor(
    seed: number,
    private readonly options: Omit<ReplicatorOptions, "nodeId" | "transport" | "clock">,
  ) {
    this.clock = new VirtualClock(epochOf(seed));
    this.net = new MemoryNetwork({ seed, clock: this.clock, onHandlerError: (e) => this.handlerErrors.push(e) });
  }

  static async start(seed: number, options: Omit<ReplicatorOptions, "nodeId" | "transport" | "clock">): Promise<World> {
    const w = new World(seed, options);
    for (const id of NODE_IDS) await w.startNode(id);
    // Formed: every node knows all five and counts each toward quorums (a majority admitted it).
    const formed = await w.clock.until(() => w.live().every((n) => n.members().length === NODE_IDS.length && n.members().every((m) => m.counted)), 30_000);
    if (!formed) throw new Error(`the cluster did not form within 30 s of virtual time: ${JSON.stringify(w.live().map((n) => n.members()))}`);
    w.formedAfterMs = w.clock.now() - epochOf(seed);
    return w;
  }

  get epoch(): number {
    return this.sides.length - 1;
  }

  node(id: string): Replicator | undefined {
    return this.running.get(id)?.replicator;
  }

  /** Running replicators, in id order. */
  live(): Replicator[] {
    return NODE_IDS.flatMap((id) => this.running.get(id)?.replicator ?? []);
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  async startNode(id: string): Promise<Replicator> {
    const transport = this.net.connect(id);
    // Starting asks the members on the bus (identity, incarnation): time must run meanwhile.
    const starting = Replicator.start({ ...this.options, nodeId: id, transport, clock: this.clock });
    if (!(await this.drive(starting, 10_000))) throw new Error(`${id} did not start within 10 s of virtual time`);
    const replicator = await starting;
    this.running.set(id, { replicator, transport });
    this.changed();
    return replicator;
  }

  /** Close the node and its link. In memory only: its next start begins empty, under a new writer id. */
  async stopNode(id: string): Promise<void> {
    const r = this.running.get(id);
    if (r === undefined) return;
    this.running.delete(id);
    this.changed();
    this.stoppedRemovedFolds += r.replicator.stats.removedFolds;
    await r.replicator.close();
    await r.transport.close();
  }

  /** Split the cluster in two (replacing any partition): no link between `cut` and the rest. */
  partition(cut: readonly string[]): void {
    this.net.heal();
    this.net.partition(
      cut,
      NODE_IDS.filter((id) => !cut.includes(id)),
    );
    this.changed();
  }

  heal(): void {
    this.net.heal();
    this.changed();
  }

  disconnect(id: string): void {
    this.net.disconnect(id);
    this.changed();
  }

  reconnect(id: string): void {
    this.net.reconnect(id);
    this.changed();
  }

  /** Run virtual time until `promise` settles (or `limitMs` passes); its outcome is the caller's. */
  drive(promise: Promise<unknown>, limitMs: number): Promise<boolean> {
    return this.clock.settles(promise, limitMs);
  }

  /** Every running node holds the same keys with equal values, and the same tombstones. */
  converged(): boolean {
    const [first, ...rest] = this.live();
    if (first === undefined) return true;
    const mine = new Map(first.entries().map((e) => [e.key, e]));
    for (const n of rest) {
      if (n.tombstoneCount !== first.tombstoneCount || n.size !== first.size) return false;
      for (const e of n.entries()) {
        const other = mine.get(e.key);
        if (other === undefined || other.kind !== e.kind || !(other.value as Crdt).equals(e.value as never)) return false;
      }
    }
    return true;
  }

  /** The keys on which running replicas differ, with each replica's value (or tombstone). */
  differences(): string {
    const nodes = this.live();
    const tombstoned = (n: Replicator): string[] => [...n.context().store.tombstones()].map((t) => t.key);
    const keys = new Set(nodes.flatMap((n) => [...n.keys(), ...tombstoned(n)]));
    const lines: string[] = [];
    for (const key of [...keys].sort()) {
      const shown = nodes.map((n) => {
        const e = n.entries().find((x) => x.key === key);
        return `${n.nodeId}=${e !== undefined ? show(e.value) : tombstoned(n).includes(key) ? "deleted" : "absent"}`;
      });
      if (new Set(shown.map((s) => s.slice(s.indexOf("=")))).size > 1) lines.push(`${key}: ${shown.join("  ")}`);
    }
    return lines.join("\n");
  }

  async close(): Promise<void> {
    this.net.heal();
    for (const id of NODE_IDS) this.net.reconnect(id);
    for (const id of [...this.running.keys()]) await this.stopNode(id);
  }

  private changed(): void {
    const up = NODE_IDS.filter((id) => this.running.has(id));
    this.sides.push(new Map(up.map((id) => [id, up.filter((other) => other === id || this.net.canReach(id, other))])));
  }
}

function show(v: Crdt): string {
  const x = v as unknown as Record<string, unknown>;
  for (const f of ["value", "elements", "values", "enabled", "keys"]) {
    if (f in x) return JSON.stringify(x[f], (_k, y) => (typeof y === "bigint" ? `${y}n` : y));
  }
  return v.kind;
}
