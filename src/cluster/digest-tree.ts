/**
 * The anti-entropy digest tree: key → 64-bit entry hash (see `keyEntryHash`), bucketed into
 * 65,536 leaves grouped 256 per group. A bucket's hash is the XOR of its members' hashes, so a set,
 * overwrite or delete is O(1): XOR the old hash out, the new one in — a 1 M-key store pays about
 * a microsecond or two per change (two small-map lookups and three XORs), never a rebuild.
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
  const h = fnv1a32(key);
  return (h >>> 16) ^ (h & 0xffff);
}

/** The group a leaf belongs to. */
export function groupOf(leaf: number): number {
  return leaf >>> 8;
}

export class DigestTree {
  private readonly leafHashes = new BigUint64Array(LEAVES);
  private readonly groupHashes = new BigUint64Array(GROUPS);
  // One map per non-empty leaf is both the key → hash store and the leaf → keys index. Leaves
  // stay small (~15 keys at 1 M keys), so listing a leaf is cheap and no second index is needed.
  private readonly leaves: (Map<string, bigint> | undefined)[] = new Array(LEAVES);
  // The root lives in a typed array too: a bigint field would allocate on every update.
  private readonly root = new BigUint64Array(1);
  private count = 0;

  /** A tree over `entries` (key → entry hash); later duplicates of a key overwrite earlier ones. */
  static from(entries: Iterable<readonly [string, bigint]>): DigestTree {
    const tree = new DigestTree();
    for (const [key, hash] of entries) tree.set(key, hash);
    return tree;
  }

  /** Number of keys. */
  get size(): number {
    return this.count;
  }

  /** XOR of every entry hash: equal trees have equal roots (a cheap "anything to do?" check). */
  get rootHash(): bigint {
    return this.root[0]!;
  }

  /** Insert or overwrite `key` with `hash`, an unsigned 64-bit bigint (see `keyEntryHash`). */
  set(key: string, h: bigint): void {
    if (typeof key !== "string") throw new InvalidArgumentError("digest key must be a string");
    // Validated, not truncated: storing the caller's bigint as is avoids an allocation per update.
    if (typeof h !== "bigint" || h < 0n || h > MAX_U64) {
      throw new InvalidArgumentError("digest hash must be an unsigned 64-bit bigint");
    }
    const leaf = leafOf(key);
    let bucket = this.leaves[leaf];
    if (bucket === undefined) {
      bucket = new Map();
      this.leaves[leaf] = bucket;
    }
    const old = bucket.get(key);
    if (old === h) return;
    bucket.set(key, h);
    if (old === undefined) this.count++;
    // XOR out the old hash (0 when absent) and XOR in the new one, at every level.
    this.flip(leaf, old === undefined ? h : BigInt.asUintN(U64, old ^ h));
  }

  /** Remove `key`; returns whether it was present. */
  delete(key: string): boolean {
    const leaf = leafOf(key);
    const bucket = this.leaves[leaf];
    const old = bucket?.get(key);
    if (bucket === undefined || old === undefined) return false;
    bucket.delete(key);
    if (bucket.size === 0) this.leaves[leaf] = undefined; // empty leaves cost no Map
    this.count--;
    this.flip(leaf, old);
    return true;
  }

  /** XOR `delta` into a leaf, its group and the root. */
  private flip(leaf: number, delta: bigint): void {
    this.leafHashes[leaf] = BigInt.asUintN(U64, this.leafHashes[leaf]! ^ delta);
    const group = leaf >>> 8;
    this.groupHashes[group] = BigInt.asUintN(U64, this.groupHashes[group]! ^ delta);
    this.root[0] = BigInt.asUintN(U64, this.root[0]! ^ delta);
  }

  get(key: string): bigint | undefined {
    return this.leaves[leafOf(key)]?.get(key);
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
    const bucket = this.leaves[leaf];
    return bucket === undefined ? [] : [...bucket];
  }

  /** The keys of one leaf, in no particular order. */
  keysInLeaf(leaf: number): string[] {
    checkIndex(leaf, LEAVES, "leaf");
    const bucket = this.leaves[leaf];
    return bucket === undefined ? [] : [...bucket.keys()];
  }

  /** Every [key, entry hash] pair, leaf by leaf. */
  *entries(): IterableIterator<[string, bigint]> {
    // Indexed scan that stops once every key was seen: most leaves of a small tree are empty.
    let left = this.count;
    for (let leaf = 0; leaf < LEAVES && left > 0; leaf++) {
      const bucket = this.leaves[leaf];
      if (bucket === undefined) continue;
      left -= bucket.size;
      yield* bucket;
    }
  }
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
