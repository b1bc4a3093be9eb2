/**
 * The hybrid logical clock (pure, wall clock injected) and the incarnation rules.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { HybridClock } from "../../src/cluster/hlc.js";
import { chooseIncarnation, chooseStartedAt, IncarnationMemory } from "../../src/cluster/incarnations.js";
import { assertProperty } from "./fc-seed.js";

const SKEW = 60_000;

/** A step of a run: the wall clock moves (forwards or back), a write asks for a timestamp, or one arrives. */
type Step = { type: "wall"; by: number } | { type: "now" } | { type: "observe"; ahead: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ type: fc.constant("wall" as const), by: fc.integer({ min: -3_600_000, max: 3_600_000 }) }),
  fc.record({ type: fc.constant("now" as const) }),
  fc.record({ type: fc.constant("observe" as const), ahead: fc.integer({ min: -2 * SKEW, max: 2 * SKEW }) }),
);

describe("HybridClock", () => {
  test("now() never goes back, is at least the wall clock, and at least every timestamp it accepted", () => {
    assertProperty(
      "hlc monotonic",
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let wall = 1_700_000_000_000;
        const clock = new HybridClock(() => wall, SKEW);
        let previous = 0;
        let accepted = 0;
        for (const s of steps) {
          if (s.type === "wall") wall += s.by;
          else if (s.type === "observe") {
            const t = wall + s.ahead;
            const ok = clock.observe(t);
            assert.equal(ok, t <= wall + SKEW, "accepted exactly within the bound");
            if (ok) accepted = Math.max(accepted, t);
          } else {
            const t = clock.now();
            assert.ok(t >= previous, "monotonic, also when the wall clock steps back");
            assert.ok(t >= wall, "never behind the wall clock");
            assert.ok(t >= accepted, "never behind what it accepted");
            previous = t;
          }
        }
      }),
    );
  });

  test("a refused timestamp leaves the clock alone; the bound follows the wall clock", () => {
    let wall = 1_000_000;
    const clock = new HybridClock(() => wall, SKEW);
    assert.equal(clock.observe(Number.MAX_SAFE_INTEGER), false);
    assert.equal(clock.now(), wall, "2^53-1 did not drag the clock");
    assert.equal(clock.observe(wall + SKEW), true, "the bound itself is allowed");
    assert.equal(clock.now(), wall + SKEW);
    wall += 10;
    assert.equal(clock.bound(), wall + SKEW);
    assert.equal(clock.now(), wall + SKEW - 10, "held by what it saw until the wall clock catches up");
  });
});

describe("incarnations", () => {
  test("a new incarnation is above every known one and not below the wall clock", () => {
    assertProperty(
      "incarnation grows",
      fc.property(fc.nat(2 ** 45), fc.nat(2 ** 45), fc.nat(2 ** 45), fc.nat(2 ** 45), (wallMs, persisted, learned, lastInProcess) => {
        const i = chooseIncarnation({ wallMs, persisted, learned, lastInProcess });
        assert.ok(i >= wallMs && i > persisted && i > learned && i > lastInProcess);
        assert.ok(i === wallMs || i === persisted + 1 || i === learned + 1 || i === lastInProcess + 1, "no larger than needed");
      }),
    );
  });

  test("a clock stepped back an hour still restarts above the previous run", () => {
    const before = 1_800_000_000_000;
    assert.equal(chooseIncarnation({ wallMs: before - 3_600_000, persisted: 0, learned: before, lastInProcess: 0 }), before + 1);
  });

  test("a newcomer starts after the youngest member known, so it never takes the lead on arrival", () => {
    assert.equal(chooseStartedAt(1_000, 5_000), 5_001);
    assert.equal(chooseStartedAt(9_000, 5_000), 9_000);
    assert.equal(chooseStartedAt(9_000, 0), 9_000);
  });

  test("memory keeps the newest per id, bounded, forgetting the least recently heard", () => {
    const m = new IncarnationMemory(3);
    m.note("a", 5);
    m.note("a", 3);
    assert.equal(m.get("a"), 5, "an older incarnation never lowers it");
    m.note("b", 1);
    m.note("c", 1);
    m.note("a", 6); // a heard again: now the most recent
    m.note("d", 1); // evicts b
    assert.equal(m.size, 3);
    assert.equal(m.get("b"), 0);
    assert.equal(m.get("a"), 6);
    assert.equal(m.get("d"), 1);
  });
});
