/**
 * The local replica: one CRDT value or tombstone per key. Pure bookkeeping, no I/O.
 *
 * The table (key-table.ts: a Map's behaviour, built for millions of keys) holds the values
 * themselves, not `{ kind, value }` records: every value carries its `kind`, and a record per key
 * is ~40 heap bytes a million keys pay. `get` and `entries` hand out
 * such records made on the spot (short-lived, for extensions and snapshots); hot paths read `value`.
 *
 * `onChange` tells bookkeeping that must follow every key it holds (the digest index, snapshots)
 * which key changed, restores and tombstone expiry included. What changed, with its origin, is
 * announced once on the change stream (changes.ts), which subscribers and cross-DC listen to.
 */
import type { Crdt, DataKind } from "../crdt/types.js";
import { InvalidArgumentError } from "../errors.js";
import type { ChangeSource, RestorableStore, StoredValue, StoreListener, TombstoneInfo } from "../extension/store-view.js";
import { KeyTable } from "./key-table.js";

export type { ChangeSource, StoredValue, TombstoneInfo } from "../extension/store-view.js";

export class Store implements RestorableStore {
  private readonly values = new KeyTable<Crdt>();
  private readonly tombstoneMap = new Map<string, TombstoneInfo>();
  private readonly listeners: StoreListener[] = [];

  onChange(listener: StoreListener): void {
    this.listeners.push(listener);
  }

  get(key: string): StoredValue | undefined {
    const value = this.values.get(key);
    return value === undefined ? undefined : { kind: value.kind, value };
  }

  /** The key's value (its `kind` says its data type), without a record around it. */
  value(key: string): Crdt | undefined {
    return this.values.get(key);
  }

  tombstone(key: string): TombstoneInfo | undefined {
    return this.tombstoneMap.get(key);
  }

  /** Replace a key's value (the caller computed the new value from the old one). */
  set(key: string, kind: DataKind, value: Crdt, source: ChangeSource): void {
    if (value.kind !== kind) throw new InvalidArgumentError(`a ${value.kind} value cannot be stored as a ${kind} (key ${JSON.stringify(key)})`);
    this.values.set(key, value);
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

  *entries(): IterableIterator<[string, StoredValue]> {
    for (const [key, value] of this.values) yield [key, { kind: value.kind, value }];
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
