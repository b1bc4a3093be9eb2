/**
 * Cross-DC replication with signing keys and a cluster key, over two real nats-servers: the link to
 * the other DC is authenticated like the DC's own bus (data crosses both ways), a trusted node
 * cannot send a batch in another node's name, and a node whose key is not trusted cannot send one.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createNodeKey, GCounter, Key, systemClock, type Replicator, type SecurityOptions } from "../../src/index.js";
import type { RejectReason } from "../../src/extension/stats.js";
import { resolveSecurity } from "../../src/security/keys.js";
import { SecureTransport } from "../../src/security/transport.js";
import { connectNats } from "../../src/transport/nats.js";
import type { Transport } from "../../src/transport/types.js";
import { encodeCrdtDeltaBatch } from "../../src/wire/codec.js";
import { waitFor } from "../helpers/wait.js";
import { startTwoDcs, type TwoDcs } from "../xdc/two-dcs.js";
import { SUBJECT } from "./forgery.js";

const CLUSTER_KEY = "the-cluster-key-of-this-test-0123456789";
const count = (r: Replicator, reason: RejectReason): number => r.stats.rejected.get(reason) ?? 0;

describe("cross-DC with security", () => {
  const keys = { e1: createNodeKey(), w1: createNodeKey(), mallory: createNodeKey() };
  const trustedKeys = { e1: keys.e1.publicKey, w1: keys.w1.publicKey };
  const security = (id: "e1" | "w1" | "mallory"): SecurityOptions => ({ clusterKey: CLUSTER_KEY, nodeKey: keys[id].seed, trustedKeys: { ...trustedKeys, [id]: keys[id].publicKey } });
  let x: TwoDcs;
  let e1: Replicator, w1: Replicator;
  const raws: Transport[] = [];
  before(async () => {
    x = await startTwoDcs({ east: [], west: [] });
    e1 = await x.add("east", "e1", { security: security("e1") });
    w1 = await x.add("west", "w1", { security: security("w1") });
  });
  after(async () => {
    await Promise.allSettled(raws.map((t) => t.close()));
    await x.close();
  });

  test("data crosses both ways over authenticated links", { timeout: 60_000 }, async () => {
    const k = Key.gcounter("both-ways");
    await e1.update(k, (v, self) => v.increment(self, 2));
    await w1.update(k, (v, self) => v.increment(self, 3));
    await waitFor(() => [e1, w1].every((r) => r.get(k)?.value === 5), { timeoutMs: 20_000, message: "both DCs have both increments" });
    assert.equal(count(w1, "unauthenticated") + count(e1, "unauthenticated"), 0);
  });

  test("a batch in another node's name, or from an untrusted key, is dropped and counted", { timeout: 60_000 }, async () => {
    const batch = (originNode: string): Uint8Array =>
      encodeCrdtDeltaBatch({
        originDc: "east",
        originNode,
        batchId: 1,
        sentAtMs: Date.now(),
        deltas: [{ key: "forged", kind: "gcounter", originNode, value: GCounter.empty().increment(`${originNode}~x`, 99).delta! }],
        tombstones: [{ key: "both-ways", kind: "gcounter", deletedAtMs: Number.MAX_SAFE_INTEGER, originNode }],
      });
    const attacker = async (id: "w1" | "mallory"): Promise<Transport> => {
      const t = new SecureTransport(await connectNats({ servers: x.west.server.url }), { keys: resolveSecurity(security(id), id)!, windowMs: 60_000, clock: systemClock, reject: () => {} });
      raws.push(t);
      return t;
    };
    const forged = count(w1, "forged-origin");
    const untrusted = count(w1, "untrusted-signer");
    // w1's own credentials, claiming e1 sent the batch; mallory's key, which west does not trust.
    (await attacker("w1")).publish(`${SUBJECT}.xdc`, batch("e1"));
    (await attacker("mallory")).publish(`${SUBJECT}.xdc`, batch("mallory"));
    await Promise.all(raws.map((t) => t.flush()));
    await waitFor(() => count(w1, "forged-origin") > forged && count(w1, "untrusted-signer") > untrusted, { timeoutMs: 10_000, message: "both counted" });
    // East's real data still crosses, and nothing of the forgeries stuck.
    const after = Key.gcounter("after");
    await e1.update(after, (v, self) => v.increment(self, 1));
    await waitFor(() => w1.get(after)?.value === 1, { timeoutMs: 20_000 });
    assert.equal(w1.entry("forged"), undefined);
    assert.equal(w1.deletion("both-ways"), undefined);
    assert.equal(w1.get(Key.gcounter("both-ways"))?.value, 5);
  });
});
