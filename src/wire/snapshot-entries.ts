/** Codec of the snapshot's LevelDB values (one value, tombstone or meta record per entry). */
import { DecodeError } from "../errors.js";
import {
  argError,
  decodeWith,
  deltaFromPb,
  deltaToPb,
  encoding,
  finite,
  needFinite,
  needHash,
  needString,
  needU32,
  needU64,
  required,
  sub,
  tombstoneFromPb,
  tombstoneToPb,
} from "./convert.js";
import { encodeMessage, fixed64, u64 } from "./pb.js";
import { type PbPackRange, type PbSnapshotEntry, T } from "./pb-shapes.js";
import type { PackRange, SnapshotEntry, SnapshotMeta } from "./shapes.js";

function metaToPb(s: SnapshotMeta, w: string): object {
  return {
    node: needString(s.node, `${w}.node`),
    incarnation: needU64(s.incarnation, `${w}.incarnation`),
    lastSequence: needU64(s.lastSequence, `${w}.lastSequence`),
    writtenAtMs: needFinite(s.writtenAtMs ?? 0, `${w}.writtenAtMs`),
    writerId: s.writerId ?? "",
    cleanShutdown: s.cleanShutdown === true,
    values: needU64(s.values, `${w}.values`),
    packs: s.packs === undefined ? undefined : packRangeToPb(s.packs, `${w}.packs`),
  };
}

function packRangeToPb(r: PackRange, w: string): object {
  const first = needU64(r.first, `${w}.first`);
  const end = needU64(r.end, `${w}.end`);
  if (end < first) throw argError(w, `end ${end} is below first ${first}`);
  return { first, end };
}

export function encodeSnapshotEntry(e: SnapshotEntry): Uint8Array {
  const w = `SnapshotEntry(${String(e?.type)})`;
  return encoding("SnapshotEntry", () => {
    switch (e.type) {
      case "value": {
        const value = deltaToPb(e, `${w}.value`);
        if (e.digest === undefined) return encodeMessage(T.SnapshotEntry, { value });
        const digestVersion = needU32(e.digest.version, `${w}.digest.version`);
        return encodeMessage(T.SnapshotEntry, { value, digestVersion, digestHash: needHash(e.digest.hash, `${w}.digest.hash`) });
      }
      case "tombstone":
        return encodeMessage(T.SnapshotEntry, { tombstone: tombstoneToPb(e, `${w}.tombstone`) });
      case "meta":
        return encodeMessage(T.SnapshotEntry, { meta: metaToPb(e, `${w}.meta`) });
      default:
        throw argError("SnapshotEntry", `unknown type ${JSON.stringify((e as { type?: unknown }).type)}`);
    }
  });
}

function snapshotEntryFromPb(m: PbSnapshotEntry, what: string): SnapshotEntry {
  if (m.value != null) {
    const delta = deltaFromPb(m.value, `${what}.value`);
    return m.digestVersion > 0 ? { type: "value", ...delta, digest: { version: m.digestVersion, hash: fixed64(m.digestHash) } } : { type: "value", ...delta };
  }
  if (m.tombstone != null) return { type: "tombstone", ...tombstoneFromPb(m.tombstone, `${what}.tombstone`) };
  const s = sub(m.meta, T.SnapshotMeta, `${what}.meta`);
  if (s !== undefined) {
    const packs = packRangeFromPb(s.packs, `${what}.meta.packs`);
    return {
      type: "meta",
      node: required(s.node, `${what}.meta.node`),
      incarnation: u64(s.incarnation, `${what}.meta.incarnation`),
      lastSequence: u64(s.lastSequence, `${what}.meta.lastSequence`),
      writtenAtMs: finite(s.writtenAtMs, `${what}.meta.writtenAtMs`),
      writerId: s.writerId,
      cleanShutdown: s.cleanShutdown,
      values: u64(s.values, `${what}.meta.values`),
      ...(packs === undefined ? {} : { packs }),
    };
  }
  throw new DecodeError(`${what}: empty (no entry)`);
}

function packRangeFromPb(m: PbPackRange | null, what: string): PackRange | undefined {
  const r = sub(m, T.PackRange, what);
  if (r === undefined) return undefined;
  const first = u64(r.first, `${what}.first`);
  const end = u64(r.end, `${what}.end`);
  if (end < first) throw new DecodeError(`${what}: end ${end} is below first ${first}`);
  return { first, end };
}

/** Decodes one LevelDB value. Throws only DecodeError (a corrupt entry is the caller's to skip and count). */
export function decodeSnapshotEntry(bytes: Uint8Array): SnapshotEntry {
  return decodeWith(T.SnapshotEntry, bytes, snapshotEntryFromPb);
}
