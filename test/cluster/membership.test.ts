import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { InvalidArgumentError } from "../../src/errors.js";
import {
  MAX_NEWCOMERS,
  MembershipTable,
  type Heartbeat,
  type MembershipEvent,
  type SelfInfo,
} from "../../src/cluster/membership.js";
import { assertProperty } from "./fc-seed.js";

const FAIL = 3_000;
const REMOVE = 10_000;
const SELF: SelfInfo = { node: "m", dataCenter: "dc1", roles: ["x"], startedAtMs: 500, incarnation: 1 };

function hb(node: string, at: number, extra: Partial<Heartbeat> = {}): Heartbeat {
  return {
    node,
    dataCenter: "dc1",
    roles: [],
    startedAtMs: 1_000,
    incarnation: 1,
    lastSequence: 0,
    leaving: false,
    silent: [],
    vouched: [],
    removed: [],
    receivedAtMs: at,
    ...extra,
  };
}

const types = (events: MembershipEvent[]) =>
  events.map((e) => (e.type === "leader-changed" ? `leader:${e.role ?? "*"}:${e.leader}` : `${e.type}:${e.member.node}`));

function table(options: { leaderRoles?: string[] } = {}) {
  return new MembershipTable(SELF, { failureTimeoutMs: FAIL, removalTimeoutMs: REMOVE, ...options });
}

/** A table (self "m") in which `peers` are all admitted, heard at time 0, each vouching for all. */
function admitted(peers: string[], extra: (node: string) => Partial<Heartbeat> = () => ({})): MembershipTable {
  const t = table();
  for (let round = 0; round < peers.length; round++) {
    for (const p of peers) {
      t.observe(hb(p, 0, { vouched: ["m", ...peers.filter((q) => q !== p)], ...extra(p) }));
      t.synced(p);
    }
    t.tick(0);
  }
  assert.equal(t.quorumPeers().length, peers.length);
  return t;
}

describe("MembershipTable", () => {
  it("always holds self, reachable, and leads alone", () => {
    const t = table();
    assert.deepEqual(t.members(), [
      { node: "m", dataCenter: "dc1", roles: ["x"], reachable: true, startedAtMs: 500, incarnation: 1, self: true, counted: true },
    ]);
    assert.equal(t.leader(), "m");
    assert.ok(t.isLeader());
    assert.equal(t.known(), 1);
    assert.deepEqual(t.tick(1e12), []);
    assert.equal(t.members().length, 1);
  });

  it("joins, marks unreachable, recovers, and removes on silence", () => {
    const t = table();
    assert.deepEqual(types(t.observe(hb("b", 0))), ["joined:b"]); // younger than self: no leader change
    assert.equal(t.known(), 2, "counted in N at once");
    assert.deepEqual(t.quorumPeers(), [], "but its acknowledgements not before a round with it");
    t.synced("b");
    assert.deepEqual(types(t.tick(0)), ["counted:b"], "alone, this node's vouch is a majority");
    assert.deepEqual(t.tick(FAIL - 1), []);
    assert.deepEqual(types(t.tick(FAIL)), ["unreachable:b"]);
    assert.equal(t.member("b")?.reachable, false);
    assert.equal(t.known(), 2, "unreachable members still count for majorities");
    assert.deepEqual(types(t.observe(hb("b", FAIL + 5))), ["reachable-again:b"]);
    assert.deepEqual(types(t.observe(hb("b", FAIL + 6))), []);
    assert.deepEqual(types(t.tick(FAIL + 6 + REMOVE - 1)), ["unreachable:b"]);
    // Of N = 2, this node's vote alone is no majority: b stays, counted in N, its acks no longer count.
    assert.deepEqual(types(t.tick(FAIL + 6 + REMOVE)), []);
    assert.deepEqual(t.votes(FAIL + 6 + REMOVE).silent, ["b"]);
    assert.equal(t.known(), 2);
    assert.deepEqual(t.quorumPeers(), []);
    assert.equal(t.member("b")?.counted, false);
    // Nor can a newcomer be admitted by this node alone (1 of N = 2): b's return is needed.
    t.observe(hb("c", FAIL + 6 + REMOVE));
    t.synced("c");
    assert.deepEqual(types(t.tick(FAIL + 6 + REMOVE)), []);
    assert.equal(t.member("c")?.counted, false);
  });

  it("removes a silent member once a majority of N votes it out, and admits it again by a majority", () => {
    const t = admitted(["b", "c"]);
    assert.equal(t.known(), 3);
    t.observe(hb("c", FAIL, { vouched: ["b", "m"] })); // c heard b until then
    t.observe(hb("c", REMOVE - 1, { silent: [], vouched: ["m"] }));
    assert.deepEqual(types(t.tick(REMOVE)), ["unreachable:b"], "own vote only: 1 of 3");
    t.observe(hb("c", REMOVE + 1, { silent: ["b"] }));
    assert.deepEqual(types(t.tick(REMOVE + 1)), ["removed:b"]);
    assert.equal(t.known(), 2);
    // Heard again after removal (a healed partition): it joins again, and counts once a majority vouches.
    assert.deepEqual(types(t.observe(hb("b", REMOVE + 2))), ["joined:b"]);
    t.synced("b");
    assert.deepEqual(types(t.tick(REMOVE + 2)), [], "self alone is no majority of N = 2");
    t.observe(hb("c", REMOVE + 3, { vouched: ["b"] }));
    assert.deepEqual(types(t.tick(REMOVE + 3)), ["counted:b"]);
    assert.equal(t.known(), 3);
    // Stale votes do not count: c's removal vote on b, then c falls silent itself.
    t.observe(hb("b", REMOVE + 4));
    t.observe(hb("c", REMOVE + 4, { silent: ["b"] }));
    assert.deepEqual(types(t.tick(REMOVE + 4 + FAIL)), ["unreachable:b", "unreachable:c"]);
    assert.deepEqual(types(t.tick(2 * REMOVE + 4)), [], "own votes on both; c's old vote is stale");
    assert.equal(t.known(), 3);
  });

  it("cut off while a member left for good, drops it once the peers it hears again no longer hold it", () => {
    const t = admitted(["a", "b"]);
    // Cut off past removalTimeoutMs: its own votes are out, and 1 of 3 removes nothing.
    assert.deepEqual(types(t.tick(REMOVE)), ["unreachable:a", "unreachable:b"]);
    // Healed: a, which saw b leave, neither vouches for b nor lists it silent (b is gone from its N).
    const healed = 2 * REMOVE;
    const hear = (at: number): MembershipEvent[] => (t.observe(hb("a", at, { vouched: ["m"] })), t.tick(at));
    let at = healed;
    for (; at <= healed + REMOVE + FAIL; at += 1_000) assert.deepEqual(types(hear(at)).filter((e) => e.startsWith("removed")), [], `${at}: a may still count b`);
    const removed = hear(at).filter((e) => e.type === "removed");
    assert.deepEqual(removed.map((e) => [e.member.node, e.type === "removed" && e.reason]), [["b", "timeout"]]);
    assert.equal(t.known(), 2);
    assert.deepEqual(t.votes(at).removed, ["b"], "and tells the others, as after a vote");
  });

  it("a newcomer never admitted here is forgotten after its silence without a vote, and its removal says so; a voted-out member's does not", () => {
    // Cut off as the cluster formed: heard b and c once, admitted neither (N is m alone).
    const lone = table();
    lone.observe(hb("b", 0));
    lone.observe(hb("c", 0));
    lone.tick(0);
    const forgotten = lone.tick(REMOVE).filter((e) => e.type === "removed");
    assert.deepEqual(
      forgotten.map((e) => [e.member.node, e.type === "removed" && e.reason, e.type === "removed" && e.newcomer]),
      [
        ["b", "timeout", true],
        ["c", "timeout", true],
      ],
    );
    // Admitted, then voted out by a majority (m and a): a decision of the cluster, no newcomer.
    const t = admitted(["a", "b"]);
    for (let at = 1_000; at <= REMOVE + 1_000; at += 1_000) t.observe(hb("a", at, { vouched: ["m"], silent: at >= REMOVE ? ["b"] : [] }));
    const voted = t.tick(REMOVE + 1_000).filter((e) => e.type === "removed");
    assert.deepEqual(
      voted.map((e) => [e.member.node, e.type === "removed" && e.reason, e.type === "removed" && e.newcomer]),
      [["b", "timeout", undefined]],
    );
  });

  it("keeps a member a peer still holds (vouched for: a slow link; listed silent: on its way out), or on a minority's word", () => {
    const hearFor = (t: MembershipTable, extra: Partial<Heartbeat>, from: number, ms: number): string[] => {
      const events: string[] = [];
      for (let at = from; at <= from + ms; at += 1_000) {
        t.observe(hb("a", at, extra));
        events.push(...types(t.tick(at)).filter((e) => e.startsWith("removed")));
      }
      return events;
    };
    const vouched = admitted(["a", "b"]);
    vouched.tick(REMOVE);
    assert.deepEqual(hearFor(vouched, { vouched: ["b", "m"] }, 2 * REMOVE, 3 * REMOVE), []);
    const silent = admitted(["a", "b"]);
    silent.tick(REMOVE);
    assert.deepEqual(hearFor(silent, { vouched: ["m"], silent: ["b"] }, 2 * REMOVE, 3 * REMOVE), [], "a's silent vote is the usual one: a does not count here");
    // Five members, one peer heard: 2 of 5 drop nobody.
    const minority = admitted(["a", "b", "c", "d"]);
    minority.tick(REMOVE);
    assert.deepEqual(hearFor(minority, { vouched: ["m"] }, 2 * REMOVE, 3 * REMOVE), []);
    assert.equal(minority.known(), 5);
  });

  it("counts the members its peers announced at start in N at once, and never drops them alone", () => {
    const t = table();
    t.expect([{ node: "b", dataCenter: "dc1", roles: [] }, { node: "c", dataCenter: "dc1", roles: ["x"] }, { node: "m", dataCenter: "dc1", roles: [] }], 0);
    assert.equal(t.known(), 3, "N includes them before any heartbeat");
    assert.equal(t.known(undefined, "x"), 2, "with their roles");
    assert.deepEqual(t.quorumPeers(), [], "but no acknowledgement of theirs counts yet");
    assert.equal(t.leader(), "m", "unheard members lead nothing");
    // Cut off from both: its own removal vote is 1 of 3, so N stays 3 however long the silence.
    assert.deepEqual(types(t.tick(3 * REMOVE)), []);
    assert.equal(t.known(), 3);
    assert.deepEqual(t.votes(3 * REMOVE).silent, ["b", "c"]);
    // Heard at last: a join (the newer node pulls), admitted once a majority of N vouches.
    const at = 3 * REMOVE + 1;
    assert.deepEqual(types(t.observe(hb("b", at, { vouched: ["c", "m"] }))), ["joined:b"]);
    assert.deepEqual(types(t.observe(hb("c", at, { vouched: ["b", "m"] }))), ["joined:c"]);
    assert.deepEqual(types(t.tick(at)), ["counted:b", "counted:c"], "each vouches for the other (and for us: a round with us), 2 of 3");
    assert.equal(t.known(), 3);
  });

  it("drops an expected member it never heard once a member of N reports it removed by vote", () => {
    const t = table();
    t.expect([{ node: "b", dataCenter: "dc1", roles: [] }, { node: "c", dataCenter: "dc1", roles: [] }, { node: "d", dataCenter: "dc1", roles: [] }], 0);
    t.observe(hb("c", 1, { vouched: ["b", "m"] }));
    assert.equal(t.known(), 4, "d, dead before we started, counts in N");
    assert.deepEqual(types(t.observe(hb("b", 2, { vouched: ["c", "m"], silent: ["d"], removed: ["d"] }))), ["joined:b", "removed:d"]);
    assert.equal(t.known(), 3);
    // A heard member is not dropped on another's word: it rejoins the others by itself.
    t.observe(hb("e", 3));
    t.observe(hb("b", 3, { removed: ["e"] }));
    assert.ok(t.member("e") !== undefined);
  });

  it("relays on a leave it heard relayed of a member it never held (remembered once, not refreshed), to a member that comes back holding it", () => {
    // m started after c left: b relays c's leave while it is news; m never held c.
    const t = admitted(["b"]);
    t.observe(hb("b", 100, { vouched: ["m"], left: [{ node: "c", incarnation: 1 }] }));
    assert.equal(t.member("c"), undefined);
    assert.deepEqual(t.votes(200).left, [{ node: "c", incarnation: 1 }]);
    // Relayed to it again later: not news again (two relayers would keep it news for ever).
    t.observe(hb("b", REMOVE, { vouched: ["m"], left: [{ node: "c", incarnation: 1 }] }));
    assert.deepEqual(t.votes(REMOVE + 200).left, [], "no peer holds c");
    // d, cut off while c left and back after b went, still holds c: m relays the leave to it.
    t.observe(hb("d", REMOVE + 300, { silent: ["c"] }));
    assert.deepEqual(t.votes(REMOVE + 400).left, [{ node: "c", incarnation: 1 }]);
    // Never a leave of its own, whoever relays one.
    t.observe(hb("b", REMOVE + 500, { vouched: ["m"], left: [{ node: "m", incarnation: 0 }] }));
    assert.ok(!t.votes(REMOVE + 600).left.some((d) => d.node === "m"));
  });

  it("inherits the leaves its hello's answers remember as old news: relayed only to a member that holds one, never of a member it holds or of itself", () => {
    const t = admitted(["b"]);
    t.inheritLeaves([{ node: "c", incarnation: 4 }, { node: "b", incarnation: 0 }, { node: "m", incarnation: 0 }], 100);
    assert.deepEqual(t.rememberedLeaves(), [{ node: "c", incarnation: 4 }]);
    assert.deepEqual(t.votes(200).left, [], "no news: nobody holds c");
    t.observe(hb("d", 300, { silent: ["c"] }));
    assert.deepEqual(t.votes(400).left, [{ node: "c", incarnation: 4 }]);
    // Back with a later incarnation: forgotten.
    t.observe(hb("c", 500, { incarnation: 5 }));
    assert.deepEqual(t.rememberedLeaves(), []);
  });

  it("drops an expected member it never heard on the word of a member not counted yet (its admission may wait for the dead one)", () => {
    const t = table();
    t.expect([{ node: "x", dataCenter: "dc1", roles: [] }], 0);
    assert.equal(t.known(), 2);
    assert.deepEqual(types(t.observe(hb("n", 100, { vouched: ["m"], removed: ["x"] }))), ["joined:n", "removed:x"]);
    assert.equal(t.member("x"), undefined);
    assert.deepEqual(t.agreed().map((e) => e.node), ["m"], "the agreed membership: this node alone, so n can be admitted");
  });

  it("removes at once on a graceful leave and ignores that incarnation's stragglers", () => {
    const t = table();
    t.observe(hb("b", 0));
    const events = t.observe(hb("b", 10, { leaving: true }));
    assert.deepEqual(events.map((e) => e.type), ["removed"]);
    assert.equal(events[0]?.type === "removed" && events[0].reason, "left");
    assert.deepEqual(t.observe(hb("b", 20)), [], "a delayed heartbeat must not resurrect it");
    assert.deepEqual(types(t.observe(hb("b", 30, { incarnation: 2 }))), ["joined:b"]); // restarted
    t.observe(hb("c", 0, { leaving: true }));
    t.tick(REMOVE + 1); // the departed record expires with the removal timeout
    assert.deepEqual(types(t.observe(hb("c", REMOVE + 2))), ["joined:c"]);
  });

  it("drops a member whose leave it missed once a member relays that leave, never a later incarnation of it", () => {
    // m was cut off while c left: it never heard c's leave; b, a counted member, did and relays it.
    const t = admitted(["b", "c"]);
    const events = t.observe(hb("b", 100, { vouched: ["m"], left: [{ node: "c", incarnation: 1 }] }));
    assert.deepEqual(types(events), ["removed:c"]);
    assert.equal(events[0]?.type === "removed" && events[0].reason, "left");
    assert.equal(t.member("c"), undefined);
    assert.deepEqual(t.observe(hb("c", 110)), [], "a delayed heartbeat of the process that left must not resurrect it");
    assert.deepEqual(types(t.observe(hb("c", 120, { incarnation: 2 }))), ["joined:c"]); // restarted
    // A relayed leave of an earlier incarnation leaves the newer process alone.
    t.observe(hb("b", 130, { vouched: ["m"], left: [{ node: "c", incarnation: 1 }] }));
    assert.equal(t.member("c")?.incarnation, 2);
    // A member not counted yet relays it too (admitting it may wait for the member that left),
    // but never its own leave in a heartbeat of its own.
    const u = admitted(["b", "c"]);
    u.observe(hb("x", 100, { left: [{ node: "x", incarnation: 1 }] }));
    assert.ok(u.member("x") !== undefined);
    u.observe(hb("x", 110, { left: [{ node: "c", incarnation: 1 }] }));
    assert.equal(u.member("c"), undefined);
    // Its own heartbeats relay the leaves it heard, with their incarnation.
    const v = table();
    v.observe(hb("d", 0));
    v.observe(hb("d", 10, { incarnation: 3, leaving: true }));
    assert.deepEqual(v.votes(20).left, [{ node: "d", incarnation: 3 }]);
    // Past removalTimeoutMs, only while a peer's heartbeats still hold it (it missed the leave).
    assert.deepEqual(v.votes(REMOVE + 20).left, []);
    v.observe(hb("e", REMOVE + 30, { silent: ["d"] }));
    assert.deepEqual(v.votes(REMOVE + 40).left, [{ node: "d", incarnation: 3 }]);
    v.observe(hb("e", REMOVE + 50));
    assert.deepEqual(v.votes(REMOVE + 60).left, []);
    // A later incarnation back: its earlier leave is no news.
    v.observe(hb("e", REMOVE + 70, { silent: ["d"] }));
    v.observe(hb("d", REMOVE + 80, { incarnation: 4 }));
    assert.deepEqual(v.votes(REMOVE + 90).left, []);
  });

  it("replaces a member restarted with a newer incarnation and ignores older ones", () => {
    const t = admitted(["a"], () => ({ startedAtMs: 100 }));
    assert.equal(t.leader(), "a");
    const events = t.observe(hb("a", 50, { startedAtMs: 2_000, incarnation: 2 }));
    assert.deepEqual(types(events), ["removed:a", "joined:a", "leader:*:m"]);
    assert.equal(events[0]?.type === "removed" && events[0].reason, "restarted");
    assert.deepEqual(t.observe(hb("a", 60, { startedAtMs: 100, incarnation: 1 })), []);
    assert.equal(t.member("a")?.incarnation, 2);
    assert.equal(t.leader(), "m");
  });

  it("chooses the oldest reachable member per DC, ties to the lowest id, optionally by role", () => {
    const t = table({ leaderRoles: ["x", "y"] });
    // In the agreed membership (as the peers tell a starting node), not admitted by this one yet.
    t.expect([{ node: "z", dataCenter: "dc1", roles: ["y"] }, { node: "c", dataCenter: "dc1", roles: ["x"] }, { node: "o", dataCenter: "dc2", roles: [] }], 0);
    assert.deepEqual(types(t.observe(hb("z", 0, { startedAtMs: 100, roles: ["y"] }))), [
      "joined:z",
      "leader:*:z",
      "leader:y:z",
    ]);
    assert.deepEqual(types(t.observe(hb("c", 0, { startedAtMs: 100, roles: ["x"] }))), [
      "joined:c",
      "leader:*:c",
      "leader:x:c",
    ]);
    assert.equal(t.leader("dc1", "y"), "z");
    assert.equal(t.leader("dc1", "nope"), undefined);
    t.observe(hb("o", 0, { dataCenter: "dc2", startedAtMs: 1 }));
    assert.equal(t.leader("dc2"), "o");
    assert.equal(t.leader(), "c", "another DC's older member does not lead this one");
    assert.equal(t.known("dc1"), 3, "every listed member counts in N");
    assert.equal(t.known("dc1", "y"), 1);
    assert.equal(t.known(), 4);
    assert.deepEqual(t.quorumPeers(), [], "none admitted yet (no digest rounds)");
    // c and z silent, o too: leadership falls back to self; dc2 is left without a leader.
    const events = t.tick(FAIL);
    assert.deepEqual(types(events), [
      "unreachable:c",
      "unreachable:o",
      "unreachable:z",
      "leader:*:m",
      "leader:x:m",
      "leader:y:undefined",
      "leader:*:undefined",
    ]);
    const dc2 = events.at(-1);
    assert.ok(dc2?.type === "leader-changed" && dc2.dataCenter === "dc2" && dc2.previous === "o");
  });

  it("a member outside the agreed membership does not lead, however old it claims to be", () => {
    const t = table();
    // A ghost: heartbeats claiming the oldest start, never admitted (no digest round, no vouches).
    assert.deepEqual(types(t.observe(hb("ghost", 0, { startedAtMs: 1 }))), ["joined:ghost"]);
    t.tick(100);
    assert.equal(t.leader(), "m");
    // Admitted (a digest round with it completed, and it alone makes a majority with us): it leads.
    t.synced("ghost");
    assert.deepEqual(types(t.tick(200)), ["counted:ghost", "leader:*:ghost"]);
  });

  it("holds at most MAX_NEWCOMERS members waiting for admission: invented ids cannot grow it", () => {
    const t = admitted(["a"]);
    for (let i = 0; i < MAX_NEWCOMERS + 100; i++) t.observe(hb(`ghost-${i}`, 0));
    assert.equal(t.members().length, 2 + MAX_NEWCOMERS);
    assert.equal(t.refusedNewcomers, 100);
    // Admitted members and known ones are still heard.
    assert.deepEqual(types(t.observe(hb("a", 1))), []);
    assert.equal(t.member("a")?.reachable, true);
    // Once the ghosts time out, a real newcomer is heard again.
    t.observe(hb("a", REMOVE));
    t.tick(REMOVE);
    assert.deepEqual(types(t.observe(hb("new", REMOVE + 1))), ["joined:new"]);
  });

  it("ignores its own heartbeats and rejects malformed ones", () => {
    const t = table();
    assert.deepEqual(t.observe(hb("m", 0, { startedAtMs: 1, incarnation: 9 })), []);
    assert.equal(t.leader(), "m");
    const bad: unknown[] = [
      hb("", 0),
      { ...hb("b", 0), roles: "x" },
      { ...hb("b", 0), startedAtMs: Number.NaN },
      { ...hb("b", 0), leaving: "no" },
      { ...hb("b", 0), dataCenter: undefined },
    ];
    for (const h of bad) assert.throws(() => t.observe(h as Heartbeat), InvalidArgumentError);
    assert.equal(t.known(), 1);
  });

  it("validates its options", () => {
    const make = (failureTimeoutMs: number, removalTimeoutMs: number) => () =>
      new MembershipTable(SELF, { failureTimeoutMs, removalTimeoutMs });
    assert.throws(make(0, 10), InvalidArgumentError);
    assert.throws(make(10, 5), InvalidArgumentError);
    assert.throws(make(10, Number.POSITIVE_INFINITY), InvalidArgumentError);
    assert.doesNotThrow(make(10, 10));
  });

  it("its event stream is a faithful log of its state, whatever the inputs", () => {
    const nodes = ["a", "b", "c", "d"];
    const step = fc.oneof(
      fc.record({
        kind: fc.constant("hb" as const),
        node: fc.constantFrom(...nodes, "m"),
        dataCenter: fc.constantFrom("dc1", "dc2"),
        startedAtMs: fc.integer({ min: 0, max: 1_000 }),
        incarnation: fc.integer({ min: 1, max: 3 }),
        leaving: fc.boolean(),
        roles: fc.subarray(["x", "y"]),
        advance: fc.integer({ min: 0, max: 2_000 }),
      }),
      fc.record({ kind: fc.constant("tick" as const), advance: fc.integer({ min: 0, max: 6_000 }) }),
    );
    assertProperty(
      "event log == state",
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const t = table({ leaderRoles: ["x"] });
        const present = new Map<string, boolean>(); // node → reachable, rebuilt from events only
        const leaders = new Map<string, string | undefined>([["*dc1", "m"], ["xdc1", "m"]]);
        const lastHeard = new Map<string, number>(); // any heartbeat, accepted or not
        let now = 0;
        for (const s of steps) {
          now += s.advance;
          if (s.kind === "hb") lastHeard.set(s.node, now);
          const events =
            s.kind === "tick"
              ? t.tick(now)
              : t.observe({ ...hb(s.node, now), ...s, lastSequence: 0, receivedAtMs: now });
          for (const e of events) {
            if (e.type === "leader-changed") {
              assert.equal(leaders.get(`${e.role ?? "*"}${e.dataCenter}`), e.previous);
              leaders.set(`${e.role ?? "*"}${e.dataCenter}`, e.leader);
              continue;
            }
            assert.notEqual(e.member.node, "m", "self never appears in events");
            if (e.type === "joined") {
              assert.ok(!present.has(e.member.node));
              present.set(e.member.node, true);
            } else if (e.type === "removed") {
              assert.ok(present.delete(e.member.node));
            } else if (e.type === "counted") {
              assert.equal(present.get(e.member.node), true, "only a reachable member is admitted");
            } else {
              assert.equal(present.get(e.member.node), e.type === "unreachable");
              present.set(e.member.node, e.type === "reachable-again");
            }
          }
          const members = t.members();
          assert.deepEqual(members.map((m) => m.node), [...members.map((m) => m.node)].sort());
          assert.deepEqual(
            members.filter((m) => !m.self).map((m) => [m.node, m.reachable]),
            [...present].sort(([x], [y]) => (x < y ? -1 : 1)),
          );
          assert.ok(members.some((m) => m.self && m.reachable));
          const counted = members.filter((m) => m.counted).length;
          assert.ok(counted <= t.known() && t.known() <= members.length);
          for (const [slot, leader] of leaders) {
            const role = slot[0] === "*" ? undefined : slot[0];
            const dc = slot.slice(1);
            assert.equal(t.leader(dc, role), leader);
            // And the leader is the oldest reachable member of the agreed membership, ties to the lowest id.
            const agreed = new Set(t.agreed().map((m) => m.node));
            const expected = members
              .filter((m) => m.reachable && agreed.has(m.node) && m.dataCenter === dc && (role === undefined || m.roles.includes(role)))
              .sort((p, q) => p.startedAtMs - q.startedAtMs || (p.node < q.node ? -1 : 1))[0]?.node;
            assert.equal(leader, expected);
          }
          if (s.kind === "tick") {
            // Right after a tick nobody silent for failureTimeoutMs is still reachable, and nobody
            // silent for removalTimeoutMs still counts (alone, this node never gets a majority to
            // remove a member it admitted: only not-yet-admitted ones go).
            for (const m of members.filter((x) => !x.self)) {
              const silent = now - lastHeard.get(m.node)!;
              if (silent >= REMOVE) assert.ok(!m.counted);
              if (m.reachable) assert.ok(silent < FAIL);
            }
          }
        }
      }),
    );
  });
});
