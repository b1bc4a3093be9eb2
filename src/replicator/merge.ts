/**
 * Applying changes to the store: local writes, and merging what peers send (values, tombstones and
 * full states) with the checks that keep bad input out (a type that differs from the key's, data
 * for a deleted key). Every change the store accepts is announced once on the change stream
 * (changes.ts); a merge that changes nothing announces nothing.
 */
import type { Crdt, DataKind } from "../crdt/types.js";
import type { CrdtDelta, FullState, Tombstone } from "../wire/messages.js";
import type { ChangeOrigin, ChangeStream } from "./changes.js";
import type { ReplicatorStats } from "./stats.js";
import type { ChangeSource, Store } from "./store.js";
import type { Subscriptions } from "./subscriptions.js";

export class Merger {
  constructor(
    private readonly store: Store,
    private readonly stats: ReplicatorStats,
    private readonly subscriptions: Subscriptions,
    private readonly changes: ChangeStream,
    private readonly nodeId: string,
  ) {}

  /** A write on this node: `value` is the key's new value, `delta` what the write added. */
  write(key: string, kind: DataKind, value: Crdt, delta: Crdt): void {
    this.store.set(key, kind, value, "local");
    this.changes.emit({ key, kind, value, delta, origin: "local", node: this.nodeId });
  }

  fullState(state: FullState, origin: ChangeOrigin): void {
    for (const t of state.tombstones) this.tombstone(t, origin);
    for (const d of state.entries) this.value(d, origin);
  }

  /** True when the tombstone was new here. */
  tombstone(t: Tombstone, origin: ChangeOrigin): boolean {
    const existing = this.store.get(t.key);
    if (existing !== undefined && existing.kind !== t.kind) {
      this.stats.reject("type-mismatch");
      return false;
    }
    const stored = { ...t };
    if (!this.store.addTombstone(stored, sourceOf(origin))) return false;
    this.changes.emit({ key: t.key, kind: t.kind, tombstone: stored, origin, node: writerOf(origin, t.originNode) });
    return true;
  }

  /** Merge a received value into the store; announce only a real change. */
  value(d: CrdtDelta, origin: ChangeOrigin): void {
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
    this.store.set(d.key, d.kind, merged, sourceOf(origin));
    this.changes.emit({ key: d.key, kind: d.kind, value: merged, delta: d.value, origin, node: writerOf(origin, d.originNode) });
  }
}

function sourceOf(origin: ChangeOrigin): ChangeSource {
  return origin === "local" ? "local" : "remote";
}

/** A delta's or tombstone's origin node names its writer only when it came by the delta stream. */
function writerOf(origin: ChangeOrigin, originNode: string): string | undefined {
  return origin === "dc" || origin === "local" ? originNode : undefined;
}
