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
  /** Each listener, with what says it would do nothing with a change now (see `listen`). */
  private readonly listeners = new Map<ChangeListener, (() => boolean) | undefined>();
  /** Made from `listeners` when they change, for `heard` (asked on every local write): whether one has no idle check, and the others' checks. */
  private alwaysHeard = false;
  private idleChecks: (() => boolean)[] = [];
  private readonly conflictListeners = new Set<TypeConflictListener>();

  /** `onError` hears what a listener throws: one failing listener never stops the others, nor the merge. */
  constructor(private readonly onError: (error: unknown) => void) {}

  /** `idle`: true while the listener would do nothing with any change (e.g. subscribers: none yet). */
  listen(listener: ChangeListener, idle?: () => boolean): () => void {
    this.listeners.set(listener, idle); // listening again replaces the idle check, in the same place
    this.listenersChanged();
    return () => {
      if (this.listeners.delete(listener)) this.listenersChanged();
    };
  }

  private listenersChanged(): void {
    const checks: (() => boolean)[] = [];
    let always = false;
    for (const idle of this.listeners.values()) {
      if (idle === undefined) always = true;
      else checks.push(idle);
    }
    this.alwaysHeard = always;
    this.idleChecks = checks;
  }

  /**
   * Whether a change announced now would reach anyone: when not, the Merger makes none (a bulk
   * pull into a node nobody watches yet merges a million keys without a change record each).
   */
  get heard(): boolean {
    if (this.alwaysHeard) return true;
    const checks = this.idleChecks;
    for (let i = 0; i < checks.length; i++) if (!checks[i]!()) return true;
    return false;
  }

  emit(change: Change): void {
    for (const l of this.listeners.keys()) {
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
