/**
 * The fault harness's semaphore checker (maxConcurrent) on hand-made logs: a record delayed past
 * its holder's lease end neither hides that holder's later in-lease records nor stretches its stay.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { maxConcurrent, type ChaosResult, type LogRecord } from "./fixtures/harness.js";

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
