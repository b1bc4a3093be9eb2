/** Who reads compact delta envelopes: a peer's latest heartbeat decides; unheard and starting peers do not. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PeerCapability, STARTING_MS } from "../../src/replicator/peer-capability.js";

test("every peer must have said so in its latest heartbeat; a removed one must say so again", () => {
  const r = new PeerCapability();
  assert.equal(r.all([], 0), true, "alone: nobody to misread");
  assert.equal(r.all(["b"], 0), false, "known but not heard yet (a peer's account at start)");
  r.heard("b", true);
  r.heard("c", false); // a release before compact envelopes
  assert.equal(r.all(["b"], 0), true);
  assert.equal(r.all(["b", "c"], 0), false);
  assert.deepEqual([r.has("b"), r.has("c")], [true, false]);
  r.heard("b", false); // restarted with the previous release
  assert.equal(r.all(["b"], 0), false);
  r.heard("b", true);
  r.forget("b");
  assert.equal(r.has("b"), false);
});

test("a starting node (its hello) holds compact envelopes back until its first heartbeat, or STARTING_MS", () => {
  const r = new PeerCapability();
  r.heard("b", true);
  r.hello("d", 1_000); // not a member yet: it may subscribe to the deltas before its heartbeat says which release it runs
  assert.equal(r.all(["b"], 1_001), false);
  r.heard("d", false);
  assert.equal(r.all(["b"], 1_002), true, "d is no member: its heartbeat ended the wait");
  assert.equal(r.all(["b", "d"], 1_002), false);
  r.hello("b", 2_000); // b restarts: whatever release it runs now, it must say so again
  assert.equal(r.has("b"), false);
  r.heard("b", true);
  assert.equal(r.all(["b"], 2_001), true);
  r.hello("e", 3_000); // a process that never gets as far as a heartbeat
  assert.equal(r.all(["b"], 3_000 + STARTING_MS - 1), false);
  assert.equal(r.all(["b"], 3_000 + STARTING_MS), true);
});

test("anyStarting: unknown while a node that said hello is not heard yet, for STARTING_MS at most (the pruner then takes in no removed node's ids)", () => {
  const r = new PeerCapability();
  assert.equal(r.anyStarting(0), false);
  r.hello("x", 100);
  assert.equal(r.anyStarting(200), true);
  r.heard("x", false);
  assert.equal(r.anyStarting(300), false, "heard: known, whichever the answer");
  r.hello("y", 1_000);
  assert.equal(r.anyStarting(1_000 + STARTING_MS - 1), true);
  assert.equal(r.anyStarting(1_000 + STARTING_MS), false, "never heard: given up on after STARTING_MS");
});

test("allOf answers as all does: a hello, a heartbeat, a removal, another list or a hello expiring changes its answer at once", () => {
  const r = new PeerCapability();
  const peers = ["b", "c"];
  r.heard("b", true);
  r.heard("c", true);
  assert.equal(r.allOf(peers, 0), true);
  assert.equal(r.allOf(peers, 1), true, "asked again, nothing changed");
  r.hello("d", 10); // a node starting: compact envelopes wait for its heartbeat
  assert.equal(r.allOf(peers, 11), false);
  assert.equal(r.allOf(peers, 10 + STARTING_MS - 1), false);
  assert.equal(r.allOf(peers, 10 + STARTING_MS), true, "its hello expired");
  r.heard("c", false);
  assert.equal(r.allOf(peers, 20 + STARTING_MS), false, "c's heartbeat said no");
  r.heard("c", true);
  assert.equal(r.allOf(peers, 21 + STARTING_MS), true);
  r.forget("c");
  assert.equal(r.allOf(peers, 22 + STARTING_MS), false, "removed: c must say so again");
  assert.equal(r.allOf(["b"], 23 + STARTING_MS), true, "another list is another question");
  r.heard("e", false);
  assert.equal(r.allOf(["b", "e"], 24 + STARTING_MS), false);
});
