/**
 * The seeded fault schedules of test/sim/ (drops, duplicates, reordering, partitions, restarts,
 * local and majority writes and reads, in virtual time) with a cluster key on every node: the same
 * guarantees hold (convergence on their own, no acknowledged write lost, exact counters), and the
 * only extra rejects are the bus's duplicates, dropped as replays.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DEFAULT_SEED, describeFailure, formatSummary, runSchedules } from "../sim/run.js";

const SCHEDULES = process.env.SIM_SCHEDULES !== undefined ? Number(process.env.SIM_SCHEDULES) : 30;

describe("simulation with a cluster key", () => {
  test(`${SCHEDULES} seeded schedules converge, lose nothing, and reject only duplicates`, { timeout: 600_000 }, async () => {
    const summary = await runSchedules(DEFAULT_SEED + 500_000, SCHEDULES, { clusterKey: "the-cluster-key-of-the-simulation-0123" });
    console.log(formatSummary(summary));
    assert.deepEqual(summary.failed.slice(0, 5).map(describeFailure), [], `${summary.failed.length} schedules failed`);
    assert.equal(summary.lost, 0);
  });
});
