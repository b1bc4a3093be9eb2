/**
 * The chaos suite's checker on small hand-made logs: what must pass passes, and every kind of loss
 * (a lost acknowledged add, a short counter, an older register, a stale majority read, diverged
 * nodes, phantoms) fails it — including a locally acknowledged write whose node crashed with its
 * disk intact, or lost its disk only after it had clear weather to replicate.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CLEAR_MS, check, hasClearStretch, mustSurvive, type NodeState } from "../../chaos/checker.js";
import type { FaultRecord, Op, ReadOp, WriteOp } from "../../chaos/records.js";

let ids = 0;
function write(w: Partial<WriteOp> & Pick<WriteOp, "type" | "key" | "args">): WriteOp {
  return { id: ++ids, kind: "write", node: 0, level: "local", start: 1_000, end: 1_010, outcome: "ok", status: 200, ...w };
}
function read(r: Partial<ReadOp> & Pick<ReadOp, "type" | "key" | "value">): ReadOp {
  return { id: ++ids, kind: "read", node: 1, level: "majority", start: 5_000, end: 5_010, outcome: "ok", status: 200, ...r };
}
const kill = (node: number, start: number, end = start + 3_000): FaultRecord => ({ kind: "kill", target: node, start, end, killed: true });
const wipe = (node: number, start: number): FaultRecord => ({ ...kill(node, start), kind: "kill-wipe", wiped: true });
const everywhere = (s: NodeState, n = 3): NodeState[] => Array.from({ length: n }, () => structuredClone(s));

test("a clean log passes: every acknowledged write present, reads fresh, nodes equal", () => {
  const ops: Op[] = [
    write({ type: "gcounter", key: "c", args: { by: 2 } }),
    write({ type: "gcounter", key: "c", args: { by: 3 }, level: "majority" }),
    write({ type: "gcounter", key: "c", args: { by: 4 }, outcome: "unknown" }),
    write({ type: "gcounter", key: "c", args: { by: 100 }, outcome: "failed" }),
    write({ type: "orset", key: "s", args: { value: "v1" }, level: "majority" }),
    write({ type: "orset", key: "s", args: { value: "v2" }, outcome: "unknown" }),
    write({ type: "lwwregister", key: "r", args: { value: "a" }, timestamp: 10, level: "majority" }),
    write({ type: "lwwregister", key: "r", args: { value: "b" }, timestamp: 20 }),
    write({ type: "lwwmap", key: "m", args: { field: "f", value: "x" } }),
    read({ type: "gcounter", key: "c", value: 3 }),
    read({ type: "orset", key: "s", value: ["v1"] }),
    read({ type: "lwwregister", key: "r", value: { value: "a", timestamp: 10 } }),
    read({ type: "orset", key: "s", value: null, start: 500 }), // began before the write was acknowledged
  ];
  const finals = everywhere({
    c: { type: "gcounter", value: 9 }, // 2 + 3 acknowledged, + 4 unknown that happened
    s: { type: "orset", value: ["v1"] }, // the unknown add did not happen: allowed
    r: { type: "lwwregister", value: "b", detail: { timestamp: 20, node: "n1" } },
    m: { type: "lwwmap", value: { f: "x" } },
  });
  const result = check({ ops, faults: [], finals });
  assert.deepEqual(result.violations, []);
  assert.equal(result.ok, true);
  assert.equal(result.lost, 0);
  assert.equal(result.converged, true);
  assert.equal(result.mustSurvive, 6);
});

test("a lost majority-acknowledged add fails the run and counts as lost", () => {
  const add = write({ type: "orset", key: "s", args: { value: "v1" }, level: "majority", node: 2 });
  const result = check({ ops: [add], faults: [kill(2, 1_100)], finals: everywhere({}) });
  assert.equal(result.ok, false);
  assert.equal(result.lost, 3, "missing on each of the 3 nodes");
  assert.deepEqual(result.violations[0]?.ops, [add.id]);
});

test("a locally acknowledged write may be lost only if its node lost its disk before clear weather", () => {
  const add = write({ type: "orset", key: "s", args: { value: "v1" }, node: 1 });
  // SIGKILLed 1 s after the acknowledgement, snapshot kept: write-through kept it, no excuse.
  const kept = check({ ops: [add], faults: [kill(1, 2_000)], finals: everywhere({}) });
  assert.equal(kept.ok, false);
  assert.equal(kept.lost, 3, "missing on each of the 3 nodes");
  // SIGKILLed and wiped 1 s after the acknowledgement: excused.
  const early = check({ ops: [add], faults: [wipe(1, 2_000)], finals: everywhere({}) });
  assert.equal(early.ok, true, JSON.stringify(early.violations));
  assert.equal(early.excused, 1);
  // Wiped 1 s after a 20 s link cut ended, the cut having begun right after the acknowledgement: excused.
  const cut: FaultRecord = { kind: "link-reset", target: 1, start: 1_100, end: 21_000 };
  assert.equal(check({ ops: [add], faults: [cut, wipe(1, 22_000)], finals: everywhere({}) }).ok, true);
  // A cut of another node is no excuse: node 1 had clear weather.
  const other: FaultRecord = { kind: "link-reset", target: 2, start: 1_100, end: 21_000 };
  assert.equal(check({ ops: [add], faults: [other, wipe(1, 22_000)], finals: everywhere({}) }).ok, false);
  // Wiped only after CLEAR_MS of clear weather: it must survive, and it is missing.
  assert.equal(check({ ops: [add], faults: [wipe(1, 1_010 + CLEAR_MS + 1)], finals: everywhere({}) }).ok, false);
  // A broker hang counts against every node.
  const hang: FaultRecord = { kind: "broker-pause", target: 0, start: 1_050, end: 9_000 };
  assert.equal(check({ ops: [add], faults: [hang, wipe(1, 10_000)], finals: everywhere({}) }).ok, true);
  // Never killed at all: no excuse, whatever the weather.
  assert.equal(check({ ops: [add], faults: [cut], finals: everywhere({}) }).ok, false);
});

test("majority writes are never excused; unknown and failed writes are never required", () => {
  const majority = write({ type: "orset", key: "s", args: { value: "v" }, level: "majority" });
  assert.equal(mustSurvive(majority, [wipe(0, 1_020)]), true);
  assert.equal(mustSurvive(write({ type: "orset", key: "s", args: { value: "v" }, outcome: "unknown" }), []), false);
  assert.equal(mustSurvive(write({ type: "orset", key: "s", args: { value: "v" }, outcome: "failed" }), []), false);
  // A 504 that applied locally is a local acknowledgement, not yet durable: any crash excuses it.
  const timedOut = write({ type: "orset", key: "s", args: { value: "v" }, level: "majority", outcome: "unknown", localApplied: true });
  assert.equal(mustSurvive(timedOut, []), true);
  assert.equal(mustSurvive(timedOut, [kill(0, 1_500)]), false);
  assert.equal(mustSurvive(timedOut, [kill(0, 1_500 + CLEAR_MS)]), true);
});

test("counters: below the acknowledged sum is a loss, above the attempted sum a phantom", () => {
  const ops = [
    write({ type: "gcounter", key: "c", args: { by: 5 } }),
    write({ type: "gcounter", key: "c", args: { by: 1 }, outcome: "unknown" }),
    write({ type: "gcounter", key: "c", args: { by: 7 }, outcome: "failed" }),
  ];
  const short = check({ ops, faults: [], finals: everywhere({ c: { type: "gcounter", value: 3 } }) });
  assert.equal(short.ok, false);
  assert.equal(short.lost, 6, "2 increments short on each of 3 nodes");
  const over = check({ ops, faults: [], finals: everywhere({ c: { type: "gcounter", value: 7 } }) });
  assert.equal(over.ok, false, "the failed increment of 7 cannot have happened");
  assert.equal(over.lost, 0);
  assert.equal(check({ ops, faults: [], finals: everywhere({ c: { type: "gcounter", value: 6 } }) }).ok, true);
});

test("registers and maps: older than an acknowledged write, or holding what nobody wrote, fails", () => {
  const w = write({ type: "lwwregister", key: "r", args: { value: "new" }, timestamp: 50, level: "majority" });
  const older = check({ ops: [w], faults: [], finals: everywhere({ r: { type: "lwwregister", value: "old", detail: { timestamp: 40, node: "n2" } } }) });
  assert.equal(older.ok, false);
  assert.ok(older.violations.some((v) => v.message.includes("nobody wrote")));
  assert.equal(older.lost, 3);
  const put = write({ type: "lwwmap", key: "m", args: { field: "f", value: "x" } });
  const gone = check({ ops: [put], faults: [], finals: everywhere({ m: { type: "lwwmap", value: { g: "x" } } }) });
  assert.equal(gone.ok, false);
  assert.equal(gone.lost, 3);
  assert.ok(gone.violations.some((v) => v.message.includes("which nobody put")));
});

test("a majority read that began after a majority write was acknowledged must see it", () => {
  const add = write({ type: "orset", key: "s", args: { value: "v1" }, level: "majority", end: 2_000 });
  const inc = write({ type: "gcounter", key: "c", args: { by: 4 }, level: "majority", end: 2_000 });
  const finals = everywhere({ s: { type: "orset", value: ["v1"] }, c: { type: "gcounter", value: 4 } });
  const stale = check({ ops: [add, inc, read({ type: "orset", key: "s", value: [] }), read({ type: "gcounter", key: "c", value: null })], faults: [], finals });
  assert.equal(stale.ok, false);
  assert.equal(stale.staleReads, 2);
  // Overlapping the write (began before its acknowledgement): anything goes.
  const overlapping = read({ type: "orset", key: "s", value: [], start: 1_500 });
  assert.equal(check({ ops: [add, overlapping], faults: [], finals }).ok, true);
  // A local write does not bind a majority read.
  const local = write({ type: "orset", key: "s", args: { value: "v1" }, end: 2_000 });
  assert.equal(check({ ops: [local, read({ type: "orset", key: "s", value: [] })], faults: [], finals }).ok, true);
});

test("nodes that disagree, or one that cannot be read, fail convergence", () => {
  const finals: (NodeState | undefined)[] = [{ s: { type: "orset", value: ["a", "b"] } }, { s: { type: "orset", value: ["b", "a"] } }, { s: { type: "orset", value: ["a"] } }];
  const ops = [write({ type: "orset", key: "s", args: { value: "a" } }), write({ type: "orset", key: "s", args: { value: "b" }, outcome: "unknown" })];
  const diverged = check({ ops, faults: [], finals });
  assert.equal(diverged.converged, false);
  assert.equal(diverged.ok, false);
  assert.equal(diverged.violations.filter((v) => v.check === "convergence").length, 1, "element order alone is no divergence");
  const unreadable = check({ ops, faults: [], finals: [finals[0], undefined, finals[1]] });
  assert.equal(unreadable.converged, false);
  assert.equal(unreadable.ok, false);
});

test("clear stretches between storms", () => {
  assert.equal(hasClearStretch(0, 10, [], 5), true);
  assert.equal(hasClearStretch(0, 4, [], 5), false);
  assert.equal(hasClearStretch(0, 20, [[2, 8], [9, 20]], 5), false);
  assert.equal(hasClearStretch(0, 20, [[2, 8], [14, 20]], 5), true, "8..14");
  assert.equal(hasClearStretch(0, 20, [[-5, 3], [4, 6], [5, 14]], 5), true, "14..20");
  assert.equal(hasClearStretch(0, 20, [[-5, 16]], 5), false);
});
