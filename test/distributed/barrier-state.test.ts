/** The barrier protocol's pure decisions (barrier-state.ts), without NATS. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { InvalidArgumentError } from "../../src/errors.js";
import { arrive, decodeBarrier, emptyBarrier, encodeBarrier, leave, passed, type BarrierEntry } from "../../src/distributed/barrier-state.js";

describe("barrier-state", () => {
  it("in any arrival order, each round passes exactly when its last participant arrives", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 }), fc.infiniteStream(fc.nat()), (expected, rounds, picks) => {
        let e: BarrierEntry = emptyBarrier;
        const it = picks[Symbol.iterator]();
        for (let r = 0; r < rounds; r++) {
          const names = Array.from({ length: expected }, (_, i) => `p${i}#${r}`);
          const order = names.map((n) => [it.next().value as number, n] as const).sort((a, b) => a[0] - b[0]).map(([, n]) => n);
          order.forEach((p, i) => {
            const step = arrive(e, p, expected);
            assert.equal(step.round, r);
            e = step.entry!;
            assert.equal(passed(e, r), i === expected - 1, `round ${r} passes at the last arrival only`);
            if (i < expected - 1) assert.equal(arrive(e, p, expected).entry, undefined, "arriving twice counts once");
            assert.deepEqual(decodeBarrier(encodeBarrier(e)), e);
          });
          assert.equal(e.round, r + 1);
        }
      }),
    );
  });

  it("a participant that leaves is no longer counted; a passed round is not reopened", () => {
    let e = arrive(emptyBarrier, "a", 3).entry!;
    e = arrive(e, "b", 3).entry!;
    e = leave(e, "a", 0)!;
    assert.deepEqual(e.arrived, ["b"]);
    e = arrive(e, "c", 3).entry!;
    assert.equal(passed(e, 0), false, "two of three");
    e = arrive(e, "d", 3).entry!;
    assert.equal(passed(e, 0), true);
    assert.equal(leave(e, "b", 0), undefined, "leaving a passed round changes nothing");
  });

  it("refuses a different expected count within a round", () => {
    const e = arrive(emptyBarrier, "a", 3).entry!;
    assert.throws(() => arrive(e, "b", 4), InvalidArgumentError);
  });

  it("rejects malformed entries instead of throwing", () => {
    for (const text of ["", "{}", '{"round":-1,"expected":0,"arrived":[]}', '{"round":0,"expected":2,"arrived":["a","a"]}', '{"round":0,"expected":1,"arrived":["a"]}']) {
      assert.equal(decodeBarrier(new TextEncoder().encode(text)), undefined, text);
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void decodeBarrier(b)));
  });
});
