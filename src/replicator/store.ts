/**
 * The local replica: one CRDT value or tombstone per key. Pure bookkeeping, no I/O.
 *
 * The table (key-table.ts: a Map's behaviour, built for millions of keys) holds the values
 * themselves, not `{ kind, value }` records: every value carries its `kind`, and a record per key
 * is ~40 heap bytes a million keys pay. `get` and `entries` hand out
 * such records made on the spot (short-lived, for extensions and snapshots); hot paths read `value`.
 *
 * A restore may put values in undecoded (`setDeferred`): each is decoded on its first read, or by
 * `settleDeferred` in the background, so a node serves as soon as its keys are in.
 *
 * `onChange` tells bookkeeping that must follow every key it holds (the digest index, snapshots)
 * which key changed, restores and tombstone expiry included. What changed, with its origin, is
 * announced once on the change stream (changes.ts), which subscribers and cross-DC listen to.
 */
import type { Crdt, DataKind } from "../crdt/types.js";
import { InvalidArgumentError } from "../errors.js";
import { type ChangeSource, type DeferredValues, type RestorableStore, type StoredValue, type StoreListener, type TombstoneInfo } from "../extension/store-view.js";
import { KeyTable } from "./key-table.js";

export type { ChangeSource, StoredValue, TombstoneInfo } from "../extension/store-view.js";

export class Store implements RestorableStore {
  /** A number is a deferred value's (see `deferTo`): an integer costs no object. */
  private readonly values = new KeyTable<Crdt | number>((value) => {
    if (typeof value !== "number") return;
    this.oneSettled(); // a deferred value not taken (see setDeferred)
    this.droppedDeferred.push(value);
  });
  /** Deferred values not taken since the last `indexRestored`. */
  private droppedDeferred: number[] = [];
  private deferredValues: DeferredValues | undefined;
  private readonly tombstoneMap = new Map<string, TombstoneInfo>();
  private readonly listeners: StoreListener[] = [];
  /** Deferred values not decoded yet: while 0 (always, but after a restore) no read checks for one. */
  private unsettledCount = 0;
  /** Where `settleDeferred` goes on. */
  private settling: Iterator<string> | undefined;

  onChange(listener: StoreListener): void {
    this.listeners.push(listener);
  }

  get(key: string): StoredValue | undefined {
    const value = this.value(key);
    return value === undefined ? undefined : { kind: value.kind, value };
  }

  /** The key's value (its `kind` says its data type), without a record around it. */
  value(key: string): Crdt | undefined {
    return this.settled(key, this.values.get(key));
  }

  /** What the table holds for `key`: its value, or a deferred value's number, undecoded (see `setDeferred`). */
  rawValue(key: string): Crdt | number | undefined {
    return this.values.get(key);
  }

  /** Where the store keeps `key`'s value (KeyTable.placeOf), or −1. */
  placeOf(key: string): number {
    return this.values.placeOf(key);
  }

  /**
   * `placeOf` of `keys[from..to)` into `out` (KeyTable.placesOf: a run of lookups at once), and
   * into `hashes` what `setDeferredMany` takes of those found absent.
   */
  placesOf(keys: readonly string[], from: number, to: number, out: Int32Array, hashes: Int32Array): void {
    this.values.placesOf(keys, from, to, out, hashes);
  }

  /** `key`'s value if `place` still holds it (KeyTable.atPlace); undefined otherwise: look the key up. */
  valueAtPlace(place: number, key: string): Crdt | undefined {
    return this.settled(key, this.values.atPlace(place, key));
  }

  holds(key: string): boolean {
    return this.values.has(key);
  }

  /** Make room for `keys` keys in all (a bulk pull that knows about how many are coming). */
  reserve(keys: number): void {
    this.values.reserve(keys);
  }

  /**
   * Mark `key`'s value for one bookkeeper (the digest's "changed since I last hashed it"): true if
   * it was not marked, false if it was, undefined if the key holds no value (a tombstone, or
   * nothing). The mark goes with the value: deleting the value drops it. Right after a change,
   * the table's last-lookup cache makes this free.
   */
  mark(key: string): boolean | undefined {
    return this.values.mark(key);
  }

  /** Clear `key`'s mark; whether it had one. */
  unmark(key: string): boolean {
    return this.values.unmark(key);
  }

  marked(key: string): boolean {
    return this.values.marked(key);
  }

  /** Values marked. */
  get marks(): number {
    return this.values.marks;
  }

  /** Deferred values not decoded yet. */
  get unsettled(): number {
    if (this.unsettledCount > 0) this.values.indexAppended(); // a key deferred twice counts once
    return this.unsettledCount;
  }

  /** The source of the deferred values not decoded yet; undefined when there are none. */
  get deferringTo(): DeferredValues | undefined {
    return this.deferredValues;
  }

  deferTo(values: DeferredValues): void {
    if (this.unsettledCount > 0) throw new InvalidArgumentError("deferTo: the store still holds values of another restore");
    this.deferredValues = values;
  }

  setDeferred(key: string, n: number): void {
    if (this.deferredValues === undefined) throw new InvalidArgumentError("setDeferred: call deferTo first");
    this.unsettledCount++;
    this.values.append(key, n); // a restore's keys are new: indexed in one pass (see KeyTable.append)
    this.announce(key, "restore");
  }

  /**
   * `setDeferred` of `keys[i]` to `numbers[i]` for i < `count`, keys `placesOf` just found absent (a
   * bulk pull's, pulled-values.ts) with the `hashes` it gave, announced as `source` once all are in.
   */
  setDeferredMany(keys: readonly string[], numbers: readonly number[], hashes: Int32Array, count: number, source: ChangeSource): void {
    if (this.deferredValues === undefined) throw new InvalidArgumentError("setDeferredMany: call deferTo first");
    this.unsettledCount += count; // before: a key that came twice is dropped, one fewer (see the table's `dropped`)
    const first = this.values.appendMany(keys, numbers, hashes, count);
    for (let i = 0; i < count; i++) {
      this.values.recall(keys[i]!, first + i); // listeners that read the key find it without a lookup
      this.announce(keys[i]!, source);
    }
  }

  indexRestored(): number[] {
    this.values.indexAppended();
    const dropped = this.droppedDeferred;
    this.droppedDeferred = [];
    return dropped;
  }

  settleDeferred(budgetMs: number): boolean {
    const until = performance.now() + budgetMs;
    let n = 0;
    while (this.unsettledCount > 0) {
      this.settling ??= this.values.keys();
      const next = this.settling.next();
      if (next.done === true) {
        this.settling = undefined; // every key seen (a count gone wrong must not loop here)
        break;
      }
      this.value(next.value);
      if ((++n & 255) === 0 && performance.now() > until) break;
    }
    if (this.unsettledCount === 0) this.settling = undefined;
    return this.unsettledCount === 0;
  }

  /**
   * What the table holds for `key` as a value: a deferred one decoded, and kept, or — corrupt — the
   * key dropped (announced, so the digest lets peers repair it). While nothing is deferred (always,
   * but after a restore), no check.
   */
  private settled(key: string, value: Crdt | number | undefined): Crdt | undefined {
    if (this.unsettledCount === 0 || typeof value !== "number") return value as Crdt | undefined;
    let decoded: Crdt | undefined;
    try {
      decoded = this.deferredValues!.decode(value);
    } catch {
      decoded = undefined; // corrupt
    }
    this.oneSettled();
    if (decoded === undefined) {
      this.values.delete(key);
      this.announce(key, "restore");
      return undefined;
    }
    this.values.set(key, decoded);
    return decoded;
  }

  /** Before `key`'s value is replaced or dropped: one deferred value fewer if it was one. */
  private forget(key: string): void {
    if (this.unsettledCount > 0 && typeof this.values.get(key) === "number") this.oneSettled();
  }

  /** One deferred value fewer; after the last, what the source holds (the packs) can go. */
  private oneSettled(): void {
    if (--this.unsettledCount === 0) this.deferredValues = undefined;
  }

  tombstone(key: string): TombstoneInfo | undefined {
    // Every merge asks: with no tombstone at all (a joiner, most stores), no hashing of the key.
    return this.tombstoneMap.size === 0 ? undefined : this.tombstoneMap.get(key);
  }

  /** Replace a key's value (the caller computed the new value from the old one). */
  set(key: string, kind: DataKind, value: Crdt, source: ChangeSource): void {
    if (value.kind !== kind) throw new InvalidArgumentError(`a ${value.kind} value cannot be stored as a ${kind} (key ${JSON.stringify(key)})`);
    this.forget(key);
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
    this.forget(t.key);
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
    for (const [key, stored] of this.values) {
      const value = this.settled(key, stored);
      if (value !== undefined) yield [key, { kind: value.kind, value }];
    }
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
