/**
 * The fault harness's checkers on hand-made logs. maxConcurrent: a record delayed past its
 * holder's lease end neither hides that holder's later in-lease records nor stretches its stay.
 * stopViolations: a holder stopped after it decided to exit has nothing to notice; one that acts
 * on its lease after waking must have noticed it lost it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { maxConcurrent, stopViolations, type ChaosResult, type LogRecord } from "./fixtures/harness.js";

const rec = (pid: number, token: number, what: LogRecord["what"], at: number, leaseEnd?: number): LogRecord => ({
  worker: `w${pid}`,
  pid,
  token,
  what,
  at,
  accepted: true,
  ...(leaseEnd === undefined ? {} : { leaseEnd }),
});
const log = (records: LogRecord[]): ChaosResult => ({ records, handoffsAfterKill: [], stops: [], kills: [] });

describe("semaphore checker (maxConcurrent)", () => {
  it("counts a holder whose enter arrived late but whose later records are within its renewed lease", () => {
    const records = [
      rec(1, 5, "enter", 100, 90), // delayed past the lease end it was sent with
      rec(2, 6, "enter", 120, 2_000),
      rec(3, 7, "enter", 130, 2_000),
      rec(1, 5, "work", 150, 2_000), // renewed meanwhile: inside again, alongside 6 and 7
      rec(1, 5, "exit", 200, 2_000),
      rec(2, 6, "exit", 300, 2_000),
      rec(3, 7, "exit", 300, 2_000),
    ];
    assert.equal(maxConcurrent(log(records)), 3);
  });

  it("ends a stay at the lease end its holder reported, not at a record delayed past it", () => {
    const records = [
      rec(1, 5, "enter", 100, 1_000),
      rec(2, 6, "enter", 110, 5_000),
      rec(3, 7, "enter", 1_100, 5_000), // granted after 5 expired
      rec(1, 5, "exit", 1_500, 1_000), // sent in time, delivered late
      rec(2, 6, "exit", 2_000, 5_000),
      rec(3, 7, "exit", 2_000, 5_000),
    ];
    assert.equal(maxConcurrent(log(records)), 2);
  });
});

describe("SIGSTOP checker (stopViolations)", () => {
  const stop = { pid: 1, token: 5, stoppedAt: 1_000, resumedAt: 4_000 };
  const stopped = (records: LogRecord[]): ChaosResult => ({ ...log(records), stops: [stop] });
  const checkedAt = (r: LogRecord, at: number): LogRecord => ({ ...r, checkedAt: at });

  it("accepts an exit decided before the stop that reaches the log after the resume", () => {
    const records = [rec(1, 5, "enter", 500, 2_500), checkedAt(rec(1, 5, "exit", 4_010, 2_900), 900)];
    assert.deepEqual(stopViolations(stopped(records)), []);
  });

  it("flags a holder that, after waking, works on under the lost lease without reporting it", () => {
    const records = [rec(1, 5, "enter", 500, 2_500), checkedAt(rec(1, 5, "work", 4_010, 4_500), 4_005), checkedAt(rec(1, 5, "exit", 4_050, 4_500), 4_040)];
    assert.equal(stopViolations(stopped(records)).length, 1);
  });

  it("accepts a holder that reports the loss after waking, even after a work record decided before the stop", () => {
    const records = [rec(1, 5, "enter", 500, 2_500), checkedAt(rec(1, 5, "work", 4_010, 2_950), 950), rec(1, 5, "lost", 4_070)];
    assert.deepEqual(stopViolations(stopped(records)), []);
  });
});
