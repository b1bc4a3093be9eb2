/**
 * A bulk pull's page keeps plain GCounters undecoded (src/replicator/pulled-values.ts): only for
 * keys the store does not hold nor has deleted, while nobody listens for changes and no restore is
 * still decoding; every value reads as the page's, the digest is seeded with the page's hashes
 * either way, and the background decodes what nobody read once pages stop coming.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HybridClock } from "../../src/cluster/hlc.js";
import { GCounter, PNCounter } from "../../src/crdt/index.js";
import type { Crdt } from "../../src/crdt/types.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { ChangeStream } from "../../src/replicator/changes.js";
import { Merger } from "../../src/replicator/merge.js";
import { PulledValues } from "../../src/replicator/pulled-values.js";
import { Store } from "../../src/replicator/store.js";
import { StoreDigest } from "../../src/replicator/store-digest.js";
import { Subscriptions } from "../../src/replicator/subscriptions.js";
import { keyEntryHash } from "../../src/cluster/hashing.js";
import { RangePageWriter } from "../../src/wire/codec.js";
import { contentHash } from "../../src/wire/hash.js";
import { readDigestReply } from "../../src/wire/range-page-reader.js";
import { VirtualClock } from "../sim/virtual-clock.js";

const counter = (node: string, by: number): GCounter => GCounter.empty().increment(node, by).resetDelta();
const entryHash = (key: string, value: Crdt): bigint => keyEntryHash(key, contentHash(value));

function setup() {
  const clock = new VirtualClock(1_000_000);
  const store = new Store();
  const stats = new ReplicatorStats();
  const changes = new ChangeStream((e) => assert.fail(String(e)));
  const merger = new Merger(store, stats, new Subscriptions(() => {}), changes, "me", new HybridClock(() => clock.now(), 60_000), () => -Infinity);
  const pulled = new PulledValues({ store, clock, onCorrupt: () => stats.reject("decode") });
  merger.pulled = pulled;
  const digest = new StoreDigest(store, clock, (e) => assert.fail(String(e)));
  return { clock, store, stats, changes, merger, pulled, digest };
}

/** A page as a peer writes it (every value with its entry hash), read as a bulk pull reads it. */
function page(values: [string, Crdt][]) {
  const w = new RangePageWriter("peer~1");
  const sorted = [...values].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [key, value] of sorted) {
    const h = entryHash(key, value);
    w.value(key, value, Number(h & 0xffffffffn), Number(h >> 32n));
  }
  const reply = readDigestReply(w.finish(undefined));
  assert.ok(reply?.page !== undefined, "read into columns");
  return reply.page;
}

/** Merge `p` the way a bulk pull does (AntiEntropy.rangeStream): with the digest seeded from the page's hashes. */
function pull(s: ReturnType<typeof setup>, p: ReturnType<typeof page>): void {
  s.digest.mergeSeeded(p.keys.length, () => s.merger.fullState({ entries: [], tombstones: [], page: p }, "sync"), (take) => {
    for (let i = 0; i < p.keys.length; i++) if (p.values[i] !== undefined || p.undecoded[2 * i + 1]! > 0) take(p.keys[i]!, p.values[i], p.hashes[2 * i]!, p.hashes[2 * i + 1]!);
  });
}

describe("values a bulk pull keeps undecoded", () => {
  test("plain counters of new keys stay undecoded and read as sent; held, deleted, folded and other types are merged as ever", async () => {
    const s = setup();
    s.store.set("held", "gcounter", counter("me~1", 5), "local");
    s.store.addTombstone({ key: "gone", kind: "gcounter", deletedAtMs: 1, originNode: "x" }, "local");
    const sent: [string, Crdt][] = [
      ...Array.from({ length: 50 }, (_, i): [string, Crdt] => [`k${i}`, counter(`w${i % 3}~1`, i + 1).merge(counter("a~2", 7))]),
      ["held", counter("peer~1", 2)],
      ["gone", counter("peer~1", 3)],
      ["folded", GCounter.fromState({ slots: [{ node: "x^3", value: 4 }] })],
      ["pn", PNCounter.empty().increment("peer~1", 3).resetDelta()],
    ];
    const p = page(sent);
    pull(s, p);
    assert.equal(s.store.unsettled, 50, "the 50 plain counters of new keys, no other");
    for (let i = 0; i < 50; i++) assert.equal(typeof s.store.rawValue(`k${i}`), "number");
    assert.ok(s.store.rawValue("folded") instanceof GCounter && s.store.rawValue("pn") instanceof PNCounter);
    assert.deepEqual((s.store.value("held") as GCounter).toState(), counter("me~1", 5).merge(counter("peer~1", 2)).toState());
    assert.equal(s.store.value("gone"), undefined);
    assert.equal(s.stats.rejected.get("deleted-key"), 1);
    assert.equal(s.stats.mergeCount, 53, "every value taken counts as merged, kept or not");
    // The tree takes the page's hash of every key the page's value went into as it is (once the
    // seeds go in): only the key merged with what it held, and the deleted one, wait to be rehashed.
    await s.digest.settled();
    assert.equal(s.digest.pending, 2);
    for (const [key, value] of sent) if (key !== "gone" && key !== "held") assert.equal(s.digest.tree.get(key), entryHash(key, value), key);
    // Read one now: decoded once, and kept decoded.
    const k7 = s.store.value("k7");
    assert.ok(k7?.equals(sent[7]![1]));
    assert.equal(s.store.value("k7"), k7);
    assert.equal(s.store.unsettled, 49);
    for (const [key, value] of sent.slice(0, 50)) assert.ok(s.store.value(key)?.equals(value), key);
    assert.equal(s.store.unsettled, 0);
  });

  test("once pages stop coming, the background decodes what nobody read; a new page defers that", async () => {
    const s = setup();
    pull(s, page(Array.from({ length: 2_000 }, (_, i): [string, Crdt] => [`a${i}`, counter("w~1", i + 1)])));
    assert.equal(s.store.unsettled, 2_000);
    await s.clock.advance(150);
    pull(s, page(Array.from({ length: 2_000 }, (_, i): [string, Crdt] => [`b${i}`, counter("w~1", i + 1)])));
    await s.clock.advance(150);
    assert.equal(s.store.unsettled, 4_000, "not while pages come");
    await s.clock.advance(10_000);
    assert.equal(s.store.unsettled, 0);
    assert.ok(s.store.value("b1999")?.equals(counter("w~1", 2_000)));
    s.pulled.close();
  });

  test("with a listener for changes, every value is decoded and announced", async () => {
    const s = setup();
    const heard: string[] = [];
    s.changes.listen((c) => heard.push(c.key));
    pull(s, page([["a", counter("w~1", 1)], ["b", counter("w~1", 2)]]));
    assert.equal(s.store.unsettled, 0);
    assert.deepEqual(heard, ["a", "b"]);
    // Seeded from the page all the same: once the seeds are in, nothing is left to rehash.
    assert.equal(s.digest.seeding, true);
    await s.digest.settled();
    assert.equal(s.digest.pending, 0);
  });

  test("while a restore's values are still undecoded, a pull decodes what it gets", () => {
    const s = setup();
    s.store.deferTo({ decode: () => counter("r~1", 1) });
    s.store.setDeferred("restored", 0);
    pull(s, page([["a", counter("w~1", 1)]]));
    assert.equal(s.store.unsettled, 1, "the restore's only");
    assert.ok(s.store.rawValue("a") instanceof GCounter);
  });
});
