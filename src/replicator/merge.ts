/**
 * Merging what peers send into the store: values, tombstones and full states, with the checks that
 * keep bad input out (a type that differs from the key's, data for a deleted key), and subscribers
 * told only of real changes.
 */
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
  ) {}

  fullState(state: FullState, source: ChangeSource): void {
    for (const t of state.tombstones) this.tombstone(t, source);
    for (const d of state.entries) this.value(d, source);
  }

  /** True when the tombstone was new here. */
  tombstone(t: Tombstone, source: ChangeSource): boolean {
    const existing = this.store.get(t.key);
    if (existing !== undefined && existing.kind !== t.kind) {
      this.stats.reject("type-mismatch");
      return false;
    }
    if (!this.store.addTombstone({ ...t }, source)) return false;
    this.subscriptions.notify(t.key, undefined);
    return true;
  }

  /** Merge a received value into the store; notify only on a real change. */
  value(d: CrdtDelta, source: ChangeSource): void {
    if (this.store.tombstone(d.key) !== undefined) {
      this.stats.reject("deleted-key");
      return;
    }
    const current = this.store.get(d.key);
    if (current !== undefined && current.kind !== d.kind) {
      this.stats.reject("type-mismatch");
      return;
    }
    let merged: Crdt;
    try {
      merged = current === undefined ? d.value : current.value.merge(d.value);
    } catch {
      this.stats.reject("type-mismatch"); // e.g. ORMaps with different value kinds
      return;
    }
    this.stats.mergeCount++;
    // merge returns the receiver itself when the other side adds nothing: an idempotent merge.
    if (current !== undefined && (merged === current.value || (this.subscriptions.watched(d.key) && merged.equals(current.value)))) return;
    this.store.set(d.key, d.kind, merged, source);
    this.subscriptions.notify(d.key, merged);
  }
}
