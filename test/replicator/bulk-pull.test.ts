/**
 * Bulk pull (digest level 3): a node with an empty store pulls whole leaf ranges of a peer's store
 * instead of walking the digest levels and naming every key. Two AntiEntropy instances over the
 * real wire codec, in process: pages that end inside a leaf resume after its last key, every reply
 * fits the payload limit, tombstones come along, the seeded digest tree equals a rehashed one, and
 * a peer that does not know level 3 (or answers nonsense) still gets the joiner everything through
 * the ordinary round.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { systemClock } from "../../src/clock.js";
import { GROUPS, leafOf } from "../../src/cluster/digest-tree.js";
import { GCounter, GSet } from "../../src/crdt/index.js";
import { AntiEntropy, FIRST_PAGE_BYTES, RANGE_LEVEL } from "../../src/replicator/anti-entropy.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { Store } from "../../src/replicator/store.js";
import {
  decodeNodeReply,
  decodeNodeRequest,
  encodeNodeReply,
  encodeNodeRequest,
  type FullState,
  type NodeReply,
  type NodeRequest,
  pageEntries,
} from "../../src/wire/codec.js";

const MAX_PAYLOAD = 4096;

interface Side {
  id: string;
  store: Store;
  stats: ReplicatorStats;
  ae: AntiEntropy;
}

function merge(store: Store, state: FullState): void {
  for (const t of state.tombstones) store.addTombstone({ ...t }, "remote");
  for (const d of [...state.entries, ...(state.page === undefined ? [] : pageEntries(state.page))]) {
    if (store.tombstone(d.key) !== undefined) continue;
    const current = store.get(d.key);
    const merged = current === undefined ? d.value : current.value.merge(d.value);
    if (current === undefined || merged !== current.value) store.set(d.key, d.kind, merged, "remote");
  }
}

/**
 * `a` and `b` (and `c`) ask each other over the wire codec; `intercept` may answer a request to
 * `peer` instead; `helpers` are the bulk pull's (AntiEntropyOptions.bulkHelpers); `pages` counts the
 * range pages each side answered.
 */
function pair(
  intercept?: (request: NodeRequest, peer: string) => NodeReply | undefined,
  helpers?: (peer: string) => string[],
  maxPayload = MAX_PAYLOAD,
): { a: Side; b: Side; c: Side; replySizes: number[]; pages: Map<string, number> } {
  const replySizes: number[] = [];
  const pages = new Map<string, number>();
  const sides = new Map<string, Side>();
  const make = (id: string): Side => {
    const store = new Store();
    const stats = new ReplicatorStats();
    const ae = new AntiEntropy({
      nodeId: id,
      store,
      stats,
      maxPayload,
      clock: systemClock,
      ask: async (peer, request) => {
        const req = decodeNodeRequest(encodeNodeRequest(request));
        const other = sides.get(peer)!;
        const forged = intercept?.(req, peer);
        if (forged !== undefined) return decodeNodeReply(encodeNodeReply(forged));
        let reply: NodeReply;
        if (req.type === "digest" && req.level === RANGE_LEVEL) {
          pages.set(peer, (pages.get(peer) ?? 0) + 1);
          // As the request server answers it: the page's own bytes.
          const bytes = other.ae.rangePage(req, undefined);
          replySizes.push(bytes.length);
          return decodeNodeReply(bytes);
        }
        if (req.type === "digest") reply = { type: "digest", ...other.ae.answer(req) };
        else if (req.type === "push") {
          merge(other.store, req);
          reply = { type: "write", ok: true, error: "" };
        } else throw new Error(`unexpected ${req.type}`);
        const bytes = encodeNodeReply(reply);
        replySizes.push(bytes.length);
        return decodeNodeReply(bytes);
      },
      merge: (state) => merge(store, state),
      onError: () => undefined,
      ...(helpers === undefined ? {} : { bulkHelpers: helpers }),
    });
    const side = { id, store, stats, ae };
    sides.set(id, side);
    return side;
  };
  return { a: make("a"), b: make("b"), c: make("c"), replySizes, pages };
}

/** `a` holds `n` counters, `counter-0` … (each a different value). */
function counters(a: Side, n: number): void {
  for (let i = 0; i < n; i++) a.store.set(`counter-${i}`, "gcounter", GCounter.empty().increment("a~1", i + 1).resetDelta(), "local");
}

/**
 * `b` joins from `a` with `c` as its helper, both holding the same 3,000 counters; `intercept`
 * sees (and may answer) every request. Returns once `b` holds what `a` does.
 */
async function joinWithHelper(intercept: (request: NodeRequest, peer: string) => NodeReply | undefined): Promise<Side> {
  const { a, b, c } = pair(intercept, () => ["c"]);
  counters(a, 3_000);
  counters(c, 3_000);
  assert.equal(await b.ae.sync("a", "join"), true);
  assertSameStores(a.store, b.store);
  return b;
}

/** `a` holds counters, a few fat sets that share one leaf (pages end inside it), and tombstones. */
function fill(a: Side): { keys: number; tombstones: number } {
  counters(a, 600);
  let keys = 600;
  const leaf = leafOf("fat-0");
  let fat = 0;
  for (let i = 0; fat < 6; i++) {
    const key = `fat-${i}`;
    if (leafOf(key) !== leaf) continue;
    let s = GSet.empty<string>();
    for (let e = 0; e < 12; e++) s = s.add("a~1", `${key}-element-${e}-${"x".repeat(60)}`);
    a.store.set(key, "gset", s.resetDelta(), "local");
    fat++;
    keys++;
  }
  a.store.set("gone-1", "gcounter", GCounter.empty().increment("a~1", 1).resetDelta(), "local");
  a.store.set("gone-2", "gcounter", GCounter.empty().increment("a~1", 1).resetDelta(), "local");
  a.store.addTombstone({ key: "gone-1", kind: "gcounter", deletedAtMs: 1_000, originNode: "a" }, "local");
  a.store.addTombstone({ key: "gone-2", kind: "gcounter", deletedAtMs: 2_000, originNode: "a" }, "local");
  return { keys, tombstones: 2 };
}

function assertSameStores(a: Store, b: Store): void {
  assert.equal(b.size, a.size);
  assert.equal(b.tombstoneCount, a.tombstoneCount);
  for (const [key, v] of a.entries()) assert.ok(b.get(key)?.value.equals(v.value), `value of ${key}`);
  for (const t of a.tombstones()) assert.deepEqual(b.tombstone(t.key), t);
}

describe("bulk pull", () => {
  test("an empty node pulls the peer's store in leaf-range pages that fit a message", async () => {
    const { a, b, replySizes } = pair();
    const { keys } = fill(a);
    assert.equal(await b.ae.sync("a", "join"), true);
    assertSameStores(a.store, b.store);
    assert.ok(b.stats.bulkPullKeys >= keys + 2, `every key came by bulk pull (${b.stats.bulkPullKeys})`);
    assert.ok(replySizes.every((n) => n <= MAX_PAYLOAD), `replies fit ${MAX_PAYLOAD} bytes: max ${Math.max(...replySizes)}`);
    assert.ok(replySizes.length > 10, "many pages");

    // The hashes taken from the peer equal our own: nothing differs, in either direction.
    const before = b.stats.bulkPullKeys;
    assert.equal(b.ae.pendingRehash, 0);
    assert.equal(await b.ae.sync("a", "manual"), true);
    assert.equal(await a.ae.sync("b", "manual"), true);
    assert.equal(b.stats.bulkPullKeys, before, "the second round is an ordinary one");
    assertSameStores(a.store, b.store);
  });

  test("each range stream asks for a small page first, then each twice the last, up to what a reply may hold", async () => {
    const maxPayload = 256 * 1024;
    const budget = Math.floor(maxPayload * 0.8);
    // Per stream (its first group): the page size each request asked for (undefined: the peer's limit).
    const asked = new Map<number, (number | undefined)[]>();
    const { a, b } = pair(
      (request) => {
        if (request.type === "digest" && request.level === RANGE_LEVEL) {
          const stream = request.buckets[0]!.bucket;
          asked.set(stream, [...(asked.get(stream) ?? []), request.pageBytes]);
        }
        return undefined;
      },
      undefined,
      maxPayload,
    );
    counters(a, 40_000);
    assert.equal(await b.ae.sync("a", "join"), true);
    assertSameStores(a.store, b.store);
    assert.equal(asked.size, 3, "three streams");
    for (const [stream, sizes] of asked) {
      const expected = sizes.map((_, i) => (FIRST_PAGE_BYTES * 2 ** i < budget ? FIRST_PAGE_BYTES * 2 ** i : undefined));
      assert.deepEqual(sizes, expected, `stream of group ${stream}`);
      assert.ok(sizes.length > 6, `stream of group ${stream} reached full pages (${sizes.length} pages)`);
    }
  });

  test("a range page holds about what was asked: the peer's limit at most, a floor at least", () => {
    const { a } = pair(undefined, undefined, 256 * 1024);
    counters(a, 40_000);
    const page = (pageBytes?: number): number =>
      a.ae.rangePage(
        { from: "b", level: RANGE_LEVEL, buckets: Array.from({ length: GROUPS }, (_, bucket) => ({ bucket, hash: 0n })), keys: [], bucket: 0, ...(pageBytes === undefined ? {} : { pageBytes }) },
        undefined,
      ).length;
    const full = page();
    assert.ok(full <= 256 * 1024 && full > 0.7 * 256 * 1024, `a page of the peer's own size: ${full} bytes`);
    assert.equal(page(10 * 1024 * 1024), full, "no larger than the peer's limit");
    const asked = page(64 * 1024);
    assert.ok(asked <= 64 * 1024 + 200 && asked > 60 * 1024, `a page of the asked size: ${asked} bytes`);
    const tiny = page(1);
    assert.ok(tiny <= FIRST_PAGE_BYTES + 200 && tiny > FIRST_PAGE_BYTES - 200, `a page no smaller than the floor: ${tiny} bytes`);
  });

  test("the joiner says it is catching up while its bulk pull runs, and only then", async () => {
    const during: boolean[] = [];
    const closing: boolean[] = [];
    const { a, b } = pair((request) => {
      if (request.type === "digest") during.push(request.level === RANGE_LEVEL && b.ae.catchingUp);
      if (request.type === "digest" && request.level !== RANGE_LEVEL && during.some(Boolean)) closing.push(b.ae.catchingUp);
      return undefined;
    });
    fill(a);
    assert.equal(b.ae.catchingUp, false);
    assert.equal(await b.ae.sync("a", "join"), true);
    assert.ok(during.filter(Boolean).length > 10, "every range page was asked while catching up");
    // The pages' hashes went into the tree before the closing round asked anything.
    assert.ok(closing.length > 0 && closing.every((c) => !c), `the closing round's requests: ${closing.join()}`);
    assert.equal(b.ae.catchingUp, false, "not after the bulk pull");
    assertSameStores(a.store, b.store);
  });

  test("what only the joiner holds is pushed by the closing ordinary round", async () => {
    const { a, b } = pair();
    fill(a);
    b.store.set("mine", "gcounter", GCounter.empty().increment("b~1", 7).resetDelta(), "local");
    assert.equal(await b.ae.sync("a", "join"), true);
    assert.equal((a.store.get("mine")?.value as GCounter | undefined)?.value, 7);
    assertSameStores(a.store, b.store);
  });

  test("a round in flight when its replica closes neither merges nor sends anything after the close", async () => {
    let closeB: () => void = () => undefined;
    let asked = 0;
    const { a, b } = pair((request) => {
      asked++;
      if (asked === 1) closeB(); // b closes while its first request is on its way
      return request.type === "push" ? assert.fail("a closed replica pushed its state") : undefined;
    });
    closeB = () => b.ae.stop();
    fill(a);
    b.store.set("mine", "gcounter", GCounter.empty().increment("b~1", 7).resetDelta(), "local");
    assert.equal(await b.ae.sync("a", "join"), false, "the round did not complete");
    assert.equal(asked, 1, "no request after the close");
    assert.equal(b.store.size, 1, "nothing merged after the close");
    assert.equal(a.store.get("mine"), undefined);
  });

  test("the round's peer and its helpers each answer a share of the pages", async () => {
    const { a, b, c, pages } = pair(undefined, () => ["c"]);
    fill(a);
    fill(c); // the same data, written alike
    assert.equal(await b.ae.sync("a", "join"), true);
    assertSameStores(a.store, b.store);
    const [fromA, fromC] = [pages.get("a") ?? 0, pages.get("c") ?? 0];
    assert.ok(fromA > 3 && fromC > 3, `pages from a: ${fromA}, from c: ${fromC}`);
    assert.equal(pages.get("b"), undefined);
    assert.equal(b.ae.pendingRehash, 0, "every value came with its hash");
    assert.equal(await b.ae.sync("c", "manual"), true);
    assert.equal(b.stats.bulkPullKeys, a.store.size + a.store.tombstoneCount, "each key was pulled once; the round with c is an ordinary one");
  });

  test("a page a helper does not answer is asked of the round's peer", async () => {
    const { a, b, pages } = pair(
      (request, peer) => (peer === "c" && request.type === "digest" ? { type: "error", error: "no" } : undefined),
      () => ["c"],
    );
    fill(a);
    assert.equal(await b.ae.sync("a", "join"), true);
    assertSameStores(a.store, b.store);
    assert.ok(b.stats.bulkPullKeys >= a.store.size, "by bulk pull, not the ordinary round");
    assert.ok((pages.get("a") ?? 0) > 10);
  });

  test("pages come in the replier's own order: each stream keeps to one member and goes on where its last page said", async () => {
    const asked: { stream: number; peer: string; storeOrder: boolean; resumeAt: number }[] = [];
    const b = await joinWithHelper((request, peer) => {
      if (request.type === "digest" && request.level === RANGE_LEVEL) {
        asked.push({ stream: request.buckets[0]!.bucket, peer, storeOrder: request.storeOrder === true, resumeAt: request.resumeAt ?? 0 });
      }
      return undefined;
    });
    assert.equal(b.stats.bulkPullKeys, 3_000, "each key pulled once");
    const streams = new Map<number, typeof asked>();
    for (const r of asked) streams.set(r.stream, [...(streams.get(r.stream) ?? []), r]);
    assert.equal(streams.size, 3);
    assert.deepEqual(new Set(asked.map((r) => r.peer)), new Set(["a", "c"]), "the peer and its helper answer");
    for (const [stream, requests] of streams) {
      assert.ok(requests.length > 3, `stream ${stream}: several pages`);
      assert.ok(requests.every((r) => r.storeOrder && r.peer === requests[0]!.peer), `stream ${stream}: in store order, from one member`);
      assert.equal(requests[0]!.resumeAt, 0);
      for (let i = 1; i < requests.length; i++) assert.ok(requests[i]!.resumeAt > requests[i - 1]!.resumeAt, `stream ${stream}: goes on forward`);
    }
  });

  test("a replier of an older release answers leaf by leaf: the stream goes on so, and brings everything", async () => {
    const orders: boolean[] = [];
    let peerA: AntiEntropy | undefined;
    const { a, b } = pair((request) => {
      if (request.type !== "digest" || request.level !== RANGE_LEVEL) return undefined;
      orders.push(request.storeOrder === true);
      // As a release before store order: the two fields unknown, so ignored.
      const { storeOrder: _o, resumeAt: _r, ...older } = request;
      return decodeNodeReply(peerA!.rangePage(older, undefined));
    });
    peerA = a.ae;
    const { keys, tombstones } = fill(a);
    assert.equal(await b.ae.sync("a", "join"), true);
    assertSameStores(a.store, b.store);
    assert.ok(b.stats.bulkPullKeys >= keys + tombstones, `every key came by bulk pull (${b.stats.bulkPullKeys})`);
    assert.deepEqual(orders.slice(0, 3), [true, true, true], "each stream first asks in store order");
    assert.ok(orders.length > 10 && orders.slice(3).every((o) => !o), "then leaf by leaf");
  });

  test("a helper that stops answering mid-stream: that stream begins again at the round's peer, and everything comes", async () => {
    let fromC = 0;
    const toA: { stream: number; resumeAt: number }[] = [];
    const b = await joinWithHelper((request, peer) => {
      if (request.type !== "digest" || request.level !== RANGE_LEVEL) return undefined;
      if (peer === "c" && ++fromC > 2) return { type: "error", error: "gone" };
      if (peer === "a") toA.push({ stream: request.buckets[0]!.bucket, resumeAt: request.resumeAt ?? 0 });
      return undefined;
    });
    assert.ok(b.stats.bulkPullKeys >= 3_000, "by bulk pull, not the ordinary round");
    assert.equal(new Set(toA.map((r) => r.stream)).size, 3, "the helper's stream went on at the peer");
    const starts = toA.filter((r) => r.resumeAt === 0).map((r) => r.stream);
    assert.equal(starts.length, 3, "every stream at the peer began at its start");
  });

  test("keys added and deleted at the replier while the pull runs: the joining round still ends equal", async () => {
    let pagesSeen = 0;
    const { a, b } = pair((request) => {
      if (request.type === "digest" && request.level === RANGE_LEVEL && ++pagesSeen === 4) {
        for (let i = 0; i < 300; i += 3) a.store.addTombstone({ key: `counter-${i}`, kind: "gcounter", deletedAtMs: 5_000, originNode: "a" }, "local");
        for (let i = 0; i < 200; i++) a.store.set(`late-${i}`, "gcounter", GCounter.empty().increment("a~1", 1).resetDelta(), "local");
      }
      return undefined;
    });
    counters(a, 2_000);
    assert.equal(await b.ae.sync("a", "join"), true);
    assert.ok(pagesSeen > 4);
    assertSameStores(a.store, b.store);
  });

  test("a store-order reply that does not advance stops the bulk pull; the ordinary round finishes", async () => {
    const { a, b } = pair((request) =>
      request.type === "digest" && request.level === RANGE_LEVEL
        ? { type: "digest", differing: [], keys: [{ key: "counter-1", hash: 0n }], wanted: [], state: { entries: [], tombstones: [] }, resumeAt: 5, positions: 10 }
        : undefined,
    );
    counters(a, 500);
    assert.equal(await b.ae.sync("a", "join"), true);
    assertSameStores(a.store, b.store);
  });

  test("a peer that does not know level 3 still gets the joiner everything", async () => {
    const { a, b } = pair((request) =>
      request.type === "digest" && request.level === RANGE_LEVEL ? { type: "error", error: "unknown digest level 3" } : undefined,
    );
    fill(a);
    assert.equal(await b.ae.sync("a", "join"), true);
    assert.equal(b.stats.bulkPullKeys, 0);
    assertSameStores(a.store, b.store);
  });

  test("a range reply that does not advance stops the bulk pull; the ordinary round finishes", async () => {
    const { a, b } = pair((request) =>
      request.type === "digest" && request.level === RANGE_LEVEL
        ? { type: "digest", differing: [request.bucket], keys: [], wanted: [], state: { entries: [], tombstones: [] } }
        : undefined,
    );
    fill(a);
    assert.equal(await b.ae.sync("a", "join"), true);
    assertSameStores(a.store, b.store);
  });
});
