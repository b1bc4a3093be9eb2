/** The log's pure decisions: membership changes between two looks, counter growth, and burst limiting. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BurstLimiter, increases, memberChanges, type MemberView } from "../../src/replicator/log-events.js";

const m = (node: string, reachable = true, startedAtMs = 1, self = false): MemberView => ({ node, dataCenter: "east", reachable, startedAtMs, self });
const byNode = (ms: MemberView[]): Map<string, MemberView> => new Map(ms.map((x) => [x.node, x]));

describe("memberChanges", () => {
  test("joins, leaves, restarts, reachability; never this node; nothing when unchanged", () => {
    const before = byNode([m("me", true, 1, true), m("a"), m("b"), m("c", false), m("d")]);
    const after = [m("me", true, 1, true), m("a"), m("b", false), m("c", true), m("d", true, 2), m("e")];
    assert.deepEqual(
      memberChanges(before, after).map((c) => `${c.type} ${c.member.node}`),
      ["unreachable b", "reachable-again c", "restarted d", "joined e"],
    );
    assert.deepEqual(memberChanges(byNode(after), after), []);
    assert.deepEqual(memberChanges(byNode(after), [m("me", true, 1, true)]).map((c) => `${c.type} ${c.member.node}`), ["left a", "left b", "left c", "left d", "left e"]);
    assert.deepEqual(memberChanges(new Map(), [m("me", true, 1, true)]), [], "this node never joins itself");
  });
});

test("increases: only the counters that grew, by how much", () => {
  const grew = increases(new Map([["decode", 2], ["oversized", 5]]), new Map([["decode", 7], ["oversized", 5], ["replayed", 1]]));
  assert.deepEqual([...grew], [["decode", 5], ["replayed", 1]]);
});

describe("BurstLimiter", () => {
  test("a burst is one line at once, then one summing line per quiet period, never one per event", () => {
    const l = new BurstLimiter<string>(60_000);
    l.add("decode", 1, "first");
    assert.deepEqual(l.due(0), [{ key: "decode", count: 1, sample: "first" }], "the first event is due at once");
    for (let i = 0; i < 1000; i++) l.add("decode", 1, `bad ${i}`);
    assert.deepEqual(l.due(1_000), [], "held back within the quiet period");
    assert.deepEqual(l.due(59_999), []);
    assert.deepEqual(l.due(60_000), [{ key: "decode", count: 1000, sample: "bad 999" }], "the rest in one line, with the latest event");
    assert.deepEqual(l.due(200_000), [], "nothing more to say");
  });

  test("keys are limited apart; a key quiet for a whole period is due at once again", () => {
    const l = new BurstLimiter<undefined>(10);
    l.add("a", 3, undefined);
    l.add("b", 0, undefined);
    assert.deepEqual(l.due(100).map((x) => [x.key, x.count]), [["a", 3]], "zero events are no event");
    l.add("b", 2, undefined);
    assert.deepEqual(l.due(101).map((x) => [x.key, x.count]), [["b", 2]], "b is not held back by a's line");
    assert.deepEqual(l.due(150), []); // a and b forgotten: quiet for a period
    l.add("a", 1, undefined);
    assert.deepEqual(l.due(151).map((x) => [x.key, x.count]), [["a", 1]]);
  });
});
