/**
 * A string-keyed hash table for the store: a `Map<string, V>`'s behaviour (insertion order,
 * iterators that survive any change made while they run), built for millions of keys.
 *
 * Why not a `Map` (issue 13): at a million keys V8's `Map` pays cache misses per chain entry and
 * per key it compares (an entry holds no hash: a key's hash lives in the string), and growing
 * rehashes every entry; a restore or a catch-up inserts a million keys into an empty store and
 * looks each up first. Here the entries are dense parallel arrays in insertion order, and an
 * open-addressing index (linear probing, at most half full) holds entry positions; each entry's
 * hash sits beside it in a typed array, so a probe touches a key string only on a hash match, and
 * growing rebuilds the index from stored hashes without rehashing a key. The hash is FNV-1a with
 * a random basis per table (what one process's table crowds, another's spreads).
 *
 * The last key looked up is remembered with its hash and place: an update reads a key and then
 * writes it, and the write finds it without hashing again.
 *
 * Each entry carries a mark bit (`mark`): a bookkeeper's "changed since I last looked", kept with
 * the entry so that noting a change the store just made costs no hashing (the last-lookup cache
 * finds it) and no set of its own; deleting the entry drops its mark.
 *
 * A restore appends (`append`): the entry goes in without a probe, and the index takes every
 * entry appended since the last lookup in one pass when a lookup next needs it (`indexAppended`);
 * an appended entry whose key was there already is dropped then (a restore's precedence: what it
 * put in first stays). Ten million probes, each a cache miss into an
 * index being filled, cost a restore seconds; the one pass's writes do not wait on each other.
 *
 * Deleting leaves a hole (iteration skips it); once holes are half the entries they are squeezed
 * out. An iterator running then finds its place as in V8's own tables: the squeeze records the
 * positions it removed, and the iterator, holding the era it started in, follows the records to
 * the current era (`clear`, which keeps the room for the next entries, records them all). So
 * iterating while the table changes visits every entry that is present throughout exactly once,
 * and entries added meanwhile too, as a `Map`'s iterators do.
 */
import { randomBytes } from "node:crypto";
import { fnv1a32 } from "../cluster/hashing.js";

/** An empty index cell; a cell whose entry was deleted (probing goes on past it). */
const EMPTY = 0;
const DELETED = -1;
const MIN_ENTRIES = 16;

/** One layout of the entries; a squeeze links the era it ended to the one it began. */
interface Era {
  /** `removed`: the ascending positions the squeeze removed; a number n: all of 0..n−1 (a `clear`). */
  squeezed: { removed: Int32Array | number; next: Era } | undefined;
}

/** Where an iteration stands: a position in an era's layout. */
interface Cursor {
  era: Era;
  at: number;
}

export class KeyTable<V> {
  /** `dropped`: told of each appended value not taken, its key being there already (see `append`). */
  constructor(private readonly dropped?: (value: V) => void) {}

  private keyAt: (string | undefined)[] = [];
  private valueAt: (V | undefined)[] = [];
  /** Entries in use, holes included (the arrays may be longer: reserved). */
  private end = 0;
  private hashAt = new Int32Array(MIN_ENTRIES);
  /** 1: the entry is marked (see `mark`). */
  private markAt = new Uint8Array(MIN_ENTRIES);
  private markCount = 0;
  /** Entry positions + 1, or EMPTY or DELETED. A power of two long. */
  private cells = new Int32Array(4 * MIN_ENTRIES);
  private mask = this.cells.length - 1;
  /** Cells not EMPTY: what makes probes long, so what decides a rebuild. */
  private occupied = 0;
  private holes = 0;
  private era: Era = { squeezed: undefined };
  private readonly basis = randomBytes(4).readUInt32LE(0);
  // The last lookup: its key, hash and entry position (−1: absent).
  private lastKey: string | undefined;
  private lastHash = 0;
  private lastAt = -1;
  /** The first entry appended and not indexed yet; `end` when none is. */
  private indexedTo = 0;

  /** Make room for `entries` entries without growing on the way (a bulk load that knows how many are coming). */
  reserve(entries: number): void {
    if (this.indexedTo < this.end) this.indexAppended();
    if (2 * Math.ceil(entries) > this.cells.length) this.rebuildIndex(entries);
    if (entries > this.keyAt.length) {
      // Allocated once at full length: pushing to ten million copies the arrays a dozen times.
      const keys = new Array<string | undefined>(Math.ceil(entries));
      const values = new Array<V | undefined>(Math.ceil(entries));
      for (let at = 0; at < this.end; at++) {
        keys[at] = this.keyAt[at];
        values[at] = this.valueAt[at];
      }
      this.keyAt = keys;
      this.valueAt = values;
    }
    if (entries > this.hashAt.length) this.growEntries(Math.ceil(entries));
  }

  get size(): number {
    if (this.indexedTo < this.end) this.indexAppended(); // a key appended again counts once
    return this.end - this.holes;
  }

  get(key: string): V | undefined {
    const at = this.find(key);
    return at < 0 ? undefined : this.valueAt[at];
  }

  has(key: string): boolean {
    return this.find(key) >= 0;
  }

  /**
   * Where `key`'s entry is, or −1: its position, until a squeeze moves it (see `atPlace`). A caller
   * that keeps it reads the entry later without hashing and probing (after a change to the key,
   * the last-lookup cache makes asking free).
   */
  placeOf(key: string): number {
    return this.find(key);
  }

  /**
   * `placeOf` of `keys[from..to)` into `out[from..to)`, in two tight passes: their hashes, then their
   * probes. One lookup at a time waits for its cache misses; a pass of probes overlaps them (a
   * bulk-pull page's keys in a table of a million: about twice as fast).
   */
  placesOf(keys: readonly string[], from: number, to: number, out: Int32Array, hashes: Int32Array): void {
    if (this.indexedTo < this.end) this.indexAppended();
    for (let i = from; i < to; i++) hashes[i] = fnv1a32(keys[i]!, this.basis) | 0;
    for (let i = from; i < to; i++) out[i] = this.probe(keys[i], hashes[i]!);
  }

  /**
   * `append` of `keys[i]` with `values[i]` for i < `count`, indexed at once, `hashes` being their
   * hashes as `placesOf` gave them (no key hashed again): for keys `placesOf` just found absent
   * (a bulk-pull page's new keys). One walk per key both finds its free cell and checks the key is
   * not there already (it came twice: the later copy is dropped, as `append` drops it). Returns
   * the place of the first (the others follow it, but after a dropped copy).
   */
  appendMany(keys: readonly string[], values: readonly V[], hashes: Int32Array, count: number): number {
    if (this.indexedTo < this.end) this.indexAppended();
    if (2 * (this.occupied + count) > this.cells.length) this.rebuildIndex(this.end - this.holes + count);
    const first = this.end;
    const cells = this.cells;
    const mask = this.mask;
    next: for (let i = 0; i < count; i++) {
      const key = keys[i]!;
      const hash = hashes[i]!;
      let free = -1;
      let c = hash & mask;
      for (let e = cells[c]!; e !== EMPTY; c = (c + 1) & mask, e = cells[c]!) {
        if (e === DELETED) {
          if (free < 0) free = c;
        } else if (this.hashAt[e - 1] === hash && this.keyAt[e - 1] === key) {
          this.dropped?.(values[i]!);
          continue next;
        }
      }
      if (free < 0) {
        free = c;
        this.occupied++;
      }
      cells[free] = this.addEntry(key, values[i]!, hash) + 1;
    }
    this.indexedTo = this.end;
    this.lastKey = undefined; // its place may have been taken over
    return first;
  }

  /** The value at `place` if that entry is still `key`'s; undefined otherwise (look the key up). */
  atPlace(place: number, key: string): V | undefined {
    return place >= 0 && place < this.end && this.keyAt[place] === key ? this.valueAt[place] : undefined;
  }

  set(key: string, value: V): this {
    const at = this.find(key);
    if (at >= 0) {
      this.valueAt[at] = value;
      return this;
    }
    const hash = this.lastHash;
    if (2 * (this.occupied + 1) > this.cells.length) this.rebuildIndex(this.end - this.holes + 1); // twice the cells: a quarter full after
    const position = this.addEntry(key, value, hash);
    this.cells[this.emptyCell(hash)] = position + 1;
    this.indexedTo = this.end;
    this.lastAt = position;
    return this;
  }

  /**
   * Add `key` with `value` as a new entry, indexed later (see the class comment): for keys that
   * are most likely new. If the key is there already (or was appended before), the next lookup
   * finds the earlier entry, and `dropped` is told of `value`.
   */
  append(key: string, value: V): void {
    this.addEntry(key, value, fnv1a32(key, this.basis) | 0);
    this.lastKey = undefined; // it may be this key, now at another place
  }

  /**
   * Make `key`, if `place` holds it, the last key looked up (so the next lookup of it is free): a
   * run of keys put in by `appendMany` is announced after it, and each listener that reads its
   * key would otherwise hash and probe it again. A place that no longer holds `key` (the
   * entry dropped as a duplicate, or moved by a squeeze) changes nothing.
   */
  recall(key: string, place: number): void {
    if (this.indexedTo < this.end || place < 0 || place >= this.end || this.keyAt[place] !== key) return;
    this.lastKey = key;
    this.lastHash = this.hashAt[place]!;
    this.lastAt = place;
  }

  /** A new entry at the end, not indexed; its position. */
  private addEntry(key: string, value: V, hash: number): number {
    const position = this.end++;
    if (position === this.hashAt.length) this.growEntries(2 * position);
    if (position < this.keyAt.length) {
      this.keyAt[position] = key;
      this.valueAt[position] = value;
    } else {
      this.keyAt.push(key);
      this.valueAt.push(value);
    }
    this.hashAt[position] = hash;
    return position;
  }

  /** Mark `key`'s entry: true if it was not marked, false if it was, undefined if `key` is absent. */
  mark(key: string): boolean | undefined {
    const at = this.find(key);
    if (at < 0) return undefined;
    if (this.markAt[at] === 1) return false;
    this.markAt[at] = 1;
    this.markCount++;
    return true;
  }

  /** Clear `key`'s mark; whether it had one. */
  unmark(key: string): boolean {
    const at = this.find(key);
    if (at < 0 || this.markAt[at] === 0) return false;
    this.markAt[at] = 0;
    this.markCount--;
    return true;
  }

  marked(key: string): boolean {
    const at = this.find(key);
    return at >= 0 && this.markAt[at] === 1;
  }

  /** Entries marked. */
  get marks(): number {
    return this.markCount;
  }

  delete(key: string): boolean {
    const at = this.find(key);
    if (at < 0) return false;
    if (this.markAt[at] === 1) {
      this.markAt[at] = 0;
      this.markCount--;
    }
    this.cells[this.cellOf(at, this.lastHash)] = DELETED;
    this.keyAt[at] = undefined;
    this.valueAt[at] = undefined;
    this.holes++;
    this.lastAt = -1;
    if (this.holes >= MIN_ENTRIES && 2 * this.holes >= this.end) this.squeeze();
    return true;
  }

  keys(): IterableIterator<string> {
    return this.walk((key) => key);
  }

  values(): IterableIterator<V> {
    return this.walk((_, value) => value);
  }

  entries(): IterableIterator<[string, V]> {
    return this.walk((key, value) => [key, value]);
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  /** `fn(value, key)` for each entry in order, as `Map.forEach` (entries added meanwhile too), without an iterator or a pair per entry. */
  forEach(fn: (value: V, key: string) => void): void {
    const cursor: Cursor = { era: this.era, at: 0 };
    for (let at = this.step(cursor); at >= 0; at = this.step(cursor)) fn(this.valueAt[at] as V, this.keyAt[at]!);
  }

  /**
   * Empty the table, keeping the room it had (a table filled and emptied over and over, as the
   * outbox's pending deltas each flush, allocates nothing once it has grown). Running iterators
   * go on with the entries added after, as a `Map`'s do.
   */
  clear(): void {
    if (this.indexedTo < this.end) this.indexAppended(); // an appended key already there is dropped, as ever
    const end = this.end;
    if (end === 0) return;
    // A few entries in a large index (the outbox's table after a burst, emptied at every flush):
    // their own cells are emptied, not the whole index. Only without holes and deleted cells,
    // which no entry leads to.
    if (this.holes === 0 && this.occupied === end && 8 * end < this.cells.length) {
      for (let at = 0; at < end; at++) this.cells[this.cellOf(at, this.hashAt[at]!)] = EMPTY;
    } else this.cells.fill(EMPTY);
    this.keyAt.fill(undefined, 0, end);
    this.valueAt.fill(undefined, 0, end);
    this.markAt.fill(0, 0, end);
    this.end = this.indexedTo = this.holes = this.occupied = this.markCount = 0;
    this.lastKey = undefined;
    this.lastAt = -1;
    this.endEra(end);
  }

  private *walk<T>(out: (key: string, value: V) => T): Generator<T, undefined, undefined> {
    const cursor: Cursor = { era: this.era, at: 0 };
    for (let at = this.step(cursor); at >= 0; at = this.step(cursor)) yield out(this.keyAt[at]!, this.valueAt[at] as V);
  }

  /** The position of the next entry for an iteration at `cursor`, which moves past it; −1 at the end. */
  private step(cursor: Cursor): number {
    for (;;) {
      if (this.indexedTo < this.end) this.indexAppended(); // an appended key already there is dropped
      // Each squeeze since the last step moved this position back by the holes before it.
      for (let s = cursor.era.squeezed; s !== undefined; s = cursor.era.squeezed) {
        cursor.at -= countBelow(s.removed, cursor.at);
        cursor.era = s.next;
      }
      if (cursor.at >= this.end) return -1;
      const at = cursor.at++;
      if (this.keyAt[at] !== undefined) return at;
    }
  }

  /** The entry position of `key`, or −1; remembered, with the key's hash, for the next call. */
  private find(key: string): number {
    if (this.indexedTo < this.end) this.indexAppended();
    if (key === this.lastKey) return this.lastAt;
    const hash = fnv1a32(key, this.basis) | 0;
    const at = this.probe(key, hash);
    this.lastKey = key;
    this.lastHash = hash;
    this.lastAt = at;
    return at;
  }

  /** The entry position of `key` (of hash `hash`) in the index, or −1. */
  private probe(key: string | undefined, hash: number): number {
    const cells = this.cells;
    for (let c = hash & this.mask; ; c = (c + 1) & this.mask) {
      const e = cells[c]!;
      if (e === EMPTY) return -1;
      if (e !== DELETED && this.hashAt[e - 1] === hash && this.keyAt[e - 1] === key) return e - 1;
    }
  }

  /** Index the entries appended since the last lookup (the next lookup would); one whose key is there already becomes a hole. */
  indexAppended(): void {
    const from = this.indexedTo;
    if (2 * (this.occupied + this.end - from) > this.cells.length) this.rebuildIndex(this.end, from);
    for (let at = from; at < this.end; at++) {
      const hash = this.hashAt[at]!;
      if (this.probe(this.keyAt[at], hash) >= 0) this.drop(at);
      else this.cells[this.emptyCell(hash)] = at + 1;
    }
    this.indexedTo = this.end;
    if (this.holes >= MIN_ENTRIES && 2 * this.holes >= this.end) this.squeeze();
  }

  /** Appended entry `at`'s key is there already: `at` becomes a hole. */
  private drop(at: number): void {
    const value = this.valueAt[at] as V;
    this.keyAt[at] = undefined;
    this.valueAt[at] = undefined;
    this.holes++;
    this.dropped?.(value);
  }

  /** Make the per-entry typed arrays `length` long. */
  private growEntries(length: number): void {
    const hashes = new Int32Array(length);
    hashes.set(this.hashAt);
    this.hashAt = hashes;
    const marks = new Uint8Array(length);
    marks.set(this.markAt);
    this.markAt = marks;
  }

  /** The index cell holding entry `at` (indexed, of hash `hash`). */
  private cellOf(at: number, hash: number): number {
    let c = hash & this.mask;
    while (this.cells[c] !== at + 1) c = (c + 1) & this.mask;
    return c;
  }

  /** The first free cell on `hash`'s probe path (a DELETED one is reused). */
  private emptyCell(hash: number): number {
    const cells = this.cells;
    let c = hash & this.mask;
    while (cells[c] !== EMPTY && cells[c] !== DELETED) c = (c + 1) & this.mask;
    if (cells[c] === EMPTY) this.occupied++;
    return c;
  }

  /**
   * A fresh index that holds `entries` entries at most half full, built from the stored hashes of
   * the entries before `upTo` (those after it are appended ones, not indexed yet).
   */
  private rebuildIndex(entries: number, upTo = this.end): void {
    const length = Math.max(4 * MIN_ENTRIES, 2 ** Math.ceil(Math.log2(2 * Math.max(entries, this.end - this.holes))));
    const cells = new Int32Array(length);
    const mask = length - 1;
    let indexed = 0;
    for (let at = 0; at < upTo; at++) {
      if (this.keyAt[at] === undefined) continue;
      let c = this.hashAt[at]! & mask;
      while (cells[c] !== EMPTY) c = (c + 1) & mask;
      cells[c] = at + 1;
      indexed++;
    }
    this.cells = cells;
    this.mask = mask;
    this.occupied = indexed;
  }

  /** Drop the holes, keeping the order; running iterators follow through the era record. */
  private squeeze(): void {
    const removed = new Int32Array(this.holes);
    let r = 0;
    let to = 0;
    for (let at = 0; at < this.end; at++) {
      const key = this.keyAt[at];
      if (key === undefined) {
        removed[r++] = at;
        continue;
      }
      this.keyAt[to] = key;
      this.valueAt[to] = this.valueAt[at];
      this.hashAt[to] = this.hashAt[at]!;
      this.markAt[to] = this.markAt[at]!;
      to++;
    }
    for (let at = to; at < this.end; at++) {
      this.keyAt[at] = undefined;
      this.valueAt[at] = undefined;
      this.markAt[at] = 0;
    }
    this.end = to;
    this.indexedTo = to;
    this.holes = 0;
    this.endEra(removed);
    this.rebuildIndex(to);
  }

  /** Start a new era of the entries' layout, the ascending positions `removed` gone (see `step`). */
  private endEra(removed: Int32Array | number): void {
    const next: Era = { squeezed: undefined };
    this.era.squeezed = { removed, next };
    this.era = next;
  }
}

/** How many of the positions `removed` (see Era) are below `at`. */
function countBelow(removed: Int32Array | number, at: number): number {
  if (typeof removed === "number") return Math.min(at, removed);
  let lo = 0;
  let hi = removed.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (removed[mid]! < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
