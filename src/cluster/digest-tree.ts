/**
 * The anti-entropy digest tree: key → 64-bit entry hash (see `keyEntryHash`), bucketed into
 * 65,536 leaves grouped 256 per group. A bucket's hash is the XOR of its members' hashes, so a set,
 * overwrite or delete is O(1): XOR the old hash out, the new one in — a 1 M-key store pays about
 * a microsecond per change (a walk of the key's leaf and three XORs), never a rebuild.
 *
 * Levels, as exchanged in a digest round (see digest-round.ts):
 *   0 — 256 group hashes;  1 — 256 leaf hashes of one group;  2 — the [key, hash] pairs of one leaf.
 *
 * Pure: no I/O, no clock. Bucketing depends only on the key's bytes, so it is identical on every node.
 */
import { InvalidArgumentError } from "../errors.js";
import { fnv1a32 } from "./hashing.js";

export const GROUPS = 256;
export const LEAVES_PER_GROUP = 256;
export const LEAVES = GROUPS * LEAVES_PER_GROUP;

// XORs go through BigInt.asUintN(64, ·): V8 compiles that to machine words (no allocation).
const U64 = 64;
const MAX_U64 = 0xffffffffffffffffn;

/** The leaf bucket of a key: FNV-1a 32 xor-folded to 16 bits (folding mixes FNV's weaker low bits). */
export function leafOf(key: string): number {
  return foldToLeaf(fnv1a32(key));
}

/** The group a leaf belongs to. */
export function groupOf(leaf: number): number {
  return leaf >>> 8;
}

/** Which 32-bit half of a 64-bit word comes first in memory on this machine: 0, the low one (little-endian), or 1. */
const LOW = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;

/** `set` was given no place for the key. */
export const NO_PLACE = -1;

/** End of a chain; an empty index cell. */
const NONE = -1;
/**
 * A free slot's `next` holds its successor in the free list encoded as FREE − successor (≤ −2, so
 * no chain link: re-indexing skips it); `freeNext` decodes it.
 */
const FREE = -3;

function freeNext(next: number): number {
  return FREE - next;
}
/** Entry slots of a new tree; the slot arrays grow by half when full. */
const INITIAL_SLOTS = 16;
/** The index grows (doubles) past this share of its cells in use. */
const MAX_LOAD = 0.7;
/** Keys probed together by setWordsMany before their inserts: a run's cache lines (64 B each) stay well inside a core's L2. */
const PROBE_RUN = 1024;

export class DigestTree {
  private readonly leafHashes = new BigUint64Array(LEAVES);
  private readonly groupHashes = new BigUint64Array(GROUPS);
  // The root lives in a typed array too: a bigint field would allocate on every update.
  private readonly root = new BigUint64Array(1);
  // The same three as 32-bit halves (see LOW), for `setWords`.
  private readonly leafHalves = new Uint32Array(this.leafHashes.buffer);
  private readonly groupHalves = new Uint32Array(this.groupHashes.buffer);
  private readonly rootHalves = new Uint32Array(this.root.buffer);
  // Entries live in slots of parallel arrays: ~30 bytes a key with the index, against ~70 for a
  // Map per leaf (entry, heap bigint, table). A leaf's slots are chained (listing a leaf walks its
  // chain; see `next`). A key's slot is found through an open-addressing
  // index (linear probing) on its FNV hash: a few array reads at any size, where walking a chain
  // would cost a cache miss per entry of the leaf (~150 at 10 M keys). Each slot keeps its key's
  // leaf (16 bits of its FNV): a probe compares them before touching the key string (a cache miss,
  // then a string compare, on every occupied cell a probe passes), and a listing in slot order
  // (`listSlots`) knows each key's group without hashing it, at 2 bytes a key.
  private readonly heads = new Int32Array(LEAVES).fill(NONE);
  /** Slot → key ("" when free); as long as the typed slot arrays (pushing to millions copies it again and again). */
  private keys: string[];
  /**
   * Slot → where the caller keeps the key's value (`set`'s `place`; NO_PLACE: not given): a
   * bulk-pull page reads the value there, checked, instead of looking the key up (a hash and cache
   * misses per key, the larger part of answering a page). Opaque to the tree; 4 bytes a key, no
   * pointer for the garbage collector to trace.
   */
  private places: Int32Array;
  private tags: Uint16Array;
  private hashes: BigUint64Array;
  /** `hashes` as 32-bit halves (in memory order, see LOW): a leaf is listed without a bigint per entry. */
  private halves: Uint32Array;
  /**
   * A slot's successor in its leaf's chain, or (free slots, encoded: see FREE) in the free list.
   * Chains link one way: a delete walks its leaf's chain (15 keys a leaf at a million keys, 150 at
   * ten million) to unlink, and an insert writes no back link into another key's slot (a cache
   * miss per insert, and 4 bytes a key, saved).
   */
  private next: Int32Array;
  private free = NONE;
  /** Slots handed out so far (free ones included). */
  private used = 0;
  private count = 0;
  /** Cells hold slots; a power of two long. */
  private index: Int32Array;
  private indexShift: number;
  /** Scratch of `setWordsMany` (synchronous: one batch at a time). */
  private batch = new Int32Array(0);

  /** `capacity`: keys the tree takes before it first grows (a restore knows how many it brings). */
  constructor(capacity = 0) {
    const slots = Math.max(INITIAL_SLOTS, Math.ceil(capacity));
    this.keys = new Array<string>(slots).fill("");
    this.places = new Int32Array(slots);
    this.tags = new Uint16Array(slots);
    this.hashes = new BigUint64Array(slots);
    this.halves = new Uint32Array(this.hashes.buffer);
    this.next = new Int32Array(slots);
    const cells = Math.max(2 * INITIAL_SLOTS, 2 ** Math.ceil(Math.log2(slots / MAX_LOAD + 1)));
    this.index = new Int32Array(cells).fill(NONE);
    this.indexShift = 32 - Math.log2(cells);
  }

  /** A tree over `entries` (key → entry hash); later duplicates of a key overwrite earlier ones. */
  static from(entries: Iterable<readonly [string, bigint]>): DigestTree {
    const tree = new DigestTree();
    for (const [key, hash] of entries) tree.set(key, hash);
    return tree;
  }

  /**
   * A tree of the entries `fill` hands to `add` (a key, and its entry hash as 32-bit halves, low
   * then high), filled in one pass and indexed once at the end: a restore seeds ten million keys,
   * where a probe per key into an index being filled costs a cache miss, and a bigint per key an
   * allocation. A key added twice keeps its last hash.
   */
  static build(capacity: number, fill: (add: (key: string, lo: number, hi: number) => void) => void): DigestTree {
    const tree = new DigestTree(capacity);
    let fnvs = new Int32Array(tree.hashes.length);
    const leafHalves = tree.leafHalves;
    fill((key, lo, hi) => {
      const slot = tree.allocate(); // a new tree frees none: slots come in order
      if (slot >= fnvs.length) fnvs = grown(fnvs, new Int32Array(tree.hashes.length));
      const fnv = fnv1a32(key);
      fnvs[slot] = fnv;
      tree.keys[slot] = key;
      tree.places[slot] = NO_PLACE;
      const leaf = foldToLeaf(fnv);
      tree.tags[slot] = leaf;
      tree.halves[2 * slot + LOW] = lo;
      tree.halves[2 * slot + 1 - LOW] = hi;
      tree.next[slot] = tree.heads[leaf]!;
      tree.heads[leaf] = slot;
      leafHalves[2 * leaf + LOW]! ^= lo;
      leafHalves[2 * leaf + 1 - LOW]! ^= hi;
      tree.count++;
    });
    tree.indexBuilt(fnvs);
    return tree;
  }

  /** Index every slot of a tree `build` filled (`fnvs`: each slot's key's FNV), and sum the leaves into the groups and root. */
  private indexBuilt(fnvs: Int32Array): void {
    const cells = 2 ** Math.ceil(Math.log2(this.count / MAX_LOAD + 1));
    if (cells > this.index.length) {
      this.index = new Int32Array(cells).fill(NONE);
      this.indexShift = 32 - Math.log2(cells);
    }
    const index = this.index;
    for (let slot = 0; slot < this.used; slot++) {
      const fnv = fnvs[slot]!;
      const cell = this.cellOf(fnv, this.keys[slot]!);
      if (cell < 0) index[~cell] = slot;
      else {
        this.drop(index[cell]!, foldToLeaf(fnv)); // added before: replaced
        index[cell] = slot;
      }
    }
    for (let group = 0; group < GROUPS; group++) {
      let sum = 0n;
      for (let leaf = group * LEAVES_PER_GROUP; leaf < (group + 1) * LEAVES_PER_GROUP; leaf++) sum ^= this.leafHashes[leaf]!;
      this.groupHashes[group] = sum;
    }
    let root = 0n;
    for (const sum of this.groupHashes) root ^= sum;
    this.root[0] = root;
  }

  /** Number of keys. */
  get size(): number {
    return this.count;
  }

  /** XOR of every entry hash: equal trees have equal roots (a cheap "anything to do?" check). */
  get rootHash(): bigint {
    return this.root[0]!;
  }

  /**
   * Insert or overwrite `key` with `hash`, an unsigned 64-bit bigint (see `keyEntryHash`), and the
   * place where the caller keeps the key's value, if it wants it listed with the key (`listLeaf`).
   */
  set(key: string, h: bigint, place = NO_PLACE): void {
    if (typeof key !== "string") throw new InvalidArgumentError("digest key must be a string");
    if (typeof h !== "bigint" || h < 0n || h > MAX_U64) {
      throw new InvalidArgumentError("digest hash must be an unsigned 64-bit bigint");
    }
    const fnv = fnv1a32(key);
    const slot = this.claim(key, fnv, place, this.cellOf(fnv, key));
    const old = this.hashes[slot]!;
    if (old === h) return;
    this.hashes[slot] = h;
    this.flip(foldToLeaf(fnv), BigInt.asUintN(U64, old ^ h));
  }

  /**
   * `set` with the hash as two 32-bit halves, `lo` and `hi`, each as an int32 or a uint32 (the same
   * bits): a bulk pull's page makes no bigint per key.
   */
  setWords(key: string, lo: number, hi: number, place = NO_PLACE): void {
    if (typeof key !== "string") throw new InvalidArgumentError("digest key must be a string");
    if (!isWord(lo) || !isWord(hi)) throw new InvalidArgumentError("digest hash halves must be 32-bit integers (signed or not)");
    const fnv = fnv1a32(key);
    this.putWords(fnv, this.claim(key, fnv, place, this.cellOf(fnv, key)), lo, hi);
  }

  /**
   * `setWords` of `keys[0..count)`, each with its hash's halves at `words[2i]`, `words[2i + 1]` and
   * its place at `places[i]`, the keys distinct: their hashes first, then their probes in one tight
   * pass, then the inserts. One key at a time waits for its cache misses; a pass of probes overlaps
   * them (a bulk-pull page's keys, see KeyTable.placesOf).
   */
  setWordsMany(keys: readonly string[], words: Int32Array, places: Int32Array, count: number): void {
    for (let i = 0; i < count; i++) if (typeof keys[i] !== "string") throw new InvalidArgumentError("digest key must be a string");
    if (this.batch.length < 2 * count) this.batch = new Int32Array(2 * count);
    const batch = this.batch; // each key's FNV hash, then the cell its probe found
    for (let i = 0; i < count; i++) batch[2 * i] = fnv1a32(keys[i]!);
    // By runs small enough that the cells a run's probes touched are still in the cache when its inserts come.
    for (let from = 0; from < count; from += PROBE_RUN) {
      const to = Math.min(count, from + PROBE_RUN);
      const index = this.index;
      for (let i = from; i < to; i++) batch[2 * i + 1] = this.cellOf(batch[2 * i]! >>> 0, keys[i]!);
      for (let i = from; i < to; i++) {
        const fnv = batch[2 * i]! >>> 0;
        // An index grown by an insert on the way moved every key: probe again.
        const cell = this.index === index ? batch[2 * i + 1]! : this.cellOf(fnv, keys[i]!);
        this.putWords(fnv, this.claim(keys[i]!, fnv, places[i]!, cell), words[2 * i]!, words[2 * i + 1]!);
      }
    }
  }

  /** Set `slot`'s hash (of a key of FNV hash `fnv`) to the halves `lo`, `hi`. */
  private putWords(fnv: number, slot: number, lo: number, hi: number): void {
    const at = 2 * slot;
    const halves = this.halves;
    const dLo = (halves[at + LOW]! ^ lo) >>> 0;
    const dHi = (halves[at + 1 - LOW]! ^ hi) >>> 0;
    if (dLo === 0 && dHi === 0) return;
    halves[at + LOW] = lo; // an int32 is stored as the uint32 of the same bits
    halves[at + 1 - LOW] = hi;
    this.flipWords(foldToLeaf(fnv), dLo, dHi);
  }

  /**
   * The slot of `key` (of FNV hash `fnv`), made (hash 0, in its leaf's chain) if it has none; its
   * place set to `place`. `cell`: what `cellOf` answered, maybe before other keys went in (an
   * empty cell found then may be taken now).
   */
  private claim(key: string, fnv: number, place: number, cell: number): number {
    if (cell < 0 && this.index[~cell] !== NONE) cell = this.cellOf(fnv, key);
    if (cell >= 0) {
      const slot = this.index[cell]!;
      this.places[slot] = place;
      return slot;
    }
    if ((this.count + 1) > this.index.length * MAX_LOAD) {
      this.growIndex();
      cell = this.cellOf(fnv, key);
    }
    const slot = this.allocate();
    const leaf = foldToLeaf(fnv);
    this.index[~cell] = slot;
    this.keys[slot] = key;
    this.places[slot] = place;
    this.tags[slot] = leaf;
    this.halves[2 * slot] = 0;
    this.halves[2 * slot + 1] = 0;
    this.next[slot] = this.heads[leaf]!;
    this.heads[leaf] = slot;
    this.count++;
    return slot;
  }

  /** Remove `key`; returns whether it was present. */
  delete(key: string): boolean {
    const fnv = fnv1a32(key);
    const cell = this.cellOf(fnv, key);
    if (cell < 0) return false;
    const slot = this.index[cell]!;
    this.unindex(cell);
    this.drop(slot, foldToLeaf(fnv));
    return true;
  }

  /** Take `slot` (of `leaf`, no longer indexed) out of its chain and the hashes, and free it. */
  private drop(slot: number, leaf: number): void {
    let before = NONE;
    for (let s = this.heads[leaf]!; s !== slot; s = this.next[s]!) before = s;
    if (before === NONE) this.heads[leaf] = this.next[slot]!;
    else this.next[before] = this.next[slot]!;
    this.flip(leaf, this.hashes[slot]!);
    this.keys[slot] = ""; // let the key go
    this.next[slot] = freeNext(this.free);
    this.free = slot;
    this.count--;
  }

  /** `flip` with the delta as 32-bit halves. */
  private flipWords(leaf: number, dLo: number, dHi: number): void {
    this.leafHalves[2 * leaf + LOW]! ^= dLo;
    this.leafHalves[2 * leaf + 1 - LOW]! ^= dHi;
    const group = leaf >>> 8;
    this.groupHalves[2 * group + LOW]! ^= dLo;
    this.groupHalves[2 * group + 1 - LOW]! ^= dHi;
    this.rootHalves[LOW]! ^= dLo;
    this.rootHalves[1 - LOW]! ^= dHi;
  }

  /** XOR `delta` into a leaf, its group and the root. */
  private flip(leaf: number, delta: bigint): void {
    this.leafHashes[leaf] = BigInt.asUintN(U64, this.leafHashes[leaf]! ^ delta);
    const group = leaf >>> 8;
    this.groupHashes[group] = BigInt.asUintN(U64, this.groupHashes[group]! ^ delta);
    this.root[0] = BigInt.asUintN(U64, this.root[0]! ^ delta);
  }

  /** The first index cell probed for a key of FNV hash `fnv` (Fibonacci hashing spreads FNV's weak low bits). */
  private home(fnv: number): number {
    return Math.imul(fnv, 0x9e3779b1) >>> this.indexShift;
  }

  /** The index cell holding `key`'s slot, or `~cell` of the empty cell where it would go. */
  private cellOf(fnv: number, key: string): number {
    const index = this.index;
    const mask = index.length - 1;
    const tag = foldToLeaf(fnv);
    for (let cell = this.home(fnv); ; cell = (cell + 1) & mask) {
      const slot = index[cell]!;
      if (slot === NONE) return ~cell;
      if (this.tags[slot] === tag && this.keys[slot] === key) return cell;
    }
  }

  /** Empty `cell`, moving later entries of its probe run back so that every key stays reachable. */
  private unindex(cell: number): void {
    const index = this.index;
    const mask = index.length - 1;
    let hole = cell;
    index[hole] = NONE;
    for (let at = (hole + 1) & mask; ; at = (at + 1) & mask) {
      const slot = index[at]!;
      if (slot === NONE) return;
      const home = this.home(fnv1a32(this.keys[slot]!));
      // The entry may fill the hole unless its home lies cyclically in (hole, at].
      const stays = hole <= at ? hole < home && home <= at : hole < home || home <= at;
      if (stays) continue;
      index[hole] = slot;
      index[at] = NONE;
      hole = at;
    }
  }

  /**
   * Make room for `capacity` keys in all, so that filling up to it grows nothing (a bulk pull about
   * how many keys come: growing key by key re-indexes and copies every key several times over).
   */
  reserve(capacity: number): void {
    const slots = Math.ceil(capacity);
    if (slots > this.hashes.length) this.growSlots(slots);
    const cells = 2 ** Math.ceil(Math.log2(slots / MAX_LOAD + 1));
    if (cells > this.index.length) this.reindex(cells);
  }

  /** Double the index and re-insert every slot. */
  private growIndex(): void {
    this.reindex(this.index.length * 2);
  }

  /**
   * A new index of `cells` cells (a larger power of two) with every slot re-inserted, in slot order:
   * the slot arrays (and mostly the key strings, made in about that order) are then read in turn,
   * where walking the leaves' chains reads them at random (6 M keys: 4.2 s, against 0.9).
   */
  private reindex(cells: number): void {
    const index = new Int32Array(cells).fill(NONE);
    this.index = index;
    this.indexShift = 32 - Math.log2(cells);
    const mask = index.length - 1;
    for (let slot = 0; slot < this.used; slot++) {
      if (this.next[slot]! < NONE) continue; // free
      let cell = this.home(fnv1a32(this.keys[slot]!));
      while (index[cell] !== NONE) cell = (cell + 1) & mask;
      index[cell] = slot;
    }
  }

  /** A free slot: a deleted key's, or a new one (the arrays grow by half when full). */
  private allocate(): number {
    const slot = this.free;
    if (slot !== NONE) {
      this.free = freeNext(this.next[slot]!);
      return slot;
    }
    if (this.used === this.hashes.length) this.growSlots(this.used + (this.used >>> 1));
    return this.used++;
  }

  /** The slot arrays, `slots` long (more than now). */
  private growSlots(slots: number): void {
    const keys = new Array<string>(slots).fill("");
    for (let slot = 0; slot < this.used; slot++) keys[slot] = this.keys[slot]!;
    this.keys = keys;
    this.places = grown(this.places, new Int32Array(slots));
    this.tags = grown(this.tags, new Uint16Array(slots));
    this.hashes = grown(this.hashes, new BigUint64Array(slots));
    this.halves = new Uint32Array(this.hashes.buffer);
    this.next = grown(this.next, new Int32Array(slots));
  }

  get(key: string): bigint | undefined {
    const cell = this.cellOf(fnv1a32(key), key);
    return cell < 0 ? undefined : this.hashes[this.index[cell]!]!;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Level 0: the 256 group hashes (a copy). */
  topLevel(): BigUint64Array {
    return this.groupHashes.slice();
  }

  /** Level 1: the 256 leaf hashes of `group` (a copy); index i is leaf `group * 256 + i`. */
  groupLevel(group: number): BigUint64Array {
    checkIndex(group, GROUPS, "group");
    const start = group * LEAVES_PER_GROUP;
    return this.leafHashes.slice(start, start + LEAVES_PER_GROUP);
  }

  /** The hash of one leaf. */
  leafHash(leaf: number): bigint {
    checkIndex(leaf, LEAVES, "leaf");
    return this.leafHashes[leaf]!;
  }

  /** Level 2: the [key, entry hash] pairs of one leaf, in no particular order. */
  leafKeys(leaf: number): [string, bigint][] {
    checkIndex(leaf, LEAVES, "leaf");
    const out: [string, bigint][] = [];
    for (let slot = this.heads[leaf]!; slot !== NONE; slot = this.next[slot]!) out.push([this.keys[slot]!, this.hashes[slot]!]);
    return out;
  }

  /** Level 2 for a bulk-pull page: the entries of one leaf, in no particular order, into `out` (reused). */
  listLeaf(leaf: number, out: LeafList): void {
    checkIndex(leaf, LEAVES, "leaf");
    let n = 0;
    for (let slot = this.heads[leaf]!; slot !== NONE; slot = this.next[slot]!) this.listAt(slot, out, n++);
    out.count = n;
  }

  /** How far `listSlots` goes: the slots handed out so far (free ones among them). */
  get positions(): number {
    return this.used;
  }

  /**
   * A store-order bulk-pull page's entries (see anti-entropy's RANGE_LEVEL): those of slots `from`
   * on, in slot order, whose group `groups` marks (non-zero), at most `max`, into `out` (reused);
   * returns the slot to go on from (`positions` or more: none left). Slots come in about the order
   * the keys (and their values) were made, so a listing reads memory in turn where leaf by leaf it
   * read it at random. A key keeps its slot until deleted: a listing resumed later misses only
   * keys added meanwhile to a slot before it (a deleted key's).
   */
  listSlots(from: number, groups: Uint8Array, max: number, out: LeafList): number {
    if (!Number.isInteger(from) || from < 0) throw new InvalidArgumentError(`a slot listing must start at an integer ≥ 0, got ${String(from)}`);
    let n = 0;
    let slot = from;
    for (; slot < this.used && n < max; slot++) {
      if (this.next[slot]! < NONE || groups[this.tags[slot]! >>> 8] === 0) continue; // free, or not asked for
      this.listAt(slot, out, n++);
    }
    out.count = n;
    return slot;
  }

  /** Put `slot`'s entry into `out` as its `n`-th. */
  private listAt(slot: number, out: LeafList, n: number): void {
    if (n === out.keys.length) out.grow();
    out.keys[n] = this.keys[slot]!;
    out.places[n] = this.places[slot]!;
    out.slots[n] = slot;
    out.hashes[2 * n] = this.halves[2 * slot + LOW]!;
    out.hashes[2 * n + 1] = this.halves[2 * slot + 1 - LOW]!;
  }

  /** Record a new place for the key listed at `slot` (see `LeafList.slots`: valid until the tree changes). */
  movePlace(slot: number, place: number): void {
    this.places[slot] = place;
  }

  /** Every [key, entry hash] pair, leaf by leaf. */
  *entries(): IterableIterator<[string, bigint]> {
    // Leaf by leaf, each listed whole before it is yielded (the caller may change the tree in
    // between); stops once every key was seen: most leaves of a small tree are empty.
    let left = this.count;
    for (let leaf = 0; leaf < LEAVES && left > 0; leaf++) {
      if (this.heads[leaf] === NONE) continue;
      const pairs = this.leafKeys(leaf);
      left -= pairs.length;
      yield* pairs;
    }
  }
}

/**
 * One leaf's entries as `DigestTree.listLeaf` lists them: parallel arrays, reused from leaf to leaf
 * (a page lists thousands of leaves), valid until the tree changes.
 */
export class LeafList {
  count = 0;
  // Small at first: it grows (doubling) to the largest leaf listed, once per list.
  keys: string[] = ["", ""];
  /** Where the caller keeps each key's value, as `set` was told (NO_PLACE: it was not). */
  places = new Int32Array(2);
  /** Each entry's slot in the tree (for `DigestTree.movePlace`). */
  slots = new Int32Array(2);
  /** Entry hashes as 32-bit halves, low first: entry i at 2i and 2i + 1; int32s (passed on, a number past 2^31 is a heap number each). */
  hashes = new Int32Array(4);

  grow(): void {
    const n = 2 * this.keys.length;
    for (let i = this.keys.length; i < n; i++) this.keys.push("");
    this.places = grown(this.places, new Int32Array(n));
    this.slots = grown(this.slots, new Int32Array(n));
    this.hashes = grown(this.hashes, new Int32Array(2 * n));
  }

  /** Put the entries in key order (code-unit order, as `<` compares strings). */
  sortByKey(): void {
    const n = this.count;
    const order = Array.from({ length: n }, (_, i) => i);
    const keys = this.keys;
    order.sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
    const sortedKeys = order.map((i) => keys[i]!);
    const places = Int32Array.from(order, (i) => this.places[i]!);
    const slots = Int32Array.from(order, (i) => this.slots[i]!);
    const hashes = new Int32Array(2 * n);
    order.forEach((from, to) => {
      hashes[2 * to] = this.hashes[2 * from]!;
      hashes[2 * to + 1] = this.hashes[2 * from + 1]!;
    });
    for (let i = 0; i < n; i++) keys[i] = sortedKeys[i]!;
    this.places.set(places);
    this.slots.set(slots);
    this.hashes.set(hashes);
  }
}

/** Whether `n` holds 32 bits as an int32 or a uint32. */
function isWord(n: number): boolean {
  return n === (n | 0) || n === n >>> 0;
}

/** The leaf of a key whose FNV-1a 32 hash is `h` (see `leafOf`). */
function foldToLeaf(h: number): number {
  return (h >>> 16) ^ (h & 0xffff);
}

/** `into`, holding a copy of `from` (`into` is the larger). */
function grown<T extends Int32Array | Uint16Array | BigUint64Array>(from: T, into: T): T {
  into.set(from as never);
  return into;
}

/** Indices where two hash vectors differ; a missing entry counts as 0 (an empty bucket). */
export function diffHashes(mine: ArrayLike<bigint>, theirs: ArrayLike<bigint>): number[] {
  const out: number[] = [];
  const n = Math.max(mine.length, theirs.length);
  for (let i = 0; i < n; i++) {
    if ((i < mine.length ? mine[i]! : 0n) !== (i < theirs.length ? theirs[i]! : 0n)) out.push(i);
  }
  return out;
}

function checkIndex(i: number, bound: number, what: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= bound) {
    throw new InvalidArgumentError(`${what} must be an integer in [0, ${bound}), got ${String(i)}`);
  }
}
