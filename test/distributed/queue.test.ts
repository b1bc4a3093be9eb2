/** The queue against a real `nats-server -js`, in one process: FIFO, both ways out, redelivery, bad items. */
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { after, before, test } from "node:test";
import { ConfigError, InvalidArgumentError, MemoryNetwork, Replicator } from "../../src/index.js";
import { queueNames } from "../../src/distributed/names.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";

let server: NatsServer;
let r: Replicator;
let raw: NatsConnection;

before(async () => {
  server = await startNatsServer({ jetstream: true });
  r = await Replicator.start({ nodeId: "q1", nats: { servers: server.url } });
  raw = await connect({ servers: server.url });
});
after(async () => {
  await raw?.close();
  await r?.close();
  await server?.stop();
});

test("enqueue, peek and dequeue in FIFO order; empty is undefined", async () => {
  const q = r.distributed().queue<{ job: number }>("fifo");
  assert.equal(await q.dequeue(), undefined);
  assert.equal(await q.peek(), undefined);
  for (let job = 1; job <= 3; job++) await q.enqueue({ job });
  assert.equal(await q.size(), 3);
  assert.deepEqual(await q.peek(), { job: 1 });
  assert.deepEqual(await q.peek(), { job: 1 }, "peek leaves the item");
  assert.deepEqual(await q.dequeue(), { job: 1 });
  // Another handle of the same name is the same queue.
  const other = r.distributed().queue<{ job: number }>("fifo");
  assert.deepEqual(await other.dequeue(), { job: 2 });
  assert.deepEqual(await q.dequeue(), { job: 3 });
  assert.equal(await q.dequeue(), undefined);
  assert.equal(await q.size(), 0);
});

test("concurrent dequeues share batch pulls and never hand out an item twice", async () => {
  const q = r.distributed().queue<number>("concurrent");
  await Promise.all(Array.from({ length: 500 }, (_, i) => q.enqueue(i)));
  const got = await Promise.all(Array.from({ length: 600 }, () => q.dequeue()));
  const items = got.filter((x) => x !== undefined);
  assert.equal(items.length, 500);
  assert.equal(new Set(items).size, 500);
});

test("dequeue with waitMs waits for an item enqueued meanwhile", async () => {
  const q = r.distributed().queue<string>("wait");
  const waiting = q.dequeue({ waitMs: 10_000 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  await q.enqueue("late");
  assert.equal(await waiting, "late");
});

test("take without ack: the item comes again after ackWaitMs; ack removes it; a foreign receipt is refused", async () => {
  const q = r.distributed().queue<string>("redeliver", { ackWaitMs: 500 });
  await q.enqueue("work");
  const first = await q.take();
  assert.equal(first?.value, "work");
  assert.equal(first?.deliveries, 1);
  assert.equal(await q.take(), undefined, "in the hands of its taker");
  let again: Awaited<ReturnType<typeof q.take>>;
  await waitFor(async () => (again = await q.take()) !== undefined, { timeoutMs: 15_000, message: "the unacked item came back" });
  assert.equal(again!.value, "work");
  assert.equal(again!.deliveries, 2);
  await again!.ack();
  assert.equal(await q.size(), 0);
  await first!.ack(); // late and twice: harmless
  const elsewhere = r.distributed().queue<string>("other-queue");
  await assert.rejects(elsewhere.ack(first!.receipt), InvalidArgumentError);
  await assert.rejects(q.ack("$JS.API.STREAM.DELETE.x"), InvalidArgumentError);
});

test("an item is acked from another handle by its receipt (as over HTTP)", async () => {
  const q = r.distributed().queue<string>("receipts", { ackWaitMs: 60_000 });
  await q.enqueue("a");
  const t = await q.take();
  await r.distributed().queue<string>("receipts").ack(t!.receipt);
  assert.equal(await q.size(), 0);
});

test("enqueue with the same id stores the item once", async () => {
  const q = r.distributed().queue<string>("dedup");
  await q.enqueue("x", { id: "job-1" });
  await q.enqueue("x", { id: "job-1" });
  assert.equal(await q.size(), 1);
});

test("a custom codec; oversized or unencodable items are refused at enqueue", async () => {
  const q = r.distributed().queue<bigint>("codec", {
    codec: { encode: (v) => new TextEncoder().encode(v.toString()), decode: (b) => BigInt(new TextDecoder().decode(b)) },
    maxItemBytes: 32,
  });
  await q.enqueue(2n ** 64n);
  assert.equal(await q.dequeue(), 2n ** 64n);
  await assert.rejects(q.enqueue(10n ** 40n), /41 bytes, more than the 32/);
  const json = r.distributed().queue<unknown>("json");
  await assert.rejects(json.enqueue(1n), InvalidArgumentError);
  await assert.rejects(json.enqueue(undefined), InvalidArgumentError);
  assert.throws(() => r.distributed().queue("bad", { ackWaitMs: -1 }), InvalidArgumentError);
  assert.throws(() => r.distributed().queue("bad", { codec: {} as never }), InvalidArgumentError);
});

test("garbage published straight to the stream is removed and counted, never handed out, never blocks", async () => {
  const q = r.distributed().queue<{ ok: number }>("garbage", { maxItemBytes: 64 });
  await q.enqueue({ ok: 0 }); // creates the stream
  assert.deepEqual(await q.dequeue(), { ok: 0 });
  const { subject } = queueNames(r.options.subject, "garbage");
  const publishRaw = async (data: Uint8Array | string): Promise<void> => {
    await raw.request(subject, data, { timeout: 5_000 }); // the stream's PubAck
  };
  await publishRaw("{not json");
  await publishRaw(new Uint8Array([0xff, 0xfe, 0x00]));
  await publishRaw(JSON.stringify({ pad: "x".repeat(100) })); // decodes, but over maxItemBytes
  await q.enqueue({ ok: 1 });
  await publishRaw("}");
  await q.enqueue({ ok: 2 });
  await publishRaw("[");
  await q.enqueue({ ok: 3 });
  assert.deepEqual(await q.peek(), { ok: 1 }, "peek skips (and removes) the garbage ahead");
  assert.deepEqual(await q.dequeue(), { ok: 1 });
  const taken = await q.take();
  assert.deepEqual(taken?.value, { ok: 2 });
  await taken!.ack();
  assert.deepEqual(await q.dequeue(), { ok: 3 });
  assert.equal(await q.dequeue(), undefined);
  assert.equal(q.stats.rejected, 5);
  assert.equal(await q.size(), 0);
});

test("destroy deletes the queue with its items", async () => {
  const q = r.distributed().queue<number>("doomed");
  await q.enqueue(1);
  await q.destroy();
  assert.equal(await q.size(), 0, "a later call creates it anew, empty");
});

test("on the in-memory transport, queues are a ConfigError that says what they need", async () => {
  const net = new MemoryNetwork({ seed: 1 });
  const m = await Replicator.start({ nodeId: "mem", transport: net.connect("mem") });
  try {
    assert.throws(() => m.distributed().queue("jobs"), (e: unknown) => e instanceof ConfigError && /JetStream/.test(e.message) && /nats/.test(e.message));
  } finally {
    await m.close();
  }
});
