/**
 * When a node may fold its retired writer ids (src/cluster/pruning.ts): only once a digest round
 * with every member ended after its start + the settle delay, every member reachable, and no other
 * live process with its node id heard; and in which keys (ownFoldDue), by how alone it is.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { foldWaitsFor, mayFoldRetired, type FoldReadiness } from "../../src/cluster/pruning.js";
import { ownFoldDue } from "../../src/replicator/pruner.js";
import { markedRank } from "../../src/crdt/writer-ids.js";
import { fcParams } from "../crdt/laws.js";

const base: FoldReadiness = {
  now: 10_000,
  startedAtMs: 1_000,
  settleMs: 2_000,
  peers: [
    { node: "a", reachable: true },
    { node: "b", reachable: true },
  ],
  roundsEnded: new Map([
    ["a", 3_000],
    ["b", 9_000],
  ]),
  duplicateHeard: false,
};

describe("mayFoldRetired", () => {
  test("every member synced after start + settle: fold", () => {
    assert.equal(mayFoldRetired(base), true);
    assert.deepEqual(foldWaitsFor(base), []);
  });

  test("a round that ended before start + settle does not count", () => {
    const r = { ...base, roundsEnded: new Map([["a", 2_999], ["b", 9_000]]) };
    assert.equal(mayFoldRetired(r), false);
    assert.deepEqual(foldWaitsFor(r), ["a"]);
  });

  test("an unreachable member, a member never synced, or a duplicate holder blocks the fold", () => {
    assert.equal(mayFoldRetired({ ...base, peers: [...base.peers, { node: "c", reachable: true }] }), false);
    assert.equal(mayFoldRetired({ ...base, peers: [{ node: "a", reachable: false }, base.peers[1]!] }), false);
    assert.equal(mayFoldRetired({ ...base, duplicateHeard: true }), false);
  });

  test("a node that knows fewer members than minClusterSize does not fold, synced with all it knows or not", () => {
    // Seed 20242089: n0 restarted while cut off from n1, n2 and n4, so it had heard only n3. Synced
    // with n3 alone it folded (and adopted) n0^inc in a key holding just its live slot (1), and
    // that fold id then dropped n0's older slot (5, acknowledged by a majority) held by n4.
    const cutOff: FoldReadiness = { ...base, peers: [{ node: "a", reachable: true }], roundsEnded: new Map([["a", 9_000]]) };
    assert.equal(mayFoldRetired({ ...cutOff, knownMembers: 2, minMembers: 5 }), false);
    assert.equal(mayFoldRetired({ ...cutOff, knownMembers: 4, minMembers: 5 }), false);
    assert.equal(mayFoldRetired({ ...base, knownMembers: 5, minMembers: 5 }), true);
    assert.equal(mayFoldRetired({ ...cutOff, knownMembers: 2, minMembers: 1 }), true); // default: no bound
  });

  test("alone: after the settle delay", () => {
    assert.equal(mayFoldRetired({ ...base, peers: [], now: 2_999 }), false);
    assert.equal(mayFoldRetired({ ...base, peers: [], now: 3_000 }), true);
  });

  test("property: folding implies every peer reachable and synced after start + settle", () => {
    const peer = fc.record({ node: fc.constantFrom("a", "b", "c", "d"), reachable: fc.boolean(), ended: fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: undefined }) });
    fc.assert(
      fc.property(fc.uniqueArray(peer, { selector: (p) => p.node, maxLength: 4 }), fc.integer({ min: 0, max: 20_000 }), fc.boolean(), (peers, now, dup) => {
        const r: FoldReadiness = {
          ...base,
          now,
          duplicateHeard: dup,
          peers: peers.map(({ node, reachable }) => ({ node, reachable })),
          roundsEnded: new Map(peers.flatMap((p) => (p.ended === undefined ? [] : [[p.node, p.ended] as [string, number]]))),
        };
        const since = r.startedAtMs + r.settleMs;
        const expected = !dup && now >= since && peers.every((p) => p.reachable && p.ended !== undefined && p.ended >= since);
        assert.equal(mayFoldRetired(r), expected);
      }),
      fcParams(),
    );
  });
});

describe("ownFoldDue: the keys a node folds its retired ids in", () => {
  const live = "n~2";
  const own = ["n~1", "n~2"];
  const shared = ["n~1", "n~2", "m~1"];
  test("with a peer known: every key holding a retired id of its node, and no key without one", () => {
    assert.equal(ownFoldDue(own, live, "none"), true);
    assert.equal(ownFoldDue(shared, live, "none"), true);
    assert.equal(ownFoldDue(["n~2", "m~1"], live, "none"), false);
  });
  test("alone (a cluster of one, as far as anything says): only keys no other node wrote", () => {
    assert.equal(ownFoldDue(own, live, "alone"), true);
    assert.equal(ownFoldDue(shared, live, "alone"), false);
  });
  test("cut off (it knows no peer but merged what another node sent): none, as a leader may be absorbing the same ids", () => {
    assert.equal(ownFoldDue(own, live, "cut-off"), false);
    assert.equal(ownFoldDue(shared, live, "cut-off"), false);
  });
  test("a marker of its node seen in any key holds off the keys whose ids it covers until it reaches them (a leader is absorbing them there)", () => {
    // n~5 renewed its writer id above a marker n#3.t it met in another key: n~2 is being absorbed.
    const marked = markedRank(["m~1", "n#3.9"], "n");
    assert.equal(markedRank(["m~1", "n~2", "x#4.1"], "n"), -1, "only markers of the node count");
    assert.equal(ownFoldDue(["n~2", "n~5", "m~1"], "n~5", "none", marked), false, "n~2 here: the marker has not reached this key");
    assert.equal(ownFoldDue(["n#3.9", "n~5", "n^4", "m~1"], "n~5", "none", marked), true, "the marker is here (n~2 gone): fold the rest");
    assert.equal(ownFoldDue(["n~4", "n~5"], "n~5", "none", marked), true, "an id the marker does not cover");
  });
});
