/**
 * The chaos suite's fault schedule: one seed, one schedule; faults bounded and kept out of the
 * warm-up and the heal phase; never more than two nodes or one broker-side fault at a time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BROKER_FAULTS, generateSchedule, NODE_FAULTS, type ScheduledFault } from "../../chaos/schedule.js";

const shape = { durationMs: 600_000, nodes: 5, brokers: 3 };

test("one seed replays the same schedule; another seed gives another", () => {
  assert.deepEqual(generateSchedule({ seed: 7, ...shape }), generateSchedule({ seed: 7, ...shape }));
  assert.notDeepEqual(generateSchedule({ seed: 7, ...shape }).faults, generateSchedule({ seed: 8, ...shape }).faults);
});

test("faults are bounded, outside warm-up and heal, and overlap only as allowed", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const { faults, initialClockOffsetsMs } = generateSchedule({ seed, ...shape, warmupMs: 5_000, healMs: 20_000 });
    assert.equal(initialClockOffsetsMs.length, 5);
    assert.ok(faults.length > 50, `seed ${seed}: a 10-minute run sees many faults (${faults.length})`);
    const kinds = new Set(faults.map((f) => f.kind));
    for (const k of [...NODE_FAULTS, ...BROKER_FAULTS]) assert.ok(kinds.has(k) || seed > 10, `seed ${seed}: ${k} scheduled`);
    for (const f of faults) {
      assert.ok(f.at >= 5_000 && f.at + f.durationMs <= 580_000, `seed ${seed}: ${JSON.stringify(f)} inside the fault phase`);
      assert.ok(f.durationMs >= 500 && f.durationMs <= 8_000);
    }
    const activeAt = (t: number, which: (f: ScheduledFault) => boolean): ScheduledFault[] =>
      faults.filter((f) => which(f) && f.at <= t && t < f.at + f.durationMs);
    for (const f of faults) {
      const isBroker = (x: ScheduledFault): boolean => (BROKER_FAULTS as readonly string[]).includes(x.kind);
      if (isBroker(f)) {
        assert.equal(activeAt(f.at, isBroker).length, 1, `seed ${seed}: one broker-side fault at ${f.at}`);
      } else {
        const nodes = activeAt(f.at, (x) => !isBroker(x)).map((x) => x.target);
        assert.ok(nodes.length <= 2, `seed ${seed}: at most two nodes faulted at ${f.at}`);
        assert.equal(new Set(nodes).size, nodes.length, `seed ${seed}: one fault per node at ${f.at}`);
      }
    }
  }
});
