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

/** Brands a `DeferredValue` (a stored `Crdt` never carries it). */
export const deferred: unique symbol = Symbol("deferred value");

/**
 * A restored value not decoded yet (issue 13: a restore that builds a million values spends most
 * of its time allocating them and collecting garbage). The store decodes it on its first read, or
 * when `settleDeferred` gets to it, and keeps the result.
 */
export interface DeferredValue {
  readonly [deferred]: true;
  /** The value; throws when the stored bytes turn out corrupt (the store then drops the key). */
  decode(): Crdt;
}

/** What a restore writes through (before the node connects). */
export interface RestorableStore extends StoreView {
  set(key: string, kind: DataKind, value: Crdt, source: ChangeSource): void;
  /** Make room for `keys` keys in all, before a restore puts them in. */
  reserve(keys: number): void;
  /** Restore a value to be decoded later (see DeferredValue); announced like a `set`. */
  setDeferred(key: string, value: DeferredValue): void;
  /** Decode deferred values for about `budgetMs`; true once none is left. */
  settleDeferred(budgetMs: number): boolean;
  /** Returns false if an equal or newer tombstone exists. */
  addTombstone(t: TombstoneInfo, source: ChangeSource): boolean;
}
