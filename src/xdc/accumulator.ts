/**
 * What the DC leader still owes one remote DC: the deltas per key (successive deltas of a key are
 * merged into one entry, so a hot key costs one entry per flush however often it changes) and the
 * tombstones. Pure and synchronous: no I/O, no clock.
 *
 * A flush `take`s everything, sends it, and on failure `restore`s what was not acknowledged; what
 * arrived meanwhile is merged with it (CRDT merge is commutative, so the order does not matter).
 * Nothing is ever dropped except a key's pending delta when the key is deleted: the tombstone
 * supersedes it.
 */
import type { Crdt, DataKind } from "../crdt/types.js";
import type { Tombstone } from "../wire/codec.js";

export interface PendingDelta {
  key: string;
  kind: DataKind;
  value: Crdt;
}

export interface Taken {
  deltas: PendingDelta[];
  tombstones: Tombstone[];
}

export class BatchAccumulator {
  private deltas = new Map<string, PendingDelta>();
  private tombstones = new Map<string, Tombstone>();

  /** Keys (values and tombstones) waiting to be sent. */
  get size(): number {
    return this.deltas.size + this.tombstones.size;
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** Merge a key's delta into what is pending for it. Ignored when the key has a pending tombstone. */
  addDelta(key: string, kind: DataKind, value: Crdt): void {
    if (this.tombstones.has(key)) return;
    const current = this.deltas.get(key);
    if (current === undefined || current.kind !== kind) {
      this.deltas.set(key, { key, kind, value });
      return;
    }
    try {
      current.value = current.value.merge(value);
    } catch {
      // ORMaps of different value kinds: the store accepted this one, so its type won a type
      // conflict (replicator/type-conflict.ts) and replaces what was pending.
      this.deltas.set(key, { key, kind, value });
    }
  }

  /** A deletion replaces the key's pending delta; of two tombstones the earlier one is kept (as the store does). */
  addTombstone(t: Tombstone): void {
    this.deltas.delete(t.key);
    const current = this.tombstones.get(t.key);
    if (current === undefined || earlier(t, current)) this.tombstones.set(t.key, { ...t });
  }

  /** Everything pending, leaving the accumulator empty. */
  take(): Taken {
    const taken: Taken = { deltas: [...this.deltas.values()], tombstones: [...this.tombstones.values()] };
    this.deltas = new Map();
    this.tombstones = new Map();
    return taken;
  }

  /** Put back what a failed send did not deliver, merged with what was added since. */
  restore(taken: Taken): void {
    for (const t of taken.tombstones) this.addTombstone(t);
    for (const d of taken.deltas) this.addDelta(d.key, d.kind, d.value);
  }

  clear(): void {
    this.deltas.clear();
    this.tombstones.clear();
  }
}

function earlier(a: Tombstone, b: Tombstone): boolean {
  return a.deletedAtMs < b.deletedAtMs || (a.deletedAtMs === b.deletedAtMs && a.originNode < b.originNode);
}
