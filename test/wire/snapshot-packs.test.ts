/**
 * Snapshot packs (src/wire/snapshot-packs.ts): what the hand writer writes is a SnapshotPack to
 * the schema's own decoder (ts-proto, generated from proto/crdt.proto), and the hand reader reads
 * a pack another encoder wrote (protobufjs, other field order), and rejects a broken one. Digest
 * hashes stored with the values come back only under the hash definition they were written with.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as G from "../../gen/crdt.js";
import { GCounter, ORSet } from "../../src/crdt/index.js";
import { dataTypeOf, decodeValue, encodeValue, kindOf, PackWriter, readPack, storedHash } from "../../src/wire/codec.js";

const values = [
  ["a", GCounter.empty().increment("n~1", 5).resetDelta()],
  ["ünï-кл", ORSet.empty<string>().add("n~1", "x").resetDelta()],
  ["k".repeat(300), GCounter.empty().resetDelta()], // a long key and an empty state (no data field)
] as const;

function read(bytes: Uint8Array): [string, number, Uint8Array][] {
  const out: [string, number, Uint8Array][] = [];
  readPack(bytes, 1, (key, type, pack, start, end) => out.push([key, type, pack.slice(start, end)]));
  return out;
}

test("the hand-written pack is the schema's SnapshotPack, and reads back", () => {
  const w = new PackWriter();
  for (const [key, value] of values) w.add(key, value);
  assert.equal(w.count, 3);
  const bytes = w.finish();
  assert.equal(w.count, 0);
  const decoded = G.SnapshotPack.decode(bytes);
  assert.deepEqual(
    decoded.values.map((v) => [v.key, v.dataType, v.originNode, Uint8Array.from(v.data)]),
    values.map(([key, value]) => [key, dataTypeOf(value.kind), "", encodeValue(value)]),
  );
  const back = read(bytes);
  assert.deepEqual(back.map(([k]) => k), values.map(([k]) => k));
  for (const [i, [, type, data]] of back.entries()) assert.ok(decodeValue(kindOf(type), data).equals(values[i]![1] as never));
});

test("a pack written by another encoder (origin set, fields reordered) reads through the generic decoder", () => {
  const v = G.CRDTDelta.encode({ key: "b", dataType: 1, originNode: "someone", data: encodeValue(values[0][1]) }).finish();
  // data before key: valid protobuf the hand reader does not take
  const reordered = Uint8Array.from([0x22, 2, 0x0a, 0x00, 0x0a, 1, 0x63, 0x10, 1]);
  const pack = Uint8Array.from([0x0a, v.length, ...v, 0x0a, reordered.length, ...reordered]);
  assert.deepEqual(read(pack).map(([k, t]) => [k, t]), [["b", 1], ["c", 1]]);
});

test("a broken pack throws and visits nothing", () => {
  const w = new PackWriter();
  w.add("a", values[0][1]);
  const bytes = w.finish();
  let visited = 0;
  assert.throws(() => readPack(bytes.subarray(0, bytes.length - 1), 0, () => visited++));
  assert.throws(() => readPack(Uint8Array.from([0x0a, 0x03, 0x0a, 0x01, 0xff]), 0, () => visited++)); // key not UTF-8
  assert.equal(visited, 0);
});

/** Each value's key and digest hash as `readPack` hands them out under `version`. */
function hashes(bytes: Uint8Array, version: number): [string, bigint | undefined][] {
  const out: [string, bigint | undefined][] = [];
  readPack(bytes, version, (key, _type, _pack, _start, _end, hashes, at) => out.push([key, storedHash(hashes, at)]));
  return out;
}

test("digest hashes stored with the values come back under their version only", () => {
  const w = new PackWriter(7);
  w.add("a", values[0][1], 0xfedcba9876543210n);
  w.add(values[1][0], values[1][1]); // no hash known: stored as 0, read as none
  w.add(values[2][0], values[2][1], 1n);
  const bytes = w.finish();
  const decoded = G.SnapshotPack.decode(bytes);
  assert.equal(decoded.values.length, 3);
  assert.equal(decoded.digestVersion, 7);
  assert.equal(decoded.digestHashes.length, 24);
  assert.deepEqual(hashes(bytes, 7), [["a", 0xfedcba9876543210n], [values[1][0], undefined], [values[2][0], 1n]]);
  assert.deepEqual(hashes(bytes, 8), values.map(([k]) => [k, undefined]), "another hash definition's hashes are not used");
  // Re-encoded by the schema's encoder: the same hashes.
  const reencoded = G.SnapshotPack.encode({ digestHashes: decoded.digestHashes, digestVersion: 7, values: decoded.values }).finish();
  assert.deepEqual(hashes(reencoded, 7), hashes(bytes, 7));
  const reordered = Uint8Array.from([0x10, 7, ...G.SnapshotPack.encode({ values: decoded.values, digestVersion: 0, digestHashes: decoded.digestHashes }).finish()]);
  assert.deepEqual(hashes(reordered, 7), hashes(bytes, 7), "the version before the values: the generic decoder reads it");
  // A hash block of the wrong length is ignored, not misread.
  const short = G.SnapshotPack.encode({ values: decoded.values, digestVersion: 7, digestHashes: decoded.digestHashes.subarray(0, 16) }).finish();
  assert.deepEqual(hashes(short, 7), values.map(([k]) => [k, undefined]));
});

test("a pack without a known hash, or written without a version, stores no hash block", () => {
  const w = new PackWriter(7);
  w.add("a", values[0][1]);
  assert.equal(G.SnapshotPack.decode(w.finish()).digestHashes.length, 0);
  const old = new PackWriter();
  old.add("a", values[0][1], 5n);
  const bytes = old.finish();
  assert.equal(G.SnapshotPack.decode(bytes).digestVersion, 0);
  assert.deepEqual(hashes(bytes, 0), [["a", undefined]]);
});

test("packs of any size read back in turn and nested (the hand reader's records buffer grows, is kept between packs, and is lent to one read at a time)", () => {
  const packOf = (n: number, prefix: string): Uint8Array => {
    const w = new PackWriter(1);
    for (let i = 0; i < n; i++) w.add(`${prefix}${i}`, GCounter.empty().increment("n~1", i + 1).resetDelta(), BigInt(i + 1));
    return w.finish();
  };
  const keysOf = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const big = packOf(5000, "big-");
  const small = packOf(3, "s");
  for (const [bytes, n, prefix] of [[big, 5000, "big-"], [small, 3, "s"], [big, 5000, "big-"]] as const) {
    assert.deepEqual(hashes(bytes, 1), keysOf(n, prefix).map((k, i) => [k, BigInt(i + 1)]));
  }
  // A visitor that reads another pack while the outer read is under way.
  const outer: string[] = [];
  let inner: string[] = [];
  readPack(small, 1, (key) => {
    outer.push(key);
    if (key === "s0") inner = hashes(big, 1).map(([k]) => k);
  });
  assert.deepEqual(outer, keysOf(3, "s"));
  assert.deepEqual(inner, keysOf(5000, "big-"));
});
