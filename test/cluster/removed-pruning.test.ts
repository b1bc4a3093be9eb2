/**
 * When the leader may fold the ids of a removed node (src/cluster/pruning.ts `removedToFold`): only
 * the data center's leader, only with the delay on, after the node stayed away that long, every
 * member reachable and in the agreed membership, a digest round with each ended after the removal + the settle delay, and
 * after this node became the leader + the settle delay (an earlier leader's absorption reaches it
 * first: absorbing twice would count twice), and only on a side holding a majority of
 * `minClusterSize` (each side of a partition elects a leader). The table of removed nodes is bounded.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { MAX_REMOVED_NODES, RemovedNodes, removedToFold, type RemovedFoldReadiness } from "../../src/cluster/pruning.js";
import type { Member } from "../../src/cluster/membership.js";
import { fcParams } from "../crdt/laws.js";

const base: RemovedFoldReadiness = {
  now: 100_000,
  delayMs: 50_000,
  settleMs: 2_000,
  isLeader: true,
  removed: new Map([["x", 10_000]]),
  peers: [
    { node: "a", reachable: true, agreed: true },
    { node: "b", reachable: true, agreed: true },
  ],
  roundsEnded: new Map([
    ["a", 12_000],
    ["b", 90_000],
  ]),
  leaderSinceMs: 0,
};

describe("removedToFold", () => {
  test("leader, delay passed, every member synced after removal + settle: fold", () => {
    assert.deepEqual(removedToFold(base), ["x"]);
  });

  test("off, not the leader, too soon, a round from before removal + settle, an unreachable member, or the node back: no fold", () => {
    assert.deepEqual(removedToFold({ ...base, delayMs: 0 }), []);
    assert.deepEqual(removedToFold({ ...base, isLeader: false }), []);
    assert.deepEqual(removedToFold({ ...base, now: 59_999 }), []);
    assert.deepEqual(removedToFold({ ...base, roundsEnded: new Map([["a", 11_999], ["b", 90_000]]) }), []);
    assert.deepEqual(removedToFold({ ...base, roundsEnded: new Map([["a", 90_000]]) }), []);
    assert.deepEqual(removedToFold({ ...base, peers: [{ node: "a", reachable: true, agreed: true }, { node: "b", reachable: false, agreed: true }] }), []);
    assert.deepEqual(removedToFold({ ...base, peers: [...base.peers, { node: "x", reachable: true, agreed: true }] }), []);
  });

  test("a member seen but not in the agreed membership (an older one rejoining may be leading in its own view): no fold", () => {
    assert.deepEqual(removedToFold({ ...base, peers: [{ node: "a", reachable: true, agreed: false }, { node: "b", reachable: true, agreed: true }] }), []);
  });

  test("a leader folds only with a majority of minClusterSize on its side: the other side of a partition elects a leader too", () => {
    assert.deepEqual(removedToFold({ ...base, minMembers: 5 }), ["x"], "3 of 5");
    assert.deepEqual(removedToFold({ ...base, minMembers: 6 }), [], "3 of 6 is no majority");
    assert.deepEqual(removedToFold({ ...base, peers: [{ node: "a", reachable: true, agreed: true }], minMembers: 5 }), [], "2 of 5");
    assert.deepEqual(removedToFold({ ...base, peers: [{ node: "a", reachable: true, agreed: true }], minMembers: 3 }), ["x"], "2 of 3");
  });

  test("a new leader folds only after a round with each member that ended settleMs after it took the lead", () => {
    assert.deepEqual(removedToFold({ ...base, leaderSinceMs: 10_001 }), [], "a's round ended before 10,001 + 2,000");
    assert.deepEqual(removedToFold({ ...base, leaderSinceMs: 10_000 }), ["x"]);
    assert.deepEqual(removedToFold({ ...base, leaderSinceMs: 95_000 }), []);
  });

  test("property: a fold implies leader, a majority of minClusterSize, delay passed and every member reachable and synced after removal + settle", () => {
    const arb = fc.record({
      now: fc.integer({ min: 0, max: 100 }),
      delayMs: fc.integer({ min: 0, max: 50 }),
      settleMs: fc.integer({ min: 0, max: 20 }),
      isLeader: fc.boolean(),
      removedAt: fc.dictionary(fc.constantFrom("x", "y", "a"), fc.integer({ min: 0, max: 100 })),
      peers: fc.uniqueArray(fc.record({ node: fc.constantFrom("a", "b", "c"), reachable: fc.boolean(), agreed: fc.boolean() }), { selector: (p) => p.node }),
      rounds: fc.dictionary(fc.constantFrom("a", "b", "c"), fc.integer({ min: 0, max: 100 })),
      leaderSinceMs: fc.integer({ min: 0, max: 100 }),
      minMembers: fc.integer({ min: 1, max: 7 }),
    });
    fc.assert(
      fc.property(arb, (r) => {
        const input: RemovedFoldReadiness = { ...r, removed: new Map(Object.entries(r.removedAt)), roundsEnded: new Map(Object.entries(r.rounds)) };
        for (const node of removedToFold(input)) {
          const at = r.removedAt[node]!;
          assert.ok(r.isLeader && r.delayMs > 0 && r.now - at >= r.delayMs);
          assert.ok(2 * (1 + r.peers.length) > r.minMembers, "a majority of minClusterSize on its side");
          assert.ok(!r.peers.some((p) => p.node === node));
          for (const p of r.peers) assert.ok(p.reachable && p.agreed && (r.rounds[p.node] ?? -Infinity) >= Math.max(at, r.leaderSinceMs) + r.settleMs);
        }
      }),
      fcParams(),
    );
  });
});

describe("RemovedNodes", () => {
  test("remembers removals until the node is back, at most MAX_REMOVED_NODES, oldest dropped", () => {
    const t = new RemovedNodes();
    t.removed("x", 5);
    t.removed("y", 6);
    t.back("x");
    assert.deepEqual([...t.entries], [["y", 6]]);
    for (let i = 0; i < MAX_REMOVED_NODES + 10; i++) t.removed(`n${i}`, 100 + i);
    assert.equal(t.entries.size, MAX_REMOVED_NODES);
    assert.ok(!t.entries.has("y") && !t.entries.has("n9") && t.entries.has("n10"));
  });

  test("a removal a peer relays is remembered from when it was first heard; relayed again, its time stays", () => {
    const t = new RemovedNodes();
    t.relayed("x", 5);
    t.relayed("x", 9);
    t.removed("y", 6);
    t.relayed("y", 7);
    assert.deepEqual([...t.entries], [["x", 5], ["y", 6]]);
  });

  test("relays only the removed nodes the last store scan still found ids of, a new one until a scan says otherwise, at most `limit`", () => {
    const t = new RemovedNodes();
    t.removed("x", 1);
    t.removed("y", 2);
    assert.deepEqual(t.unpruned(10), ["x", "y"], "not scanned yet: relayed (a prune tick may be minutes away)");
    t.scanned(new Set(["y"]));
    assert.deepEqual(t.unpruned(10), ["y"], "x's ids are folded here: no more to tell");
    t.relayed("z", 3);
    assert.deepEqual(t.unpruned(10), ["y", "z"]);
    assert.deepEqual(t.unpruned(1), ["y"], "the earliest removed first");
    t.removed("x", 4);
    assert.deepEqual(t.unpruned(10), ["y", "z", "x"], "removed again: held until scanned");
    t.back("y");
    t.scanned(new Set(["y", "z"]));
    assert.deepEqual(t.unpruned(10), ["z"], "a node back is no departure, whatever a scan found");
  });

  test("membership events: leaves and votes are remembered, restarts and forgotten newcomers are not, a member heard again is back", () => {
    const member = (node: string): Member => ({ node, dataCenter: "dc1", roles: [], reachable: false, startedAtMs: 0, incarnation: 1, self: false, counted: false });
    const t = new RemovedNodes();
    t.note({ type: "removed", member: member("left"), reason: "left" }, 1);
    t.note({ type: "removed", member: member("voted"), reason: "timeout" }, 2);
    t.note({ type: "removed", member: member("restarted"), reason: "restarted" }, 3);
    t.note({ type: "removed", member: member("newcomer"), reason: "timeout", newcomer: true }, 4);
    assert.deepEqual([...t.entries], [["left", 1], ["voted", 2]], "a node cut off as the cluster formed must not absorb the ids of members that are alive");
    t.note({ type: "joined", member: member("left") }, 5);
    assert.deepEqual([...t.entries], [["voted", 2]]);
  });
});
