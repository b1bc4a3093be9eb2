import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { InvalidArgumentError } from "../../src/errors.js";
import { quorum, type ConsistencyLevel } from "../../src/cluster/quorum.js";
import { quorum as reExported } from "../../src/cluster/membership.js";
import { assertProperty } from "./fc-seed.js";

describe("quorum", () => {
  it("counts acknowledgements self included", () => {
    assert.equal(quorum("local", 5), 1);
    assert.equal(quorum("majority", 1), 1);
    assert.equal(quorum("majority", 2), 2);
    assert.equal(quorum("majority", 3), 2);
    assert.equal(quorum("majority", 4), 3);
    assert.equal(quorum("all", 4), 4);
    assert.equal(quorum({ count: 2 }, 4), 2);
    assert.equal(quorum({ count: 9 }, 4), 9, "more than exist: returned as is, the caller times out");
    assert.equal(reExported, quorum);
  });

  it("rejects invalid levels and member counts", () => {
    const bad: [unknown, number][] = [
      [{ count: 0 }, 3],
      [{ count: -1 }, 3],
      [{ count: 1.5 }, 3],
      [{ count: Number.NaN }, 3],
      ["quorum", 3],
      [null, 3],
      ["majority", 0],
      ["majority", 2.5],
    ];
    for (const [level, n] of bad) {
      assert.throws(() => quorum(level as ConsistencyLevel, n), InvalidArgumentError);
    }
  });

  it("any two majorities intersect, and a majority never exceeds the membership", () => {
    assertProperty(
      "majority intersects",
      fc.property(fc.integer({ min: 1, max: 10_000 }), (n) => {
        const m = quorum("majority", n);
        assert.ok(2 * m > n && m <= n && m >= 1);
        assert.ok(quorum("majority", n) <= quorum("all", n));
      }),
    );
  });
});
