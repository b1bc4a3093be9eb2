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

/**
 * Restored values not decoded yet, numbered from 0 (issue 13: a restore that builds ten million
 * values, or an object per value to decode later, spends most of its time allocating them and
 * collecting garbage). The store holds a value's number instead of the value, decodes it on its
 * first read, or when `settleDeferred` gets to it, and keeps the result.
 */
export interface DeferredValues {
  /** Value `n`; throws when its stored bytes turn out corrupt (the store then drops the key). */
  decode(n: number): Crdt;
}

/** What a restore writes through (before the node connects). */
export interface RestorableStore extends StoreView {
  set(key: string, kind: DataKind, value: Crdt, source: ChangeSource): void;
  /** Whether `key` has a value, decoded or not (a check that decodes nothing). */
  holds(key: string): boolean;
  /** Make room for `keys` keys in all, before a restore puts them in. */
  reserve(keys: number): void;
  /** Where the numbers given to `setDeferred` are decoded (one source per restore, set before them). */
  deferTo(values: DeferredValues): void;
  /**
   * Restore value `n` of the deferred values, to be decoded later, announced like a `set` — unless
   * `key` holds a value already (restored before it: what a restore puts in first wins); then
   * `indexRestored` names `n`.
   */
  setDeferred(key: string, n: number): void;
  /**
   * Index the keys `setDeferred` put in, in one pass (the first lookup after them would; the
   * restore's time includes it). Returns the deferred values not taken, in the order given.
   */
  indexRestored(): number[];
  /** Decode deferred values for about `budgetMs`; true once none is left. */
  settleDeferred(budgetMs: number): boolean;
  /** Returns false if an equal or newer tombstone exists. */
  addTombstone(t: TombstoneInfo, source: ChangeSource): boolean;
}
