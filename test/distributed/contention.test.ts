/**
 * The fault harness on one `nats-server -js`: 5 contender processes for 60 s while holders
 * are SIGKILLed and SIGSTOPped; an external checker reads the fenced log they append to.
 * Semaphore: the same harness with 2 permits. Barrier: 100 rounds of 5 processes; a participant
 * that never arrives makes the others fail with BarrierTimeoutError.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { BarrierTimeoutError } from "../../src/index.js";
import { Distributed } from "../../src/distributed/distributed.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { killAllWorkers, lockViolations, maxConcurrent, runChaos, startLog, startWorkers, stopViolations, type WorkerProcess } from "./fixtures/harness.js";

const TTL_MS = 2_000;

describe("coordination primitives under SIGKILL and SIGSTOP (one nats-server -js)", () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  after(async () => {
    killAllWorkers();
    await server?.stop();
  });

  it("lock: 5 processes for 60 s — no overlap of accepted holders, tokens increase, handoff within TTL + 1 s after a kill", { timeout: 180_000 }, async () => {
    const result = await runChaos({ servers: [server.url], kind: "lock", name: "harness-lock", ttlMs: TTL_MS, durationMs: 60_000 });
    const grants = result.records.filter((r) => r.what === "enter" && r.accepted).length;
    const refused = result.records.filter((r) => !r.accepted).length;
    console.log(`lock harness: ${grants} grants, ${result.kills.length} kills, ${result.stops.length} stops, ${refused} fenced-off records, handoffs after kill (ms): ${result.handoffsAfterKill.map((h) => h.toFixed(0)).join(" ")}`);
    assert.deepEqual(lockViolations(result), []);
    assert.ok(grants >= 50, `the lock kept changing hands (${grants} grants)`);
    assert.ok(result.kills.length >= 4 && result.stops.length >= 4, "the chaos happened");
    for (const h of result.handoffsAfterKill) assert.ok(h <= TTL_MS + 1_000, `a waiter got the lock ${h.toFixed(0)} ms after its holder was killed (bound ${TTL_MS + 1_000})`);
  });

  it("semaphore of 2: never more than 2 holders at once under the same chaos", { timeout: 120_000 }, async () => {
    const result = await runChaos({ servers: [server.url], kind: "semaphore", name: "harness-sem", permits: 2, ttlMs: TTL_MS, durationMs: 20_000 });
    const grants = result.records.filter((r) => r.what === "enter" && r.accepted).length;
    const most = maxConcurrent(result);
    console.log(`semaphore harness: ${grants} grants, ${result.kills.length} kills, ${result.stops.length} stops, at most ${most} inside`);
    assert.ok(most <= 2, `${most} holders at once`);
    assert.equal(most, 2, "both permits were in use at times (the test exercises concurrency)");
    assert.deepEqual(stopViolations(result), []);
    assert.ok(grants >= 20);
  });

  it("barrier: 100 rounds of 5 processes, no round lost or doubled, nobody passes before all arrived", { timeout: 180_000 }, async () => {
    const log = await startLog(false);
    let workers: WorkerProcess[] = []; // the log and every started worker go, even when a start fails
    try {
      workers = await startWorkers(
        Array.from({ length: 5 }, (_, i) => ({ worker: `b${i}`, servers: [server.url], kind: "barrier" as const, name: "harness-barrier", rounds: 100, expected: 5, logUrl: log.url })),
      );
      await Promise.all(workers.map((w) => w.exited));
    } finally {
      await Promise.all(workers.map((w) => w.kill()));
      await log.close();
    }
    const byWorker = new Map<string, number[]>();
    for (const r of log.records.filter((x) => x.what === "pass")) byWorker.set(r.worker, [...(byWorker.get(r.worker) ?? []), r.round!]);
    assert.equal(byWorker.size, 5);
    const first = byWorker.get("b0")![0]!;
    for (const [w, rounds] of byWorker) assert.deepEqual(rounds, Array.from({ length: 100 }, (_, i) => first + i), `${w} passed each round once, in order`);
    for (let step = 0; step < 100; step++) {
      const lastArrival = Math.max(...log.records.filter((r) => r.what === "arrive" && r.round === step).map((r) => r.at));
      const firstPass = Math.min(...log.records.filter((r) => r.what === "pass" && r.step === step).map((r) => r.at));
      assert.ok(firstPass > lastArrival, `round ${step}: nobody passed before the fifth arrived`);
    }
  });

  it("barrier: a participant that never arrives (crashed) makes the others fail with BarrierTimeoutError, and the barrier is usable afterwards", { timeout: 60_000 }, async () => {
    const ncs: NatsConnection[] = await Promise.all(Array.from({ length: 4 }, () => connect({ servers: server.url })));
    const ds = ncs.map((nc, i) => new Distributed({ connection: nc, nodeId: `p${i}`, subject: "harness" }));
    try {
      const started = performance.now();
      const outcomes = await Promise.allSettled(ds.map((d) => d.barrier("crash-barrier").arrive(5, { timeoutMs: 1_500 })));
      const waited = performance.now() - started;
      for (const o of outcomes) assert.ok(o.status === "rejected" && o.reason instanceof BarrierTimeoutError, `rejected with BarrierTimeoutError: ${String((o as PromiseRejectedResult).reason)}`);
      assert.match(String((outcomes[0] as PromiseRejectedResult).reason.message), /of 5 participants arrived within 1500 ms/);
      assert.ok(waited < 10_000, `they gave up in bounded time (${waited.toFixed(0)} ms)`);
      const next = await Promise.all(ds.map((d) => d.barrier("crash-barrier").arrive(4, { timeoutMs: 20_000 })));
      assert.equal(new Set(next.map((r) => r.round)).size, 1, "the survivors' next round passes for all of them");
    } finally {
      await Promise.all(ds.map((d) => d.close()));
      await Promise.all(ncs.map((nc) => nc.close()));
    }
  });
});
