/**
 * With `security.clusterKey`, over a real nats-server: a raw client publishing forged tombstones,
 * heartbeats, envelopes and write requests (built with the real codec), a replicator with a wrong
 * key and one with no key cannot write, delete, join or lead; a captured frame replayed changes
 * nothing; the keyed members converge and keep working.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Key, Replicator, type ReplicatorOptions } from "../../src/index.js";
import type { RejectReason } from "../../src/extension/stats.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { forgedEnvelope, forgedHeartbeat, forgedWrite, SUBJECT } from "./forgery.js";

const KEY = "the-cluster-key-of-this-test-0123456789";
const count = (r: Replicator, reason: RejectReason): number => r.stats.rejected.get(reason) ?? 0;

describe("cluster key over real NATS", () => {
  let server: NatsServer;
  let raw: NatsConnection;
  const nodes: Replicator[] = [];
  const start = async (nodeId: string, extra: Partial<ReplicatorOptions>): Promise<Replicator> => {
    const r = await Replicator.start({ nodeId, nats: { servers: server.url }, ...FAST, ...extra });
    nodes.push(r);
    return r;
  };
  before(async () => {
    server = await startNatsServer();
    raw = await connect({ servers: server.url });
  });
  after(async () => {
    await raw?.close();
    await Promise.allSettled(nodes.map((n) => n.close()));
    await server?.stop();
  });

  test("outsiders cannot write, delete, join or lead; replays change nothing; members converge", { timeout: 120_000 }, async () => {
    // The outsiders start first: were they members, the oldest would lead.
    const wrong = await start("wrong", { security: { clusterKey: "another-key-of-at-least-32-bytes!!" } });
    const none = await start("none", {});
    const a = await start("a", { security: { clusterKey: KEY } });
    const b = await start("b", { security: { clusterKey: KEY } });
    const c = await start("c", { security: { clusterKey: KEY } });
    const keyed = [a, b, c];
    const ids = (r: Replicator): string[] => r.members().map((m) => m.node);
    await waitFor(() => keyed.every((r) => ids(r).join() === "a,b,c" && r.members().every((m) => m.counted)), { timeoutMs: 20_000, message: "keyed members" });

    const target = Key.gcounter("target");
    await a.update(target, (v, self) => v.increment(self, 7));
    await waitFor(() => keyed.every((r) => r.get(target)?.value === 7), { timeoutMs: 10_000 });

    // Capture real frames off the bus to replay them later.
    const captured: Uint8Array[] = [];
    const sub = raw.subscribe(SUBJECT, { callback: (_e, m) => void captured.push(m.data.slice()) });
    await raw.flush(); // the server has the subscription before a publishes (else nothing is captured)
    await a.update(target, (v, self) => v.increment(self, 1));
    await waitFor(() => captured.length > 0 && keyed.every((r) => r.get(target)?.value === 8), { timeoutMs: 10_000 });
    sub.unsubscribe();

    const before = keyed.map((r) => count(r, "unauthenticated"));
    const replayedBefore = keyed.map((r) => count(r, "replayed"));

    // 1. A raw client on the subjects: a tombstone dated 2^53-1 and a counter jump in a's name, a
    //    ghost claiming the oldest start (leadership), b "leaving" with a newer incarnation (muting
    //    it), and a write request in a's name.
    raw.publish(SUBJECT, forgedEnvelope(a, "target", "stolen"));
    raw.publish(`${SUBJECT}.members`, forgedHeartbeat("ghost", { startedAtMs: 1, incarnation: 1 }));
    raw.publish(`${SUBJECT}.members`, forgedHeartbeat("b", { startedAtMs: b.startedAtMs, incarnation: b.incarnation + 1, leaving: true }));
    await assert.rejects(raw.request(`${SUBJECT}.node.b`, forgedWrite("a", "target", "stolen"), { timeout: 1_500 }), "a forged write gets no answer");
    // 2. The wrong key and no key: write and delete through the public API.
    for (const outsider of [wrong, none]) {
      await outsider.update(Key.gcounter("intruder"), (v, self) => v.increment(self, 5));
      await outsider.update(target, (v, self) => v.increment(self, 100));
      await outsider.delete(target);
    }
    // 3. A captured frame again, on its own subject and on another one.
    for (const frame of captured) {
      raw.publish(SUBJECT, frame);
      raw.publish(`${SUBJECT}.members`, frame);
    }
    await raw.flush();

    // Every one of them reached each keyed node and was dropped there, counted.
    // (a's own frames are new to a: its connection does not echo; it drops them as its own.)
    await waitFor(() => [b, c].every((r, i) => count(r, "replayed") >= replayedBefore[i + 1]! + captured.length), { timeoutMs: 10_000, message: "replays counted" });
    await waitFor(() => keyed.every((r, i) => count(r, "unauthenticated") >= before[i]! + 3 + captured.length), { timeoutMs: 10_000, message: "forgeries counted" });
    // A keyed write after the attack: once it arrived, everything sent before it by the outsiders had too.
    await a.update(target, (v, self) => v.increment(self, 1));
    await waitFor(() => keyed.every((r) => r.get(target)?.value === 9), { timeoutMs: 10_000, message: "members converge after the attack" });

    for (const r of keyed) {
      assert.equal(r.deletion("target"), undefined, `${r.nodeId}: not deleted`);
      assert.equal(r.get(target)?.value, 9, `${r.nodeId}: no outsider's increment`);
      assert.equal(r.entry("stolen"), undefined);
      assert.equal(r.entry("intruder"), undefined);
      assert.deepEqual(ids(r), ["a", "b", "c"], `${r.nodeId}: no outsider, no ghost`);
      assert.ok(r.members().every((m) => m.reachable), `${r.nodeId}: b not removed by a forged "leaving"`);
      assert.equal(r.leader(), "a", `${r.nodeId}: the oldest keyed member leads`);
    }
    // The outsiders heard no keyed member either (the unkeyed one believes the raw client's ghost).
    assert.deepEqual(ids(wrong), ["wrong"]);
    assert.ok(!ids(none).some((id) => ["a", "b", "c"].includes(id)), `none sees ${ids(none).join()}`);
    assert.equal(wrong.leader(), "wrong");
    // b was not muted by the forged heartbeat: its writes still arrive.
    await b.update(target, (v, self) => v.increment(self, 1));
    await waitFor(() => keyed.every((r) => r.get(target)?.value === 10), { timeoutMs: 10_000, message: "b still replicates" });
    // Coordinated writes count only keyed members and succeed.
    await c.update(Key.gcounter("majority"), (v, self) => v.increment(self, 1), { writeTo: "all" });
  });
});
