/**
 * Quorum membership under partitions, on the pure tables of five nodes: heartbeats carry votes and
 * are delivered (with random losses) only within a side; digest rounds are modelled by `synced` on
 * both ends of a heard link. Whatever the split and its timing, two sides never both hold a node
 * able to gather a majority, a minority side never shrinks N nor removes a majority-side member,
 * and the majority side does remove the minority after removalTimeoutMs.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MembershipTable, quorum, type Heartbeat } from "../../src/cluster/membership.js";
import { assertProperty } from "./fc-seed.js";

const HB = 200;
const FAIL = 600;
const REMOVE = 1_500;
const STEP = 50;
const IDS = ["n0", "n1", "n2", "n3", "n4"];

interface World {
  tables: MembershipTable[];
  now: number;
  /** side[i]: the group of node i; nodes hear each other only within a group. */
  side: number[];
}

function world(): World {
  const tables = IDS.map(
    (node, i) =>
      new MembershipTable({ node, dataCenter: "dc", roles: [], startedAtMs: i, incarnation: 1 }, { failureTimeoutMs: FAIL, removalTimeoutMs: REMOVE }),
  );
  return { tables, now: 0, side: IDS.map(() => 0) };
}

/** Advance one step: heartbeats (each lost with probability `loss`) every HB ms, then ticks. */
function step(w: World, rnd: () => number, loss: number): void {
  w.now += STEP;
  if (w.now % HB === 0) {
    for (let i = 0; i < IDS.length; i++) {
      const votes = w.tables[i]!.votes(w.now);
      for (let j = 0; j < IDS.length; j++) {
        if (i === j || w.side[i] !== w.side[j] || rnd() < loss) continue;
        const hb: Heartbeat = {
          node: IDS[i]!, dataCenter: "dc", roles: [], startedAtMs: i, incarnation: 1, lastSequence: 0, leaving: false,
          ...votes, receivedAtMs: w.now,
        };
        w.tables[j]!.observe(hb);
        w.tables[j]!.synced(IDS[i]!); // a digest round over a link that works
      }
    }
  }
  for (const t of w.tables) t.tick(w.now);
}

/** Whether node i could complete a majority write now: acks from counted peers on its side. */
function canAckMajority(w: World, i: number): boolean {
  const t = w.tables[i]!;
  const acks = 1 + t.quorumPeers().filter((p) => w.side[IDS.indexOf(p)] === w.side[i]).length;
  return acks >= quorum("majority", t.known());
}

function settle(w: World, rnd: () => number, ms: number): void {
  for (let t = 0; t < ms; t += STEP) step(w, rnd, 0);
}

describe("quorum membership under partitions (pure tables)", () => {
  it("bootstraps: every node admits every other", () => {
    const w = world();
    settle(w, Math.random, 2_000);
    for (const t of w.tables) assert.equal(t.quorumPeers().length, 4);
  });

  it("no split brain, no shrinking minority; the majority removes the minority", () => {
    const scenario = fc.record({
      minority: fc.subarray([0, 1, 2, 3, 4], { minLength: 1, maxLength: 2 }),
      partitionMs: fc.integer({ min: 0, max: 4 * REMOVE }),
      loss: fc.constantFrom(0, 0.1, 0.4),
      // A second split while the first lasts: some majority-side nodes join the minority.
      flip: fc.option(fc.record({ afterMs: fc.integer({ min: 0, max: 3 * REMOVE }), movers: fc.subarray([0, 1, 2, 3, 4], { maxLength: 3 }) })),
      seed: fc.integer(),
    });
    assertProperty(
      "partitions",
      fc.property(scenario, ({ minority, partitionMs, loss, flip, seed }) => {
        let x = seed >>> 0;
        const rnd = (): number => ((x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32);
        const w = world();
        settle(w, rnd, 2_000);
        const inMinority = (i: number): boolean => minority.includes(i);
        w.side = IDS.map((_, i) => (inMinority(i) ? 1 : 0));
        const knownBefore = w.tables.map((t) => t.known());
        let flipped = false;
        for (let t = 0; t < partitionMs; t += STEP) {
          if (flip !== null && !flipped && t >= flip.afterMs) {
            flipped = true;
            for (const m of flip.movers) w.side[m] = 1;
          }
          step(w, rnd, loss);
          // At no instant can two sides both complete a majority write.
          const sides = new Set(IDS.map((_, i) => i).filter((i) => canAckMajority(w, i)).map((i) => w.side[i]));
          assert.ok(sides.size <= 1, `both sides can ack a majority at ${t} ms: ${JSON.stringify(w.side)}`);
          if (!flipped) {
            for (const i of minority) {
              assert.equal(w.tables[i]!.known(), knownBefore[i], `minority node n${i} shrank N`);
              const ids = w.tables[i]!.members().map((m) => m.node);
              for (const j of IDS.keys()) if (!inMinority(j)) assert.ok(ids.includes(IDS[j]!), `minority node n${i} removed n${j}`);
            }
          }
        }
        if (flip === null && loss === 0 && partitionMs >= REMOVE + FAIL + 2 * HB) {
          for (const i of IDS.keys()) {
            if (!inMinority(i)) assert.equal(w.tables[i]!.known(), 5 - minority.length, `majority node n${i} removed the minority`);
          }
        }
        // Heal: everyone admits everyone again.
        w.side = IDS.map(() => 0);
        settle(w, rnd, 4 * REMOVE);
        for (const t of w.tables) assert.equal(t.quorumPeers().length, 4);
      }),
      60,
    );
  });

  it("a graceful leave removes at once; a restart keeps its place in N and counts again once re-admitted", () => {
    const w = world();
    settle(w, Math.random, 2_000);
    const t0 = w.tables[0]!;
    const base = { dataCenter: "dc", roles: [], startedAtMs: 9, lastSequence: 0, silent: [], vouched: [], removed: [] };
    const events = t0.observe({ ...base, node: "n1", incarnation: 2, leaving: false, receivedAtMs: w.now });
    assert.deepEqual(events.filter((e) => e.type !== "leader-changed").map((e) => e.type), ["removed", "joined"]);
    assert.equal(t0.known(), 5);
    // It may have come back empty: its acknowledgements and replies count only after a digest round.
    assert.equal(t0.member("n1")?.counted, false);
    assert.ok(!t0.quorumPeers().includes("n1"));
    t0.observe({ ...base, node: "n1", incarnation: 2, leaving: false, vouched: ["n0", "n2", "n3", "n4"], receivedAtMs: w.now });
    t0.tick(w.now);
    assert.equal(t0.member("n1")?.counted, true, "re-admitted: it ran a round with us, the others vouch for it");
    t0.observe({ ...base, node: "n2", incarnation: 1, leaving: true, receivedAtMs: w.now });
    assert.equal(t0.known(), 4);
  });
});
