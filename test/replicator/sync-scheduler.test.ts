// When digest rounds run, decided without a network: the pure decisions, and the scheduler's
// bookkeeping with a fake round and a virtual clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Member, MembershipEvent } from "../../src/cluster/membership.js";
import type { RepairCause } from "../../src/extension/stats.js";
import {
  decideOnHeartbeat,
  decideOnMembership,
  peerAfter,
  SYNC_RETRY_MS,
  SyncScheduler,
} from "../../src/replicator/sync-scheduler.js";
import { VirtualClock } from "../sim/virtual-clock.js";

const SELF = { node: "m", startedAtMs: 1_000 };

function member(node: string, startedAtMs: number, counted = true): Member {
  return { node, dataCenter: "dc1", roles: [], reachable: true, startedAtMs, incarnation: 1, self: false, counted };
}

describe("sync decisions", () => {
  it("the newer node pulls at a join: a round with an older member, none with a newer counted one", () => {
    assert.equal(decideOnMembership({ type: "joined", member: member("z", 500) }, SELF, false), "join");
    assert.equal(decideOnMembership({ type: "joined", member: member("z", 2_000) }, SELF, false), "none");
    // Same start: the lower id is the older.
    assert.equal(decideOnMembership({ type: "joined", member: member("a", 1_000) }, SELF, false), "join");
    assert.equal(decideOnMembership({ type: "joined", member: member("z", 1_000) }, SELF, false), "none");
  });

  it("a newer member that joins while a round with it is pending gets that round now", () => {
    assert.equal(decideOnMembership({ type: "joined", member: member("z", 2_000) }, SELF, true), "join");
  });

  it("an older member back from a partition gets a reconnect round", () => {
    assert.equal(decideOnMembership({ type: "reachable-again", member: member("a", 500) }, SELF, false), "reconnect");
    assert.equal(decideOnMembership({ type: "reachable-again", member: member("z", 2_000) }, SELF, false), "none");
  });

  it("a newer member not yet counted gets a round later (so we vouch for it even over a one-way link)", () => {
    assert.equal(decideOnMembership({ type: "joined", member: member("z", 2_000, false) }, SELF, false), "later");
    assert.equal(decideOnMembership({ type: "reachable-again", member: member("z", 2_000, false) }, SELF, false), "later");
  });

  it("a removed member is forgotten unless it restarted", () => {
    assert.equal(decideOnMembership({ type: "removed", member: member("a", 500), reason: "timeout" }, SELF, true), "forget");
    assert.equal(decideOnMembership({ type: "removed", member: member("a", 500), reason: "left" }, SELF, false), "forget");
    assert.equal(decideOnMembership({ type: "removed", member: member("a", 500), reason: "restarted" }, SELF, false), "none");
  });

  it("other events ask for nothing", () => {
    const events: MembershipEvent[] = [
      { type: "unreachable", member: member("a", 500) },
      { type: "counted", member: member("a", 500) },
      { type: "leader-changed", dataCenter: "dc1", role: undefined, leader: "a", previous: undefined },
    ];
    for (const e of events) assert.equal(decideOnMembership(e, SELF, true), "none", e.type);
  });

  it("a heartbeat triggers the reconnect round first, else a pending round once it is due", () => {
    assert.equal(decideOnHeartbeat(true, undefined, 0), "reconnect");
    assert.equal(decideOnHeartbeat(true, 5_000, 0), "reconnect");
    assert.equal(decideOnHeartbeat(false, undefined, 10_000), "none");
    assert.equal(decideOnHeartbeat(false, 5_000, 4_999), "none");
    assert.equal(decideOnHeartbeat(false, 5_000, 5_000), "gap");
  });

  it("periodic peers go round in id order, wrapping", () => {
    const peers = ["a", "c", "e"];
    assert.equal(peerAfter(peers, "b"), "c");
    assert.equal(peerAfter(peers, "c"), "e");
    assert.equal(peerAfter(peers, "e"), "a");
    assert.equal(peerAfter(peers, "z"), "a");
    assert.equal(peerAfter([], "a"), undefined);
  });
});

describe("SyncScheduler", () => {
  function scheduler(results: boolean[] = []) {
    const clock = new VirtualClock(10_000);
    const rounds: [string, RepairCause][] = [];
    const synced: string[] = [];
    const peers = ["a", "n", "z"];
    const s = new SyncScheduler({
      self: SELF,
      sync: async (peer, cause) => {
        rounds.push([peer, cause]);
        return results.shift() ?? true;
      },
      synced: (peer) => synced.push(peer),
      reachablePeers: () => peers,
      isClosed: () => false,
      clock,
    });
    return { s, clock, rounds, synced };
  }

  it("a failed round is retried at the peer's first heartbeat after SYNC_RETRY_MS, once", async () => {
    const { s, clock, rounds, synced } = scheduler([false, true]);
    assert.equal(await s.syncWith("a", "join"), false);
    s.onHeartbeat("a");
    assert.equal(rounds.length, 1, "not before SYNC_RETRY_MS");
    await clock.advance(SYNC_RETRY_MS);
    s.onHeartbeat("a");
    s.onHeartbeat("a");
    await new Promise(setImmediate); // the round's promise settles
    assert.deepEqual(rounds, [["a", "join"], ["a", "gap"]]);
    assert.deepEqual(synced, ["a"], "only a completed round lets us vouch");
  });

  it("after a reconnect, the first peer heard gets the round", () => {
    const { s, rounds } = scheduler();
    s.onReconnect();
    s.onHeartbeat("z");
    s.onHeartbeat("a");
    assert.deepEqual(rounds, [["z", "reconnect"]]);
  });

  it("a removed member's pending round is dropped", async () => {
    const { s, clock, rounds } = scheduler();
    s.syncSoon("a", 0);
    assert.equal(s.onMembership({ type: "removed", member: member("a", 500), reason: "timeout" }), "forget");
    await clock.advance(SYNC_RETRY_MS);
    s.onHeartbeat("a");
    assert.deepEqual(rounds, []);
  });

  it("periodic rounds start after this node and go round every peer", () => {
    const { s, rounds } = scheduler();
    for (let i = 0; i < 4; i++) s.periodic();
    assert.deepEqual(
      rounds.map(([peer]) => peer),
      ["n", "z", "a", "n"],
    );
    assert.ok(rounds.every(([, cause]) => cause === "periodic"));
  });
});
