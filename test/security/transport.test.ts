/**
 * The authenticating transport over the in-memory bus, and the pure claim checks the replicator
 * routes messages through: who may answer a request, who a message may speak for.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createNodeKey, MemoryNetwork, RequestFailedError, systemClock, type Transport } from "../../src/index.js";
import { requester } from "../../src/replicator/request-server.js";
import { nodeOfSubject } from "../../src/replicator/parts.js";
import { resolveSecurity, type FrameKeys } from "../../src/security/keys.js";
import { SecureTransport, type AuthRejection } from "../../src/security/transport.js";
import { speaksFor } from "../../src/transport/types.js";

const keys = { a: createNodeKey(), b: createNodeKey() };
const trustedKeys = { a: keys.a.publicKey, b: keys.b.publicKey };
const frameKeys = (id: "a" | "b"): FrameKeys => resolveSecurity({ clusterKey: "k".repeat(32), nodeKey: keys[id].seed, trustedKeys }, id)!;
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function secured(net: MemoryNetwork, id: "a" | "b", as: FrameKeys = frameKeys(id)): { t: Transport; rejected: AuthRejection[] } {
  const rejected: AuthRejection[] = [];
  const t = new SecureTransport(net.connect(id), {
    keys: as,
    windowMs: 60_000,
    clock: systemClock,
    reject: (r) => rejected.push(r),
    replierOf: (s) => nodeOfSubject("crdt", s),
  });
  return { t, rejected };
}

describe("SecureTransport", () => {
  test("publish and request/reply carry the payload and the verified signer; the frame costs at most its overhead", async () => {
    const net = new MemoryNetwork();
    const a = secured(net, "a");
    const b = secured(net, "b");
    const got: [string, string | undefined][] = [];
    b.t.subscribe("crdt", (m) => got.push([text(m.data), m.signer]));
    b.t.subscribe("crdt.node.b", (m) => b.t.respond(m.reply!, bytes(`echo ${text(m.data)} from ${m.signer}`)));
    a.t.publish("crdt", bytes("hello"));
    await net.settle();
    assert.deepEqual(got, [["hello", "a"]]);
    assert.equal(text(await a.t.request("crdt.node.b", bytes("ping"), 5_000)), "echo ping from a");
    assert.equal(a.t.maxPayload, net.connect("x").maxPayload - 256);
    assert.deepEqual([...a.rejected, ...b.rejected], []);
  });

  test("a request still verifies its reply after many other frames were sealed meanwhile", async () => {
    const net = new MemoryNetwork();
    const a = secured(net, "a");
    const b = secured(net, "b");
    b.t.subscribe("crdt.node.b", (m) => void setTimeout(() => b.t.respond(m.reply!, bytes("late")), 100));
    const reply = a.t.request("crdt.node.b", bytes("?"), 5_000);
    for (let i = 0; i < 1_000; i++) a.t.publish("elsewhere", bytes(String(i)));
    assert.equal(text(await reply), "late");
    assert.deepEqual(a.rejected, []);
  });

  test("a reply from another node than the one asked is dropped: the request times out", async () => {
    const net = new MemoryNetwork();
    const a = secured(net, "a");
    const b = secured(net, "b");
    // b answers on a's subject, as a node with b's credentials could.
    b.t.subscribe("crdt.node.a", (m) => b.t.respond(m.reply!, bytes("I am a")));
    await assert.rejects(a.t.request("crdt.node.a", bytes("?"), 300), (e: unknown) => e instanceof RequestFailedError && e.reason === "timeout");
    assert.deepEqual(a.rejected, ["forged-origin"]);
  });

  test("an unframed reply or one for another request is dropped; answering an unknown request throws", async () => {
    const net = new MemoryNetwork();
    const a = secured(net, "a");
    net.connect("raw").subscribe("crdt.node.b", (m) => net.connect("raw2").respond(m.reply!, bytes("plain")));
    await assert.rejects(a.t.request("crdt.node.b", bytes("?"), 300), RequestFailedError);
    assert.deepEqual(a.rejected, ["unauthenticated"]);
    assert.throws(() => a.t.respond("_INBOX.nobody", bytes("x")), /no request known/);
  });

  test("the same frame twice is delivered once, to each subscription", async () => {
    const net = new MemoryNetwork({ duplicateRate: 1, seed: 3 });
    const a = secured(net, "a");
    const b = secured(net, "b");
    const got: string[] = [];
    const again: string[] = [];
    b.t.subscribe("crdt", (m) => got.push(text(m.data)));
    b.t.subscribe("crdt", (m) => again.push(text(m.data)));
    for (let i = 0; i < 20; i++) a.t.publish("crdt", bytes(String(i)));
    await net.settle();
    assert.equal(got.length, 20);
    assert.equal(again.length, 20);
    assert.equal(b.rejected.filter((r) => r === "replayed").length, 40);
  });
});

describe("claim checks", () => {
  test("speaksFor: anyone with signing off; only the node itself with signing on", () => {
    assert.ok(speaksFor(undefined, "a"));
    assert.ok(speaksFor("a", "a"));
    assert.ok(!speaksFor("b", "a"));
  });
  test("requester: a request's from; our own id for an identity check; nobody for a push", () => {
    assert.equal(requester({ type: "read", from: "b", key: "k", kind: "gcounter" }, "a"), "b");
    assert.equal(requester({ type: "identify", from: "host:123" }, "a"), "a");
    assert.equal(requester({ type: "push", entries: [], tombstones: [] }, "a"), undefined);
  });
  test("nodeOfSubject: the node of a request subject, nothing else", () => {
    assert.equal(nodeOfSubject("crdt.deltas", "crdt.deltas.node.b"), "b");
    assert.equal(nodeOfSubject("crdt.deltas", "crdt.deltas.node.b.direct"), undefined);
    assert.equal(nodeOfSubject("crdt.deltas", "crdt.deltas.members.hello"), undefined);
    assert.equal(nodeOfSubject("crdt.deltas", "crdt.deltas.xdc.digest"), undefined);
    assert.equal(nodeOfSubject("crdt.deltas", "crdt.deltas.node."), undefined);
  });
});
