/**
 * Casty-style handles over the CRDTs and cluster topics, on the in-memory transport and on a real
 * NATS server: the same behaviour on both, since both ride on the replicator's own operations and bus.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { createNodeKey, Key, MemoryNetwork, Replicator, type ReplicatorOptions } from "../../src/index.js";
import { topicSubject } from "../../src/distributed/names.js";
import { encodeTopicFrame } from "../../src/distributed/topic-frame.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";

const FAST: Partial<ReplicatorOptions> = { heartbeatIntervalMs: 200, failureTimeoutMs: 1_500, removalTimeoutMs: 4_000 };

interface Setup {
  name: string;
  start(ids: string[], extra?: Partial<ReplicatorOptions>): Promise<Replicator[]>;
}

let server: NatsServer | undefined;
const started: Replicator[] = [];
after(async () => {
  await Promise.allSettled(started.map((r) => r.close()));
  await server?.stop();
});

const setups: Setup[] = [
  {
    name: "in-memory transport",
    async start(ids, extra = {}) {
      const net = new MemoryNetwork({ seed: 5 });
      const rs = await Promise.all(ids.map((id) => Replicator.start({ nodeId: id, transport: net.connect(id), ...FAST, ...extra })));
      started.push(...rs);
      return rs;
    },
  },
  {
    name: "NATS",
    async start(ids, extra = {}) {
      server ??= await startNatsServer();
      const rs = await Promise.all(ids.map((id) => Replicator.start({ nodeId: id, nats: { servers: server!.url }, ...FAST, ...extra })));
      started.push(...rs);
      return rs;
    },
  },
];

for (const setup of setups) {
  describe(`handles and topics on the ${setup.name}`, () => {
    test("counter: increment and decrement here, converged everywhere; the same data as Key.pncounter", async () => {
      const [a, b] = await setup.start([`ca-${setup.name.length}`, `cb-${setup.name.length}`]);
      const ca = a!.distributed().counter("page-views");
      const cb = b!.distributed().counter("page-views");
      assert.equal(ca.get(), 0);
      const seen: number[] = [];
      const off = cb.subscribe((v) => seen.push(v));
      assert.equal(await ca.increment(100), 100);
      assert.equal(await cb.decrement(10), -10, "b's own view until a's delta arrives");
      await waitFor(() => ca.get() === 90 && cb.get() === 90, { timeoutMs: 15_000, message: "counters converged" });
      assert.equal(b!.get(Key.pncounter("page-views"))?.value, 90);
      assert.ok(seen.includes(90));
      off();
      await assert.rejects(ca.increment(-1));
    });

    test("map: put/get/has, delete reports whether this replica held the key", async () => {
      const [a, b] = await setup.start([`ma-${setup.name.length}`, `mb-${setup.name.length}`]);
      const users = a!.distributed().map<{ name: string }>("users");
      await users.put("alice", { name: "Alice" });
      assert.deepEqual(users.get("alice"), { name: "Alice" });
      assert.equal(users.has("alice"), true);
      assert.equal(users.size(), 1);
      const there = b!.distributed().map<{ name: string }>("users");
      await waitFor(() => there.has("alice"), { timeoutMs: 15_000, message: "b sees alice" });
      assert.equal(await there.delete("alice"), true);
      assert.equal(await there.delete("alice"), false);
      assert.equal(await there.delete("nobody"), false);
      await waitFor(() => !users.has("alice"), { timeoutMs: 15_000, message: "the delete reached a" });
      assert.deepEqual(users.entries(), []);
    });

    test("set: add reports whether the element was new here; has, size, remove", async () => {
      const [a, b] = await setup.start([`sa-${setup.name.length}`, `sb-${setup.name.length}`]);
      const tags = a!.distributed().set<string>("active-tags");
      assert.equal(await tags.add("python"), true);
      assert.equal(await tags.add("python"), false);
      assert.equal(await tags.add("go"), true);
      assert.equal(tags.size(), 2);
      const there = b!.distributed().set<string>("active-tags");
      await waitFor(() => there.size() === 2, { timeoutMs: 15_000, message: "b sees both tags" });
      assert.deepEqual(there.values(), ["go", "python"]);
      assert.equal(await there.remove("go"), true);
      assert.equal(await there.remove("go"), false);
      await waitFor(() => !tags.has("go"), { timeoutMs: 15_000, message: "the remove reached a" });
    });

    test("topic: every subscriber on every node gets each message, the publisher's own included", async () => {
      const [a, b, c] = await setup.start([`ta-${setup.name.length}`, `tb-${setup.name.length}`, `tc-${setup.name.length}`]);
      const got = new Map<string, { message: { n: number }; from: string }[]>();
      const listen = (r: Replicator, label: string): (() => void) =>
        r.distributed().topic<{ n: number }>("events").subscribe((message, from) => {
          got.set(label, [...(got.get(label) ?? []), { message, from }]);
        });
      listen(a!, "a");
      listen(b!, "b1");
      const off = listen(b!, "b2");
      listen(c!, "c");
      // A throwing handler is counted; the others still get the message.
      c!.distributed().topic("events").subscribe(() => {
        throw new Error("handler bug");
      });
      await Promise.all([a, b, c].map((r) => r!.distributed().topic("events").flush()));
      const topic = a!.distributed().topic<{ n: number }>("events");
      topic.publish({ n: 1 });
      const everyone = ["a", "b1", "b2", "c"];
      await waitFor(() => everyone.every((l) => got.get(l)?.length === 1), { timeoutMs: 15_000, message: "everyone got message 1", describe: () => [...got] });
      for (const l of everyone) assert.deepEqual(got.get(l), [{ message: { n: 1 }, from: a!.nodeId }]);
      assert.equal(c!.distributed().topic("events").stats.handlerErrors, 1);
      off();
      b!.distributed().topic<{ n: number }>("events").publish({ n: 2 });
      await waitFor(() => got.get("a")?.length === 2 && got.get("b1")?.length === 2 && got.get("c")?.length === 2, { timeoutMs: 15_000, message: "message 2" });
      assert.equal(got.get("b2")?.length, 1, "unsubscribed");
      assert.throws(() => topic.publish("x".repeat(300 * 1024) as never), /more than the/);
      assert.throws(() => a!.distributed().topic("small", { maxMessageBytes: 4 }).publish({ n: 12345 }), /more than the 4/);
    });

    test("topic: garbage on the wire and undecodable messages are dropped and counted", async () => {
      const [a, b] = await setup.start([`ga-${setup.name.length}`, `gb-${setup.name.length}`]);
      const received: unknown[] = [];
      const topic = b!.distributed().topic<unknown>("noisy");
      topic.subscribe((m) => received.push(m));
      await topic.flush();
      const bus = a!.context().transport;
      const subject = topicSubject(a!.options.subject, "noisy");
      bus.publish(subject, new Uint8Array([9, 9, 9]));
      bus.publish(subject, encodeTopicFrame(a!.nodeId, new TextEncoder().encode("{not json")));
      bus.publish(subject, encodeTopicFrame(a!.nodeId, new Uint8Array(300 * 1024)));
      a!.distributed().topic<unknown>("noisy").publish("fine");
      await waitFor(() => received.length === 1 && topic.stats.rejected === 3, { timeoutMs: 15_000, message: "one good message, three rejected", describe: () => ({ received, stats: topic.stats }) });
      assert.deepEqual(received, ["fine"]);
    });
  });
}

test("topics with signing on: a message naming another node than its signer is dropped", async () => {
  const keys = { a: createNodeKey(), b: createNodeKey(), c: createNodeKey() };
  const trustedKeys = Object.fromEntries(Object.entries(keys).map(([id, k]) => [id, k.publicKey]));
  const net = new MemoryNetwork({ seed: 9 });
  const [a, b, c] = await Promise.all(
    (["a", "b", "c"] as const).map((id) => Replicator.start({ nodeId: id, transport: net.connect(id), ...FAST, security: { nodeKey: keys[id].seed, trustedKeys } })),
  );
  started.push(a!, b!, c!);
  const received: { message: unknown; from: string }[] = [];
  const topic = c!.distributed().topic<unknown>("signed");
  topic.subscribe((message, from) => received.push({ message, from }));
  await topic.flush();
  // b signs a frame that claims to come from a.
  b!.context().transport.publish(topicSubject(b!.options.subject, "signed"), encodeTopicFrame("a", new TextEncoder().encode('"forged"')));
  a!.distributed().topic<unknown>("signed").publish("genuine");
  await waitFor(() => received.length === 1 && topic.stats.rejected === 1, { timeoutMs: 15_000, message: "the genuine message in, the forged one out", describe: () => ({ received, stats: topic.stats }) });
  assert.deepEqual(received, [{ message: "genuine", from: "a" }]);
});
