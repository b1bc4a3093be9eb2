/** Forged messages built with the real codec: what an attacker on the subjects would publish. */
import { GCounter, type Replicator } from "../../src/index.js";
import { encodeDeltaEnvelope, encodeHeartbeat, encodeNodeRequest } from "../../src/wire/codec.js";

export const SUBJECT = "crdt.deltas";
export const FOREVER = Number.MAX_SAFE_INTEGER;

/** An envelope in `victim`'s name (its real incarnation, a sequence far ahead) deleting `key` for ever and writing 1000 into `counter`. */
export function forgedEnvelope(victim: Replicator, key: string, counter: string): Uint8Array {
  return encodeDeltaEnvelope({
    origin: victim.nodeId,
    incarnation: victim.incarnation,
    sequence: 1_000_000,
    deltas: [{ key: counter, kind: "gcounter", originNode: victim.nodeId, value: GCounter.empty().increment(`${victim.nodeId}~zz`, 1000).delta! }],
    tombstones: [{ key, kind: "gcounter", deletedAtMs: FOREVER, originNode: victim.nodeId }],
    sentAtMs: Date.now(),
  });
}

/** A heartbeat in `node`'s name. */
export function forgedHeartbeat(node: string, fields: { startedAtMs: number; incarnation: number; leaving?: boolean }): Uint8Array {
  return encodeHeartbeat({
    node,
    dataCenter: "default",
    roles: [],
    startedAtMs: fields.startedAtMs,
    incarnation: fields.incarnation,
    lastSequence: 0,
    leaving: fields.leaving ?? false,
    silent: [],
    vouched: [],
    removed: [],
    sentAtMs: Date.now(),
  });
}

/** A coordinated-write request in `from`'s name deleting `key` and adding 1000 to `counter`. */
export function forgedWrite(from: string, key: string, counter: string): Uint8Array {
  return encodeNodeRequest({
    type: "write",
    from,
    deltas: [{ key: counter, kind: "gcounter", originNode: from, value: GCounter.empty().increment(`${from}~zz`, 1000).delta! }],
    tombstones: [{ key, kind: "gcounter", deletedAtMs: FOREVER, originNode: from }],
  });
}
