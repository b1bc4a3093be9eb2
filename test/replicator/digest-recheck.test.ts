/**
 * A round whose peer is still hashing (a large set's first digest takes several slices) looks at
 * the opening again instead of shipping a set that perhaps differs in nobody's state but the
 * peer's stale hash; a peer that claims so forever holds the round up a bounded time only. Two
 * AntiEntropy instances over the real wire codec, in process, on virtual time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { groupOf, leafOf } from "../../src/cluster/digest-tree.js";
import { GCounter, GSet } from "../../src/crdt/index.js";
import { ReplicatorStats } from "../../src/extension/stats.js";
import { AntiEntropy } from "../../src/replicator/anti-entropy.js";
import { Store } from "../../src/replicator/store.js";
import { decodeNodeReply, decodeNodeRequest, encodeNodeReply, encodeNodeRequest, type DigestReply, type NodeReply, type NodeRequest } from "../../src/wire/codec.js";
import { VirtualClock } from "../sim/virtual-clock.js";

interface Side {
  store: Store;
  ae: AntiEntropy;
}

/** `x` asks `y`; `forge` may rewrite y's opening answers; `asked` counts y's requests by kind. */
function pair(clock: VirtualClock, forge?: (reply: DigestReply) => DigestReply): { x: Side; y: Side; asked: Map<string, number>; merges: () => number } {
  const asked = new Map<string, number>();
  let merges = 0;
  const sides = new Map<string, Side>();
  const make = (id: string): Side => {
    const store = new Store();
    const ae: AntiEntropy = new AntiEntropy({
      nodeId: id,
      store,
      stats: new ReplicatorStats(),
      maxPayload: 64 * 1024,
      clock,
      ask: async (peer, request) => {
        const req: NodeRequest = decodeNodeRequest(encodeNodeRequest(request));
        const other = sides.get(peer)!;
        const kind = req.type === "digest" ? `level-${req.level}` : req.type;
        asked.set(kind, (asked.get(kind) ?? 0) + 1);
        let reply: NodeReply;
        if (req.type === "digest") {
          const answer = other.ae.answer(req);
          reply = { type: "digest", ...(req.level === 0 && forge !== undefined ? forge(answer) : answer) };
        } else reply = { type: "write", ok: true, error: "" };
        return decodeNodeReply(encodeNodeReply(reply));
      },
      merge: () => merges++,
      onError: (e) => assert.fail(e as Error),
    });
    const side = { store, ae };
    sides.set(id, side);
    return side;
  };
  return { x: make("x"), y: make("y"), asked, merges: () => merges };
}

function counters(side: Side): void {
  for (let i = 0; i < 30; i++) side.store.set(`counter-${i}`, "gcounter", GCounter.empty().increment("w~1", i + 1).resetDelta(), "local");
}

test("a peer still hashing a large set is asked again until it is done: the equal set is not shipped", async () => {
  const clock = new VirtualClock(1_000_000);
  const { x, y, asked, merges } = pair(clock);
  try {
    // Its first digest walks 20,000 elements: several 8 ms slices on any machine.
    let set = GSet.empty<string>();
    for (let i = 0; i < 20_000; i++) set = set.add("w~1", `element-${i}`);
    counters(x);
    counters(y);
    x.store.set("big", "gset", set.resetDelta(), "local");
    // y has just received the same set: its hash of it waits for writes to pause (200 ms). The
    // round hashes x's own at its start.
    y.store.set("big", "gset", set.resetDelta(), "remote");
    const round = x.ae.sync("y", "periodic");
    assert.ok(await clock.settles(round, 3_000), "the round ended");
    assert.equal(await round, true);
    assert.ok((asked.get("level-0") ?? 0) >= 2, "y was still hashing at the first opening");
    assert.equal(asked.get("push") ?? 0, 0, "x pushed nothing");
    assert.equal(asked.get(`level-2`) ?? 0, 0, "x fetched nothing");
    assert.equal(merges(), 0);
  } finally {
    x.ae.stop();
    y.ae.stop();
  }
});

test("a peer that says it is hashing forever holds a round up a bounded time, then the round goes on", async () => {
  const clock = new VirtualClock(1_000_000);
  const group = groupOf(leafOf("counter-0"));
  // Every opening: counter-0's group differs, and y is still hashing it.
  const { x, y, asked } = pair(clock, (reply) => ({ ...reply, differing: [group], hashing: [group] }));
  try {
    counters(x);
    counters(y);
    const started = clock.now();
    const round = x.ae.sync("y", "periodic");
    assert.ok(await clock.settles(round, 10_000), "the round ended");
    assert.equal(await round, true);
    assert.ok(clock.now() - started <= 2_500, `held up ${clock.now() - started} ms`);
    assert.equal(asked.get("level-0"), 21, "the opening and 20 looks again");
    assert.equal(asked.get("level-1"), 1, "then the round descended into the group (and found it equal)");
  } finally {
    x.ae.stop();
    y.ae.stop();
  }
});
