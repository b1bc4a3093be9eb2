/**
 * One anti-entropy round between a requester and a replier, as pure steps over their digest trees.
 * The shapes mirror proto DigestRequest / DigestReply (the shell adds `from` and does the I/O):
 *
 *   requester                                   replier
 *   openRound(): level 0, 256 group hashes  →   answerDigest(): differing groups
 *   nextStep():  level 1, the 256 leaf hashes
 *                of ≤ maxGroupsPerRequest
 *                differing groups (one request
 *                per slice)                  →   answerDigest(): differing leaves + its keys there
 *   nextStep():  final KeyDiff for those groups
 *
 * Two round trips whatever the store size; the bytes are O(differing groups), not O(keys). The
 * replier is stateless (each request carries what it needs), so replies may be lost or retried, and
 * both trees may change mid-round: a stale answer only makes that round's diff slightly off, and the
 * next round corrects it. Both directions are repaired from one diff: the requester pushes
 * `theyLack` and `differ`, and pulls `iLack` and `differ` (CRDT merge makes the double transfer safe).
 *
 * Level-1 requests list every leaf of each group, zero hashes included, so the replier knows which
 * groups were covered (proto3 encodes a zero entry in a few bytes).
 */
import { InvalidArgumentError } from "../errors.js";
import {
  DigestTree,
  GROUPS,
  LEAVES,
  LEAVES_PER_GROUP,
  diffHashes,
  groupOf,
  leafOf,
} from "./digest-tree.js";

export const GROUP_LEVEL = 0;
export const LEAF_LEVEL = 1;

export interface BucketHash {
  readonly bucket: number;
  readonly hash: bigint;
}

export interface KeyHash {
  readonly key: string;
  readonly hash: bigint;
}

export interface DigestRequest {
  /** 0: `buckets` are group hashes; 1: `buckets` are leaf hashes (global leaf index). */
  readonly level: typeof GROUP_LEVEL | typeof LEAF_LEVEL;
  readonly buckets: readonly BucketHash[];
}

export interface DigestReply {
  /** Level 0: the groups that differ. Level 1: the leaves that differ. */
  readonly differing: readonly number[];
  /** Level 1 only: the replier's entries in every differing leaf. */
  readonly keys: readonly KeyHash[];
}

/** What the round found, from the requester's point of view. */
export interface KeyDiff {
  /** Keys the requester has and the replier lacks: push them. */
  readonly theyLack: string[];
  /** Keys the replier has and the requester lacks: pull them. */
  readonly iLack: string[];
  /** Keys both have with different hashes: exchange both ways and merge. */
  readonly differ: string[];
}

export type RoundStep =
  | { readonly kind: "requests"; readonly requests: DigestRequest[] }
  | { readonly kind: "diff"; readonly diff: KeyDiff };

export interface RoundOptions {
  /**
   * Groups per level-1 request (default 4). A level-1 reply carries the replier's keys of each
   * differing leaf — about keys/256 entries per fully differing group, ~170 KB at 1 M keys — so
   * size this with `groupsPerRequest` from the transport's maxPayload.
   */
  readonly maxGroupsPerRequest?: number;
}

const DEFAULT_MAX_GROUPS_PER_REQUEST = 4;
// Encoded cost of one KeyHash besides the key's bytes: field tags, lengths and the fixed64 hash.
const KEY_ENTRY_OVERHEAD_BYTES = 14;

/**
 * How many groups one level-1 request may cover so that its reply fits half of `maxPayload`
 * when every leaf differs, estimating the peer's key count by ours (replicas converge towards
 * the same keys). When the estimate is wrong (a far larger peer), the reply is too big and the
 * request fails: retry with `splitLeafRequest`.
 */
export function groupsPerRequest(treeSize: number, maxPayload: number, avgKeyBytes = 32): number {
  const perGroup = (Math.max(treeSize, 1) / GROUPS) * (avgKeyBytes + KEY_ENTRY_OVERHEAD_BYTES);
  return Math.min(GROUPS, Math.max(1, Math.floor(maxPayload / 2 / perGroup)));
}

/** Split a level-1 request into two covering half the groups each (one group cannot be split). */
export function splitLeafRequest(request: DigestRequest): DigestRequest[] {
  const groups = [...new Set(request.buckets.map((b) => groupOf(b.bucket)))].sort((a, b) => a - b);
  if (request.level !== LEAF_LEVEL || groups.length < 2) return [request];
  const firstHalf = new Set(groups.slice(0, Math.ceil(groups.length / 2)));
  return [
    { level: LEAF_LEVEL, buckets: request.buckets.filter((b) => firstHalf.has(groupOf(b.bucket))) },
    { level: LEAF_LEVEL, buckets: request.buckets.filter((b) => !firstHalf.has(groupOf(b.bucket))) },
  ];
}

/** The requester's first message: all 256 group hashes. */
export function openRound(tree: DigestTree): DigestRequest {
  const top = tree.topLevel();
  const buckets: BucketHash[] = [];
  for (let g = 0; g < GROUPS; g++) buckets.push({ bucket: g, hash: top[g]! });
  return { level: GROUP_LEVEL, buckets };
}

/** The replier's answer to a digest request. Throws InvalidArgumentError on a malformed request. */
export function answerDigest(tree: DigestTree, request: DigestRequest): DigestReply {
  if (request.level === GROUP_LEVEL) {
    const theirs = vectorOf(request.buckets, GROUPS, "group");
    return { differing: diffHashes(tree.topLevel(), theirs), keys: [] };
  }
  if (request.level === LEAF_LEVEL) {
    const byGroup = new Map<number, BigUint64Array>();
    for (const { bucket, hash } of request.buckets) {
      checkBucket(bucket, LEAVES, "leaf");
      const g = groupOf(bucket);
      let leaves = byGroup.get(g);
      if (leaves === undefined) {
        leaves = new BigUint64Array(LEAVES_PER_GROUP);
        byGroup.set(g, leaves);
      }
      leaves[bucket - g * LEAVES_PER_GROUP] = checkHash(hash);
    }
    const differing: number[] = [];
    const keys: KeyHash[] = [];
    for (const [g, theirs] of [...byGroup].sort((a, b) => a[0] - b[0])) {
      for (const i of diffHashes(tree.groupLevel(g), theirs)) {
        const leaf = g * LEAVES_PER_GROUP + i;
        differing.push(leaf);
        for (const [key, hash] of tree.leafKeys(leaf)) keys.push({ key, hash });
      }
    }
    return { differing, keys };
  }
  throw new InvalidArgumentError(`unknown digest level ${String(request.level)}`);
}

/**
 * The requester's next move after `reply` answered `sent`: level-1 requests for the differing
 * groups, or the final diff of the groups `sent` covered. Throws InvalidArgumentError when the reply
 * names buckets or keys outside what was asked (a confused or forged peer).
 */
export function nextStep(
  tree: DigestTree,
  sent: DigestRequest,
  reply: DigestReply,
  options: RoundOptions = {},
): RoundStep {
  const perRequest = options.maxGroupsPerRequest ?? DEFAULT_MAX_GROUPS_PER_REQUEST;
  if (!Number.isInteger(perRequest) || perRequest < 1) {
    throw new InvalidArgumentError("maxGroupsPerRequest must be an integer >= 1");
  }
  if (sent.level === GROUP_LEVEL) {
    const groups = [...new Set(reply.differing)].sort((a, b) => a - b);
    for (const g of groups) checkBucket(g, GROUPS, "group");
    if (groups.length === 0) return { kind: "diff", diff: emptyDiff() };
    const requests: DigestRequest[] = [];
    for (let i = 0; i < groups.length; i += perRequest) {
      requests.push(leafRequest(tree, groups.slice(i, i + perRequest)));
    }
    return { kind: "requests", requests };
  }
  if (sent.level === LEAF_LEVEL) return { kind: "diff", diff: leafDiff(tree, sent, reply) };
  throw new InvalidArgumentError(`unknown digest level ${String(sent.level)}`);
}

/** A level-1 request for `groups`: every leaf hash of each, zeros included. */
export function leafRequest(tree: DigestTree, groups: readonly number[]): DigestRequest {
  const buckets: BucketHash[] = [];
  for (const g of groups) {
    const leaves = tree.groupLevel(g);
    const base = g * LEAVES_PER_GROUP;
    for (let i = 0; i < LEAVES_PER_GROUP; i++) buckets.push({ bucket: base + i, hash: leaves[i]! });
  }
  return { level: LEAF_LEVEL, buckets };
}

/** Join diffs of disjoint slices of a round (e.g. the answers to several level-1 requests). */
export function concatDiffs(diffs: readonly KeyDiff[]): KeyDiff {
  const out = emptyDiff();
  for (const d of diffs) {
    out.theyLack.push(...d.theyLack);
    out.iLack.push(...d.iLack);
    out.differ.push(...d.differ);
  }
  return out;
}

function leafDiff(tree: DigestTree, sent: DigestRequest, reply: DigestReply): KeyDiff {
  const askedGroups = new Set(sent.buckets.map((b) => groupOf(b.bucket)));
  const leaves = new Set<number>();
  for (const leaf of reply.differing) {
    checkBucket(leaf, LEAVES, "leaf");
    if (!askedGroups.has(groupOf(leaf))) {
      throw new InvalidArgumentError(`digest reply names leaf ${leaf} outside the requested groups`);
    }
    leaves.add(leaf);
  }
  const theirs = new Map<string, bigint>();
  for (const { key, hash } of reply.keys) {
    if (typeof key !== "string" || !leaves.has(leafOf(key))) {
      throw new InvalidArgumentError("digest reply lists a key outside its differing leaves");
    }
    theirs.set(key, checkHash(hash));
  }
  const diff = emptyDiff();
  for (const leaf of leaves) {
    for (const [key, hash] of tree.leafKeys(leaf)) {
      const other = theirs.get(key);
      if (other === undefined) diff.theyLack.push(key);
      else if (other !== hash) diff.differ.push(key);
    }
  }
  for (const key of theirs.keys()) if (!tree.has(key)) diff.iLack.push(key);
  return diff;
}

function emptyDiff(): { theyLack: string[]; iLack: string[]; differ: string[] } {
  return { theyLack: [], iLack: [], differ: [] };
}

/** A dense vector from sparse bucket entries (absent = 0), validated. */
function vectorOf(buckets: readonly BucketHash[], length: number, what: string): BigUint64Array {
  const out = new BigUint64Array(length);
  for (const { bucket, hash } of buckets) {
    checkBucket(bucket, length, what);
    out[bucket] = checkHash(hash);
  }
  return out;
}

function checkBucket(i: number, bound: number, what: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= bound) {
    throw new InvalidArgumentError(`digest ${what} index out of range: ${String(i)}`);
  }
}

function checkHash(h: bigint): bigint {
  if (typeof h !== "bigint" || h < 0n || h > 0xffffffffffffffffn) {
    throw new InvalidArgumentError("digest hash must be an unsigned 64-bit bigint");
  }
  return h;
}
