/**
 * Bad input on the delta subject (and the other subjects a node listens on), published by a raw NATS
 * client while the nodes replicate: every kind is rejected and counted under its reason, no node
 * goes down, and the good traffic still converges — including the traffic of a node whose identity
 * an impostor claimed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { Flag, GCounter, Key, type Replicator } from "../../src/index.js";
import type { RejectReason } from "../../src/extension/stats.js";
import { decodeNodeReply, encodeDeltaEnvelope, encodeValue, MAX_TEXT, type CrdtDelta, type DeltaEnvelope } from "../../src/wire/codec.js";
import { messageType } from "../../src/wire/pb.js";
import { clusterWithRaw } from "../helpers/cluster.js";
import { sleep, waitFor } from "../helpers/wait.js";

const SUBJECT = "crdt.deltas";

function envelope(origin: string, deltas: CrdtDelta[], extra: Partial<DeltaEnvelope> = {}): Uint8Array {
  return encodeDeltaEnvelope({
    origin,
    incarnation: 1,
    sequence: 1,
    deltas,
    tombstones: [],
    sentAtMs: Date.now(),
    ...extra,
  });
}

function counterDelta(key: string, originNode: string, by = 1): CrdtDelta {
  return { key, kind: "gcounter", originNode, value: GCounter.empty().increment(`${originNode}-w`, by).delta! };
}

describe("bad input while replication goes on", () => {
  const cluster = clusterWithRaw(["a", "b", "c"]);

  test("each kind is rejected and counted; nodes stay up; good traffic converges", async () => {
    const nodes = cluster.c.nodes as [Replicator, Replicator, Replicator];
    const [a, b] = nodes;
    const good = Key.gcounter("good");
    const typedSet = Key.orset<string>("a-set");
    await a.update(typedSet, (v, self) => v.add(self, "x"));
    await waitFor(() => nodes.every((n) => n.get(typedSet)?.has("x")));
    const start = nodes.map((n) => new Map(n.stats.rejected));

    // Good traffic on every node, interleaved with the bad input below.
    let increments = 0;
    let stop = false;
    const writers = nodes.map(async (n) => {
      while (!stop) {
        await n.update(good, (v, self) => v.increment(self, 1));
        increments++;
        await sleep(10);
      }
    });

    const maxPayload = cluster.raw.info!.max_payload;
    const valid = envelope("mallory", [counterDelta("mallory-key", "mallory")]);
    const Envelope = messageType("DeltaEnvelope");
    const withUnknownType = Envelope.decode(envelope("mallory", [counterDelta("mallory-key", "mallory")], { sequence: 2 })) as unknown as {
      deltas: { dataType: number }[];
    };
    withUnknownType.deltas[0]!.dataType = 99;

    const compact = counterDelta("mallory-key", "mallory");
    const bad: [string, Uint8Array][] = [
      ["garbage", randomBytes(300)],
      ["truncated", valid.subarray(0, Math.floor(valid.length / 2))],
      ["unknown data type", Envelope.encode(withUnknownType).finish()],
      // "a-set" is an ORSet on every node; this says it is a Flag, a type that loses to an ORSet
      // (the lower wire tag wins a type conflict: see type-conflict.ts), so it is refused.
      ["type mismatch", envelope("mallory", [{ key: "a-set", kind: "flag", originNode: "mallory", value: Flag.empty().enable().resetDelta() }], { sequence: 3 })],
      ["near max_payload", randomBytes(maxPayload - 64)],
      // b's id with another incarnation, higher and lower than b's real one.
      ["b, newer incarnation", envelope("b", [counterDelta("good", "b", 1_000_000)], { incarnation: b.incarnation + 1, sequence: 7 })],
      ["b, older incarnation", envelope("b", [counterDelta("good", "b", 1_000_000)], { incarnation: b.incarnation - 1, sequence: 7 })],
      // mallory's envelope carrying a delta that claims to come from a.
      ["delta origin differs", envelope("mallory", [counterDelta("good", "a", 1_000_000)], { sequence: 4 })],
      // Compact states (their writer left out) in an envelope that names no writer, and a writer id past any real one.
      ["compact state, no writer", envelope("mallory", [{ ...compact, data: encodeValue(compact.value, "mallory-w") }], { sequence: 5 })],
      ["writer too long", envelope("mallory", [compact], { sequence: 6, writer: "w".repeat(MAX_TEXT + 1) })],
    ];
    for (const [, bytes] of bad) {
      cluster.raw.publish(SUBJECT, bytes);
      await sleep(20);
    }
    // An impostor of b with b's real incarnation and a sequence far ahead: undetectable on receipt
    // (it carries nothing), but it must not make b's real envelopes look like duplicates for long.
    cluster.raw.publish(SUBJECT, envelope("b", [], { incarnation: b.incarnation, sequence: 1_000_000 }));
    // Garbage on the other subjects nodes listen to.
    cluster.raw.publish(`${SUBJECT}.members`, randomBytes(100));
    cluster.raw.publish(`${SUBJECT}.node.a.direct`, randomBytes(100));
    const reply = await cluster.raw.request(`${SUBJECT}.node.a`, randomBytes(64), { timeout: 3000 });
    const answer = decodeNodeReply(reply.data);
    assert.equal(answer.type, "error", "garbage request gets an error reply");
    const empty = await cluster.raw.request(`${SUBJECT}.node.b`, new Uint8Array(0), { timeout: 3000 });
    assert.equal(decodeNodeReply(empty.data).type, "error", "an empty request gets an error reply");

    await sleep(1000); // let b's writes run past its next heartbeat after the sequence impostor
    stop = true;
    await Promise.all(writers);
    const total = increments;
    await waitFor(() => nodes.every((n) => n.get(good)?.value === total), {
      timeoutMs: 15_000,
      message: `good counter reaches ${total} everywhere`,
      describe: () => nodes.map((n) => n.get(good)?.value),
    });

    const delta = (i: number, reason: RejectReason): number => (nodes[i]!.stats.rejected.get(reason) ?? 0) - (start[i]!.get(reason) ?? 0);
    const expected = (i: number): Partial<Record<RejectReason, number>> => ({
      decode: i === 0 ? 5 : 4, // garbage, truncated, the two compact ones (+ the direct-subject garbage sent to a)
      "unknown-type": 1,
      "type-mismatch": 1,
      oversized: 1,
      // b sees its own id with other incarnations (both forged); a and c compare with membership.
      "forged-origin": i === 1 ? 3 : 2,
      "stale-incarnation": i === 1 ? 0 : 1,
      "bad-request": i === 0 ? 1 : i === 1 ? 1 : 0,
      "deleted-key": 0,
    });
    for (let i = 0; i < nodes.length; i++) {
      const got = Object.fromEntries(Object.keys(expected(i)).map((r) => [r, delta(i, r as RejectReason)]));
      assert.deepEqual(got, expected(i), `${nodes[i]!.nodeId}: rejections by reason`);
    }
    // Nothing of the bad input was merged.
    for (const n of nodes) {
      assert.equal(n.get(typedSet)?.elements.join(), "x");
      assert.ok(!n.keys().includes("mallory-key"));
    }
    // Still fully working: members see each other and a coordinated write to all succeeds.
    for (const n of nodes) assert.deepEqual(n.members().map((m) => [m.node, m.reachable]), [["a", true], ["b", true], ["c", true]]);
    await b.update(good, (v, self) => v.increment(self, 1), { writeTo: "all" });
    for (const n of nodes) assert.equal(n.get(good)?.value, total + 1);
  });
});
