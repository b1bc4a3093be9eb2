/**
 * The store's digest tree, kept current: every key's entry hash (key + content hash of its value
 * or tombstone) in a DigestTree, for anti-entropy to compare with a peer's.
 *
 * Changed keys are rehashed in the background, in slices of a few milliseconds once writes pause
 * (at the latest a second after), so no request pays for a bulk load's rehash (a million keys take
 * seconds) and a burst of writes does not share the event loop with its own rehash. A round
 * refreshes what is left before it starts (in slices too); an answer refreshes synchronously only
 * a small backlog, otherwise it answers from the tree as it is (a stale answer only makes that
 * round's diff slightly off; the next round corrects it).
 *
 * A large ORSet or GSet is not rehashed whole: its content hash is a sum of per-element hashes
 * (wire/set-hash.ts), kept here per key with the version it describes, and moved to the key's
 * current version by hashing only the elements that changed. Its first digest (after a restore or
 * a bulk pull) walks every element, in slices like the rest, so no slice holds the loop for long.
 *
 * After a restore, the entry hashes the snapshot stored next to the values seed the tree
 * (`RestoredDigest`), and only the keys restored without one are rehashed (issue 13: a million
 * keys would take 7–11 s of CPU). A large set seeded so keeps no element sum until it next
 * changes; that change walks it once, as its first digest after a restore always did.
 */
import type { Clock, TimerHandle } from "../clock.js";
import { DigestTree } from "../cluster/digest-tree.js";
import { keyEntryHash } from "../cluster/hashing.js";
import { advanceDigest, contentHash, DigestJob, isSummedSet, setContentHash, tombstoneHash, type HashWork, type SetDigest, type SummedSet } from "../wire/codec.js";
import type { Crdt } from "../crdt/types.js";
import type { DigestSeeds } from "../durable/snapshots.js";
import { DirtyKeys } from "./dirty-keys.js";
import type { Store } from "./store.js";

/**
 * Version of the entry hash definition: `keyEntryHash` over `contentHash` / `tombstoneHash`
 * (wire/hash.ts, wire/set-hash.ts). Snapshots store entry hashes under it; bump it whenever any of
 * these changes (their pinned values in test/wire/values.test.ts change then), so that a snapshot
 * written before is rehashed instead of seeding hashes no peer computes.
 */
export const DIGEST_HASH_VERSION = 1;

/** Longest synchronous rehash slice. */
const SLICE_MS = 8;
/**
 * Changes are rehashed in the background once none came for this long (a hot key: about once per
 * delay), so a burst's backlog is hashed after the burst, each key once, out of its way ...
 */
const DELAY_MS = 200;
/** ... but no later than this after the backlog's first change (writes that never pause). */
const MAX_DELAY_MS = 1000;
/** An answer rehashes a backlog of at most this many keys synchronously (≈ 0.1–0.3 s). */
const ANSWER_REFRESH_MAX = 50_000;
/** Sets of at least this many elements keep an incremental digest (smaller ones are hashed whole: cheaper than the bookkeeping). */
const INCREMENTAL_MIN_ELEMENTS = 256;

/**
 * What a restore hands over (durable/snapshots.ts `DigestSeeds`): a tree of the keys restored with
 * their stored entry hash, and the keys restored without one.
 *
 * Only the hashes are kept, in the order the values were restored: the store's map holds the keys
 * in that same order (a restore fills an empty store and nothing touches it before the digest is
 * built), so `take` pairs them up. A keys array of its own cost a 1 M-key restore a few per cent
 * (a million more young strings referenced from an old array, for the GC to trace).
 */
export class RestoredDigest implements DigestSeeds {
  readonly version = DIGEST_HASH_VERSION;
  // Collected first, the tree built once at its final size: growing it key by key while restoring
  // re-indexes every key about twice over. Eight bytes a value, little-endian as stored; 0: none.
  private hashes = new DataView(new ArrayBuffer(8 * 1024));
  /** Values restored (a key restored twice counts twice), and the last one's key. */
  private values = 0;
  private last: string | undefined;
  /** Ascending indices of restored values the store did not take (see `dropped`). */
  private drops: readonly number[] = [];

  reserve(values: number): void {
    if (8 * values > this.hashes.byteLength) this.grow(8 * values);
  }

  restored(key: string, hashes: DataView | undefined, at: number): void {
    const n = this.values;
    if (8 * n === this.hashes.byteLength) this.grow(Math.max(8 * 1024, 16 * n));
    this.values++;
    const own = this.hashes;
    // Copied as two 32-bit halves: no bigint per value.
    own.setUint32(8 * n, hashes === undefined ? 0 : hashes.getUint32(at, true), true);
    own.setUint32(8 * n + 4, hashes === undefined ? 0 : hashes.getUint32(at + 4, true), true);
    this.last = key;
  }

  get count(): number {
    return this.values;
  }

  dropped(indices: readonly number[]): void {
    this.drops = indices;
  }

  private grow(bytes: number): void {
    const grown = new Uint8Array(bytes);
    grown.set(new Uint8Array(this.hashes.buffer, 0, 8 * this.values));
    this.hashes = new DataView(grown.buffer);
  }

  /**
   * The seeded tree and the keys left to rehash, once: undefined unless the store holds exactly
   * the values restored but those it did not take, the last one last (anything else, e.g. a key
   * restored twice the last of all, is rehashed whole: always right).
   */
  take(store: Store): { tree: DigestTree; unhashed: string[] } | undefined {
    let taken: { tree: DigestTree; unhashed: string[] } | undefined;
    const drops = this.drops;
    if (this.values - drops.length === store.size) {
      const hashes = this.hashes;
      const unhashed: string[] = [];
      let key: string | undefined;
      const tree = DigestTree.build(store.size + store.tombstoneCount, (add) => {
        let at = 0;
        let d = 0;
        for (key of store.keys()) {
          // A value the store did not take has no key here: its hash is passed over.
          for (; d < drops.length && drops[d] === at >>> 3; d++) at += 8;
          const lo = hashes.getUint32(at, true);
          const hi = hashes.getUint32(at + 4, true);
          at += 8;
          if (lo === 0 && hi === 0) unhashed.push(key); // stored without one
          else add(key, lo, hi);
        }
      });
      if (key === this.last) taken = { tree, unhashed };
    }
    this.hashes = new DataView(new ArrayBuffer(0));
    this.values = 0;
    this.last = undefined;
    this.drops = [];
    return taken;
  }
}

/**
 * How `mergeSeeded`'s seeding hands over a value of the page with its key's hash (32-bit halves as
 * int32s; 0, 0: none). `value` undefined: the page's value was left undecoded (PageColumns), so
 * the merge put it in the store undecoded if it took it.
 */
export type SeedTake = (key: string, value: Crdt | undefined, lo: number, hi: number) => void;

/** A page's keys with the hash halves (`words[2i]`, `words[2i + 1]`) and store places the tree takes for them. */
interface SeedBatch {
  keys: string[];
  words: Int32Array;
  places: Int32Array;
  count: number;
}

/**
 * The keys a bulk-pull page's merge changed, in order, with the value each held right then and
 * where the store keeps it: the first `count` entries of each array.
 */
interface PageChanges {
  count: number;
  keys: string[];
  /** As the store's table held it: a value left undecoded is its number (Store.rawValue). */
  values: (Crdt | number | undefined)[];
  places: number[];
}

export class StoreDigest {
  readonly tree: DigestTree;
  /** Keys changed since they were last hashed into the tree. */
  private readonly dirty: DirtyKeys;
  /** Large sets: the element sum of the version last hashed into the tree. */
  private readonly setDigests = new Map<string, SetDigest>();
  /** Large sets whose first digest is under way. */
  private readonly jobs = new Map<string, DigestJob>();
  private timer: TimerHandle | undefined;
  /** Whether `timer` waits for writes to pause (DELAY_MS) rather than for the next slice. */
  private debouncing = false;
  private stopped = false;
  /** Changes seen so far (tells the background rehash whether writes paused). */
  private changes = 0;
  /**
   * What bulk-pull pages seeded and the tree has not taken yet, page by page, in order (see
   * `mergeSeeded`), and how many keys they hold. Put in before any changed key is rehashed.
   */
  private readonly seeds: SeedBatch[] = [];
  private seedCount = 0;
  /** Set elements hashed so far (bounds the work per change in tests). */
  readonly work: HashWork = { entries: 0 };

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly onError: (error: unknown) => void,
    restored?: RestoredDigest,
  ) {
    this.dirty = new DirtyKeys(store);
    store.onChange((key) => {
      if (this.page === undefined) return this.changed(key);
      // The store just found this key: its table's last-lookup cache makes these reads free.
      const page = this.page;
      const i = page.count++;
      page.keys[i] = key;
      page.values[i] = store.rawValue(key); // undecoded stays so
      page.places[i] = store.placeOf(key);
    });
    // A store restored from a snapshot is filled before we exist: take the hashes the snapshot
    // stored, and hash the rest of what it holds (tombstones are few: always rehashed).
    const seeded = restored?.take(store);
    this.tree = seeded?.tree ?? new DigestTree();
    for (const key of seeded?.unhashed ?? store.keys()) this.dirty.add(key);
    for (const t of store.tombstones()) this.dirty.add(t.key);
    if (this.dirty.size > 0) this.schedule(0);
  }

  /** Keys waiting to be rehashed, or for a page's seeded hash to go into the tree. */
  get pending(): number {
    return this.dirty.size + this.seedCount;
  }

  /** Keys in the tree, and those waiting to go in with a page's seeded hash (some may be in it already). */
  get size(): number {
    return this.tree.size + this.seedCount;
  }

  /** Bulk-pull pages' hashes wait to go into the tree: until then, its digest is not this store's. */
  get seeding(): boolean {
    return this.seedCount > 0;
  }

  /**
   * The key's entry hash as the tree holds it; undefined when absent or not yet rehashed, and for
   * every key while pages' seeds wait (the tree may hold an older hash of a seeded key: `settled`).
   */
  hashOf(key: string): bigint | undefined {
    return this.isStale(key) ? undefined : this.tree.get(key);
  }

  /** Whether `key` waits to be rehashed (the tree's hash of it, if any, is not its current content's); every key while seeds wait. */
  isStale(key: string): boolean {
    return this.seedCount > 0 || this.dirty.has(key);
  }

  /** Resolves once pages' seeds no longer wait (put in now, in slices): `hashOf` then answers for them. */
  async settled(): Promise<void> {
    while (!this.putSeeds(performance.now() + SLICE_MS)) await new Promise<void>((resolve) => this.clock.soon(resolve));
  }

  /** Keys holding a large set (one hashed incrementally). */
  largeSetKeys(): IterableIterator<string> {
    return this.setDigests.keys();
  }

  /**
   * Run `merge` (a bulk-pull page's), then `seed`, which hands `take` each value of the page with
   * the hash computed elsewhere (the peer's; 0n: none), in the page's order. A key is seeded when
   * the merge changed it to that very value (the store keeps the peer's object: we had nothing, or
   * the merge returned it). Only the keys the merge changed and that were not seeded are left to
   * rehash: a million keys pulled do not each go into the set of changed keys and out again.
   * The seeded hashes go into the tree later, before any rehash (`putSeeds`: after the pull, in
   * slices): a joiner's pull is CPU-bound, and the tree's inserts were a fifth of it.
   * `expected`: how many keys the page holds (the arrays that list its changes are made that long
   * once, and serve page after page: new ones per page were 24 bytes of garbage a key).
   */
  mergeSeeded(expected: number, merge: () => void, seed: (take: SeedTake) => void): void {
    const page = (this.pageChanges ??= { count: 0, keys: [], values: [], places: [] });
    page.count = 0;
    if (page.keys.length < expected) {
      page.keys = new Array<string>(expected);
      page.values = new Array<Crdt | number | undefined>(expected);
      page.places = new Array<number>(expected);
    }
    this.page = page;
    try {
      merge();
    } catch (error) {
      this.page = undefined;
      for (let i = 0; i < page.count; i++) this.changed(page.keys[i]!);
      throw error;
    }
    this.page = undefined;
    const { count, keys, values, places } = page;
    const taken = new Uint8Array(count);
    // What the tree takes: the keys with their page hashes and places, put in at once (DigestTree.setWordsMany).
    const seeded: SeedBatch = { keys: new Array<string>(count), words: new Int32Array(2 * count), places: new Int32Array(count), count: 0 };
    // Changes come in the page's order. One that is not the next value offered is left in place for
    // the values after it: a key the merge left alone was not announced, so it is never matched.
    let c = 0;
    try {
      seed((key, value, lo, hi) => {
        if (c === count || keys[c] !== key) return; // (past `count`: an earlier page's)
        // The merge stored the page's value itself (an undecoded one: the only undecoded value a page's merge stores).
        const stored = values[c];
        if ((value === undefined ? typeof stored === "number" : stored === value) && (lo !== 0 || hi !== 0)) {
          const s = seeded.count++;
          seeded.keys[s] = key;
          seeded.words[2 * s] = lo;
          seeded.words[2 * s + 1] = hi;
          seeded.places[s] = places[c]!;
          taken[c] = 1;
        }
        c++;
      });
    } finally {
      if (seeded.count > 0) {
        this.seeds.push(seeded);
        this.seedCount += seeded.count;
      }
      // Changed before the page, not rehashed yet: the seed covers it (a change after it marks it
      // again, and is rehashed after the seeds went in).
      for (let s = 0; s < seeded.count; s++) this.dirty.delete(seeded.keys[s]!);
      // A key changed again later in the page (or a change not in the page) is rehashed: more
      // work, never a wrong hash.
      for (let i = 0; i < count; i++) if (taken[i] === 0) this.changed(keys[i]!);
    }
  }

  /** What the merge of a bulk-pull page changed so far (see mergeSeeded); undefined outside one. */
  private page: PageChanges | undefined;
  /** The arrays `page` lists changes in, kept for the next page (they reference one page's keys and values at most). */
  private pageChanges: PageChanges | undefined;

  private changed(key: string): void {
    this.dirty.add(key);
    this.changes++;
    if (this.timer === undefined) this.schedule(DELAY_MS);
  }

  /** Rehash every changed key, in slices that let the event loop run in between. */
  async refreshAll(): Promise<void> {
    while (!this.refreshFor(SLICE_MS)) await new Promise<void>((resolve) => this.clock.soon(resolve));
  }

  /**
   * Before answering a digest request: a small backlog is hashed now (an exact answer), a bulk
   * load's is left to the background. A large set's first digest that one slice did not finish
   * goes on in the background at once, not after the writes pause: a peer waits for it (see
   * `hashing`).
   */
  refreshForAnswer(): void {
    if (this.pending > ANSWER_REFRESH_MAX) this.schedule(0);
    else if (!this.refreshFor(Infinity)) {
      if (this.debouncing) {
        this.clock.clear(this.timer);
        this.timer = undefined;
      }
      this.schedule(0);
    }
  }

  /** Keys whose first set digest is still running: the tree's hash of them is not current. */
  hashing(): IterableIterator<string> {
    return this.jobs.keys();
  }

  /** Stop the background rehashing (the replicator is closing). */
  stop(): void {
    this.stopped = true;
    this.clock.clear(this.timer);
    this.timer = undefined;
  }

  /** With `delayMs` DELAY_MS (armed by a change), put off while writes go on, up to MAX_DELAY_MS after `backlogSince`. */
  private schedule(delayMs: number, backlogSince?: number): void {
    if (this.stopped || this.timer !== undefined) return;
    const changes = this.changes;
    const since = backlogSince ?? this.clock.now();
    this.debouncing = delayMs === DELAY_MS;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      if (delayMs === DELAY_MS && this.changes !== changes && this.clock.now() - since < MAX_DELAY_MS) {
        this.schedule(DELAY_MS, since);
        return;
      }
      try {
        if (!this.refreshFor(SLICE_MS)) this.schedule(1);
      } catch (error) {
        this.onError(error);
      }
    }, delayMs);
    this.timer.unref();
  }

  /** Put pages' seeds in, then rehash changed keys, for at most about `ms`; true when none is left. */
  private refreshFor(ms: number): boolean {
    const started = performance.now();
    const deadline = started + ms;
    if (!this.putSeeds(deadline)) return false;
    // A large set's first digest stops at a slice's end even when the caller has no deadline.
    const jobDeadline = started + Math.min(ms, SLICE_MS);
    let n = 0;
    const unfinished: string[] = [];
    for (let key = this.dirty.take(); key !== undefined; key = this.dirty.take()) {
      if (!this.rehash(key, jobDeadline)) unfinished.push(key);
      if ((++n & 63) === 0 && performance.now() > deadline) break;
    }
    for (const key of unfinished) this.dirty.add(key);
    return this.dirty.size === 0;
  }

  /**
   * Put pages' seeds into the tree, a page at a time, until about `deadline`; true when none is
   * left. Room for all of them is made first: the tree grows once, to what came.
   */
  private putSeeds(deadline: number): boolean {
    if (this.seedCount === 0) return true;
    this.tree.reserve(this.tree.size + this.seedCount);
    let done = 0;
    while (done < this.seeds.length) {
      const { keys, words, places, count } = this.seeds[done++]!;
      this.tree.setWordsMany(keys, words, places, count);
      this.seedCount -= count;
      if (performance.now() > deadline) break;
    }
    this.seeds.splice(0, done);
    return this.seedCount === 0;
  }

  /** False when the key's first set digest needs more slices. */
  private rehash(key: string, jobDeadline: number): boolean {
    const v = this.store.value(key);
    if (v !== undefined) {
      const hash = isSummedSet(v) && v.size >= INCREMENTAL_MIN_ELEMENTS ? this.setHash(key, v, jobDeadline) : this.wholeHash(key, v);
      if (hash === undefined) return false;
      this.tree.set(key, keyEntryHash(key, hash), this.store.placeOf(key)); // still the last key the store looked up
      return true;
    }
    this.setDigests.delete(key);
    this.jobs.delete(key);
    const t = this.store.tombstone(key);
    if (t !== undefined) {
      this.tree.set(key, keyEntryHash(key, tombstoneHash({ key, kind: t.kind, deletedAtMs: t.deletedAtMs, originNode: t.originNode })));
    } else this.tree.delete(key);
    return true;
  }

  private wholeHash(key: string, value: Crdt): bigint {
    this.setDigests.delete(key);
    this.jobs.delete(key);
    return contentHash(value);
  }

  /** The content hash of a large set: from its last digest, or a first one (undefined until done). */
  private setHash(key: string, value: SummedSet, jobDeadline: number): bigint | undefined {
    let digest = this.setDigests.get(key);
    if (digest === undefined) {
      const job = this.jobs.get(key) ?? new DigestJob(value);
      digest = job.run(jobDeadline, this.work);
      if (digest === undefined) {
        this.jobs.set(key, job);
        return undefined;
      }
      this.jobs.delete(key);
    }
    digest = advanceDigest(digest, value, this.work);
    this.setDigests.set(key, digest);
    return setContentHash(digest);
  }
}
