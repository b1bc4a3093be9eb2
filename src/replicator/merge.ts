/**
 * Applying changes to the store: local writes, and merging what peers send (values, tombstones and
 * full states) with the checks that keep bad input out (data for a deleted key, an LWW timestamp, a
 * deletion time or a marker's time too far ahead of this node's clock), and the rule that settles a
 * key written with two data types the same way on every replica (type-conflict.ts).
 * Every remote change passes here (deltas, coordinated writes, anti-entropy, read repair, other
 * DCs' batches), so the skew bound cannot be missed by any path. Every change the store accepts is
 * announced once on the change stream (changes.ts); a merge that changes nothing announces nothing.
 */
import type { HybridClock } from "../cluster/hlc.js";
import { maxLwwTimestamp } from "../crdt/lww-time.js";
import { dataTypes } from "../crdt/registry.js";
import { latestMarkerTime } from "../crdt/writer-ids.js";
import type { Crdt, DataKind } from "../crdt/types.js";
import { dataTypeOf, decodeValueIn, type CrdtDelta, type FullState, type PackedValues, type PageColumns, type Tombstone } from "../wire/codec.js";
import type { ChangeOrigin, ChangeStream, ValueChange } from "./changes.js";
import type { ReplicatorStats } from "../extension/stats.js";
import type { PulledValues } from "./pulled-values.js";
import type { ChangeSource, Store } from "./store.js";
import type { Subscriptions } from "./subscriptions.js";
import { sameType, valueKindOf, winsOver } from "./type-conflict.js";

/** A bulk-pull page's keys looked up (and put in) together: a run's cache lines stay well inside a core's L2. */
const LOOKUP_RUN = 1024;

export class Merger {
  /** Re-issues what a fold of this node's own ids dropped (own-writer.ts); set once built. */
  afterMerge: ((key: string, kind: DataKind, before: Crdt, incoming: Crdt, merged: Crdt) => Crdt) | undefined;
  /** Where a bulk pull's page may keep values undecoded (pulled-values.ts); without it, every value is decoded. */
  pulled: PulledValues | undefined;
  /** Scratch of `mergePage` (synchronous: one page at a time): where the store keeps each key, and a run of kept values. */
  private places = new Int32Array(0);
  /** Scratch of `mergePage`: each key's hash in the store's table (what putting an absent one in takes). */
  private hashes = new Int32Array(0);
  private readonly run: { keys: string[]; numbers: number[]; hashes: Int32Array; count: number } = { keys: [], numbers: [], hashes: new Int32Array(0), count: 0 };

  constructor(
    private readonly store: Store,
    private readonly stats: ReplicatorStats,
    private readonly subscriptions: Subscriptions,
    private readonly changes: ChangeStream,
    private readonly nodeId: string,
    private readonly clock: HybridClock,
    /** Markers made before this time have expired (now − pruneMarkerTtlMs, see pruner.ts). */
    private readonly markerCutoff: () => number,
  ) {}

  /** A write on this node: `value` is the key's new value, `delta` what the write added. */
  write(key: string, kind: DataKind, value: Crdt, delta: Crdt): void {
    this.store.set(key, kind, value, "local");
    if (this.changes.heard) this.changes.emit({ key, kind, value, delta, origin: "local", node: this.nodeId });
  }

  /** Returns how many entries were refused for clock skew (the rest is merged). `dataCenter`: the remote DC it came from, when known. */
  fullState(state: FullState, origin: ChangeOrigin, dataCenter?: string): number {
    let skewed = 0;
    for (const t of state.tombstones) {
      if (this.tooLate(t.deletedAtMs)) skewed++;
      this.tombstone(t, origin, dataCenter);
    }
    // By index: a bulk-pull page's entries are an array made to its size (holey), which for-of walks with an iterator result per entry.
    const entries = state.entries;
    for (let i = 0; i < entries.length; i++) if (!this.value(entries[i]!, origin, dataCenter)) skewed++;
    const page = state.page;
    return page === undefined ? skewed : skewed + this.mergePage(page, origin, dataCenter);
  }

  /**
   * A bulk-pull page's values, merged in order; returns how many were refused for clock skew. Those
   * it may keep undecoded go into the store as they are, which is what merging them would store: a
   * plain GCounter (no LWW timestamp, no marker, no fold id: none of the merge's checks apply) of a
   * key the store does not hold nor has deleted, while nobody listens for changes. The page's keys
   * are looked up at once and the values put in by runs (Store.placesOf, setDeferredMany: one
   * lookup at a time waits for its cache misses, a pass of them overlaps them).
   */
  private mergePage(page: PageColumns, origin: ChangeOrigin, dataCenter: string | undefined): number {
    let skewed = 0;
    const n = page.keys.length;
    const pulled = this.changes.heard ? undefined : this.pulled;
    if (pulled !== undefined && this.places.length < n) {
      this.places = new Int32Array(n);
      this.hashes = new Int32Array(n);
      this.run.hashes = new Int32Array(n);
    }
    let packed: PackedValues | undefined;
    let kept = 0;
    // One delta record for the whole page, refilled per value: `value` keeps none of it.
    const d: CrdtDelta = { key: "", kind: "gcounter", originNode: page.originNode, value: undefined as unknown as Crdt };
    for (let i = 0; i < n; i++) {
      // By runs small enough that the table cells their lookups touched are still in the cache when they go in.
      if (pulled !== undefined && i % LOOKUP_RUN === 0) {
        kept += this.putRun(origin);
        this.store.placesOf(page.keys, i, Math.min(n, i + LOOKUP_RUN), this.places, this.hashes);
      }
      let value = page.values[i];
      if (value === undefined) {
        const end = page.undecoded[2 * i + 1]!;
        if (end === 0) continue; // listed without a value
        if (pulled !== undefined && this.places[i]! < 0 && this.store.tombstone(page.keys[i]!) === undefined && (packed ??= pulled.source()) !== undefined) {
          const run = this.run;
          run.keys[run.count] = page.keys[i]!;
          run.hashes[run.count] = this.hashes[i]!;
          run.numbers[run.count++] = packed.add(page.data, GCOUNTER_TYPE, page.undecoded[2 * i]!, end);
          continue;
        }
        // Into the page: what the merge stores is then the page's value, which its seeding looks for.
        value = page.values[i] = decodeValueIn("gcounter", page.data, page.undecoded[2 * i]!, end);
      }
      kept += this.putRun(origin); // first: the store announces the page's changes in its order
      d.key = page.keys[i]!;
      d.kind = value.kind;
      d.value = value;
      if (!this.value(d, origin, dataCenter)) skewed++;
    }
    kept += this.putRun(origin);
    if (kept > 0) pulled!.kept();
    return skewed;
  }

  /** Put the run of values kept undecoded into the store; how many. */
  private putRun(origin: ChangeOrigin): number {
    const run = this.run;
    const count = run.count;
    if (count === 0) return 0;
    this.store.setDeferredMany(run.keys, run.numbers, run.hashes, count, sourceOf(origin));
    this.stats.mergeCount += count;
    run.count = 0;
    return count;
  }

  /** True when the tombstone was new here. */
  tombstone(t: Tombstone, origin: ChangeOrigin, dataCenter?: string): boolean {
    if (this.tooLate(t.deletedAtMs)) {
      this.stats.reject("clock-skew");
      return false;
    }
    // A delete removes the key whatever type it names (as values of any type are refused once it is
    // deleted): every replica ends deleted, whichever type it held.
    const stored = { ...t };
    if (!this.store.addTombstone(stored, sourceOf(origin))) return false;
    this.changes.emit({ key: t.key, kind: t.kind, tombstone: stored, origin, node: writerOf(origin, t.originNode), ...fromDc(dataCenter) });
    return true;
  }

  /** Merge a received value into the store; announce only a real change. False when refused for clock skew. */
  value(d: CrdtDelta, origin: ChangeOrigin, dataCenter?: string): boolean {
    const timestamp = maxLwwTimestamp(d.value);
    const pruning = dataTypes.get(d.kind)?.pruning;
    const markedAt = pruning === undefined ? 0 : (pruning.latestMarkerTime?.(d.value) ?? latestMarkerTime(pruning.writers(d.value)));
    if (this.tooLate(timestamp) || this.tooLate(markedAt)) {
      this.stats.reject("clock-skew");
      return false;
    }
    if (this.store.tombstone(d.key) !== undefined) {
      this.stats.reject("deleted-key");
      return true;
    }
    const current = this.store.value(d.key);
    if (current !== undefined && !sameType(current, d.value)) {
      if (!winsOver(d.value, current)) {
        this.stats.reject("type-mismatch"); // the losing type of a type conflict
        return true;
      }
      this.replaceLosingType(d, current, origin, dataCenter);
      return true;
    }
    // An expired marker a peer still holds (its prune tick has not come yet) is not taken back in:
    // else replicas would hand it to each other for ever, each dropping it in turn.
    const incoming = pruning?.withoutMarkersBefore?.(d.value, this.markerCutoff(), current) ?? d.value;
    let merged = current === undefined ? incoming : current.merge(incoming);
    if (current !== undefined && this.afterMerge !== undefined) merged = this.afterMerge(d.key, d.kind, current, incoming, merged);
    this.stats.mergeCount++;
    this.clock.observe(timestamp); // later local writes are stamped at least as late
    // merge returns the receiver itself when the other side adds nothing: an idempotent merge.
    if (current !== undefined && (merged === current || (this.subscriptions.watched(d.key) && merged.equals(current)))) return true;
    this.store.set(d.key, d.kind, merged, sourceOf(origin));
    if (this.changes.heard) this.changes.emit(valueChange(d, merged, incoming, origin, dataCenter));
    return true;
  }

  /** `d`'s type won a type conflict: its value replaces the stored one of the losing type, announced. */
  private replaceLosingType(d: CrdtDelta, lost: Crdt, origin: ChangeOrigin, dataCenter: string | undefined): void {
    this.stats.typeConflicts++;
    this.clock.observe(maxLwwTimestamp(d.value));
    this.store.set(d.key, d.kind, d.value, sourceOf(origin));
    this.changes.emitConflict({
      key: d.key,
      kept: typeName(d.value),
      discarded: { ...typeName(lost), value: lost },
      origin,
    });
    this.changes.emit(valueChange(d, d.value, d.value, origin, dataCenter));
  }

  /** Beyond the skew bound: a timestamp no correct clock within maxClockSkewMs of ours issued yet. */
  private tooLate(timestampMs: number): boolean {
    // No timestamp (0: most values carry none) needs no clock read: a million merges skip a million.
    return timestampMs > 0 && timestampMs > this.clock.bound();
  }
}

function typeName(v: Crdt): { kind: DataKind; valueKind?: DataKind } {
  const valueKind = valueKindOf(v);
  return valueKind === undefined ? { kind: v.kind } : { kind: v.kind, valueKind };
}

/** The wire number of the GCounter data type (how PackedValues names it). */
const GCOUNTER_TYPE = dataTypeOf("gcounter");

function sourceOf(origin: ChangeOrigin): ChangeSource {
  return origin === "local" ? "local" : "remote";
}

/** The change a merge of `d` made. No spread of a `dataCenter` part: every received value is announced this way. */
function valueChange(d: CrdtDelta, value: Crdt, delta: Crdt, origin: ChangeOrigin, dataCenter: string | undefined): ValueChange {
  const node = writerOf(origin, d.originNode);
  return dataCenter === undefined ? { key: d.key, kind: d.kind, value, delta, origin, node } : { key: d.key, kind: d.kind, value, delta, origin, node, dataCenter };
}

function fromDc(dataCenter: string | undefined): { dataCenter?: string } {
  return dataCenter === undefined ? {} : { dataCenter };
}

/** A delta's or tombstone's origin node names its writer only when it came by the delta stream. */
function writerOf(origin: ChangeOrigin, originNode: string): string | undefined {
  return origin === "dc" || origin === "local" ? originNode : undefined;
}
