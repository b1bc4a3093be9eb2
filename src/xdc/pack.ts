/**
 * Cutting what is owed to a remote DC into batches that fit its server's max payload. Pure.
 *
 * Sizes are estimated from each value's encoding (computed once, reused by the batch encoder) with
 * generous per-entry overheads; the sender still checks the encoded batch and halves a part whose
 * estimate was wrong (see `halve`). A single value larger than the budget cannot travel in a batch
 * and is returned apart (`oversized`).
 */
import { type CrdtDelta, encodeValue, type Tombstone } from "../wire/codec.js";
import type { Taken } from "./accumulator.js";

/** Bytes of a batch besides its entries (origin DC and node, batch id, timestamp, tags). */
export const BATCH_OVERHEAD = 160;

export interface Part {
  deltas: CrdtDelta[];
  tombstones: Tombstone[];
}

export interface Packed {
  parts: Part[];
  /** Deltas that alone exceed the budget. */
  oversized: CrdtDelta[];
}

/**
 * Split `taken` into parts of at most `budget` estimated bytes each. Deltas are tagged with
 * `originNode` (the sending leader: a pending entry merges deltas from many writers).
 */
export function pack(taken: Taken, originNode: string, budget: number): Packed {
  const parts: Part[] = [];
  const oversized: CrdtDelta[] = [];
  let part: Part = { deltas: [], tombstones: [] };
  let size = BATCH_OVERHEAD;
  const close = (): void => {
    if (part.deltas.length > 0 || part.tombstones.length > 0) parts.push(part);
    part = { deltas: [], tombstones: [] };
    size = BATCH_OVERHEAD;
  };
  for (const t of taken.tombstones) {
    const bytes = tombstoneBytes(t);
    if (size + bytes > budget) close();
    part.tombstones.push(t);
    size += bytes;
  }
  for (const d of taken.deltas) {
    const data = encodeValue(d.value);
    const delta: CrdtDelta = { key: d.key, kind: d.kind, originNode, value: d.value, data };
    const bytes = deltaBytes(delta);
    if (BATCH_OVERHEAD + bytes > budget) {
      oversized.push(delta);
      continue;
    }
    if (size + bytes > budget) close();
    part.deltas.push(delta);
    size += bytes;
  }
  close();
  return { parts, oversized };
}

/** Two parts of about half the entries each; undefined when the part holds a single entry. */
export function halve(part: Part): [Part, Part] | undefined {
  const n = part.deltas.length + part.tombstones.length;
  if (n < 2) return undefined;
  const t = Math.floor(part.tombstones.length / 2);
  const d = Math.floor(part.deltas.length / 2);
  // Guarantee both halves are non-empty.
  const [tCut, dCut] = t + d === 0 ? (part.tombstones.length > 0 ? [1, 0] : [0, 1]) : [t, d];
  return [
    { tombstones: part.tombstones.slice(0, tCut), deltas: part.deltas.slice(0, dCut) },
    { tombstones: part.tombstones.slice(tCut), deltas: part.deltas.slice(dCut) },
  ];
}

/** A part as what the accumulator can take back. */
export function toTaken(parts: readonly Part[]): Taken {
  const taken: Taken = { deltas: [], tombstones: [] };
  for (const p of parts) {
    for (const d of p.deltas) taken.deltas.push({ key: d.key, kind: d.kind, value: d.value });
    taken.tombstones.push(...p.tombstones);
  }
  return taken;
}

function deltaBytes(d: CrdtDelta): number {
  // key and origin as UTF-8 (≤ 3 bytes per UTF-16 unit), plus tags, lengths and the data type.
  return (d.data?.length ?? 0) + d.key.length * 3 + d.originNode.length * 3 + 16;
}

function tombstoneBytes(t: Tombstone): number {
  return t.key.length * 3 + t.originNode.length * 3 + 32;
}
