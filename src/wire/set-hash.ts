/**
 * The content hashes of ORSets and GSets, defined so that they can be kept up to date in
 * O(change): a change to one element of a million-element set must not rehash the million (that
 * froze every replica for seconds per change).
 *
 *   entry(x)  = first 16 bytes of SHA-256 over the UTF-8 of
 *                 ORSet: "e" ‖ canonical(x) ‖ for each dot of x, sorted: len(node) ":" node counter ";"
 *                 GSet:  "g" ‖ canonical(x)
 *   sum       = Σ entry(x) over the elements, mod 2^128 (an order-free multiset hash)
 *   context   = (ORSet) for each writer id: len(node) ":" node vector ("/" lo "-" hi)* ";", these
 *               texts sorted (the compact context: vector entry, then the runs of its dot cloud)
 *   hash      = first 8 bytes (big-endian) of SHA-256 over
 *               0x01 ‖ DataType ‖ "set-sum:" ‖ hex(sum) ‖ ":" ‖ size ‖ ":" ‖ context
 *
 * A function of the state alone: entries are distinct elements, each hashed with its own dots, the
 * sum does not depend on order, and the context's compact form is canonical (causal.ts), so equal
 * states hash alike whatever history built them, on every node (SHA-256 and integer sums only).
 * Dots are inside each element's term, so a set where x holds dot (a,1) and y (a,2) differs from
 * one where they swap. Lengths prefix node ids and canonical encodings are self-delimiting, so no
 * two different entries or contexts share a text.
 *
 * Collisions: with SHA-256 per element the sum is the "MSet-Add-Hash" of Clarke et al.; two
 * different states collide with probability about 2^-64 (the final cut to 64 bits dominates).
 * An additive hash is not collision-resistant against someone who chooses many elements on purpose
 * (generalized-birthday attacks on the sum), which is no concern here: anti-entropy only uses it to
 * find keys whose replicas differ, and a writer able to craft elements can write anything anyway.
 *
 * Cost: the context part is O(writer ids + cloud runs), whatever the element count. The sum is
 * kept in a `SetDigest`; `advanceDigest` moves it to a later version of the same set by diffing
 * the two persistent maps (only the subtrees a change copied), ~1 µs per changed element. A first
 * digest walks every element (~1 µs each); `DigestJob` does that in slices.
 */
import { compareStrings, type DotList } from "../crdt/causal.js";
import { PMap } from "../crdt/pmap.js";
import type { GSet } from "../crdt/gset.js";
import type { ORSet } from "../crdt/orset.js";
import { sha256 } from "./sha256.js";
import { dataTypeOf } from "./states.js";
import type { Crdt } from "../crdt/types.js";

const VALUE_TAG = 0x01;
const TWO_32 = 2 ** 32;
/** Lane sums stay exact below 2^53: each add is < 2^32, so normalize at least every 2^20 adds. */
const ADDS_BEFORE_CARRY = 1 << 20;

/** Work done, for whoever wants to bound it (tests count hashed elements per change). */
export interface HashWork {
  /** Element entries hashed (an element that changed counts twice: its old and new entry). */
  entries: number;
}

/** The set types whose content hash is a sum over their elements. */
export type SummedSet = ORSet | GSet;

/** True for a value whose content hash is a sum over its elements (see `advanceDigest`). */
export function isSummedSet(value: Crdt): value is SummedSet {
  return value.kind === "orset" || value.kind === "gset";
}

/** The element sum of one version of a set (immutable). */
export interface SetDigest {
  /** The version it describes. */
  readonly value: SummedSet;
  /** Σ entry hashes mod 2^128, as four 32-bit lanes, most significant first. */
  readonly sum: readonly [number, number, number, number];
}

/** A 128-bit sum in four 32-bit lanes held as doubles, carried lazily. */
class Sum128 {
  private readonly lanes: [number, number, number, number];
  private pending = 0;

  constructor(start: readonly [number, number, number, number] = [0, 0, 0, 0]) {
    this.lanes = [...start];
  }

  /** Adds (sign 1) or subtracts (sign -1) the first 16 bytes of `digest`. */
  add(digest: Buffer, sign: 1 | -1): void {
    const l = this.lanes;
    l[0] += sign * digest.readUInt32BE(0);
    l[1] += sign * digest.readUInt32BE(4);
    l[2] += sign * digest.readUInt32BE(8);
    l[3] += sign * digest.readUInt32BE(12);
    if (++this.pending >= ADDS_BEFORE_CARRY) this.carry();
  }

  value(): [number, number, number, number] {
    this.carry();
    return [...this.lanes];
  }

  private carry(): void {
    const l = this.lanes;
    for (let i = 3; i > 0; i--) {
      const c = Math.floor(l[i]! / TWO_32);
      l[i]! -= c * TWO_32;
      l[i - 1]! += c;
    }
    l[0] = ((l[0] % TWO_32) + TWO_32) % TWO_32;
    this.pending = 0;
  }
}

/** The hash of one ORSet element with its dots (16 bytes used). */
function orsetEntryHash(element: string, dots: unknown): Buffer {
  let text = "e" + element;
  for (const d of dots as DotList) text += d.node.length + ":" + d.node + d.counter + ";";
  return sha256(text);
}

/** The hash of one GSet element (16 bytes used). */
function gsetEntryHash(element: string): Buffer {
  return sha256("g" + element);
}

/** What the sum of `value` runs over, and how one entry is hashed. */
function summed(value: SummedSet): { map: PMap<unknown>; entryHash: (key: string, v: unknown) => Buffer } {
  return value.kind === "orset" ? { map: value.dotMap, entryHash: orsetEntryHash } : { map: value.memberMap as PMap<unknown>, entryHash: gsetEntryHash };
}

/** The digest of `value`, walking every element (O(size)). */
export function fullDigest(value: SummedSet, work?: HashWork): SetDigest {
  const job = new DigestJob(value);
  return job.run(Infinity, work)!;
}

/**
 * A first digest done in slices: `run` hashes elements until the deadline (performance.now()
 * milliseconds) and returns the digest once every element is in.
 */
export class DigestJob {
  private readonly sum = new Sum128();
  private readonly entries: Generator<[string, unknown]>;
  private readonly entryHash: (key: string, v: unknown) => Buffer;

  constructor(readonly value: SummedSet) {
    const { map, entryHash } = summed(value);
    this.entries = map.entries();
    this.entryHash = entryHash;
  }

  run(deadline: number, work?: HashWork): SetDigest | undefined {
    let n = 0;
    for (;;) {
      const next = this.entries.next();
      if (next.done === true) break;
      const [element, v] = next.value;
      this.sum.add(this.entryHash(element, v), 1);
      n++;
      if ((n & 255) === 0 && performance.now() > deadline) {
        if (work !== undefined) work.entries += n;
        return undefined;
      }
    }
    if (work !== undefined) work.entries += n;
    return { value: this.value, sum: this.sum.value() };
  }
}

/**
 * The digest of `next` from the digest of an earlier version of the same set: only the elements
 * whose dots differ are hashed (old entry out, new entry in). O(changes) when `next` descends from
 * `prev.value` (shared structure); correct, at O(size), for any two sets.
 */
export function advanceDigest(prev: SetDigest, next: SummedSet, work?: HashWork): SetDigest {
  if (next === prev.value) return prev;
  if (next.kind !== prev.value.kind) return fullDigest(next, work);
  const { map, entryHash } = summed(next);
  const prevMap = summed(prev.value).map;
  if (map.sameAs(prevMap)) return { value: next, sum: prev.sum };
  const sum = new Sum128(prev.sum);
  let n = 0;
  PMap.diff(prevMap, map, (element, before, after) => {
    if (before !== undefined) {
      sum.add(entryHash(element, before), -1);
      n++;
    }
    if (after !== undefined) {
      sum.add(entryHash(element, after), 1);
      n++;
    }
  });
  if (work !== undefined) work.entries += n;
  return { value: next, sum: sum.value() };
}

/** The content hash of the set a digest describes (see the module comment). */
export function setContentHash(digest: SetDigest): bigint {
  const v = digest.value;
  const writers: string[] = [];
  if (v.kind === "orset") {
    v.context.forEachWriter((node, vector, runs) => {
      let text = node.length + ":" + node + vector;
      for (let i = 0; i < runs.length; i += 2) text += "/" + runs[i] + "-" + runs[i + 1];
      writers.push(text + ";");
    });
    writers.sort(compareStrings);
  }
  const hex = digest.sum.map((lane) => lane.toString(16).padStart(8, "0")).join("");
  const body = Buffer.from("set-sum:" + hex + ":" + v.size + ":" + writers.join(""), "utf8");
  const tagged = Buffer.allocUnsafe(2 + body.length);
  tagged[0] = VALUE_TAG;
  tagged[1] = dataTypeOf(v.kind);
  tagged.set(body, 2);
  return sha256(tagged).readBigUInt64BE(0);
}
