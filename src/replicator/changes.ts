/**
 * The change stream: every change the store accepts, announced once, after the store changed, and
 * never for a merge that changed nothing. Whatever the path — a local update or delete, a delta
 * from this DC's bus, an anti-entropy merge, a read repair, a coordinated write or push, a cross-DC
 * batch or pull — the Merger is the one place that applies it and announces it here, so listeners
 * (subscribers, the daemon's watch feed, the cross-DC flusher) cannot miss a path or hear a change
 * twice.
 *
 * Housekeeping that leaves every key's meaning alone (a restore, tombstone expiry, compaction) is
 * not a change here; the store's own `onChange` tells digests and snapshots about those as well.
 */
import type { Change, ChangeListener, TypeConflict, TypeConflictListener } from "../extension/changes.js";

export type { Change, ChangeListener, ChangeOrigin, DeleteChange, TypeConflict, ValueChange } from "../extension/changes.js";

export class ChangeStream {
  private readonly listeners = new Set<ChangeListener>();
  private readonly conflictListeners = new Set<TypeConflictListener>();

  /** `onError` hears what a listener throws: one failing listener never stops the others, nor the merge. */
  constructor(private readonly onError: (error: unknown) => void) {}

  listen(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: Change): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  /** Type conflicts this replica resolved by dropping its value (type-conflict.ts), announced before the change. */
  listenConflicts(listener: TypeConflictListener): () => void {
    this.conflictListeners.add(listener);
    return () => this.conflictListeners.delete(listener);
  }

  emitConflict(conflict: TypeConflict): void {
    for (const l of this.conflictListeners) {
      try {
        l(conflict);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
