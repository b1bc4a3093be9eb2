/**
 * Stable 64-bit content hashes for anti-entropy.
 *
 * `contentHash(v)` = first 8 bytes (big-endian) of SHA-256 over
 *   0x01 ‖ DataType number ‖ encodeValue(v)        (the protobuf encoding of v.toState())
 * `tombstoneHash(t)` = the same over 0x02 ‖ encodeTombstone(t).
 *
 * States are canonically ordered (slots by node, elements by canonical encoding, dots by (node,
 * counter), contexts compacted) and the protobuf encoding of a given state is deterministic, so two
 * replicas holding equal states hash alike whatever history led there, and every node computes the
 * same hash. The leading tag keeps a value's hash and a tombstone's hash apart, and the DataType
 * keeps e.g. an empty GCounter and an empty GSet (both encode to zero bytes) apart.
 *
 * Cost (Node 20, x86-64 with SHA extensions, 2 shared vCPUs under load; `npx tsx bench/codec.ts`):
 * toState + encode + SHA-256 ≈ 4.5 µs for a small delta (12 B), 7.7 µs for an ORSet delta, 110 µs
 * for a 100-element ORSet (3.4 KB; mostly toState + encoding), 355 µs for a 100-key LWWMap (8 KB).
 * The SHA-256 part is ~2.4 µs small / ~12 µs per 5 KB with the one-shot `crypto.hash` (about 2×
 * faster than `createHash().update().digest()` on small inputs); MD5 and SHA-1 were not faster in
 * a way that matters, and node:crypto has no non-cryptographic hash. The usual value, a small
 * counter (GCounter or PNCounter), takes a shorter way to the same bytes and digest: its state written by hand into a
 * reused buffer (fast-encode.ts) and SHA-256 of such short inputs computed in JavaScript
 * (sha256.ts): ≈ 0.5 µs instead of ≈ 1.3 µs for a one-slot counter (same machine, same minute).
 *
 * Not memoized: the only hot caller (anti-entropy's digest refresh) hashes a key once per change,
 * i.e. each value object once, and a WeakMap entry per value cost ~67 heap bytes per key (measured
 * at 100k GCounter keys: 406 → 339 B/key per replica).
 *
 * ORSets and GSets are the exception to the formula above: their hash is an order-free sum of
 * per-element hashes (set-hash.ts), so that a large set's hash can follow a change in O(change).
 */
import type { Crdt, DataKind } from "../crdt/types.js";
import { encodeTombstone } from "./convert.js";
import { fullDigest, isSummedSet, setContentHash } from "./set-hash.js";
import { sha256Head64 } from "./sha256.js";
import { writeCounter } from "./fast-encode.js";
import type { Tombstone } from "./shapes.js";
import { dataTypeOf, decodeValue, encodeState } from "./states.js";

const VALUE_TAG = 0x01;
const TOMBSTONE_TAG = 0x02;

/** The hashed bytes are put together here (grown when a value needs more). */
let scratch = new Uint8Array(1024);

/** The hash of `tag0` ‖ `tag1` (unless undefined) ‖ `body`. */
function taggedHash(tag0: number, tag1: number | undefined, body: Uint8Array): bigint {
  const head = tag1 === undefined ? 1 : 2;
  if (scratch.length < head + body.length) scratch = new Uint8Array(2 * (head + body.length));
  scratch[0] = tag0;
  if (tag1 !== undefined) scratch[1] = tag1;
  scratch.set(body, head);
  return sha256Head64(scratch, head + body.length);
}

/**
 * The stable 64-bit content hash of a CRDT value (equal states ⇒ equal hashes, on every node).
 * A pending delta does not count.
 */
export function contentHash(value: Crdt): bigint {
  if (isSummedSet(value)) return setContentHash(fullDigest(value));
  const type = dataTypeOf(value.kind);
  // A counter is written straight after the tags (a changed key's usual rehash: no copy, no allocation).
  scratch[0] = VALUE_TAG;
  scratch[1] = type;
  const end = writeCounter(scratch, 2, value);
  return end >= 0 ? sha256Head64(scratch, end) : taggedHash(VALUE_TAG, type, encodeState(value.kind, value.toState()));
}

/**
 * The content hash of an already encoded value of `value.kind` (`encodeValue(value)`), to avoid
 * encoding twice when the bytes are at hand. Same result as `contentHash(value)`.
 */
export function contentHashOfEncoded(kind: DataKind, encoded: Uint8Array): bigint {
  if (kind === "orset" || kind === "gset") return contentHash(decodeValue(kind, encoded));
  return taggedHash(VALUE_TAG, dataTypeOf(kind), encoded);
}

/** The stable 64-bit hash of a tombstone (key, kind, deletion time, origin); domain-separated from value hashes. */
export function tombstoneHash(t: Tombstone): bigint {
  return taggedHash(TOMBSTONE_TAG, undefined, encodeTombstone(t));
}
