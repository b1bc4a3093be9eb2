// Bulk-pull pages written and read by hand (src/wire/range-pages.ts): the writer's bytes are the
// bytes the previous release's protobufjs encoder writes for the same reply (so either side may be
// either release), and the hand reader returns what the generic decoder returns, or leaves the
// bytes to it (non-ASCII keys, tombstones, bad states).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GCounter, GSet, PNCounter } from "../../src/crdt/index.js";
import { DecodeError } from "../../src/errors.js";
import { type Crdt } from "../../src/crdt/types.js";
import { decodeNodeReply, encodeNodeReply, encodeValue, RangePageWriter, type NodeReply, type Tombstone } from "../../src/wire/codec.js";
import { pageValue, readDigestReply } from "../../src/wire/range-page-reader.js";

type Item = { key: string; value: Crdt; hash: bigint } | { key: string; tombstone: Tombstone; hash: bigint };

const ORIGIN = "node-a";

/** The writer takes an entry hash as two 32-bit halves. */
const lo = (h: bigint): number => Number(h & 0xffffffffn);
const hi = (h: bigint): number => Number(h >> 32n);

function counter(i: number): GCounter {
  return GCounter.empty().increment("a~1", i + 1).increment(`writer-${i % 3}`, 2 ** 40 + i).resetDelta();
}

function items(): Item[] {
  const out: Item[] = [];
  for (let i = 0; i < 50; i++) out.push({ key: `k${i}`, value: counter(i), hash: BigInt(i) * 0x9e3779b97f4a7c15n % 2n ** 64n });
  out.push({ key: "set", value: GSet.empty<string>().add("a~1", "x").add("a~1", "y").resetDelta(), hash: 0n });
  out.push({ key: "pn", value: PNCounter.empty().increment("a~1", 5).decrement("b~2", 2).resetDelta(), hash: 2n ** 64n - 1n });
  out.push({ key: "empty", value: GCounter.empty(), hash: 7n });
  return out;
}

/** The page as the previous release built it: one object per key, encoded by protobufjs. */
function previousRelease(list: Item[], next: number | undefined): Uint8Array {
  const reply: NodeReply = {
    type: "digest",
    differing: next === undefined ? [] : [next],
    keys: list.map((i) => ({ key: i.key, hash: i.hash })),
    wanted: [],
    state: {
      entries: list.flatMap((i) => ("value" in i ? [{ key: i.key, kind: i.value.kind, originNode: ORIGIN, value: i.value, data: encodeValue(i.value) }] : [])),
      tombstones: list.flatMap((i) => ("tombstone" in i ? [i.tombstone] : [])),
    },
  };
  return encodeNodeReply(reply);
}

function written(list: Item[], next: number | undefined): Uint8Array {
  const w = new RangePageWriter(ORIGIN);
  for (const i of list) {
    if ("value" in i) w.value(i.key, i.value, lo(i.hash), hi(i.hash));
    else w.tombstone(i.tombstone, lo(i.hash), hi(i.hash));
  }
  return w.finish(next);
}

/** A reply with its values as states (values are compared by content; the hand reader leaves `data` out). */
/** A digest reply's fields as every reader sees them (a page read by hand makes `keys` and `state` when read). */
function plain(r: NodeReply): unknown {
  if (r.type !== "digest") return r;
  const { type, differing, keys, wanted, state } = r;
  return { type, differing, keys, wanted, state: state && { ...state, entries: state.entries.map(({ data: _data, ...e }) => ({ ...e, value: e.value.toState() })) } };
}

describe("range pages", () => {
  it("are byte for byte what the previous release writes, with and without a next leaf", () => {
    for (const next of [undefined, 0, 300, 65_535]) assert.deepEqual(written(items(), next), previousRelease(items(), next));
    assert.deepEqual(written([], undefined), previousRelease([], undefined), "an empty page");
    const withTombstones: Item[] = [...items(), { key: "gone", tombstone: { key: "gone", kind: "gcounter", deletedAtMs: 1234, originNode: "node-b" }, hash: 3n }];
    assert.deepEqual(written(withTombstones, 9), previousRelease(withTombstones, 9));
    const unicode: Item[] = [
      { key: "ключ-🔑", value: counter(1), hash: 1n },
      { key: "ascii-then-ключ", value: counter(2), hash: 2n ** 63n + 5n },
      { key: "k", value: counter(3), hash: 2n ** 32n },
    ];
    assert.deepEqual(written(unicode, undefined), previousRelease(unicode, undefined));
  });

  it("undo takes the last key back out", () => {
    const w = new RangePageWriter(ORIGIN);
    const list = items().slice(0, 3);
    for (const i of list) if ("value" in i) w.value(i.key, i.value, lo(i.hash), hi(i.hash));
    w.value("extra", counter(9), 1, 0);
    w.undo();
    assert.equal(w.count, 3);
    assert.deepEqual(w.finish(4), previousRelease(list, 4));
  });

  it("rewind takes everything added after a checkpoint back out", () => {
    const w = new RangePageWriter(ORIGIN);
    const list = items().slice(0, 2);
    for (const i of list) if ("value" in i) w.value(i.key, i.value, lo(i.hash), hi(i.hash));
    const mark = w.checkpoint();
    w.value("extra", counter(9), 1, 0);
    w.tombstone({ key: "gone", kind: "gcounter", deletedAtMs: 1, originNode: "b" }, 2, 0);
    w.keyOnly("large", 3, 0);
    w.rewind(mark);
    assert.equal(w.count, 2);
    assert.deepEqual(w.finish(undefined), previousRelease(list, undefined));
  });

  it("the hand reader returns a page in columns: a key listed without a value has none, each hash in halves, plain counters undecoded", () => {
    const w = new RangePageWriter(ORIGIN);
    const list = items();
    for (const [n, i] of list.entries()) {
      if (!("value" in i)) continue;
      if (n === 3) w.keyOnly(i.key, lo(i.hash), hi(i.hash)); // too large for a page: it goes another way
      else w.value(i.key, i.value, lo(i.hash), hi(i.hash));
    }
    const bytes = w.finish(12);
    const fast = readDigestReply(bytes);
    assert.ok(fast?.page !== undefined, "read into columns");
    const { keys, values, undecoded, hashes, originNode } = fast.page;
    assert.deepEqual(keys, list.map((i) => i.key));
    assert.equal(originNode, ORIGIN);
    for (const [n, i] of list.entries()) {
      assert.equal(hashes[2 * n]! >>> 0, lo(i.hash), `${i.key}: low half`);
      assert.equal(hashes[2 * n + 1]! >>> 0, hi(i.hash), `${i.key}: high half`);
      if (n === 3 || !("value" in i)) assert.equal(pageValue(fast.page, n), undefined);
      else {
        assert.ok(pageValue(fast.page, n)?.equals(i.value), `${i.key}: value`);
        // A GCounter of plain writer ids stays in the page's bytes until read; any other value (an empty counter too) is decoded.
        const plainCounter: boolean = i.value instanceof GCounter && i.value.nodes.length > 0;
        assert.equal(values[n] === undefined, plainCounter, `${i.key}: undecoded iff a plain counter`);
        assert.equal(undecoded[2 * n + 1]! > 0, plainCounter);
      }
    }
    assert.deepEqual(plain(fast), plain(decodeNodeReply(bytes)), "keys and state as the generic decoder makes them");
  });

  it("the hand reader returns what the generic decoder returns", () => {
    for (const next of [undefined, 17]) {
      const bytes = previousRelease(items(), next);
      const fast = readDigestReply(bytes);
      assert.ok(fast !== undefined, "the writer's shape is read by hand");
      assert.deepEqual(plain(fast), plain(decodeNodeReply(bytes)));
      assert.ok(fast.state!.entries.every((e) => e.originNode === ORIGIN));
    }
    // Entries in another order than the keys (not what the writer does, but a valid reply).
    const shuffled = decodeNodeReply(previousRelease(items(), 3));
    assert.ok(shuffled.type === "digest" && shuffled.state !== undefined);
    const reordered = encodeNodeReply({ ...shuffled, keys: [...shuffled.keys].reverse(), state: { ...shuffled.state, entries: [...shuffled.state.entries].reverse() } });
    const keysFirst = encodeNodeReply({ ...shuffled, keys: [...shuffled.keys].reverse() });
    assert.deepEqual(plain(readDigestReply(reordered)!), plain(decodeNodeReply(reordered)));
    // Entries in another order than the keys: valid, but not a page: the generic decoder reads it.
    assert.equal(readDigestReply(keysFirst), undefined);
    const generic = decodeNodeReply(keysFirst);
    assert.deepEqual(generic.type === "digest" ? generic.state?.entries.map((e) => e.key) : [], shuffled.state.entries.map((e) => e.key));
    // An ordinary digest reply (no state) too.
    const level1 = encodeNodeReply({ type: "digest", differing: [1, 2, 300], keys: [{ key: "a", hash: 5n }], wanted: [] });
    assert.deepEqual(readDigestReply(level1), { type: "digest", differing: [1, 2, 300], keys: [{ key: "a", hash: 5n }], wanted: [] });
  });

  it("a store-order page says where the next goes on and out of how many: read by hand as the generic decoder reads it", () => {
    for (const resume of [{ at: 1_234, positions: 99_999 }, { at: 0, positions: 70_000 }, { at: 2 ** 32 - 1, positions: 2 ** 32 - 1 }]) {
      const w = new RangePageWriter(ORIGIN);
      for (const i of items()) if ("value" in i) w.value(i.key, i.value, lo(i.hash), hi(i.hash));
      const bytes = w.finish(undefined, resume);
      const fast = readDigestReply(bytes);
      const generic = decodeNodeReply(bytes);
      assert.ok(fast !== undefined && generic.type === "digest", "read by hand");
      assert.deepEqual(plain(fast), plain(generic));
      const expected = { ...(resume.at > 0 ? { resumeAt: resume.at } : {}), positions: resume.positions };
      assert.deepEqual({ resumeAt: fast.resumeAt, positions: fast.positions }, { resumeAt: undefined, ...expected });
      assert.deepEqual({ resumeAt: generic.resumeAt, positions: generic.positions }, { resumeAt: undefined, ...expected });
    }
    // A reused writer starts each page empty.
    const w = new RangePageWriter(ORIGIN);
    w.value("x", counter(1), 1, 2);
    w.finish(undefined);
    w.reset();
    for (const i of items()) if ("value" in i) w.value(i.key, i.value, lo(i.hash), hi(i.hash));
    assert.deepEqual(w.finish(undefined), written(items().filter((i) => "value" in i), undefined));
  });

  it("leaves other shapes to the generic decoder, which decides", () => {
    const tomb: Item[] = [{ key: "gone", tombstone: { key: "gone", kind: "gcounter", deletedAtMs: 1, originNode: "b" }, hash: 0n }];
    const unicode: Item[] = [{ key: "ключ", value: counter(1), hash: 1n }];
    for (const list of [tomb, unicode]) {
      const bytes = previousRelease(list, undefined);
      assert.equal(readDigestReply(bytes), undefined);
      const r = decodeNodeReply(bytes);
      assert.equal(r.type, "digest");
      assert.equal(r.type === "digest" && r.keys[0]!.key, list[0]!.key);
    }
    const withWanted = encodeNodeReply({ type: "digest", differing: [], keys: [], wanted: ["x"], state: { entries: [], tombstones: [] } });
    assert.equal(readDigestReply(withWanted), undefined);
    assert.deepEqual(decodeNodeReply(withWanted), { type: "digest", differing: [], keys: [], wanted: ["x"], state: { entries: [], tombstones: [] } });
  });

  it("bad bytes are refused as the generic decoder refuses them (DecodeError), never half-read", () => {
    const good = written(items().slice(0, 2), 3);
    // A GCounter state with a slot value past 2^53 (valid protobuf, an invalid counter).
    const bad = new RangePageWriter(ORIGIN);
    bad.value("k", counter(1), 1, 0);
    const bytes = bad.finish(undefined);
    const data = encodeValue(counter(1));
    const at = Buffer.from(bytes).indexOf(Buffer.from(data));
    assert.ok(at > 0);
    const corrupt = bytes.slice();
    corrupt[at + data.length - 1] = 0xff; // the last varint byte now says "more follows"
    assert.equal(readDigestReply(corrupt), undefined);
    assert.throws(() => decodeNodeReply(corrupt), DecodeError);
    for (const cut of [1, 5, good.length - 1]) {
      const truncated = good.subarray(0, cut);
      assert.equal(readDigestReply(truncated), undefined);
      assert.throws(() => decodeNodeReply(truncated), DecodeError);
    }
  });
});
