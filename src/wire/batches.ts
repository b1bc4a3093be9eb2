/** Codecs of cross-DC replication: the delta batches a DC leader flushes to a remote DC, and their acks. */
import {
  decodeWith,
  deltasFromPb,
  deltasToPb,
  encoding,
  finite,
  needFinite,
  needString,
  needU64,
  nodeId,
  tombstonesFromPb,
  tombstonesToPb,
} from "./convert.js";
import { encodeMessage, u64 } from "./pb.js";
import { type PbBatch, type PbBatchAck, T } from "./pb-shapes.js";
import type { CrdtDeltaBatch, CrdtDeltaBatchAck } from "./shapes.js";

export function encodeCrdtDeltaBatch(b: CrdtDeltaBatch): Uint8Array {
  const w = "CRDTDeltaBatch";
  return encoding(w, () =>
    encodeMessage(T.CRDTDeltaBatch, {
      originDc: needString(b.originDc, `${w}.originDc`),
      originNode: needString(b.originNode, `${w}.originNode`),
      batchId: needU64(b.batchId, `${w}.batchId`),
      sentAtMs: needFinite(b.sentAtMs ?? 0, `${w}.sentAtMs`),
      deltas: deltasToPb(b.deltas ?? [], `${w}.deltas`),
      tombstones: tombstonesToPb(b.tombstones, `${w}.tombstones`),
    }),
  );
}

function batchFromPb(m: PbBatch, what: string): CrdtDeltaBatch {
  return {
    originDc: nodeId(m.originDc, `${what}.originDc`),
    originNode: nodeId(m.originNode, `${what}.originNode`),
    batchId: u64(m.batchId, `${what}.batchId`),
    sentAtMs: finite(m.sentAtMs, `${what}.sentAtMs`),
    deltas: deltasFromPb(m.deltas, `${what}.deltas`),
    tombstones: tombstonesFromPb(m.tombstones, `${what}.tombstones`),
  };
}

export function decodeCrdtDeltaBatch(bytes: Uint8Array): CrdtDeltaBatch {
  return decodeWith(T.CRDTDeltaBatch, bytes, batchFromPb);
}

export function encodeCrdtDeltaBatchAck(a: CrdtDeltaBatchAck): Uint8Array {
  return encodeMessage(T.CRDTDeltaBatchAck, {
    batchId: needU64(a.batchId, "CRDTDeltaBatchAck.batchId"),
    ok: a.ok === true,
    error: a.error ?? "",
  });
}

export function decodeCrdtDeltaBatchAck(bytes: Uint8Array): CrdtDeltaBatchAck {
  return decodeWith(T.CRDTDeltaBatchAck, bytes, (m: PbBatchAck, what) => ({
    batchId: u64(m.batchId, `${what}.batchId`),
    ok: m.ok,
    error: m.error,
  }));
}
