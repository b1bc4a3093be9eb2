/**
 * The barrier protocol as pure decisions on one KV entry: the current round, how many
 * participants it expects and who has arrived. The arrival that completes a round opens the next
 * one in the same revision-checked write, so every participant of round r learns it passed by
 * seeing `round > r`; a round can neither be lost nor counted twice.
 */
import { parseEntryObject } from "./json-entry.js";
import { InvalidArgumentError } from "../errors.js";

export interface BarrierEntry {
  readonly round: number;
  /** Participants the current round waits for (0 until someone arrives). */
  readonly expected: number;
  readonly arrived: readonly string[];
}

export const BARRIER_LIMITS = { maxEntryBytes: 256 * 1024, maxParticipants: 1000, maxIdLength: 256 } as const;

export const emptyBarrier: BarrierEntry = { round: 0, expected: 0, arrived: [] };

const encoder = new TextEncoder();

export function encodeBarrier(entry: BarrierEntry): Uint8Array {
  return encoder.encode(JSON.stringify(entry));
}

/** The entry in `bytes`, or undefined when they are not a well-formed barrier entry. */
export function decodeBarrier(bytes: Uint8Array): BarrierEntry | undefined {
  const raw = parseEntryObject(bytes, BARRIER_LIMITS.maxEntryBytes);
  if (raw === undefined) return undefined;
  const { round, expected, arrived } = raw;
  if (!Number.isSafeInteger(round) || (round as number) < 0) return undefined;
  if (!Number.isSafeInteger(expected) || (expected as number) < 0 || (expected as number) > BARRIER_LIMITS.maxParticipants) return undefined;
  if (!Array.isArray(arrived) || arrived.length > BARRIER_LIMITS.maxParticipants) return undefined;
  if (!arrived.every((a) => typeof a === "string" && a.length > 0 && a.length <= BARRIER_LIMITS.maxIdLength)) return undefined;
  if (new Set(arrived).size !== arrived.length || (arrived.length > 0 && arrived.length >= (expected as number))) return undefined;
  return { round: round as number, expected: expected as number, arrived: arrived as string[] };
}

/**
 * `participant` arrives, expecting `expected` in all: the new entry (undefined when it had arrived
 * already) and the round it arrived in. The arrival that makes the count opens the next round.
 */
export function arrive(entry: BarrierEntry, participant: string, expected: number): { entry: BarrierEntry | undefined; round: number } {
  if (entry.arrived.length > 0 && entry.expected !== expected) {
    throw new InvalidArgumentError(`round ${entry.round} of this barrier expects ${entry.expected} participants, not ${expected}: pass the same number everywhere`);
  }
  if (entry.arrived.includes(participant)) return { entry: undefined, round: entry.round };
  const arrived = [...entry.arrived, participant];
  if (arrived.length >= expected) return { entry: { round: entry.round + 1, expected: 0, arrived: [] }, round: entry.round };
  return { entry: { round: entry.round, expected, arrived }, round: entry.round };
}

/** `participant` gives up on `round` (timeout, abort): removed if that round is still open. */
export function leave(entry: BarrierEntry, participant: string, round: number): BarrierEntry | undefined {
  if (entry.round !== round || !entry.arrived.includes(participant)) return undefined;
  const arrived = entry.arrived.filter((a) => a !== participant);
  return { round, expected: arrived.length === 0 ? 0 : entry.expected, arrived };
}

/** Whether `round` has completed in `entry`. */
export function passed(entry: BarrierEntry, round: number): boolean {
  return entry.round > round;
}
