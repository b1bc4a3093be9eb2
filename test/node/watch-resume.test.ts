/**
 * Resuming the watch stream (real nats-server): events carry ids; a watcher that comes back with
 * Last-Event-ID gets what it missed from the node's backlog — no snapshot — and ends with every
 * key's latest value; beyond the backlog, or with another run's id, it gets a reset event and a
 * snapshot. Changes from another DC are labelled remote-dc with that DC. The watcher is the typed
 * client (packages/crdt-node/src/client.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { Replicator } from "../../src/index.js";
import { CrdtClient, type WatchEvent } from "../../packages/crdt-node/src/client.js";
import { parseConfig, type NodeConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { crdtApi } from "../../packages/crdt-node/src/http-api.js";
import { EventBacklog, resumePoint } from "../../packages/crdt-node/src/watch-backlog.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { openSse } from "./helpers.js";

function cfg(args: string[]): NodeConfig {
  const r = parseConfig([...args, "--http", "127.0.0.1:0"], {});
  if (!("config" in r)) throw new Error("help");
  return r.config;
}
const quiet = { log: () => undefined };

/** A watcher: its events, the last id, and its stop. */
function watcher(c: CrdtClient, options: { prefix: string; initial?: boolean; lastEventId?: string }): { events: WatchEvent[]; lastId(): string | undefined; stop(): void; ended: Promise<void> } {
  const ctl = new AbortController();
  const events: WatchEvent[] = [];
  const ended = (async () => {
    for await (const e of c.watch({ ...options, signal: ctl.signal })) events.push(e);
  })();
  ended.catch(() => undefined);
  return { events, lastId: () => events.at(-1)?.id, stop: () => ctl.abort(), ended };
}

function keyOf(e: WatchEvent): string | undefined {
  return e.event === "reset" ? undefined : e.data.key;
}

/** key → latest value, from events in order (a reset starts over from the snapshot after it). */
function apply(state: Map<string, unknown>, events: WatchEvent[]): void {
  for (const e of events) {
    if (e.event === "reset") state.clear();
    else if (e.event === "delete") state.delete(e.data.key);
    else state.set(e.data.key, e.data.value);
  }
}

describe("resume decisions (pure)", () => {
  test("within the backlog, past it, another run's id, a malformed id", () => {
    assert.deepEqual(resumePoint("run1-7", "run1", 10, 5), { after: 7 });
    assert.deepEqual(resumePoint("run1-4", "run1", 10, 5), { after: 4 }, "the oldest kept is the next event");
    assert.deepEqual(resumePoint("run1-10", "run1", 10, undefined), { after: 10 }, "nothing missed");
    assert.deepEqual(resumePoint("run1-3", "run1", 10, 5), { reset: "beyond-backlog" });
    assert.deepEqual(resumePoint("run1-3", "run1", 10, undefined), { reset: "beyond-backlog" });
    assert.deepEqual(resumePoint("run0-7", "run1", 10, 5), { reset: "foreign-id" });
    assert.deepEqual(resumePoint("run1-11", "run1", 10, 5), { reset: "foreign-id" }, "from the future: not this run's");
    assert.deepEqual(resumePoint("garbage", "run1", 10, 5), { reset: "foreign-id" });
    assert.deepEqual(resumePoint("run1-x", "run1", 10, 5), { reset: "foreign-id" });
  });

  test("the backlog keeps the last events within its count and bytes, and replays by prefix", () => {
    const b = new EventBacklog(3, 1_000);
    for (let seq = 1; seq <= 5; seq++) b.add(seq, seq % 2 === 0 ? `even-${seq}` : `odd-${seq}`, `frame${seq};`);
    assert.equal(b.size, 3);
    assert.equal(b.oldest(), 3);
    assert.equal(b.after(2, ""), "frame3;frame4;frame5;");
    assert.equal(b.after(3, "odd-"), "frame5;");
    const big = new EventBacklog(100, 10);
    big.add(1, "a", "123456");
    big.add(2, "b", "123456");
    assert.equal(big.size, 1, "past the bytes bound the oldest go");
    assert.equal(big.oldest(), 2);
    big.add(3, "c", "x".repeat(50));
    assert.equal(big.size, 1, "one event larger than the bound is still kept");
    assert.equal(new EventBacklog(0).size, 0);
  });
});

describe("watch resume on a daemon", () => {
  let nats: NatsServer;
  let node: Daemon;
  let client: CrdtClient;
  before(async () => {
    nats = await startNatsServer();
    node = await startDaemon(cfg(["--node-id", "resume-1", "--nats", nats.url]), quiet);
    await node.started;
    client = new CrdtClient({ url: node.url });
  });
  after(async () => {
    await node?.close();
    await nats?.stop();
  });

  test("a watcher away for 1 s during 500 writes resumes with Last-Event-ID: every key's latest value, no snapshot", async () => {
    const KEYS = 50;
    const WRITES = 500;
    const first = watcher(client, { prefix: "r-", initial: true });
    const latest = new Map<string, unknown>();
    let written = 0;
    let keys = KEYS;
    const write = async (): Promise<void> => {
      const i = written++;
      const key = `r-${i % keys}`;
      await client.write(key, { type: "lwwregister", op: "set", value: i });
      latest.set(key, i);
    };
    for (let i = 0; i < 100; i++) await write();
    await waitFor(() => first.events.some((e) => e.event === "change" && e.data.value === 99), { message: "the first watcher saw write 99" });
    first.stop();
    await first.ended;
    const lastId = first.lastId()!;
    assert.match(lastId, /^[\w]+-\d+$/, "events have ids");
    assert.ok(first.events.every((e) => e.id !== ""), "every event has an id");

    // Away for 1 s while the writes go on, rewriting every key at least once.
    const awayUntil = Date.now() + 1_000;
    while ((Date.now() < awayUntil || written < 100 + KEYS) && written < WRITES - 10) await write();
    if (Date.now() < awayUntil) await new Promise((resolve) => setTimeout(resolve, awayUntil - Date.now()));
    const missedWrites = written - 100;
    keys = 10; // from now on only r-0..r-9: the other keys' latest values were written while it was away
    const before = (await client.stats()).watchers;
    const second = watcher(client, { prefix: "r-", initial: true, lastEventId: lastId }); // as an EventSource reconnects: same URL
    while (written < WRITES) await write();
    try {
      const state = new Map<string, unknown>();
      await waitFor(
        () => {
          state.clear();
          apply(state, first.events);
          apply(state, second.events);
          return [...latest].every(([k, v]) => state.get(k) === v);
        },
        { timeoutMs: 30_000, message: "every key's latest value", describe: () => [...latest].filter(([k, v]) => state.get(k) !== v) },
      );
      assert.equal(state.size, KEYS);
      assert.ok(!second.events.some((e) => e.event === "snapshot" || e.event === "reset"), "no snapshot, no reset: resumed from the backlog");
      assert.ok(missedWrites >= KEYS, `every key was written while away (${missedWrites} writes)`);
      assert.ok(second.events.some((e) => keyOf(e) === "r-49"), "what was missed came from the backlog");
      const stats = (await client.stats()).watchers;
      assert.equal(stats.resumed, before.resumed + 1);
      assert.equal(stats.resets, before.resets);
      const ids = second.events.map((e) => Number(e.id.split("-").at(-1)));
      assert.ok(ids.every((n, i) => i === 0 || n > ids[i - 1]!), "ids increase");
      assert.ok(ids[0]! > Number(lastId.split("-").at(-1)), "only what came after the last id");
    } finally {
      second.stop();
    }
  });

  test("another run's id: a reset event, then a snapshot of the current state", async () => {
    await client.write("f-1", { type: "flag", op: "enable" });
    const w = watcher(client, { prefix: "f-", lastEventId: "elsewhere-12" });
    try {
      await waitFor(() => w.events.some((e) => e.event === "snapshot" && keyOf(e) === "f-1"), { message: "snapshot after the reset", describe: () => w.events });
      assert.equal(w.events[0]!.event, "reset");
      assert.equal((w.events[0]!.data as { reason: string }).reason, "foreign-id");
    } finally {
      w.stop();
    }
    // The same through ?lastEventId= (a new EventSource cannot set the header).
    const byQuery = await openSse(`${node.url}/v1/watch?prefix=f-&lastEventId=elsewhere-12`);
    try {
      await waitFor(() => byQuery.events.some((e) => e.event === "snapshot"), { message: "snapshot after the reset", describe: () => byQuery.events });
      assert.equal(byQuery.events[0]!.event, "reset");
    } finally {
      byQuery.close();
    }
  });
});

describe("watch resume past the backlog (the plugin with a small backlog)", () => {
  let nats: NatsServer;
  let r: Replicator;
  let app: FastifyInstance;
  let client: CrdtClient;
  before(async () => {
    nats = await startNatsServer();
    r = await Replicator.start({ nodeId: "small-backlog", nats: { servers: nats.url }, ...FAST });
    app = Fastify();
    await app.register(crdtApi, { replicator: r, watchBacklog: 5 });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    client = new CrdtClient({ url });
  });
  after(async () => {
    await app?.close();
    await r?.close();
    await nats?.stop();
  });

  test("more than the backlog missed: a reset event (beyond-backlog) and a snapshot that replaces the watcher's state", async () => {
    await client.write("b-gone", { type: "flag", op: "enable" });
    const first = watcher(client, { prefix: "b-", initial: true });
    await waitFor(() => first.events.some((e) => keyOf(e) === "b-gone"), { message: "snapshot" });
    const live = watcher(client, { prefix: "b-" }); // stays connected: shows when the writes were flushed
    await client.write("b-0", { type: "gcounter", op: "increment" });
    await waitFor(() => first.events.some((e) => keyOf(e) === "b-0") && live.events.some((e) => keyOf(e) === "b-0"), { message: "b-0 seen" });
    first.stop();
    await first.ended;
    await client.delete("b-gone");
    for (let i = 1; i <= 20; i++) await client.write(`b-${i}`, { type: "gcounter", op: "increment", by: i });
    await waitFor(() => live.events.some((e) => keyOf(e) === "b-20"), { message: "b-20 flushed" });
    live.stop();

    const second = watcher(client, { prefix: "b-", lastEventId: first.lastId()! });
    try {
      await waitFor(() => second.events.filter((e) => e.event === "snapshot").length === 21, { message: "21 keys in the snapshot", describe: () => second.events });
      assert.equal(second.events[0]!.event, "reset");
      assert.equal((second.events[0]!.data as { reason: string }).reason, "beyond-backlog");
      const state = new Map<string, unknown>();
      apply(state, first.events);
      apply(state, second.events);
      assert.ok(!state.has("b-gone"), "the key deleted meanwhile is gone after the reset");
      assert.equal(state.get("b-20"), 20);
      assert.equal((await client.stats()).watchers.backlog, 5);
    } finally {
      second.stop();
    }
  });
});

describe("changes from another DC", () => {
  let east: NatsServer, west: NatsServer;
  let e: Daemon, w: Daemon;
  before(async () => {
    [east, west] = await Promise.all([startNatsServer(), startNatsServer()]);
    e = await startDaemon(cfg(["--node-id", "e-1", "--dc", "east", "--nats", east.url, "--remote-dc", `west=${west.url}`, "--xdc-interval-ms", "100"]), quiet);
    w = await startDaemon(cfg(["--node-id", "w-1", "--dc", "west", "--nats", west.url, "--remote-dc", `east=${east.url}`, "--xdc-interval-ms", "100"]), quiet);
    await Promise.all([e.started, w.started]);
  });
  after(async () => {
    await Promise.allSettled([e?.close(), w?.close()]);
    await Promise.allSettled([east?.stop(), west?.stop()]);
  });

  test("arrive as origin remote-dc with their DC", async () => {
    const watch = watcher(new CrdtClient({ url: w.url }), { prefix: "x-" });
    try {
      await waitFor(async () => (await new CrdtClient({ url: w.url }).stats()).watchers.open === 1, { message: "watching" });
      await new CrdtClient({ url: e.url }).write("x-1", { type: "pncounter", op: "increment", by: 3 });
      await waitFor(() => watch.events.some((ev) => keyOf(ev) === "x-1"), { timeoutMs: 30_000, message: "x-1 reached west" });
      const change = watch.events.find((ev) => keyOf(ev) === "x-1")!;
      assert.equal(change.event, "change");
      assert.equal((change.data as { origin: string }).origin, "remote-dc");
      assert.equal((change.data as { dataCenter?: string }).dataCenter, "east");
    } finally {
      watch.stop();
    }
  });
});
