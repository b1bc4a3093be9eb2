/**
 * When the digest tree catches up with changes (src/replicator/store-digest.ts): in the background
 * once writes pause — a burst's backlog is hashed after the burst, each key once — but no later
 * than about a second after the backlog began when writes never pause; an answer or a round still
 * hashes what is pending at once, and a large set's first digest that an answer could not finish
 * goes on at once. Virtual time: the delays are exact, nothing sleeps.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { keyEntryHash } from "../../src/cluster/hashing.js";
import { GCounter } from "../../src/crdt/gcounter.js";
import { GSet } from "../../src/crdt/gset.js";
import { Store } from "../../src/replicator/store.js";
import { StoreDigest } from "../../src/replicator/store-digest.js";
import { contentHash } from "../../src/wire/hash.js";
import { VirtualClock } from "../sim/virtual-clock.js";

function setup(): { store: Store; digest: StoreDigest; clock: VirtualClock; write: (key: string) => void; exact: () => void } {
  const clock = new VirtualClock(1_000_000);
  const store = new Store();
  const digest = new StoreDigest(store, clock, (e) => assert.fail(e as Error));
  const write = (key: string): void => {
    const v = (store.value(key) as GCounter | undefined) ?? GCounter.empty();
    store.set(key, "gcounter", v.increment("w~1", 1).resetDelta(), "local");
  };
  /** Every key's tree entry is its value's hash. */
  const exact = (): void => {
    for (const key of store.keys()) assert.equal(digest.hashOf(key), keyEntryHash(key, contentHash(store.value(key)!)), key);
  };
  return { store, digest, clock, write, exact };
}

test("a burst's backlog is hashed once the writes pause, not while they go on", async () => {
  const { store, digest, clock, write, exact } = setup();
  try {
    // 40 keys, one every 10 ms, then the same keys again (800 ms): nothing is hashed meanwhile.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 40; i++) {
        write(`k${i}`);
        await clock.advance(10);
        assert.equal(digest.pending, round === 0 ? i + 1 : 40, `hashed during the burst (round ${round}, key ${i})`);
      }
    }
    // Paused: within two delays (200 ms each) everything is hashed, and exactly.
    assert.ok(await clock.until(() => digest.pending === 0, 400), `still ${digest.pending} keys pending 400 ms after the burst`);
    exact();
    assert.equal(store.size, 40);
  } finally {
    digest.stop();
  }
});

test("writes that never pause: the backlog is still hashed about once a second", async () => {
  const { digest, clock, write } = setup();
  try {
    const start = clock.now();
    let hashedAt: number | undefined;
    for (let i = 0; i < 300 && hashedAt === undefined; i++) {
      write(`k${i % 50}`);
      await clock.advance(10);
      if (digest.hashOf("k0") !== undefined) hashedAt = clock.now() - start;
    }
    assert.ok(hashedAt !== undefined, "k0 was never hashed in 3 s of writes");
    assert.ok(hashedAt >= 1000 && hashedAt <= 1250, `k0 hashed ${hashedAt} ms after the writes began (expected about 1 s)`);
  } finally {
    digest.stop();
  }
});

test("an answer during a burst hashes the pending keys at once", async () => {
  const { digest, clock, write, exact } = setup();
  try {
    for (let i = 0; i < 30; i++) {
      write(`k${i}`);
      await clock.advance(10);
    }
    assert.equal(digest.pending, 30);
    digest.refreshForAnswer();
    assert.equal(digest.pending, 0);
    exact();
    write("k0");
    await digest.refreshAll(); // a round's refresh: at once too
    assert.equal(digest.pending, 0);
    exact();
  } finally {
    digest.stop();
  }
});

test("a large set's first digest that an answer left unfinished is named, and goes on at once instead of after the writes pause", async () => {
  const { store, digest, clock } = setup();
  try {
    // Its first digest walks 20,000 elements: several 8 ms slices on any machine.
    let set = GSet.empty<string>();
    for (let i = 0; i < 20_000; i++) set = set.add("w~1", `element-${i}`);
    store.set("big", "gset", set.resetDelta(), "remote");
    digest.refreshForAnswer();
    assert.deepEqual([...digest.hashing()], ["big"], "the answer's slice did not finish the digest");
    assert.equal(digest.hashOf("big"), undefined);
    // The change armed the 200 ms wait for writes to pause; the peer waiting for the hash does not wait that long.
    assert.ok(await clock.until(() => digest.pending === 0, 20), "still hashing 20 ms (virtual) after the answer");
    assert.deepEqual([...digest.hashing()], []);
    assert.equal(digest.hashOf("big"), keyEntryHash("big", contentHash(store.value("big")!)));
  } finally {
    digest.stop();
  }
});
