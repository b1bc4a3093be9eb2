/** Codecs of the replication protocol: delta envelopes, and the requests and replies between nodes. */
import { DecodeError } from "../errors.js";
import {
  argError,
  decodeWith,
  deltaFromPb,
  deltasFromPb,
  deltasToPb,
  deltaToPb,
  encoding,
  fullStateFromPb,
  fullStateToPb,
  bounded,
  keyHashesFromPb,
  keyId,
  keyHashesToPb,
  needFinite,
  needHash,
  needString,
  needU32,
  needU64,
  nodeId,
  required,
  sub,
  tombstoneFromPb,
  tombstonesFromPb,
  tombstonesToPb,
  tombstoneToPb,
} from "./convert.js";
import { bytesOf, checkFields, encodeMessage, fixed64, u64 } from "./pb.js";
import { type PbEnvelope, type PbNodeReply, type PbNodeRequest, T } from "./pb-shapes.js";
import { type DeltaEnvelope, MAX_TEXT, type NodeReply, type NodeRequest } from "./shapes.js";
import { dataTypeOf, kindOf } from "./states.js";
import { readDigestReply } from "./range-page-reader.js";
import { readDeltaEnvelope } from "./envelope-reader.js";

// ================================================================== DeltaEnvelope

function envelopeToPb(e: DeltaEnvelope): object {
  const w = "DeltaEnvelope";
  const origin = needString(e.origin, `${w}.origin`);
  const incarnation = needU64(e.incarnation, `${w}.incarnation`);
  // Compact (DeltaEnvelope.writer): the writer's node ids are left out of the deltas' states.
  const writer = e.writer === undefined ? undefined : needString(e.writer, `${w}.writer`);
  const deltas = deltasToPb(e.deltas ?? [], `${w}.deltas`, writer);
  for (const d of deltas) if (d.originNode === origin) d.originNode = ""; // implied by the envelope
  const out: Record<string, unknown> = {
    origin,
    incarnation,
    sequence: needU64(e.sequence, `${w}.sequence`),
    deltas,
    tombstones: tombstonesToPb(e.tombstones, `${w}.tombstones`),
  };
  if (writer !== undefined) out["writer"] = writer;
  // Before the incarnation when it is ahead of the wall clock (it only ever grows, see identity.ts).
  const afterUs = Math.round((needFinite(e.sentAtMs ?? 0, `${w}.sentAtMs`) - incarnation) * 1000);
  if (afterUs >= 0) out["sentAfterUs"] = Math.min(afterUs, Number.MAX_SAFE_INTEGER);
  else out["sentBeforeUs"] = Math.min(-afterUs, incarnation * 1000, Number.MAX_SAFE_INTEGER);
  if (e.chunk !== undefined) {
    const c = e.chunk;
    if ((e.deltas?.length ?? 0) > 0 || (e.tombstones?.length ?? 0) > 0) throw argError(w, "a chunk envelope carries no deltas or tombstones");
    const total = needU32(c.total, `${w}.chunk.total`);
    const index = needU32(c.index, `${w}.chunk.index`);
    if (total < 1 || index >= total) throw argError(w, `chunk index ${index} of ${total}`);
    out["chunk"] = { chunkId: needU64(c.chunkId, `${w}.chunk.chunkId`), index, total, data: c.data };
  }
  return out;
}

export function encodeDeltaEnvelope(e: DeltaEnvelope): Uint8Array {
  return encoding("DeltaEnvelope", () => encodeMessage(T.DeltaEnvelope, envelopeToPb(e)));
}

function envelopeFromPb(m: PbEnvelope, what: string): DeltaEnvelope {
  const origin = nodeId(m.origin, `${what}.origin`);
  const incarnation = u64(m.incarnation, `${what}.incarnation`);
  // A writer id is a node id and a suffix (replicator/identity.ts writerIdFor): longer than MAX_NODE_ID may be.
  const writer = m.writer === "" ? undefined : bounded(m.writer, MAX_TEXT, `${what}.writer`);
  const out: DeltaEnvelope = {
    origin,
    incarnation,
    sequence: u64(m.sequence, `${what}.sequence`),
    deltas: deltasFromPb(m.deltas, `${what}.deltas`, origin, writer),
    tombstones: tombstonesFromPb(m.tombstones, `${what}.tombstones`),
    sentAtMs: incarnation + (u64(m.sentAfterUs, `${what}.sentAfterUs`) - u64(m.sentBeforeUs, `${what}.sentBeforeUs`)) / 1000,
  };
  if (writer !== undefined) out.writer = writer;
  const c = sub(m.chunk, T.Chunk, `${what}.chunk`);
  if (c !== undefined) {
    if (out.deltas.length > 0 || out.tombstones.length > 0) throw new DecodeError(`${what}: a chunk envelope carries deltas or tombstones`);
    if (c.total < 1 || c.index >= c.total) throw new DecodeError(`${what}.chunk: index ${c.index} of ${c.total}`);
    out.chunk = { chunkId: u64(c.chunkId, `${what}.chunk.chunkId`), index: c.index, total: c.total, data: bytesOf(c.data) };
  }
  return out;
}

/** Decodes a DeltaEnvelope, every delta's value included. Throws only DecodeError. */
export function decodeDeltaEnvelope(bytes: Uint8Array): DeltaEnvelope {
  // The usual envelope by hand (envelope-reader.ts); anything else, and every error, the generic way.
  return (bytes instanceof Uint8Array ? readDeltaEnvelope(bytes) : undefined) ?? decodeDeltaEnvelopeGeneric(bytes);
}

/** `decodeDeltaEnvelope` through protobufjs alone (what the hand reader is held to). */
export function decodeDeltaEnvelopeGeneric(bytes: Uint8Array): DeltaEnvelope {
  return decodeWith(T.DeltaEnvelope, bytes, envelopeFromPb);
}

// ================================================================== NodeRequest / NodeReply

function nodeRequestToPb(r: NodeRequest): object {
  const w = `NodeRequest(${String(r?.type)})`;
  switch (r.type) {
    case "write":
      return {
        write: {
          from: needString(r.from, `${w}.from`),
          deltas: deltasToPb(r.deltas ?? [], `${w}.deltas`),
          tombstones: tombstonesToPb(r.tombstones, `${w}.tombstones`),
        },
      };
    case "read":
      return { read: { from: needString(r.from, `${w}.from`), key: needString(r.key, `${w}.key`), dataType: dataTypeOf(r.kind) } };
    case "digest":
      return {
        digest: {
          from: needString(r.from, `${w}.from`),
          level: needU32(r.level, `${w}.level`),
          buckets: (r.buckets ?? []).map((b, i) => ({ bucket: needU32(b.bucket, `${w}.buckets[${i}].bucket`), hash: needHash(b.hash, `${w}.buckets[${i}].hash`) })),
          keys: keyHashesToPb(r.keys ?? [], `${w}.keys`),
          bucket: needU32(r.bucket ?? 0, `${w}.bucket`),
          pageBytes: needU32(r.pageBytes ?? 0, `${w}.pageBytes`),
          storeOrder: r.storeOrder === true,
          resumeAt: needU32(r.resumeAt ?? 0, `${w}.resumeAt`),
        },
      };
    case "repair": {
      const from = needU64(r.fromSequence, `${w}.fromSequence`);
      const to = needU64(r.toSequence, `${w}.toSequence`);
      if (from > to) throw argError(w, `fromSequence ${from} > toSequence ${to}`);
      return { repair: { from: needString(r.from, `${w}.from`), incarnation: needU64(r.incarnation, `${w}.incarnation`), fromSequence: from, toSequence: to } };
    }
    case "push":
      return { push: fullStateToPb(r, `${w}`) };
    case "identify":
      return { identify: { from: needString(r.from, `${w}.from`) } };
    default:
      throw argError("NodeRequest", `unknown type ${JSON.stringify((r as { type?: unknown }).type)}`);
  }
}

export function encodeNodeRequest(r: NodeRequest): Uint8Array {
  return encoding("NodeRequest", () => encodeMessage(T.NodeRequest, nodeRequestToPb(r)));
}

function nodeRequestFromPb(m: PbNodeRequest, what: string): NodeRequest {
  const w = sub(m.write, T.WriteRequest, `${what}.write`);
  if (w !== undefined) {
    return {
      type: "write",
      from: nodeId(w.from, `${what}.write.from`),
      deltas: deltasFromPb(w.deltas, `${what}.write.deltas`),
      tombstones: tombstonesFromPb(w.tombstones, `${what}.write.tombstones`),
    };
  }
  const r = sub(m.read, T.ReadRequest, `${what}.read`);
  if (r !== undefined) {
    return { type: "read", from: nodeId(r.from, `${what}.read.from`), key: keyId(r.key, `${what}.read.key`), kind: kindOf(r.dataType, `${what}.read.dataType`) };
  }
  const d = sub(m.digest, T.DigestRequest, `${what}.digest`);
  if (d !== undefined) {
    return {
      type: "digest",
      from: nodeId(d.from, `${what}.digest.from`),
      level: d.level,
      buckets: d.buckets.map((b, i) => {
        checkFields(b, T.BucketHash, `${what}.digest.buckets[${i}]`, false);
        return { bucket: b.bucket, hash: fixed64(b.hash) };
      }),
      keys: keyHashesFromPb(d.keys, `${what}.digest.keys`),
      bucket: d.bucket,
      ...(d.pageBytes > 0 ? { pageBytes: d.pageBytes } : {}),
      ...(d.storeOrder ? { storeOrder: true } : {}),
      ...(d.resumeAt > 0 ? { resumeAt: d.resumeAt } : {}),
    };
  }
  const p = sub(m.repair, T.RepairRequest, `${what}.repair`);
  if (p !== undefined) {
    const fromSequence = u64(p.fromSequence, `${what}.repair.fromSequence`);
    const toSequence = u64(p.toSequence, `${what}.repair.toSequence`);
    if (fromSequence > toSequence) throw new DecodeError(`${what}.repair: fromSequence ${fromSequence} > toSequence ${toSequence}`);
    return { type: "repair", from: nodeId(p.from, `${what}.repair.from`), incarnation: u64(p.incarnation, `${what}.repair.incarnation`), fromSequence, toSequence };
  }
  const s = m.push;
  if (s != null) return { type: "push", ...fullStateFromPb(s, `${what}.push`) };
  const i = sub(m.identify, T.IdentifyRequest, `${what}.identify`);
  if (i !== undefined) return { type: "identify", from: bounded(required(i.from, `${what}.identify.from`), MAX_TEXT, `${what}.identify.from`) };
  throw new DecodeError(`${what}: empty (no body)`);
}

/** Decodes a request addressed to this node. Throws only DecodeError (also for an empty body). */
export function decodeNodeRequest(bytes: Uint8Array): NodeRequest {
  return decodeWith(T.NodeRequest, bytes, nodeRequestFromPb);
}

function nodeReplyToPb(r: NodeReply): object {
  const w = `NodeReply(${String(r?.type)})`;
  switch (r.type) {
    case "write":
      return { write: { ok: r.ok === true, error: r.error ?? "" } };
    case "read": {
      const read: Record<string, unknown> = { found: r.found === true };
      if (r.state !== undefined) read["state"] = deltaToPb(r.state, `${w}.state`);
      if (r.tombstone !== undefined) read["tombstone"] = tombstoneToPb(r.tombstone, `${w}.tombstone`);
      return { read };
    }
    case "digest": {
      const digest: Record<string, unknown> = {
        differing: (r.differing ?? []).map((b, i) => needU32(b, `${w}.differing[${i}]`)),
        keys: keyHashesToPb(r.keys ?? [], `${w}.keys`),
        wanted: (r.wanted ?? []).map((k, i) => needString(k, `${w}.wanted[${i}]`)),
        hashing: (r.hashing ?? []).map((g, i) => needU32(g, `${w}.hashing[${i}]`)),
        resumeAt: needU32(r.resumeAt ?? 0, `${w}.resumeAt`),
        positions: needU32(r.positions ?? 0, `${w}.positions`),
      };
      if (r.state !== undefined) digest["state"] = fullStateToPb(r.state, `${w}.state`);
      return { digest };
    }
    case "repair":
      return { repair: { envelopes: r.envelopes ?? [], complete: r.complete === true } };
    case "identity":
      return {
        identity: {
          incarnation: needU64(r.incarnation, `${w}.incarnation`),
          startedAtMs: needU64(r.startedAtMs, `${w}.startedAtMs`),
          host: r.host ?? "",
          pid: needU32(r.pid, `${w}.pid`),
        },
      };
    case "error":
      // An empty error string would decode as "no body"; say something.
      return { error: needString(r.error, `${w}.error`) };
    default:
      throw argError("NodeReply", `unknown type ${JSON.stringify((r as { type?: unknown }).type)}`);
  }
}

export function encodeNodeReply(r: NodeReply): Uint8Array {
  return encoding("NodeReply", () => encodeMessage(T.NodeReply, nodeReplyToPb(r)));
}

function nodeReplyFromPb(m: PbNodeReply, what: string): NodeReply {
  const w = sub(m.write, T.WriteAck, `${what}.write`);
  if (w !== undefined) return { type: "write", ok: w.ok, error: w.error };
  const r = sub(m.read, T.ReadReply, `${what}.read`);
  if (r !== undefined) {
    const out: NodeReply = { type: "read", found: r.found };
    if (r.state != null) out.state = deltaFromPb(r.state, `${what}.read.state`);
    if (r.tombstone != null) out.tombstone = tombstoneFromPb(r.tombstone, `${what}.read.tombstone`);
    return out;
  }
  const d = sub(m.digest, T.DigestReply, `${what}.digest`);
  if (d !== undefined) {
    const out: NodeReply = {
      type: "digest",
      differing: d.differing.slice(),
      keys: keyHashesFromPb(d.keys, `${what}.digest.keys`),
      wanted: d.wanted.map((k, i) => keyId(k, `${what}.digest.wanted[${i}]`)),
    };
    if (d.hashing.length > 0) out.hashing = d.hashing.slice();
    if (d.resumeAt > 0) out.resumeAt = d.resumeAt;
    if (d.positions > 0) out.positions = d.positions;
    if (d.state != null) out.state = fullStateFromPb(d.state, `${what}.digest.state`);
    return out;
  }
  const p = sub(m.repair, T.RepairReply, `${what}.repair`);
  if (p !== undefined) return { type: "repair", envelopes: p.envelopes.map(bytesOf), complete: p.complete };
  if (m.error != null && m.error !== "") return { type: "error", error: m.error };
  const id = sub(m.identity, T.Identity, `${what}.identity`);
  if (id !== undefined) {
    return {
      type: "identity",
      incarnation: u64(id.incarnation, `${what}.identity.incarnation`),
      startedAtMs: u64(id.startedAtMs, `${what}.identity.startedAtMs`),
      host: bounded(id.host, MAX_TEXT, `${what}.identity.host`),
      pid: id.pid,
    };
  }
  throw new DecodeError(`${what}: empty (no body)`);
}

/**
 * Decodes a reply from a peer. Throws only DecodeError (also for an empty body). A digest reply
 * (a bulk-pull page holds thousands of values) is first tried by the hand reader (range-page-reader.ts).
 */
export function decodeNodeReply(bytes: Uint8Array): NodeReply {
  return (bytes[0] === 0x1a ? readDigestReply(bytes) : undefined) ?? decodeWith(T.NodeReply, bytes, nodeReplyFromPb);
}
