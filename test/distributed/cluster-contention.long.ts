/**
 * The fault harness on a 3-server JetStream cluster with replicas 3 (`npm run test:distributed`;
 * kept out of `npm test` for its length): lock and semaphore contenders spread over the three
 * servers while holders are SIGKILLed and SIGSTOPped, then 100 barrier rounds.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { Distributed } from "../../src/distributed/distributed.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";
import { killAllWorkers, lockViolations, maxConcurrent, runChaos, startLog, startWorkers, stopViolations, type WorkerProcess } from "./fixtures/harness.js";

const TTL_MS = 2_000;

describe("coordination primitives on a 3-server JetStream cluster (replicas 3)", () => {
  let cluster: NatsCluster;
  before(async () => {
    cluster = await startNatsCluster({ jetstream: true, name: "coord" });
    // A fresh JetStream cluster elects its leaders for a few seconds: create the buckets (replicas 3) first.
    const nc = await connect({ servers: cluster.urls[0]! });
    const d = new Distributed({ connection: nc, nodeId: "warm-up", subject: "harness" });
    try {
      await d.lock("warm-up", { replicas: 3 }).inspect();
      await d.semaphore("warm-up", 1, { replicas: 3 }).inspect();
      await d.barrier("warm-up", { replicas: 3 }).arrive(1, { timeoutMs: 30_000 });
    } finally {
      await d.close();
      await nc.close();
    }
  });
  after(async () => {
    killAllWorkers();
    await cluster?.stop();
  });

  it("lock: 5 processes for 30 s — no overlap, tokens increase, handoff within TTL + 1 s after a kill", { timeout: 180_000 }, async () => {
    const result = await runChaos({ servers: [...cluster.urls], kind: "lock", name: "cluster-lock", ttlMs: TTL_MS, replicas: 3, durationMs: 30_000 });
    const grants = result.records.filter((r) => r.what === "enter" && r.accepted).length;
    console.log(`cluster lock harness: ${grants} grants, ${result.kills.length} kills, ${result.stops.length} stops, ${result.records.filter((r) => !r.accepted).length} fenced-off records, handoffs after kill (ms): ${result.handoffsAfterKill.map((h) => h.toFixed(0)).join(" ")}`);
    assert.deepEqual(lockViolations(result), []);
    assert.ok(grants >= 20);
    for (const h of result.handoffsAfterKill) assert.ok(h <= TTL_MS + 1_000, `handoff ${h.toFixed(0)} ms after a kill`);
  });

  it("semaphore of 2: never more than 2 holders at once", { timeout: 120_000 }, async () => {
    const result = await runChaos({ servers: [...cluster.urls], kind: "semaphore", name: "cluster-sem", permits: 2, ttlMs: TTL_MS, replicas: 3, durationMs: 20_000 });
    const most = maxConcurrent(result);
    console.log(`cluster semaphore harness: ${result.records.filter((r) => r.what === "enter").length} grants, at most ${most} inside`);
    assert.ok(most <= 2);
    assert.deepEqual(stopViolations(result), []);
  });

  it("barrier: 100 rounds of 5 processes, each round passed once by everyone", { timeout: 240_000 }, async () => {
    const log = await startLog(false);
    let workers: WorkerProcess[] = []; // the log and every started worker go, even when a start fails
    try {
      workers = await startWorkers(
        Array.from({ length: 5 }, (_, i) => ({ worker: `b${i}`, servers: [cluster.urls[i % 3]!], kind: "barrier" as const, name: "cluster-barrier", rounds: 100, expected: 5, replicas: 3, logUrl: log.url })),
      );
      await Promise.all(workers.map((w) => w.exited));
    } finally {
      await Promise.all(workers.map((w) => w.kill()));
      await log.close();
    }
    for (let i = 0; i < 5; i++) {
      const rounds = log.records.filter((r) => r.worker === `b${i}` && r.what === "pass").map((r) => r.round!);
      assert.deepEqual(rounds, Array.from({ length: 100 }, (_, k) => rounds[0]! + k));
    }
  });
});
