/**
 * The queue bound with real processes against a real `nats-server -js`: 100,000 items
 * enqueued by 3 producer processes and taken out by 5 consumer processes, two of them SIGKILLed
 * mid-way. `dequeue`: no item delivered twice. `take`/`ack`: every item processed at least once,
 * none lost. (QUEUE_ITEMS overrides the count, for a quicker local run.)
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { checkAtLeastOnce, checkAtMostOnce } from "./fixtures/queue-checks.js";
import { runQueue } from "./fixtures/queue-harness.js";

const ITEMS = Number(process.env.QUEUE_ITEMS ?? 100_000);
let server: NatsServer;

before(async () => {
  server = await startNatsServer({ jetstream: true });
});
after(async () => {
  await server?.stop();
});

const run = (mode: "dequeue" | "take") =>
  runQueue({ mode, servers: [server.url], queue: `procs-${mode}`, items: ITEMS, producers: 3, consumers: 5, killConsumers: 2, replicas: 1, ackWaitMs: 3_000, timeoutMs: 600_000 });

test(`dequeue: ${ITEMS} items, 3 producers, 5 consumers of which 2 SIGKILLed: every item delivered at most once`, { timeout: 900_000 }, async () => {
  const r = await run("dequeue");
  checkAtMostOnce(r, ITEMS);
  console.log(`# dequeue: ${new Set(r.delivered).size} delivered of ${ITEMS} (none twice) in ${r.tookMs} ms`);
});

test(`take/ack: ${ITEMS} items, 3 producers, 5 consumers of which 2 SIGKILLed: every item processed at least once, none lost`, { timeout: 900_000 }, async () => {
  const r = await run("take");
  checkAtLeastOnce(r, ITEMS);
  console.log(`# take/ack: ${r.processed.length} processed (${r.processed.length - ITEMS} again) in ${r.tookMs} ms`);
  assert.ok(r.killed === 2);
});
