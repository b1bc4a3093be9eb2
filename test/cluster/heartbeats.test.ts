import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, it } from "node:test";
import { Heartbeater, type HeartbeaterOptions } from "../../src/cluster/heartbeats.js";
import type { Heartbeat, MembershipEvent } from "../../src/cluster/membership.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { VirtualClock } from "../sim/virtual-clock.js";
import { FakeBus, type FakeTransport } from "./fake-bus.js";
import { decodeHeartbeat, encodeHeartbeat } from "./json-codec.js";

const SUBJECT = "t.members";
let running: Heartbeater[] = [];
afterEach(() => {
  for (const h of running) h.stop();
  running = [];
});

interface TestNode {
  hb: Heartbeater;
  transport: FakeTransport;
  events: MembershipEvent[];
  errors: unknown[];
  heard: Heartbeat[];
}

function node(bus: FakeBus, id: string, startedAtMs: number, extra: Partial<HeartbeaterOptions> = {}): TestNode {
  const transport = bus.connect();
  const n: TestNode = { transport, events: [], errors: [], heard: [], hb: undefined as unknown as Heartbeater };
  n.hb = new Heartbeater({
    transport,
    subject: SUBJECT,
    self: { node: id, dataCenter: "dc1", roles: [], startedAtMs, incarnation: startedAtMs },
    encode: encodeHeartbeat,
    decode: decodeHeartbeat,
    heartbeatIntervalMs: 20,
    failureTimeoutMs: 300,
    removalTimeoutMs: 800,
    onEvents: (e) => n.events.push(...e),
    onError: (e) => n.errors.push(e),
    onHeartbeat: (h) => n.heard.push(h),
    ...extra,
  });
  running.push(n.hb);
  return n;
}

const ids = (n: TestNode) => n.hb.members().map((m) => m.node);

describe("Heartbeater", () => {
  it("members discover each other and agree on the oldest as leader", async () => {
    const bus = new FakeBus();
    const nodes = [node(bus, "a", 100), node(bus, "b", 200), node(bus, "c", 50)];
    for (const n of nodes) n.hb.start();
    await waitFor(() => nodes.every((n) => ids(n).join() === "a,b,c"), { timeoutMs: 5_000 });
    // Heard but not admitted yet: each still leads itself (a heartbeat is not enough to lead).
    for (const n of nodes) assert.equal(n.hb.leader(), n.hb.table.members().find((m) => m.self)!.node);
    // No digest rounds here: say every pair synced, so each admits the others.
    await waitFor(() => {
      for (const n of nodes) for (const m of nodes) if (n !== m) n.hb.table.synced(m.hb.table.members().find((x) => x.self)!.node);
      return nodes.every((n) => n.hb.leader() === "c");
    }, { timeoutMs: 5_000, message: "all agree on c" });
    assert.ok(nodes[0]!.events.some((e) => e.type === "joined" && e.member.node === "b"));
  });

  it("a graceful leave removes the member at once, not after the failure timeout", async () => {
    const bus = new FakeBus();
    const slow = { failureTimeoutMs: 60_000, removalTimeoutMs: 120_000 };
    const a = node(bus, "a", 100, slow);
    const b = node(bus, "b", 200, slow);
    a.hb.start();
    b.hb.start();
    await waitFor(() => {
      a.hb.table.synced("b");
      b.hb.table.synced("a");
      return b.hb.leader() === "a";
    }, { timeoutMs: 5_000, message: "b admits a, its leader" });
    await a.hb.leave();
    await waitFor(() => ids(b).join() === "b", { timeoutMs: 2_000 });
    const removed = b.events.find((e) => e.type === "removed");
    assert.ok(removed?.type === "removed" && removed.reason === "left");
    assert.ok(b.events.some((e) => e.type === "leader-changed" && e.leader === "b"));
  });

  it("a silent member becomes unreachable, then is removed by a majority's votes; leadership moves", async () => {
    const bus = new FakeBus();
    const nodes = [node(bus, "a", 100), node(bus, "b", 200), node(bus, "c", 300)];
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    for (const n of nodes) n.hb.start();
    // No digest rounds here: say every pair synced, so each admits the others.
    await waitFor(() => {
      for (const n of nodes) for (const m of nodes) if (n !== m) n.hb.table.synced(m.hb.table.members().find((x) => x.self)!.node);
      return nodes.every((n) => n.hb.table.quorumPeers().length === 2);
    }, { timeoutMs: 5_000, message: "all admitted" });
    assert.equal(b.hb.leader(), "a");
    a.hb.stop(); // a crash: no leave
    await waitFor(() => b.events.some((e) => e.type === "unreachable"), { timeoutMs: 5_000 });
    assert.equal(b.hb.leader(), "b");
    assert.equal(b.hb.table.known(), 3, "unreachable still counts");
    await waitFor(() => ids(b).join() === "b,c" && ids(c).join() === "b,c", { timeoutMs: 5_000 });
    const removed = b.events.find((e) => e.type === "removed");
    assert.ok(removed?.type === "removed" && removed.reason === "timeout");
    assert.equal(b.hb.table.known(), 2);
  });

  it("a member left alone never removes the others: its N does not shrink", async () => {
    const bus = new FakeBus();
    const a = node(bus, "a", 100);
    const b = node(bus, "b", 200);
    a.hb.start();
    b.hb.start();
    await waitFor(() => {
      a.hb.table.synced("b");
      b.hb.table.synced("a");
      return a.hb.table.quorumPeers().length === 1 && b.hb.table.quorumPeers().length === 1;
    }, { timeoutMs: 5_000 });
    a.hb.stop();
    await waitFor(() => b.hb.table.votes(Date.now()).silent.includes("a"), { timeoutMs: 5_000, message: "b votes a out" });
    await sleep(300); // a few more ticks past removalTimeoutMs: still no majority for the removal
    assert.deepEqual(ids(b), ["a", "b"]);
    assert.equal(b.hb.table.known(), 2);
    assert.deepEqual(b.hb.table.quorumPeers(), [], "a voted-out member's acknowledgements stop counting");
  });

  it("detects failure on the injected clock, not the wall clock", async () => {
    const bus = new FakeBus();
    let now = 1_000;
    const a = node(bus, "a", 100);
    const b = node(bus, "b", 200, { now: () => now, heartbeatIntervalMs: 10_000, failureTimeoutMs: 30_000, removalTimeoutMs: 60_000 });
    b.hb.start();
    a.hb.start();
    await waitFor(() => ids(b).join() === "a,b", { timeoutMs: 5_000 });
    a.hb.stop();
    now += 29_999;
    b.hb.tick();
    assert.equal(b.hb.members()[0]?.reachable, true);
    now += 1;
    b.hb.tick();
    assert.equal(b.hb.members()[0]?.reachable, false);
    now += 30_000;
    b.hb.tick();
    assert.deepEqual(ids(b), ["b"]);
  });

  it("counts undecodable or malformed heartbeats and keeps going", async () => {
    const bus = new FakeBus();
    const a = node(bus, "a", 100);
    a.hb.start();
    const rogue = bus.connect();
    rogue.publish(SUBJECT, new Uint8Array([0xff, 0x00, 0x13]));
    rogue.publish(SUBJECT, new TextEncoder().encode("{}"));
    rogue.publish(SUBJECT, encodeHeartbeat({
      node: "", dataCenter: "dc1", roles: [], startedAtMs: 1, incarnation: 1, lastSequence: 0, leaving: false, silent: [], vouched: [], sentAtMs: 0,
    }));
    await waitFor(() => a.hb.rejected === 3, { timeoutMs: 2_000 });
    assert.deepEqual(ids(a), ["a"]);
    const b = node(bus, "b", 200);
    b.hb.start();
    await waitFor(() => ids(a).join() === "a,b", { timeoutMs: 2_000 });
  });

  it("announces itself at once on start and on reconnect, and advertises lastSequence", async () => {
    const bus = new FakeBus();
    let seq = 7;
    const a = node(bus, "a", 100, { heartbeatIntervalMs: 60_000, failureTimeoutMs: 120_000, removalTimeoutMs: 240_000, lastSequence: () => seq });
    const b = node(bus, "b", 200);
    b.hb.start();
    a.hb.start();
    assert.equal(a.transport.published, 1);
    await waitFor(() => b.heard.length >= 1, { timeoutMs: 2_000 });
    assert.equal(b.heard[0]?.lastSequence, 7);
    // a answers b's arrival with one more beat (newcomers learn of members at once), then is quiet.
    await waitFor(() => a.transport.published === 2, { timeoutMs: 2_000, message: "a greets the newcomer" });
    seq = 9;
    a.transport.emitStatus({ type: "disconnect" });
    assert.equal(a.transport.published, 2);
    a.transport.emitStatus({ type: "reconnect" });
    assert.equal(a.transport.published, 3);
    await waitFor(() => b.heard.at(-1)?.lastSequence === 9, { timeoutMs: 2_000 });
  });

  it("greets newcomers at once, and one coming within a quarter period at its end: one beat per quarter, however many", async () => {
    const bus = new FakeBus();
    const clock = new VirtualClock(1_000_000);
    const quiet = { heartbeatIntervalMs: 60_000, failureTimeoutMs: 120_000, removalTimeoutMs: 240_000 };
    const a = node(bus, "a", 100, { ...quiet, clock });
    a.hb.start();
    assert.equal(a.transport.published, 1);
    const b = node(bus, "b", 200, quiet);
    b.hb.start();
    await waitFor(() => a.transport.published === 2, { timeoutMs: 2_000, message: "a greets b at once" });
    // c (and a crowd after it, as forged ids would be) arrive within the quarter after that greeting.
    const c = node(bus, "c", 300, quiet);
    c.hb.start();
    await waitFor(() => ids(a).includes("c"), { timeoutMs: 2_000 });
    for (const id of ["d", "e", "f"]) node(bus, id, 400, quiet).hb.start();
    await waitFor(() => ids(a).length === 6, { timeoutMs: 2_000 });
    assert.equal(a.transport.published, 2, "no second beat within the quarter period");
    await clock.advance(15_000 - 1);
    assert.equal(a.transport.published, 2);
    await clock.advance(1);
    assert.equal(a.transport.published, 3, "one beat at the quarter's end answers every newcomer since");
    await waitFor(() => c.heard.some((h) => h.node === "a"), { timeoutMs: 2_000, message: "c learns of a within the quarter, not a period later" });
    await clock.advance(44_999);
    assert.equal(a.transport.published, 3, "nothing more until the period");
  });

  it("never throws out of timers or handlers: failures go to onError", async () => {
    const bus = new FakeBus();
    const a = node(bus, "a", 100, { onEvents: () => { throw new Error("listener bug"); } });
    a.transport.failPublish = true;
    assert.doesNotThrow(() => a.hb.start());
    assert.ok(a.errors.some((e) => e instanceof Error && /publish failed/.test(e.message)));
    await a.hb.leave(); // resolves even though the leaving heartbeat could not be sent
    const b = node(bus, "b", 200);
    b.hb.start();
    const c = node(bus, "c", 300, { onEvents: () => { throw new Error("listener bug"); } });
    c.hb.start();
    await waitFor(() => c.errors.some((e) => e instanceof Error && e.message === "listener bug"), { timeoutMs: 2_000 });
    await waitFor(() => ids(c).join() === "b,c", { timeoutMs: 2_000 });
  });

  it("validates its timing options", () => {
    const bus = new FakeBus();
    assert.throws(() => node(bus, "a", 1, { heartbeatIntervalMs: 0 }), InvalidArgumentError);
    assert.throws(() => node(bus, "a", 1, { heartbeatIntervalMs: 200, failureTimeoutMs: 200 }), InvalidArgumentError);
    assert.throws(() => node(bus, "a", 1, { removalTimeoutMs: 10 }), InvalidArgumentError);
  });

  it("does not keep the process alive", () => {
    const child = fileURLToPath(new URL("./fixtures/unref-child.ts", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", child], { timeout: 20_000, encoding: "utf8" });
    assert.equal(r.error, undefined, "the child did not exit on its own");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /started/);
  });
});
