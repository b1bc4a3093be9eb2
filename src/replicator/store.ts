/**
 * The local replica: one CRDT value or tombstone per key. Pure bookkeeping, no I/O.
 *
 * `onChange` tells bookkeeping that must follow every key it holds (the digest index, snapshots)
 * which key changed, restores and tombstone expiry included. What changed, with its origin, is
 * announced once on the change stream (changes.ts), which subscribers and cross-DC listen to.
 */
import type { Crdt, DataKind } from "../crdt/types.js";
import type { ChangeSource, RestorableStore, StoredValue, StoreListener, TombstoneInfo } from "../extension/store-view.js";

export type { ChangeSource, StoredValue, TombstoneInfo } from "../extension/store-view.js";

export class Store implements RestorableStore {
  private readonly values = new Map<string, StoredValue>();
  private readonly tombstoneMap = new Map<string, TombstoneInfo>();
  private readonly listeners: StoreListener[] = [];

  onChange(listener: StoreListener): void {
    this.listeners.push(listener);
  }

  get(key: string): StoredValue | undefined {
    return this.values.get(key);
  }

  tombstone(key: string): TombstoneInfo | undefined {
    return this.tombstoneMap.get(key);
  }

  /** Replace a key's value (the caller computed the new value from the old one). */
  set(key: string, kind: DataKind, value: Crdt, source: ChangeSource): void {
    const current = this.values.get(key);
    if (current !== undefined && current.kind === kind) current.value = value;
    else this.values.set(key, { kind, value });
    this.announce(key, source);
  }

  /** Delete a key: drop its value and keep a tombstone. Returns false if an equal or newer one exists. */
  addTombstone(t: TombstoneInfo, source: ChangeSource): boolean {
    const existing = this.tombstoneMap.get(t.key);
    // Tombstones of one key merge to the earliest deletion (ties: lowest origin), so every replica
    // keeps the same one and TTL expiry happens alike everywhere.
    if (existing !== undefined && !earlier(t, existing)) return false;
    this.tombstoneMap.set(t.key, t);
    this.values.delete(t.key);
    this.announce(t.key, source);
    return true;
  }

  /** Forget tombstones deleted before `cutoffMs`; returns the expired keys. */
  expireTombstones(cutoffMs: number): string[] {
    const expired: string[] = [];
    for (const [key, t] of this.tombstoneMap) {
      if (t.deletedAtMs < cutoffMs) {
        this.tombstoneMap.delete(key);
        expired.push(key);
      }
    }
    for (const key of expired) this.announce(key, "local");
    return expired;
  }

  keys(): IterableIterator<string> {
    return this.values.keys();
  }

  entries(): IterableIterator<[string, StoredValue]> {
    return this.values.entries();
  }

  tombstones(): IterableIterator<TombstoneInfo> {
    return this.tombstoneMap.values();
  }

  get size(): number {
    return this.values.size;
  }

  get tombstoneCount(): number {
    return this.tombstoneMap.size;
  }

  private announce(key: string, source: ChangeSource): void {
    for (const l of this.listeners) l(key, source);
  }
}

function earlier(a: TombstoneInfo, b: TombstoneInfo): boolean {
  return a.deletedAtMs < b.deletedAtMs || (a.deletedAtMs === b.deletedAtMs && a.originNode < b.originNode);
}
