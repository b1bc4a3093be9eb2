/**
 * Compact delta envelopes in a rolling upgrade. Nodes of this release publish compact envelopes
 * (the writer id once per envelope, see proto DeltaEnvelope.writer) while every member of their
 * data center announces in its heartbeats that it reads them. A member of a release before them
 * (here: heartbeats published by a raw NATS client, without Heartbeat.compact_deltas) gets the
 * full form from the moment it is heard, and a repair it asks for never hands it a compact one.
 * A starting node's hello holds compact envelopes back until its first heartbeat says which
 * release it runs (it subscribes to the deltas before that heartbeat arrives).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GCounter, Key, type Replicator } from "../../src/index.js";
import { decodeDeltaEnvelope, decodeNodeReply, decodeValue, encodeHeartbeat, encodeMemberHello, encodeNodeRequest, type DeltaEnvelope } from "../../src/wire/codec.js";
import { helloReplyTo, helloSubject } from "../../src/replicator/identity.js";
import { clusterWithRaw } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

const SUBJECT = "crdt.deltas";

describe("compact envelopes and members that do not read them", () => {
  const cluster = clusterWithRaw(["a", "b"]);

  test("full envelopes while an old-release member is known, compact again once it reads them; repairs follow the requester", async () => {
    const [a, b] = cluster.c.nodes as [Replicator, Replicator];
    const fromA: { bytes: Uint8Array; env: DeltaEnvelope }[] = [];
    cluster.raw.subscribe(SUBJECT, {
      callback: (_, m) => {
        const env = decodeDeltaEnvelope(m.data);
        if (env.origin === "a") fromA.push({ bytes: m.data.slice(), env });
      },
    });
    await cluster.raw.flush();
    const k = Key.gcounter("hits");
    let total = 0;
    /** One increment on a; resolves with the envelope that carried it. */
    const bump = async (): Promise<{ bytes: Uint8Array; env: DeltaEnvelope }> => {
      const seen = fromA.length;
      await a.update(k, (v, self) => v.increment(self, 1));
      total++;
      await waitFor(() => fromA.length > seen, { timeoutMs: 10_000, message: "a's envelope on the bus" });
      return fromA[fromA.length - 1]!;
    };

    // Both members are of this release: compact.
    const first = await bump();
    assert.equal(first.env.writer, a.writerId);
    await waitFor(() => b.get(k)?.value === total, { timeoutMs: 10_000, message: "b merged a's compact envelope" });

    // A member of the previous release appears in a's data center: its heartbeats say nothing of compact envelopes.
    const dataCenter = a.members().find((m) => m.self)!.dataCenter;
    let readsCompact = false;
    const startedAtMs = Date.now();
    const beat = (): void =>
      cluster.raw.publish(
        `${SUBJECT}.members`,
        encodeHeartbeat({ node: "old", dataCenter, roles: [], startedAtMs, incarnation: startedAtMs, lastSequence: 0, leaving: false, silent: [], vouched: [], sentAtMs: Date.now(), compactDeltas: readsCompact }),
      );
    beat();
    const timer = setInterval(beat, 200);
    try {
      await waitFor(() => a.members().some((m) => m.node === "old"), { timeoutMs: 10_000, message: "a heard the old member" });
      const full = await bump();
      assert.equal(full.env.writer, undefined, "full form once an old member is known");
      // What the old release's decoder does: every state reads without a writer.
      for (const d of full.env.deltas) assert.ok(decodeValue(d.kind, d.data!).equals(d.value));
      assert.equal(((full.env.deltas[0]!.value as GCounter).slot(a.writerId)), total);

      // A repair asked by the old member over a range holding a compact envelope: none is handed out.
      const repair = async (from: string): Promise<{ complete: boolean; envelopes: number }> => {
        const request = encodeNodeRequest({ type: "repair", from, incarnation: a.incarnation, fromSequence: first.env.sequence, toSequence: full.env.sequence });
        const reply = decodeNodeReply((await cluster.raw.request(`${SUBJECT}.node.a`, request, { timeout: 5_000 })).data);
        assert.equal(reply.type, "repair");
        return reply.type === "repair" ? { complete: reply.complete, envelopes: reply.envelopes.length } : { complete: false, envelopes: -1 };
      };
      assert.deepEqual(await repair("old"), { complete: false, envelopes: 0 }, "the old member syncs by digest instead");
      const forB = await repair("b");
      assert.equal(forB.complete, true);
      assert.ok(forB.envelopes >= 2);

      // The member is upgraded (its heartbeats now say it reads them): compact again.
      readsCompact = true;
      await waitFor(async () => (await bump()).env.writer === a.writerId, { timeoutMs: 10_000, message: "compact again" });
      await waitFor(() => b.get(k)?.value === total, { timeoutMs: 10_000, message: "b has every increment" });
    } finally {
      clearInterval(timer);
    }

    // A node says hello (starting): full envelopes until its first heartbeat, here one of this release.
    cluster.raw.publish(helloSubject(SUBJECT), encodeMemberHello({ node: "fresh", replyTo: helloReplyTo(SUBJECT, "fresh") }));
    await waitFor(async () => (await bump()).env.writer === undefined, { timeoutMs: 10_000, message: "full form after a hello" });
    const now = Date.now();
    cluster.raw.publish(
      `${SUBJECT}.members`,
      encodeHeartbeat({ node: "fresh", dataCenter, roles: [], startedAtMs: now, incarnation: now, lastSequence: 0, leaving: false, silent: [], vouched: [], sentAtMs: now, compactDeltas: true }),
    );
    await waitFor(async () => (await bump()).env.writer === a.writerId, { timeoutMs: 10_000, message: "compact once the new node's heartbeat says so" });
    await waitFor(() => b.get(k)?.value === total, { timeoutMs: 10_000, message: "b has every increment" });
  });
});
