import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { goneFromPeers, type GoneFromPeersInput } from "../../src/cluster/gone-from-peers.js";

const FAIL = 3_000;
const REMOVE = 10_000;
const NOW = 100_000;
/** Three members (self, one peer, the subject): unheard, unvouched for and not held by the peer for long. */
const base: GoneFromPeersInput = {
  nowMs: NOW,
  failureTimeoutMs: FAIL,
  removalTimeoutMs: REMOVE,
  heardAtMs: NOW - REMOVE,
  vouchedAtMs: NOW - REMOVE,
  agreed: 3,
  peersNotHoldingSinceMs: [NOW - REMOVE - FAIL - 1],
};

describe("goneFromPeers", () => {
  it("drops a member unheard and unvouched for removalTimeoutMs that a majority no longer holds", () => {
    assert.equal(goneFromPeers(base), true);
  });

  it("keeps it while this node heard it, or a peer vouched for it, within removalTimeoutMs (a slow or one-sided link)", () => {
    assert.equal(goneFromPeers({ ...base, heardAtMs: NOW - REMOVE + 1 }), false);
    assert.equal(goneFromPeers({ ...base, vouchedAtMs: NOW - REMOVE + 1 }), false);
  });

  it("keeps it while a peer may still count it: not held for up to removalTimeoutMs + failureTimeoutMs is the way to `silent`", () => {
    assert.equal(goneFromPeers({ ...base, peersNotHoldingSinceMs: [NOW - REMOVE - FAIL] }), false);
  });

  it("needs a majority of the agreed membership: a minority side never drops a member alone", () => {
    const long = NOW - 10 * REMOVE;
    assert.equal(goneFromPeers({ ...base, agreed: 5, peersNotHoldingSinceMs: [long] }), false, "2 of 5");
    assert.equal(goneFromPeers({ ...base, agreed: 5, peersNotHoldingSinceMs: [long, long, NOW] }), true, "3 of 5");
    assert.equal(goneFromPeers({ ...base, agreed: 2, peersNotHoldingSinceMs: [] }), false, "alone, 1 of 2");
  });
});
