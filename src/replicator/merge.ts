/**
 * Merging what peers send into the store: values, tombstones and full states, with the checks that
 * keep bad input out (a type that differs from the key's, data for a deleted key, an LWW timestamp
 * or a deletion time too far ahead of this node's clock), and subscribers told only of real changes.
 * Every remote change passes here (deltas, coordinated writes, anti-entropy, read repair, other
 * DCs' batches), so the skew bound cannot be missed by any path.
 */
import type { HybridClock } from "../cluster/hlc.js";
import { maxLwwTimestamp } from "../crdt/lww-time.js";
import type { Crdt } from "../crdt/types.js";
import type { CrdtDelta, FullState, Tombstone } from "../wire/messages.js";
import type { ReplicatorStats } from "./stats.js";
import type { ChangeSource, Store } from "./store.js";
import type { Subscriptions } from "./subscriptions.js";

export class Merger {
  constructor(
    private readonly store: Store,
    private readonly stats: ReplicatorStats,
    private readonly subscriptions: Subscriptions,
    private readonly clock: HybridClock,
  ) {}

  /** Returns how many entries were refused for clock skew (the rest is merged). */
  fullState(state: FullState, source: ChangeSource): number {
    let skewed = 0;
    for (const t of state.tombstones) {
      if (this.tooLate(t.deletedAtMs)) skewed++;
      this.tombstone(t, source);
    }
    for (const d of state.entries) if (!this.value(d, source)) skewed++;
    return skewed;
  }

  /** True when the tombstone was new here. */
  tombstone(t: Tombstone, source: ChangeSource): boolean {
    if (this.tooLate(t.deletedAtMs)) {
      this.stats.reject("clock-skew");
      return false;
    }
    const existing = this.store.get(t.key);
    if (existing !== undefined && existing.kind !== t.kind) {
      this.stats.reject("type-mismatch");
      return false;
    }
    if (!this.store.addTombstone({ ...t }, source)) return false;
    this.subscriptions.notify(t.key, undefined);
    return true;
  }

  /** Merge a received value into the store; notify only on a real change. False when refused for clock skew. */
  value(d: CrdtDelta, source: ChangeSource): boolean {
    const timestamp = maxLwwTimestamp(d.value);
    if (this.tooLate(timestamp)) {
      this.stats.reject("clock-skew");
      return false;
    }
    if (this.store.tombstone(d.key) !== undefined) {
      this.stats.reject("deleted-key");
      return true;
    }
    const current = this.store.get(d.key);
    if (current !== undefined && current.kind !== d.kind) {
      this.stats.reject("type-mismatch");
      return true;
    }
    let merged: Crdt;
    try {
      merged = current === undefined ? d.value : current.value.merge(d.value);
    } catch {
      this.stats.reject("type-mismatch"); // e.g. ORMaps with different value kinds
      return true;
    }
    this.stats.mergeCount++;
    this.clock.observe(timestamp); // later local writes are stamped at least as late
    // merge returns the receiver itself when the other side adds nothing: an idempotent merge.
    if (current !== undefined && (merged === current.value || (this.subscriptions.watched(d.key) && merged.equals(current.value)))) return true;
    this.store.set(d.key, d.kind, merged, source);
    this.subscriptions.notify(d.key, merged);
    return true;
  }

  /** Beyond the skew bound: a timestamp no correct clock within maxClockSkewMs of ours issued yet. */
  private tooLate(timestampMs: number): boolean {
    return timestampMs > this.clock.bound();
  }
}
