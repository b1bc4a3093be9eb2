/**
 * With signing keys, over a real nats-server: node b's valid credentials (its seed, and the cluster
 * key when there is one) cannot speak for node a. Frames signed by b whose content claims a (a
 * heartbeat, an envelope with a tombstone, a write request, a hello) are dropped as
 * "forged-origin"; frames that claim a as signer but carry b's signature as "bad-signature"; an
 * untrusted key as "untrusted-signer". State is unchanged, a stays a member and keeps replicating.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createNodeKey, Key, Replicator, systemClock } from "../../src/index.js";
import type { RejectReason } from "../../src/extension/stats.js";
import { resolveSecurity, type FrameKeys, type SecurityOptions } from "../../src/security/keys.js";
import { SecureTransport } from "../../src/security/transport.js";
import { connectNats } from "../../src/transport/nats.js";
import type { Transport } from "../../src/transport/types.js";
import { decodeNodeReply } from "../../src/wire/codec.js";
import { FAST } from "../helpers/cluster.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";
import { forgedEnvelope, forgedHeartbeat, forgedWrite, SUBJECT } from "./forgery.js";

const count = (r: Replicator, reason: RejectReason): number => r.stats.rejected.get(reason) ?? 0;
const CLUSTER_KEY = "the-cluster-key-of-this-test-0123456789";

for (const withClusterKey of [false, true]) {
  describe(`signing keys over real NATS${withClusterKey ? ", with a cluster key too" : ""}`, () => {
    let server: NatsServer;
    const keys = { a: createNodeKey(), b: createNodeKey(), c: createNodeKey() };
    const trustedKeys = Object.fromEntries(Object.entries(keys).map(([id, k]) => [id, k.publicKey]));
    const security = (id: keyof typeof keys): SecurityOptions => ({ nodeKey: keys[id].seed, trustedKeys, ...(withClusterKey ? { clusterKey: CLUSTER_KEY } : {}) });
    const nodes: Replicator[] = [];
    const raws: Transport[] = [];
    /** A connection that seals with `frameKeys` (what a holder of b's credentials can do). */
    const attacker = async (frameKeys: FrameKeys): Promise<Transport> => {
      const t = new SecureTransport(await connectNats({ servers: server.url }), { keys: frameKeys, windowMs: 60_000, clock: systemClock, reject: () => {} });
      raws.push(t);
      return t;
    };
    before(async () => {
      server = await startNatsServer();
    });
    after(async () => {
      await Promise.allSettled(raws.map((t) => t.close()));
      await Promise.allSettled(nodes.map((n) => n.close()));
      await server?.stop();
    });

    test("b's credentials cannot forge a's heartbeat, delta, tombstone or requests", { timeout: 120_000 }, async () => {
      for (const id of ["a", "b", "c"] as const) {
        nodes.push(await Replicator.start({ nodeId: id, nats: { servers: server.url }, ...FAST, security: security(id) }));
      }
      const [a, b, c] = nodes as [Replicator, Replicator, Replicator];
      await waitFor(() => nodes.every((r) => r.members().filter((m) => m.counted).length === 3), { timeoutMs: 20_000, message: "members" });
      const target = Key.gcounter("target");
      await a.update(target, (v, self) => v.increment(self, 7));
      await waitFor(() => nodes.every((r) => r.get(target)?.value === 7), { timeoutMs: 10_000 });
      const at = (reason: RejectReason): number[] => [b, c].map((r) => count(r, reason));
      const forgedBefore = at("forged-origin");
      const badBefore = at("bad-signature");
      const untrustedBefore = at("untrusted-signer");

      const bKeys = resolveSecurity(security("b"), "b")!;
      // 1. Signed by b, honestly named b, content in a's name.
      const asB = await attacker(bKeys);
      asB.publish(SUBJECT, forgedEnvelope(a, "target", "stolen"));
      asB.publish(`${SUBJECT}.members`, forgedHeartbeat("a", { startedAtMs: a.startedAtMs, incarnation: a.incarnation + 1, leaving: true }));
      // To c: a write in a's name (b's own credentials, c's subject).
      const refused = decodeNodeReply(await asB.request(`${SUBJECT}.node.c`, forgedWrite("a", "target", "stolen"), 5_000));
      assert.ok(refused.type === "error" && /signed by "b" claims to come from "a"/.test(refused.error), JSON.stringify(refused));
      // 2. Named a, signed with b's key.
      const asAWithBKey = await attacker({ ...bKeys, signer: { node: "a", key: bKeys.signer!.key } });
      asAWithBKey.publish(SUBJECT, forgedEnvelope(a, "target", "stolen"));
      asAWithBKey.publish(`${SUBJECT}.members`, forgedHeartbeat("a", { startedAtMs: a.startedAtMs, incarnation: a.incarnation + 1, leaving: true }));
      // 3. A key nobody trusts, naming itself.
      const stranger = createNodeKey();
      const strangerKeys = resolveSecurity({ ...security("a"), nodeKey: stranger.seed, trustedKeys: { mallory: stranger.publicKey } }, "mallory")!;
      const asMallory = await attacker(strangerKeys);
      asMallory.publish(`${SUBJECT}.members`, forgedHeartbeat("mallory", { startedAtMs: 1, incarnation: 1 }));
      await Promise.all(raws.map((t) => t.flush()));

      await waitFor(() => at("forged-origin").every((n, i) => n >= forgedBefore[i]! + 2), { timeoutMs: 10_000, message: "forged-origin counted" });
      await waitFor(() => count(c, "forged-origin") >= forgedBefore[1]! + 3, { timeoutMs: 10_000, message: "forged write counted at c" });
      await waitFor(() => at("bad-signature").every((n, i) => n >= badBefore[i]! + 2), { timeoutMs: 10_000, message: "bad-signature counted" });
      await waitFor(() => at("untrusted-signer").every((n, i) => n >= untrustedBefore[i]! + 1), { timeoutMs: 10_000, message: "untrusted-signer counted" });

      // a is still a member, still leads, and still replicates (not muted as a stale incarnation).
      await a.update(target, (v, self) => v.increment(self, 1));
      await waitFor(() => nodes.every((r) => r.get(target)?.value === 8), { timeoutMs: 10_000, message: "a still replicates" });
      for (const r of nodes) {
        assert.equal(r.deletion("target"), undefined, `${r.nodeId}: not deleted`);
        assert.equal(r.entry("stolen"), undefined, `${r.nodeId}: no forged counter`);
        assert.deepEqual(r.members().map((m) => [m.node, m.reachable]), [["a", true], ["b", true], ["c", true]]);
        assert.equal(r.leader(), "a");
      }
      // Nothing fails the honest: a coordinated write reaches all three.
      await b.update(Key.gcounter("all"), (v, self) => v.increment(self, 1), { writeTo: "all" });
    });
  });
}
