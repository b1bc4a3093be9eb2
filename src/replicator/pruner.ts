/**
 * The prune tick's work on the store: expire tombstones and writer-id markers, compact causal
 * metadata, and fold retired writer ids — this node's own earlier ids once every peer's knowledge
 * of them is here, and, on the leader, the ids of nodes removed longer than `pruneRetiredAfterMs`,
 * which it absorbs into its own slot or dots under a marker (crdt/writer-ids.ts) while every member
 * of its DC reads markers, else folds into the node's `node!inc`. The decisions are
 * cluster/pruning.ts's; this file applies them and publishes each fold like a write. Markers expire
 * `pruneMarkerTtlMs` after they were made, on every replica by itself (nothing is published).
 *
 * A node's own fold takes in its live writer id too, key by key, in the keys that hold a retired
 * id of the node, and the node then writes under the fold id in those keys (it adopts it there,
 * crdt/writer-ids.ts): so each key ends with one id of the node. A key holding only the live id is
 * left alone (a node that never restarted keeps its writer id everywhere). Own folds run after the
 * scan of every key: a marker of this node in any key holds them off where it has not arrived yet
 * (`ownFoldDue`). The scan also tells which removed nodes' ids are still held here (relayed in
 * heartbeats, cluster/pruning.ts `RemovedNodes`).
 *
 * The tick's scan runs in slices over event-loop turns (a 10 M-key store takes seconds, longer
 * than the failure timeout, which a scan in one go would stall the heartbeats for). Both things
 * it finds must still hold for every key at its end: a key that changes behind the scan is counted
 * as it changes (a marker of this node, a removed node's id), which can only hold a fold off or
 * keep a removed node reported a tick longer; and a slice that finds the tick's decisions stale
 * drops the scan.
 */
import type { AntiEntropy } from "./anti-entropy.js";
import type { Heartbeater } from "../cluster/heartbeats.js";
import { mayFoldRetired, removedToFold, type RemovedNodes } from "../cluster/pruning.js";
import { comesBack } from "../crdt/comeback.js";
import { dataTypes } from "../crdt/registry.js";
import type { Crdt, DataKind } from "../crdt/types.js";
import { foldableNodeOf, markedRank, markerFor, olderThan, parseWriter, removedFoldId } from "../crdt/writer-ids.js";
import type { ReplicatorStats } from "../extension/stats.js";
import type { Merger } from "./merge.js";
import type { ResolvedOptions } from "./options.js";
import type { Outbox } from "./outbox.js";
import type { OwnWriter } from "./own-writer.js";
import type { Store } from "./store.js";

export interface PrunerDeps {
  options: ResolvedOptions;
  store: Store;
  stats: ReplicatorStats;
  merger: Merger;
  outbox: Outbox;
  heartbeater: Heartbeater;
  antiEntropy: AntiEntropy;
  removedNodes: RemovedNodes;
  startedAtMs: number;
  /** This node's live writer id (it changes when another node folded it), and its id in a key. */
  ownWriter: Pick<OwnWriter, "id" | "writerIn">;
  isLeader(): boolean;
  /**
   * Whether every member of this DC reads markers (their heartbeats say so; see peer-capability.ts):
   * "unknown" while a node that said hello has not been heard yet (it may be of either release).
   */
  markersReadHere(): "yes" | "no" | "unknown";
  /** Where an error of a slice on a later event-loop turn goes. */
  reportError(error: unknown): void;
  /** Most time one slice of the tick's scan takes, ms (default PRUNE_SLICE_MS). */
  sliceMs?: number;
}

/** Most time one slice of a prune scan takes, ms: the scan of a 10 M-key store takes seconds, and no event-loop turn may (heartbeats would stop). */
export const PRUNE_SLICE_MS = 10;
/** Keys a slice handles between two looks at the clock. */
const KEYS_PER_CLOCK_READ = 256;

/** What a prune tick decided at its start, and what its scan of every key found so far. */
interface Scan {
  readonly now: number;
  readonly cutoff: number;
  readonly writerId: string;
  readonly ownNode: string;
  readonly fold: boolean;
  readonly readers: "yes" | "no" | "unknown";
  readonly isLeader: boolean;
  readonly isolation: Isolation;
  readonly removed: readonly string[];
  readonly absorb: boolean;
  readonly markersRead: boolean;
  readonly keys: Iterator<[string, { kind: DataKind; value: Crdt }]>;
  /** Removed nodes whose ids a key still holds after this tick's folds. */
  readonly held: Set<string>;
  /** Keys with retired ids of this node to fold, once every key was seen. */
  readonly due: string[];
  /** The highest marker of this node in any key. */
  absorbedRank: number;
}

export class Pruner {
  /** Since when this node has led its DC, as the prune ticks saw it (undefined while it does not). */
  private leaderSinceMs: number | undefined;
  /** The scan of the tick under way. */
  private scan: Scan | undefined;
  private stopped = false;

  constructor(private readonly d: PrunerDeps) {
    // A key changed behind the scan (already passed) still counts: see `changedDuringScan`.
    d.store.onChange((key) => {
      if (this.scan !== undefined) this.changedDuringScan(this.scan, key);
    });
  }

  /**
   * The prune tick: a scan of every key, in slices of PRUNE_SLICE_MS over event-loop turns. A
   * tick while a scan runs adds nothing; a slice that finds the tick's decisions stale (the leader,
   * the marker readers, this node's isolation changed) drops the scan, and the next tick starts over.
   */
  tick(): void {
    if (this.scan !== undefined || this.stopped) return;
    const scan = this.begin();
    this.scan = scan;
    this.slice(scan);
  }

  /** A whole prune, now: the scan under way (or a new one, when that one's decisions are stale) run to its end in one go. */
  prune(): void {
    const scan = this.scan !== undefined && this.stillValid(this.scan) ? this.scan : this.begin();
    this.scan = scan;
    try {
      this.visit(scan, Infinity);
      this.finish(scan);
    } finally {
      this.scan = undefined;
    }
  }

  /** The replicator is closing: no more slices. */
  stop(): void {
    this.stopped = true;
    this.scan = undefined;
  }

  /** One slice of `scan`, and the next on a later turn; nothing once the scan was finished, dropped or replaced. */
  private slice(scan: Scan): void {
    if (this.scan !== scan || this.stopped) return;
    if (!this.stillValid(scan)) {
      this.scan = undefined;
      return;
    }
    let done = true; // an error ends the scan too
    try {
      done = this.visit(scan, this.d.sliceMs ?? PRUNE_SLICE_MS);
      if (done) this.finish(scan);
    } finally {
      if (done) this.scan = undefined;
      else this.d.options.clock.soon(() => this.sliceReporting(scan));
    }
  }

  /** A slice on a later turn: its error goes where the tick's would. */
  private sliceReporting(scan: Scan): void {
    try {
      this.slice(scan);
    } catch (error) {
      this.d.reportError(error);
    }
  }

  /** The tick's decisions, taken once at its start (as a scan in one go took them). */
  private begin(): Scan {
    const { store, stats, options } = this.d;
    const now = options.clock.now();
    store.expireTombstones(now - options.tombstoneTtlMs);
    const writerId = this.d.ownWriter.id;
    const readers = this.d.markersReadHere();
    // Not while a starting node's release is unknown: a fold without a marker (`node!inc`) would
    // drop the record of an earlier marker a comeback counts on (two-DC seed 20394859).
    const dueRemoved = this.removedToFold(); // always: it tracks since when this node leads
    const removed = readers === "unknown" ? [] : dueRemoved;
    const markersRead = readers !== "no";
    return {
      now,
      cutoff: now - options.pruneMarkerTtlMs,
      writerId,
      ownNode: parseWriter(writerId)?.node ?? "",
      fold: this.mayFoldRetired(),
      readers,
      isLeader: this.d.isLeader(),
      isolation: isolationOf(this.d.heartbeater, stats),
      removed,
      absorb: removed.length > 0 && markersRead,
      markersRead,
      keys: store.entries(),
      held: new Set(),
      due: [],
      absorbedRank: -1,
    };
  }

  /** Whether what the tick decided at its start still holds (a later slice acts on it). */
  private stillValid(scan: Scan): boolean {
    return (
      scan.writerId === this.d.ownWriter.id &&
      scan.isLeader === this.d.isLeader() &&
      scan.readers === this.d.markersReadHere() &&
      scan.isolation === isolationOf(this.d.heartbeater, this.d.stats)
    );
  }

  /** Handle keys of the scan for up to `budgetMs`; true when every key was seen. */
  private visit(scan: Scan, budgetMs: number): boolean {
    const { store, stats } = this.d;
    const until = performance.now() + budgetMs;
    const tracked = this.d.removedNodes.entries;
    for (let n = 1; ; n++) {
      const next = scan.keys.next();
      if (next.done === true) return true;
      const [key, v] = next.value;
      const c = (v.value as { compact?: () => Crdt }).compact?.();
      const pruning = dataTypes.get(v.kind)?.pruning;
      let value = c ?? v.value;
      const unmarked = pruning?.withoutMarkersBefore?.(value, scan.cutoff) ?? value;
      if (unmarked !== v.value) store.set(key, v.kind, unmarked, "local");
      if (pruning !== undefined) {
        value = unmarked;
        if (scan.fold) {
          const ids = pruning.writers(value);
          scan.absorbedRank = Math.max(scan.absorbedRank, markedRank(ids, scan.ownNode));
          if (ownFoldDue(ids, scan.writerId, scan.isolation)) scan.due.push(key);
        }
        // Only in the types a node can come back in (crdt/comeback.ts: every type that records ids, maps included).
        if (comesBack(value)) {
          for (const node of scan.removed) {
            if (!this.foldRemoved(key, v.kind, value, node, scan.absorb, scan.now)) continue;
            stats.removedFolds++;
            value = store.get(key)!.value;
          }
          if (tracked.size > 0) this.noteHeld(scan, pruning.writers(value));
        }
      }
      if (n % KEYS_PER_CLOCK_READ === 0 && performance.now() >= until) return false;
    }
  }

  /**
   * A key changed while the scan runs, maybe behind it: its ids count as the scan would have
   * counted them — a marker of this node holds the own folds off, a removed node's id is held. Only
   * ever more than a scan in one go finds (a fold waits a tick; a removed node is reported held a
   * tick longer), never less.
   */
  private changedDuringScan(scan: Scan, key: string): void {
    // Called on every change while a scan runs: with nothing to count, no lookup and no id list.
    const tracking = this.d.removedNodes.entries.size > 0;
    if (!scan.fold && !tracking) return;
    const v = this.d.store.get(key);
    const pruning = v === undefined ? undefined : dataTypes.get(v.kind)?.pruning;
    if (v === undefined || pruning === undefined) return;
    const ids = pruning.writers(v.value);
    if (scan.fold) scan.absorbedRank = Math.max(scan.absorbedRank, markedRank(ids, scan.ownNode));
    if (tracking && comesBack(v.value)) this.noteHeld(scan, ids);
  }

  private noteHeld(scan: Scan, ids: readonly string[]): void {
    const tracked = this.d.removedNodes.entries;
    for (const id of ids) {
      const node = foldableNodeOf(id, scan.markersRead);
      if (node !== undefined && tracked.has(node)) scan.held.add(node);
    }
  }

  /** Every key was seen: report the removed nodes' ids held here, and run the own folds. */
  private finish(scan: Scan): void {
    const { store, stats } = this.d;
    this.d.removedNodes.scanned(scan.held);
    for (const key of scan.due) {
      const v = store.get(key);
      const pruning = v === undefined ? undefined : dataTypes.get(v.kind)?.pruning;
      if (v === undefined || pruning === undefined || !ownFoldDue(pruning.writers(v.value), scan.writerId, scan.isolation, scan.absorbedRank)) continue;
      if (this.foldInto(key, v.kind, pruning.foldRetired(v.value, scan.writerId))) stats.retiredFolds++;
    }
  }

  /** Absorbs (or, with `absorb` false, folds) a removed `node`'s ids in `key`; false when it held none. */
  private foldRemoved(key: string, kind: DataKind, value: Crdt, node: string, absorb: boolean, now: number): boolean {
    const pruning = dataTypes.get(kind)!.pruning!;
    const writers = pruning.writers(value);
    if (absorb && pruning.absorbRemoved !== undefined) {
      const marker = markerFor(writers, node, now);
      return marker !== undefined && this.foldInto(key, kind, pruning.absorbRemoved(value, marker, this.d.ownWriter.writerIn(kind, value)));
    }
    const removedFold = removedFoldId(writers, node);
    return removedFold !== undefined && this.foldInto(key, kind, pruning.foldRetired(value, removedFold));
  }

  /** Stores and publishes a fold like a write (wherever the fold id arrives, the ids it covers go); false when it changed nothing. */
  private foldInto(key: string, kind: DataKind, folded: Crdt): boolean {
    if (folded.delta === undefined) return false;
    this.d.merger.write(key, kind, folded.resetDelta(), folded.delta);
    this.d.outbox.add(key, folded.delta);
    return true;
  }

  /** The removed nodes whose ids this node folds now. */
  private removedToFold(): string[] {
    const d = this.d;
    const now = d.options.clock.now();
    const isLeader = d.isLeader();
    this.leaderSinceMs = isLeader ? (this.leaderSinceMs ?? now) : undefined;
    const agreed = new Set(d.heartbeater.table.agreed().map((m) => m.node));
    return removedToFold({
      now,
      delayMs: d.options.pruneRetiredAfterMs,
      settleMs: d.options.failureTimeoutMs,
      isLeader,
      leaderSinceMs: this.leaderSinceMs ?? now,
      removed: d.removedNodes.entries,
      peers: d.heartbeater
        .members()
        .filter((m) => !m.self)
        .map((m) => ({ node: m.node, reachable: m.reachable, agreed: agreed.has(m.node) })),
      roundsEnded: d.antiEntropy.roundsEnded,
      minMembers: d.options.minClusterSize,
    });
  }

  /** Whether every peer's knowledge of this node's retired ids has reached it. */
  private mayFoldRetired(): boolean {
    const d = this.d;
    return mayFoldRetired({
      now: d.options.clock.now(),
      startedAtMs: d.startedAtMs,
      settleMs: d.options.failureTimeoutMs,
      peers: d.heartbeater.members().filter((m) => !m.self),
      roundsEnded: d.antiEntropy.roundsEnded,
      duplicateHeard: d.stats.duplicateNodeHeartbeats > 0,
      knownMembers: d.heartbeater.known(undefined, d.options.role),
      minMembers: d.options.minClusterSize,
    });
  }
}

/**
 * How alone this node is (`mayFoldRetired` waits for nobody when it knows no peer): "none" when it
 * knows a peer; "alone" when it knows none and never merged anything from another node either (a
 * cluster of one, as far as anything says); "cut-off" when it knows none but did merge from another
 * node (another DC's batch, a peer's delta before it went).
 */
export type Isolation = "none" | "alone" | "cut-off";

function isolationOf(heartbeater: Pick<Heartbeater, "members">, stats: ReplicatorStats): Isolation {
  return !heartbeater.members().every((m) => m.self) ? "none" : stats.mergeCount > 0 ? "cut-off" : "alone";
}

/**
 * Whether a key holding `ids` has retired ids of `writerId`'s node to fold now. Knowing no peer
 * (started cut off: no hello answered), a node cannot tell a cluster of one from a DC whose leader
 * may be absorbing its old ids right now (it was removed while away), and both would take the same
 * amount in: it folds only keys no other node wrote, and nothing at all once it merged anything
 * from another node (a key it holds only its own ids in may hold more elsewhere).
 */
export function ownFoldDue(ids: readonly string[], writerId: string, isolation: Isolation, absorbedRank = -1): boolean {
  if (isolation === "cut-off" || !ids.some((id) => olderThan(writerId, id))) return false;
  const node = parseWriter(writerId)?.node;
  if (ids.some((id) => absorbing(id, node, absorbedRank))) return false;
  return isolation === "none" || ids.every((id) => parseWriter(id)?.node === node);
}

/**
 * Whether `id` is one of `node`'s that a marker of the node seen in some key (`absorbedRank`) covers:
 * a leader is absorbing it, key by key, into its own slot, so a fold of it here would count it
 * twice (a fold id above the marker is not covered by it: this process took a writer id above the
 * marker on meeting it, two-DC seed 20356599). The fold waits until the marker reaches this key
 * (the id is then dropped, and a comeback re-issues what the absorption missed) or expires.
 */
function absorbing(id: string, node: string | undefined, absorbedRank: number): boolean {
  const w = parseWriter(id);
  return w !== undefined && w.node === node && !w.marker && w.rank < absorbedRank;
}
