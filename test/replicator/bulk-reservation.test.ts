/**
 * How much room a bulk pull makes in the digest tree and the store (anti-entropy.ts
 * `bulkReservation`): once, for the whole estimate, and never more than EXPECT_FACTOR times what
 * the node holds, whatever the peer claims about its leaves.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { EXPECT_FACTOR, bulkReservation } from "../../src/replicator/anti-entropy.js";
import { assertProperty } from "../cluster/fc-seed.js";

describe("bulkReservation", () => {
  test("an honest pull of a million keys makes room once, for the whole estimate and a quarter", () => {
    // Three streams' first pages: 15 k keys each, from 1,000 of the 65,536 leaves each.
    const fraction = (3 * 1_000) / 65_536;
    const held = 45_000;
    const target = bulkReservation(held, held, fraction, 0);
    assert.ok(target !== undefined, "room is made once the estimate is within reach");
    const coming = held / fraction;
    assert.ok(coming > 900_000 && Math.abs(target - 1.25 * coming) < 1, `room for ${target}, estimate ${coming}`);
    // Later pages that keep to the estimate ask for nothing more.
    assert.equal(bulkReservation(600_000, 600_000, 0.6, target), undefined);
  });

  test("no step on the way: nothing until the whole estimate is within EXPECT_FACTOR times what is held", () => {
    // 15 k keys in 5 % of the leaves: 300 k coming, 375 k wanted, more than 32 × 10 k.
    assert.equal(bulkReservation(10_000, 15_000, 0.05, 0), undefined);
    // The same pace with 12 k held: within reach.
    assert.equal(bulkReservation(12_000, 15_000, 0.05, 0), 1.25 * (12_000 + 300_000 - 15_000));
  });

  test("a peer that claims a sliver of its leaves makes us reserve nothing", () => {
    // 1,000 keys said to be 0.01 % of the leaves: ten million "coming".
    assert.equal(bulkReservation(1_000, 1_000, 0.0001, 0), undefined);
  });

  test("no fraction to go by (none, all, or not a number): nothing", () => {
    for (const fraction of [0, 1, -0.5, 2, Number.NaN]) assert.equal(bulkReservation(1_000, 1_000, fraction, 0), undefined, String(fraction));
  });

  test("property: room is made only above what was made, and never past EXPECT_FACTOR times what is held", () => {
    assertProperty(
      "bulk reservation bound",
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.double({ min: -1, max: 2, noNaN: false }),
        fc.integer({ min: 0, max: 20_000_000 }),
        (held, received, fraction, reserved) => {
          const target = bulkReservation(held, received, fraction, reserved);
          if (target === undefined) return;
          assert.ok(target <= EXPECT_FACTOR * held, `${target} > ${EXPECT_FACTOR} × ${held}`);
          assert.ok(target > reserved, `${target} ≤ ${reserved} made already`);
          assert.ok(fraction > 0 && fraction < 1);
        },
      ),
    );
  });
});
