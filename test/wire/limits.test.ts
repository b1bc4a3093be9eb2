// Identifier limits on the wire: a stranger cannot pin memory with long ids. Every decoder refuses
// an id past its limit with a DecodeError (counted as "decode" by the replicator), and takes one at it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecodeError } from "../../src/errors.js";
import { GCounter } from "../../src/crdt/gcounter.js";
import {
  MAX_KEY_BYTES,
  MAX_NODE_ID,
  MAX_ROLES,
  MAX_TEXT,
  decodeCrdtDeltaBatch,
  decodeDeltaEnvelope,
  decodeHeartbeat,
  decodeMemberHello,
  decodeMemberHelloReply,
  decodeNodeReply,
  decodeNodeRequest,
  encodeCrdtDeltaBatch,
  encodeDeltaEnvelope,
  encodeHeartbeat,
  encodeMemberHello,
  encodeMemberHelloReply,
  encodeNodeReply,
  encodeNodeRequest,
  type CrdtDelta,
  type Heartbeat,
} from "../../src/wire/codec.js";

const id = (n: number): string => "n".repeat(n);
const key = (bytes: number): string => "k".repeat(bytes);
const delta = (k: string, originNode = "a"): CrdtDelta => ({ key: k, kind: "gcounter", originNode, value: GCounter.empty().increment("w", 1) });
const tombstone = (k: string, originNode = "a") => ({ key: k, kind: "gcounter" as const, deletedAtMs: 1, originNode });

/** `make(ok)` decodes; `make(bad)` throws DecodeError. */
function limit<T>(ok: T, bad: T, make: (v: T) => unknown): void {
  assert.doesNotThrow(() => make(ok));
  assert.throws(() => make(bad), DecodeError);
}

describe("identifier limits in the decoders", () => {
  it("delta envelopes: origin, delta and tombstone keys and origins", () => {
    const env = (origin: string, deltas: CrdtDelta[] = [], tombstones: ReturnType<typeof tombstone>[] = []) =>
      decodeDeltaEnvelope(encodeDeltaEnvelope({ origin, incarnation: 1, sequence: 1, deltas, tombstones, sentAtMs: 1 }));
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (o) => env(o));
    limit(key(MAX_KEY_BYTES), key(MAX_KEY_BYTES + 1), (k) => env("a", [delta(k)]));
    // Bytes, not chars: 342 three-byte chars are 1,026 bytes.
    limit("€".repeat(341), "€".repeat(342), (k) => env("a", [delta(k)]));
    limit(key(MAX_KEY_BYTES), key(MAX_KEY_BYTES + 1), (k) => env("a", [], [tombstone(k)]));
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (o) => env("a", [], [tombstone("k", o)]));
  });

  it("requests and replies: from, keys, identify's host:pid, identity host", () => {
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (from) => decodeNodeRequest(encodeNodeRequest({ type: "read", from, key: "k", kind: "gcounter" })));
    limit(key(MAX_KEY_BYTES), key(MAX_KEY_BYTES + 1), (k) => decodeNodeRequest(encodeNodeRequest({ type: "read", from: "a", key: k, kind: "gcounter" })));
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (from) =>
      decodeNodeRequest(encodeNodeRequest({ type: "digest", from, level: 0, buckets: [], keys: [], bucket: 0 })),
    );
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (from) =>
      decodeNodeRequest(encodeNodeRequest({ type: "repair", from, incarnation: 1, fromSequence: 1, toSequence: 2 })),
    );
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (from) => decodeNodeRequest(encodeNodeRequest({ type: "write", from, deltas: [], tombstones: [] })));
    limit(id(MAX_TEXT), id(MAX_TEXT + 1), (from) => decodeNodeRequest(encodeNodeRequest({ type: "identify", from })));
    limit(key(MAX_KEY_BYTES), key(MAX_KEY_BYTES + 1), (k) => decodeNodeReply(encodeNodeReply({ type: "digest", differing: [], keys: [], wanted: [k] })));
    limit(id(MAX_TEXT), id(MAX_TEXT + 1), (host) => decodeNodeReply(encodeNodeReply({ type: "identity", incarnation: 1, startedAtMs: 1, host, pid: 1 })));
  });

  it("membership: heartbeat node, data center and roles; hello node and replyTo; hello reply", () => {
    const hb = (h: Partial<Heartbeat>) =>
      decodeHeartbeat(
        encodeHeartbeat({ node: "a", dataCenter: "dc", roles: [], startedAtMs: 1, incarnation: 1, lastSequence: 0, leaving: false, sentAtMs: 1, silent: [], vouched: [], ...h }),
      );
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (node) => hb({ node }));
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (dataCenter) => hb({ dataCenter }));
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (r) => hb({ roles: [r] }));
    limit(MAX_ROLES, MAX_ROLES + 1, (n) => hb({ roles: Array.from({ length: n }, (_, i) => `r${i}`) }));
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (node) => decodeMemberHello(encodeMemberHello({ node, replyTo: "x" })));
    limit(id(MAX_TEXT), id(MAX_TEXT + 1), (replyTo) => decodeMemberHello(encodeMemberHello({ node: "a", replyTo })));
    const reply = (from: string, dataCenter = "dc") =>
      decodeMemberHelloReply(encodeMemberHelloReply({ from, incarnation: 1, youngestStartedAtMs: 1, members: 1, counted: [{ node: "b", dataCenter, roles: [] }] }));
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (from) => reply(from));
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (dc) => reply("a", dc));
    // Member ids become NATS subject tokens: a wildcard, a dot or a space is no node id.
    for (const bad of ["*", ">", "a.b", "a b", "a~1"]) {
      assert.throws(() => hb({ node: bad }), DecodeError, `heartbeat node ${JSON.stringify(bad)}`);
      assert.throws(() => hb({ vouched: [bad] }), DecodeError, `vote ${JSON.stringify(bad)}`);
      assert.throws(() => decodeMemberHello(encodeMemberHello({ node: bad, replyTo: "x" })), DecodeError, `hello node ${JSON.stringify(bad)}`);
      assert.throws(() => reply(bad), DecodeError, `hello reply from ${JSON.stringify(bad)}`);
    }
  });

  it("cross-DC batches: origin DC and node", () => {
    const batch = (originDc: string, originNode = "a") =>
      decodeCrdtDeltaBatch(encodeCrdtDeltaBatch({ originDc, originNode, batchId: 1, sentAtMs: 1, deltas: [], tombstones: [] }));
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (dc) => batch(dc));
    limit(id(MAX_NODE_ID), id(MAX_NODE_ID + 1), (n) => batch("dc", n));
  });
});
