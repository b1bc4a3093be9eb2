/** The simulation's checker: a majority read of a counter once a leader absorbed a removed node's ids. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GCounter } from "../../src/crdt/gcounter.js";
import { check, type SimLog, type WriteRecord } from "./checks.js";

const NODES = ["n0", "n1", "n2", "n3", "n4"];
const sides = [new Map(NODES.map((n) => [n, NODES]))];

function majorityIncrement(node: string, writer: string, by: number, after: number, at: number): WriteRecord {
  return { op: "gcounter", key: "g", node, writer, changed: true, level: "majority", slot: { side: "inc", after, by }, outcome: "ok", startedAt: at, startEpoch: 0, members: 5, endedAt: at + 1, endEpoch: 0 };
}

/** n2 wrote 3 (acknowledged by a majority), n0 wrote 3; then n3 read `value`. */
function logReading(value: GCounter): SimLog {
  return {
    writes: [majorityIncrement("n2", "n2~1", 3, 3, 1), majorityIncrement("n0", "n0~1", 3, 3, 5)],
    reads: [{ key: "g", node: "n3", outcome: "ok", value, startedAt: 10, startEpoch: 0, members: 5, endedAt: 11, endEpoch: 0 }],
    stops: [],
  };
}

test("once a leader absorbed a removed node's ids, a read counts the node's amount held in the leader's slot", () => {
  // n0 absorbed n2's 3 into its slot; n2 came back and re-issued under its fold id only what it wrote beyond (2).
  const absorbedThenComeback = GCounter.fromFlatSlots(["n0~1", 6, "n2^2", 2]);
  assert.deepEqual(check(logReading(absorbedThenComeback), sides, [], true).failures, []);
  // Without an absorption in the run, the writer's own slots must show it.
  assert.match(check(logReading(absorbedThenComeback), sides, [], false).failures.join("\n"), /stale read: .* missed majority gcounter g \+→3 on n2/);
  // A whole counter short of what the acknowledged writes add up to is stale, absorption or not.
  const short = GCounter.fromFlatSlots(["n0~1", 3, "n2^2", 2]);
  assert.match(check(logReading(short), sides, [], true).failures.join("\n"), /stale read: .* missed majority gcounter g \+→3 on n2/);
});

test("a stop excuses the unreplicated local writes of every writer id its process wrote under, not just its last", () => {
  const localWrite: WriteRecord = { ...majorityIncrement("n1", "n1~1", 3, 3, 1), level: "local" };
  // The process renewed its id to n1~2 (a fold of its ids reached it), then crashed before its write under n1~1 spread.
  const log = (writers: string[]): SimLog => ({ writes: [localWrite], reads: [], stops: [{ node: "n1", writers, at: 5 }] });
  const replicas = [new Map([["g", GCounter.fromFlatSlots(["n0~1", 1])]])];
  assert.deepEqual(check(log(["n1~2", "n1~1"]), sides, replicas).failures, []);
  const report = check(log(["n1~2"]), sides, replicas);
  assert.equal(report.lost, 1);
  assert.match(report.failures.join("\n"), /lost: local gcounter g \+→3 on n1/);
});
