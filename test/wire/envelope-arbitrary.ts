/**
 * Random delta envelopes of the usual shape for the wire tests: compact or not, send times before
 * and after the incarnation, deltas of several types, empty states, origins implied or named.
 */
import fc from "fast-check";
import { Flag, GCounter, GSet, LWWRegister, ORSet, PNCounter } from "../../src/crdt/index.js";
import type { Crdt } from "../../src/crdt/types.js";
import { encodeValue, writeDeltaEnvelope, type CrdtDelta, type DeltaEnvelope } from "../../src/wire/codec.js";

const VALUES: Crdt[] = [
  GCounter.empty(),
  GCounter.empty().increment("n1~a", 1),
  GCounter.empty().increment("n1~a", 300).increment("n2~b", 2 ** 40),
  GCounter.empty().increment("n1~a", 3).delta!,
  PNCounter.empty().increment("n1~a", 5).decrement("n2~b", 2),
  GSet.empty<string>().add("n1~a", "x"),
  ORSet.empty<string>().add("n1~a", "x").add("n2~b", "y".repeat(200)),
  LWWRegister.empty<string>().set("n1~a", "v", 1_700_000_000_000),
  Flag.empty().enable("n1~a"),
];

const asciiId = fc.stringMatching(/^[a-z0-9~.-]{1,20}$/);
const text = fc.oneof({ weight: 6, arbitrary: asciiId }, { weight: 1, arbitrary: fc.constantFrom("k".repeat(200), "ünï", "x") });

/** At most `maxDeltas` deltas each. */
export const envelopeArb = (maxDeltas: number): fc.Arbitrary<DeltaEnvelope> =>
  fc
  .record({
    origin: fc.oneof({ weight: 6, arbitrary: fc.constantFrom("n1", "node-a") }, { weight: 1, arbitrary: text }),
    incarnation: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), fc.constant(Number.MAX_SAFE_INTEGER)),
    sequence: fc.oneof(fc.constant(0), fc.nat(200), fc.maxSafeNat()),
    // After the incarnation (the usual), before it (an incarnation ahead of the clock), equal, sub-µs.
    offsetMs: fc.oneof(fc.double({ min: -1e7, max: 1e7, noNaN: true }), fc.constant(0), fc.constant(0.0004), fc.integer({ min: -5, max: 1e9 })),
    writer: fc.option(fc.constantFrom("n1~a", "n2~b", "w"), { nil: undefined }),
    deltas: fc.array(fc.record({ key: text, value: fc.constantFrom(...VALUES), named: fc.boolean(), other: asciiId }), { maxLength: maxDeltas }),
  })
  .map(({ origin, incarnation, sequence, offsetMs, writer, deltas }) => {
    const e: DeltaEnvelope = {
      origin,
      incarnation,
      sequence,
      sentAtMs: incarnation + offsetMs,
      tombstones: [],
      deltas: deltas.map(
        ({ key, value, named, other }): CrdtDelta => ({ key, kind: value.kind, originNode: named ? other : origin, value, data: encodeValue(value, writer) }),
      ),
    };
    if (writer !== undefined) e.writer = writer;
    return e;
  });

/**
 * `e` written by the hand writer (src/wire/envelope-writer.ts), its deltas turned into columns as
 * the outbox keeps them; undefined for what the hand writer does not take (tombstones, a chunk, a
 * delta without its `data`) and for what it declines.
 */
export function writeByHand(e: DeltaEnvelope): Uint8Array | undefined {
  if (e.chunk !== undefined || e.tombstones.length > 0 || e.deltas.some((d) => d.data === undefined || d.value?.kind !== d.kind)) return undefined;
  const data = Buffer.concat(e.deltas.map((d) => d.data!));
  const ends: number[] = [];
  for (const d of e.deltas) ends.push((ends.at(-1) ?? 0) + d.data!.length);
  const columns = { count: e.deltas.length, keys: e.deltas.map((d) => d.key), values: e.deltas.map((d) => d.value), origins: e.deltas.map((d) => d.originNode), data, ends };
  return writeDeltaEnvelope(e, columns);
}
