/**
 * Snapshot packs (src/wire/snapshot-packs.ts): what the hand writer writes is a SnapshotPack to
 * the schema's own decoder (ts-proto, generated from proto/crdt.proto), and the hand reader reads
 * a pack another encoder wrote (protobufjs, other field order), and rejects a broken one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as G from "../../gen/crdt.js";
import { GCounter, ORSet } from "../../src/crdt/index.js";
import { dataTypeOf, decodeValue, encodeValue, kindOf, PackWriter, readPack } from "../../src/wire/codec.js";

const values = [
  ["a", GCounter.empty().increment("n~1", 5).resetDelta()],
  ["ünï-кл", ORSet.empty<string>().add("n~1", "x").resetDelta()],
  ["k".repeat(300), GCounter.empty().resetDelta()], // a long key and an empty state (no data field)
] as const;

function read(bytes: Uint8Array): [string, number, Uint8Array][] {
  const out: [string, number, Uint8Array][] = [];
  readPack(bytes, (key, type, pack, start, end) => out.push([key, type, pack.slice(start, end)]));
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
  assert.throws(() => readPack(bytes.subarray(0, bytes.length - 1), () => visited++));
  assert.throws(() => readPack(Uint8Array.from([0x0a, 0x03, 0x0a, 0x01, 0xff]), () => visited++)); // key not UTF-8
  assert.equal(visited, 0);
});
