/**
 * The store as side concerns see it: read-only, plus the housekeeping listener (every key whose
 * entry changed, restores, expiry and compaction included). Snapshots also restore into it before
 * the replicator starts, through `RestorableStore`.
 */
import type { Crdt, DataKind } from "../crdt/types.js";

export interface TombstoneInfo {
  key: string;
  kind: DataKind;
  deletedAtMs: number;
  originNode: string;
}

export interface StoredValue {
  kind: DataKind;
  value: Crdt;
}

/** Why a key changed: a local write, a merge of something received, or a restore. */
export type ChangeSource = "local" | "remote" | "restore";

export type StoreListener = (key: string, source: ChangeSource) => void;

export interface StoreView {
  get(key: string): StoredValue | undefined;
  tombstone(key: string): TombstoneInfo | undefined;
  keys(): IterableIterator<string>;
  entries(): IterableIterator<[string, StoredValue]>;
  tombstones(): IterableIterator<TombstoneInfo>;
  readonly size: number;
  readonly tombstoneCount: number;
  /** Every key whose entry changed, with why (never removed: lives as long as the store). */
  onChange(listener: StoreListener): void;
}

/** What a restore writes through (before the node connects). */
export interface RestorableStore extends StoreView {
  set(key: string, kind: DataKind, value: Crdt, source: ChangeSource): void;
  /** Returns false if an equal or newer tombstone exists. */
  addTombstone(t: TombstoneInfo, source: ChangeSource): boolean;
}
