import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { MemoryNetwork, type MemoryNetworkOptions } from "../../src/transport/memory.js";
import { RequestFailedError, type IncomingMessage, type TransportStatus } from "../../src/transport/types.js";
import { sleep, waitFor, waitForEvent } from "../helpers/wait.js";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const quiet = { onHandlerError: () => {} };

describe("MemoryNetwork", () => {
  it("delivers asynchronously, never inside publish", async () => {
    const net = new MemoryNetwork();
    const a = net.connect("a");
    const b = net.connect("b");
    const got: string[] = [];
    b.subscribe("s", (m) => got.push(text(m.data)));
    a.publish("s", bytes("x"));
    assert.deepEqual(got, []);
    await net.settle();
    assert.deepEqual(got, ["x"]);
    assert.ok(a.bytesOut > 0);
  });

  it("gives each receiver its own copy of the bytes", async () => {
    const net = new MemoryNetwork();
    const a = net.connect("a");
    const seen: Uint8Array[] = [];
    net.connect("b").subscribe("s", (m) => {
      m.data[0] = 0; // a receiver scribbling on its copy
      seen.push(m.data);
    });
    net.connect("c").subscribe("s", (m) => seen.push(m.data));
    a.publish("s", bytes("hi"));
    await net.settle();
    assert.deepEqual(seen.map(text).sort(), ["\u0000i", "hi"]);
  });

  it("same seed gives the same delivery order; another seed another order", async () => {
    const run = async (seed: number): Promise<string[]> => {
      const net = new MemoryNetwork({ seed, dropRate: 0.1, duplicateRate: 0.1, reorderWindow: 50 });
      const senders = ["a", "b", "c"].map((id) => net.connect(id));
      const log: string[] = [];
      for (const id of ["x", "y"]) net.connect(id).subscribe("s", (m) => log.push(`${id}<${text(m.data)}`));
      for (let i = 0; i < 200; i++) senders[i % 3]!.publish("s", bytes(String(i)));
      await net.settle();
      return log;
    };
    const first = await run(42);
    assert.deepEqual(await run(42), first);
    assert.notDeepEqual(await run(43), first);
    // reordering really happened
    const toX = first.filter((l) => l.startsWith("x<")).map((l) => Number(l.slice(2)));
    assert.notDeepEqual(toX, [...toX].sort((p, q) => p - q));
  });

  it("keeps publish order without reordering", async () => {
    const net = new MemoryNetwork({ seed: 7 });
    const a = net.connect("a");
    const got: number[] = [];
    net.connect("b").subscribe("s", (m) => got.push(Number(text(m.data))));
    for (let i = 0; i < 1000; i++) a.publish("s", bytes(String(i)));
    await net.settle();
    assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i));
  });

  it("drops and duplicates at the configured rates", async () => {
    const n = 5000;
    const count = async (opts: MemoryNetworkOptions): Promise<number> => {
      const net = new MemoryNetwork({ seed: 3, ...opts });
      const a = net.connect("a");
      let got = 0;
      net.connect("b").subscribe("s", () => got++);
      for (let i = 0; i < n; i++) a.publish("s", bytes("m"));
      await net.settle();
      return got;
    };
    const afterDrop = await count({ dropRate: 0.3 });
    assert.ok(Math.abs(afterDrop / n - 0.7) < 0.03, `delivered ${afterDrop}/${n} with 30% drop`);
    const afterDup = await count({ duplicateRate: 0.2 });
    assert.ok(Math.abs(afterDup / n - 1.2) < 0.03, `delivered ${afterDup}/${n} with 20% duplicates`);
  });

  it("queue groups deliver each message to one member", async () => {
    const net = new MemoryNetwork({ seed: 5 });
    const a = net.connect("a");
    const perMember = [0, 0, 0];
    ["b", "c", "d"].forEach((id, i) => net.connect(id).subscribe("work", () => perMember[i]!++, { queue: "q" }));
    let plain = 0;
    net.connect("e").subscribe("work", () => plain++);
    for (let i = 0; i < 300; i++) a.publish("work", bytes("job"));
    await net.settle();
    assert.equal(perMember.reduce((x, y) => x + y), 300);
    assert.ok(perMember.every((c) => c > 50), `spread: ${perMember}`);
    assert.equal(plain, 300);
  });

  it("partition blocks traffic both ways, heal restores it", async () => {
    const net = new MemoryNetwork();
    const [a, b, c] = ["a", "b", "c"].map((id) => net.connect(id));
    const got: string[] = [];
    for (const t of [a, b, c]) t.subscribe("s", (m) => got.push(`${t.nodeId}<${text(m.data)}`));
    net.partition(["a"], ["b", "c"]);
    a.publish("s", bytes("1"));
    b.publish("s", bytes("2"));
    await net.settle();
    assert.deepEqual(got.sort(), ["a<1", "b<2", "c<2"]);
    net.heal();
    got.length = 0;
    b.publish("s", bytes("3"));
    await net.settle();
    assert.deepEqual(got.sort(), ["a<3", "b<3", "c<3"]);
  });

  it("loses what is in flight when the partition starts", async () => {
    const net = new MemoryNetwork();
    const a = net.connect("a");
    let got = 0;
    net.connect("b").subscribe("s", () => got++);
    a.publish("s", bytes("x"));
    net.partition(["a"], ["b"]);
    await net.settle();
    assert.equal(got, 0);
    assert.equal(net.stats.dropped, 1);
  });

  it("request/reply, no responders, and timeout across a partition", async () => {
    const net = new MemoryNetwork();
    const a = net.connect("a");
    const b = net.connect("b");
    b.subscribe("echo", (m: IncomingMessage) => b.respond(m.reply!, bytes(`re:${text(m.data)}`)));
    assert.equal(text(await a.request("echo", bytes("hi"), 1000)), "re:hi");

    await assert.rejects(a.request("nobody", bytes("x"), 1000), (e: unknown) => {
      return e instanceof RequestFailedError && e.reason === "no-responders";
    });

    net.partition(["a"], ["b"]);
    const started = Date.now();
    await assert.rejects(a.request("echo", bytes("hi"), 100), (e: unknown) => {
      return e instanceof RequestFailedError && e.reason === "timeout";
    });
    assert.ok(Date.now() - started >= 90);
    net.heal();
    assert.equal(text(await a.request("echo", bytes("again"), 1000)), "re:again");
  });

  it("disconnect/reconnect emit status events and cut the node off meanwhile", async () => {
    const net = new MemoryNetwork();
    const a = net.connect("a");
    const b = net.connect("b");
    let got = 0;
    b.subscribe("s", () => got++);
    const statuses: TransportStatus[] = [];
    b.onStatus((s) => statuses.push(s));

    const disconnected = waitForEvent(b.onStatus.bind(b), (s) => s.type === "disconnect");
    net.disconnect("b");
    await disconnected;
    a.publish("s", bytes("lost"));
    await net.settle();
    assert.equal(got, 0);

    const reconnected = waitForEvent(b.onStatus.bind(b), (s) => s.type === "reconnect");
    net.reconnect("b");
    await reconnected;
    a.publish("s", bytes("ok"));
    await waitFor(() => got === 1, { message: "delivery after reconnect" });
    assert.deepEqual(statuses.map((s) => s.type), ["disconnect", "reconnect"]);
  });

  it("a request waiting at a disconnect is sent again on reconnect, within its timeout", async () => {
    const net = new MemoryNetwork();
    const a = net.connect("a");
    let served = 0;
    const b = net.connect("b");
    b.subscribe("ask", (m) => {
      served++;
      b.respond(m.reply!, bytes("yes"));
    });
    net.disconnect("a");
    const started = performance.now();
    const answer = a.request("ask", bytes("?"), 5_000); // sent into the cut link: lost
    await net.settle();
    assert.equal(served, 0);
    net.reconnect("a");
    assert.equal(text(await answer), "yes");
    assert.equal(served, 1);
    assert.ok(performance.now() - started < 5_000);

    // Time that ran out while disconnected is not given back.
    net.disconnect("a");
    const late = assert.rejects(a.request("ask", bytes("?"), 100), (e: unknown) => e instanceof RequestFailedError && e.reason === "timeout");
    await sleep(200);
    net.reconnect("a");
    await late;
    await net.settle();
    assert.equal(served, 1, "a timed-out request is not sent again");
  });

  it("a throwing handler does not kill its subscription", async () => {
    const net = new MemoryNetwork(quiet);
    const a = net.connect("a");
    let calls = 0;
    net.connect("b").subscribe("s", () => {
      calls++;
      throw new Error("boom");
    });
    a.publish("s", bytes("1"));
    a.publish("s", bytes("2"));
    await net.settle();
    assert.equal(calls, 2);
    assert.equal(net.stats.handlerErrors, 2);
  });

  it("rejects payloads over maxPayload, like NATS", () => {
    const net = new MemoryNetwork({ maxPayload: 1024 });
    const a = net.connect("a");
    assert.equal(a.maxPayload, 1024);
    a.publish("s", new Uint8Array(1024));
    assert.throws(() => a.publish("s", new Uint8Array(1025)), InvalidArgumentError);
  });

  it("manual mode: nothing moves until step()/deliverAll()", async () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const a = net.connect("a");
    const b = net.connect("b");
    const got: string[] = [];
    b.subscribe("ping", (m) => {
      got.push(text(m.data));
      b.publish("pong", bytes("back"));
    });
    a.subscribe("pong", (m) => got.push(text(m.data)));
    a.publish("ping", bytes("p1"));
    a.publish("ping", bytes("p2"));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, []);
    assert.equal(net.inFlight, 2);
    assert.equal(net.step(), 1);
    assert.deepEqual(got, ["p1"]);
    assert.equal(net.deliverAll(), 3);
    assert.deepEqual(got, ["p1", "p2", "back", "back"]);
    assert.equal(net.inFlight, 0);
  });

  it("close() unsubscribes, fails pending requests, and emits closed", async () => {
    const net = new MemoryNetwork();
    const a = net.connect("a");
    const b = net.connect("b");
    b.subscribe("slow", () => {}); // never answers
    const pending = a.request("slow", bytes("x"), 10_000);
    const closed = waitForEvent(a.onStatus.bind(a), (s) => s.type === "closed");
    await a.close();
    await closed;
    await assert.rejects(pending, (e: unknown) => e instanceof RequestFailedError && e.reason === "closed");
    assert.throws(() => a.publish("s", bytes("x")));
  });
});
