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
import type { Crdt, DataKind } from "../crdt/types.js";
import type { TombstoneInfo } from "./store.js";

/**
 * Where a change came from: a write on this node, a delta published by another node of this DC,
 * a merge of state exchanged inside this DC (anti-entropy, read repair, coordinated write or push),
 * or data from another data center (a cross-DC batch, or a cross-DC round's pull).
 */
export type ChangeOrigin = "local" | "dc" | "sync" | "remote-dc";

interface ChangeBase {
  key: string;
  kind: DataKind;
  origin: ChangeOrigin;
  /** The node that wrote it, for "local" and "dc" changes; undefined otherwise. */
  node: string | undefined;
}

/** The key's value changed. */
export interface ValueChange extends ChangeBase {
  /** The key's value now. */
  value: Crdt;
  /** What was merged in: the write's delta, or the value received (a full state in a round). */
  delta: Crdt;
  tombstone?: undefined;
}

/** The key was deleted. */
export interface DeleteChange extends ChangeBase {
  value?: undefined;
  delta?: undefined;
  tombstone: TombstoneInfo;
}

export type Change = ValueChange | DeleteChange;

export type ChangeListener = (change: Change) => void;

export class ChangeStream {
  private readonly listeners = new Set<ChangeListener>();

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
}
