/**
 * Outgoing deltas: coalesce per key within the flush window, pack many keys per envelope, never
 * exceed the size limit (an oversized delta travels as chunks), number envelopes gaplessly per
 * incarnation, and keep the recent ones so a peer that detects a gap can ask for them again.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Crdt } from "../crdt/types.js";
import { type CrdtDelta, type DeltaColumns, type DeltaEnvelope, encodeDeltaEnvelope, encodeValue, type EnvelopeHead, type Tombstone, writeCounter, writeDeltaEnvelope } from "../wire/codec.js";
import type { Transport } from "../transport/types.js";
import type { ReplicatorStats } from "../extension/stats.js";
import { KeyTable } from "./key-table.js";
import { sameType } from "./type-conflict.js";

/**
 * The envelope a flush is filling: its deltas as columns (wire `DeltaColumns`, their values encoded
 * one after another in the outbox's buffer), its tombstones, and its estimated size. The columns
 * are kept from envelope to envelope (`count` of them in use): a flush of a thousand deltas would
 * otherwise grow three arrays to a thousand, every time.
 */
interface Batch {
  count: number;
  keys: string[];
  values: (Crdt | undefined)[];
  ends: number[];
  tombstones: Tombstone[];
  size: number;
}

export interface OutboxOptions {
  transport: Transport;
  subject: string;
  nodeId: string;
  incarnation: number;
  flushIntervalMs: number;
  /** Target envelope size; min(maxDeltaSize, the bus's max payload less headroom). */
  maxMessageBytes: number;
  stats: ReplicatorStats;
  /** Wall clock with sub-millisecond precision. */
  now: () => number;
  /** Timers of the flush window. */
  clock: Clock;
  onError: (error: unknown) => void;
  /**
   * The writer id a flush leaves out of its deltas' states (a compact envelope, see wire
   * `DeltaEnvelope.writer`), or undefined while some peer might not read one (peer-capability.ts).
   * Default: never compact.
   */
  compactWriter?: () => string | undefined;
  /** Whether `node` reads compact envelopes: a repair for one that does not gets none. */
  readsCompact?: (node: string) => boolean;
}

/** Envelopes kept for gap repair, bounded by count and bytes. */
const RECENT_MAX_COUNT = 4096;
const RECENT_MAX_BYTES = 16 * 1024 * 1024;
/** Bytes an envelope needs besides its deltas (origin, sequence, timestamps, tags). */
const ENVELOPE_OVERHEAD = 96;
/** What a flush is chained to, to run as a microtask (see `schedule`). */
const SETTLED = Promise.resolve();
/** The values buffer's first size: a flush of a few thousand counters; it grows to a message's size when needed. */
const FIRST_VALUES_BYTES = 64 * 1024;

export class Outbox {
  /**
   * Each key's delta to publish (its `kind` names the data type). A KeyTable, emptied after each
   * flush and kept: a Map would be made anew and grown to the flush's size, every flush.
   */
  private pending = new KeyTable<Crdt>();
  /** The other table, empty, that the next flush swaps in (undefined while a flush runs on it). */
  private spare: KeyTable<Crdt> | undefined = new KeyTable<Crdt>();
  private readonly batch: Batch = { count: 0, keys: [], values: [], ends: [], tombstones: [], size: 0 };
  /** Where a flush encodes the values of the envelope it fills (made on the first flush; up to a message long). */
  private values: Uint8Array | undefined;
  private pendingTombstones: Tombstone[] = [];
  private scheduled = false;
  /** A flush window of 0 already sent something this event-loop turn (see `schedule`). */
  private sentThisTurn = false;
  private timer: TimerHandle | undefined;
  private sequenceNumber = 0;
  private chunkIds = 0;
  /** Envelopes kept for repair: `recent[recentStart..]`, oldest first; below `recentStart`, holes left by dropped ones. */
  private recent: ({ sequence: number; bytes: Uint8Array; compact: boolean } | undefined)[] = [];
  private recentStart = 0;
  private recentBytes = 0;

  constructor(private readonly o: OutboxOptions) {}

  get lastSequence(): number {
    return this.sequenceNumber;
  }

  /** Queue a local delta; deltas of one key within a window merge into one. */
  add(key: string, delta: Crdt): void {
    const current = this.pending.get(key);
    // Another type: the key's type changed here (a type conflict, type-conflict.ts); the new one replaces.
    this.pending.set(key, current !== undefined && sameType(current, delta) ? current.merge(delta) : delta);
    this.schedule();
  }

  addTombstone(t: Tombstone): void {
    this.pending.delete(t.key);
    this.pendingTombstones.push(t);
    this.schedule();
  }

  /** Publish everything pending now. */
  flush(): void {
    this.scheduled = false;
    if (this.timer !== undefined) {
      this.o.clock.clear(this.timer);
      this.timer = undefined;
    }
    if (this.pending.size === 0 && this.pendingTombstones.length === 0) return;
    // Swapped out first: what this flush publishes may lead to more deltas (they wait for the next one).
    const pending = this.pending;
    const tombstones = this.pendingTombstones;
    this.pending = this.spare ?? new KeyTable<Crdt>();
    this.spare = undefined;
    this.pendingTombstones = [];

    const limit = this.o.maxMessageBytes;
    // Compact: the writer id once per envelope (its bytes in the overhead) instead of in every state.
    const writer = this.o.compactWriter?.();
    const overhead = ENVELOPE_OVERHEAD + (writer === undefined ? 0 : writer.length * 3 + 4);
    // A flush within a flush (a transport delivering to us at once) fills a batch of its own.
    const batch: Batch = this.batch.size === 0 ? this.batch : { count: 0, keys: [], values: [], ends: [], tombstones: [], size: 0 };
    batch.size = overhead;
    try {
      for (const t of tombstones) {
        const bytes = t.key.length * 3 + 32;
        if (batch.size + bytes > limit) this.emit(batch, overhead, writer);
        batch.tombstones.push(t);
        batch.size += bytes;
      }
      pending.forEach((value, key) => this.addValue(batch, key, value, writer, overhead));
      this.emit(batch, overhead, writer);
    } finally {
      batch.size = 0;
      pending.clear();
      this.spare = pending;
    }
  }

  /** Put `value` into `batch`, publishing the batch first when it is full; a value larger than a message goes alone, in chunks. */
  private addValue(batch: Batch, key: string, value: Crdt, writer: string | undefined, overhead: number): void {
    const limit = this.o.maxMessageBytes;
    let buf = (this.values ??= new Uint8Array(Math.min(limit, FIRST_VALUES_BYTES)));
    let start = batch.count === 0 ? 0 : batch.ends[batch.count - 1]!;
    // A counter is written in place; anything else (or a counter with no room left here) is encoded once, then copied in.
    let end = writeCounter(buf, start, value, writer);
    const encoded = end < 0 ? encodeValue(value, writer) : undefined;
    if (encoded !== undefined) end = start + encoded.length;
    const bytes = end - start + key.length * 3 + this.o.nodeId.length + 16;
    if (bytes + overhead > limit) {
      // Alone in its chunks, in the full form (the compact one saves nothing that counts there).
      this.publishChunked({ key, kind: value.kind, originNode: this.o.nodeId, value });
      return;
    }
    if (batch.size + bytes > limit) {
      this.emit(batch, overhead, writer);
      if (encoded === undefined) buf.copyWithin(0, start, end); // the next envelope's first value
      end -= start;
      start = 0;
    }
    if (encoded !== undefined) {
      // Within a message's size (the batch's estimate says so), so within a buffer a message long.
      if (end > buf.length) buf = this.values = copyInto(new Uint8Array(limit), buf, start);
      buf.set(encoded, start);
    }
    const i = batch.count++;
    batch.keys[i] = key;
    batch.values[i] = value;
    batch.ends[i] = end;
    batch.size += bytes;
  }

  /**
   * Encoded envelopes `from..to` (inclusive) if all are still kept; undefined otherwise. With
   * `maxBytes`, only the prefix that fits (at least one envelope): the caller asks again for the rest.
   * `requester`: undefined too when one of them is compact and it does not read compact envelopes
   * (its digest sync then repairs instead).
   */
  recentRange(from: number, to: number, maxBytes = Infinity, requester?: string): Uint8Array[] | undefined {
    const first = this.recent[this.recentStart];
    if (first === undefined || from < first.sequence || to > this.sequenceNumber || from > to) return undefined;
    const readsCompact = requester === undefined || this.o.readsCompact?.(requester) === true;
    const start = this.recentStart + from - first.sequence;
    const out: Uint8Array[] = [];
    let bytes = 0;
    for (let i = start; i <= start + (to - from) && i < this.recent.length; i++) {
      const r = this.recent[i]!;
      if (r.compact && !readsCompact) return undefined;
      if (out.length > 0 && bytes + r.bytes.length > maxBytes) break;
      out.push(r.bytes);
      bytes += r.bytes.length;
    }
    return out;
  }

  /**
   * Send one value to one node's direct subject, outside the numbered stream (sequence 0, not kept
   * for repair): anti-entropy uses it for a value too large for a request or reply message.
   */
  sendDirect(subject: string, delta: CrdtDelta): void {
    for (const chunk of this.chunks(delta)) {
      const bytes = encodeDeltaEnvelope({ ...this.envelope([], [], 0), chunk });
      this.o.transport.publish(subject, bytes);
      this.o.stats.bytesPublished += bytes.length;
    }
  }

  close(): void {
    this.flush();
  }

  /**
   * With a window of 0, the first delta of an event-loop turn leaves at the end of the running task
   * (a microtask, the way the NATS client flushes its socket): a lone update pays no extra turn of
   * the loop, which at 100 or 1,000 updates/s was most of the time between `update` and the wire.
   * Deltas that come later in the same turn (an awaited loop, a burst of requests) wait for the
   * turn's end and share a message, as every delta did before.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.o.flushIntervalMs !== 0) this.timer = this.o.clock.setTimeout(this.safeFlush, this.o.flushIntervalMs);
    else if (this.sentThisTurn) this.o.clock.soon(this.safeFlush);
    else {
      this.sentThisTurn = true;
      // A reaction to a settled promise, not queueMicrotask: Node makes an AsyncResource and a bound
      // function per queueMicrotask call, a sixth of `update`'s CPU at one update per turn.
      void SETTLED.then(this.safeFlush);
      this.o.clock.soon(this.newTurn);
    }
  }

  private readonly newTurn = (): void => {
    this.sentThisTurn = false;
  };

  /** Made once (an arrow: it is passed around), not per flush scheduled. */
  private readonly safeFlush = (): void => {
    try {
      this.flush();
    } catch (error) {
      this.o.onError(error);
    }
  };

  /** An envelope from this node; `sequence` 0 marks one outside the numbered stream. */
  private envelope(deltas: CrdtDelta[], tombstones: Tombstone[], sequence = ++this.sequenceNumber): DeltaEnvelope {
    return {
      origin: this.o.nodeId,
      incarnation: this.o.incarnation,
      sequence,
      deltas,
      tombstones,
      sentAtMs: this.o.now(),
    };
  }

  /**
   * Publish what `b` holds (if anything) and start it over, empty, at `overhead` bytes. A method,
   * not a closure per flush. `writer`: a compact envelope, the values already encoded without it.
   */
  private emit(b: Batch, overhead: number, writer: string | undefined): void {
    const count = b.count;
    if (count > 0 || b.tombstones.length > 0) {
      const head = { origin: this.o.nodeId, incarnation: this.o.incarnation, sequence: ++this.sequenceNumber, sentAtMs: this.o.now(), writer };
      // The usual envelope (no tombstones) written by hand; either way a fresh buffer (the NATS client holds it until it flushes).
      const columns = { count, keys: b.keys, values: b.values as Crdt[], ends: b.ends, data: this.values! };
      const bytes = (b.tombstones.length === 0 ? writeDeltaEnvelope(head, columns) : undefined) ?? this.encodeGeneric(head, columns, b.tombstones);
      this.publish(head.sequence, bytes, count, writer !== undefined);
    }
    // The deltas are sent: not held until the next envelope overwrites them. A loop: Array#fill
    // is a runtime call, most of what an envelope of one delta cost here.
    for (let i = 0; i < count; i++) b.values[i] = undefined;
    b.count = 0;
    b.tombstones = [];
    b.size = overhead;
  }

  /** The envelope through protobufjs: with tombstones, a string not ASCII (or invalid: it throws). */
  private encodeGeneric(head: EnvelopeHead, columns: DeltaColumns, tombstones: Tombstone[]): Uint8Array {
    const deltas: CrdtDelta[] = [];
    for (let i = 0, start = 0; i < columns.count; start = columns.ends[i++]!) {
      const value = columns.values[i]!;
      deltas.push({ key: columns.keys[i]!, kind: value.kind, originNode: head.origin, value, data: columns.data.slice(start, columns.ends[i]) });
    }
    const env: DeltaEnvelope = { origin: head.origin, incarnation: head.incarnation, sequence: head.sequence, sentAtMs: head.sentAtMs, deltas, tombstones };
    if (head.writer !== undefined) env.writer = head.writer;
    return encodeDeltaEnvelope(env);
  }

  private publish(sequence: number, bytes: Uint8Array, deltas: number, compact: boolean): void {
    this.remember(sequence, bytes, compact);
    this.o.transport.publish(this.o.subject, bytes);
    const s = this.o.stats;
    s.envelopePublishCount++;
    s.deltaPublishCount += deltas;
    s.bytesPublished += bytes.length;
    s.record("delta.bytes", bytes.length);
  }

  /** One delta larger than a message: encode it alone, then send the bytes in numbered chunks. */
  private publishChunked(delta: CrdtDelta): void {
    for (const chunk of this.chunks(delta)) {
      const env = { ...this.envelope([], []), chunk };
      this.publish(env.sequence, encodeDeltaEnvelope(env), 0, false);
    }
    this.o.stats.deltaPublishCount++;
  }

  /** The chunks of an envelope holding `delta` alone, each small enough for one message. */
  private *chunks(delta: CrdtDelta): Generator<NonNullable<DeltaEnvelope["chunk"]>> {
    const inner = encodeDeltaEnvelope(this.envelope([delta], [], 0));
    const part = this.o.maxMessageBytes - ENVELOPE_OVERHEAD;
    const total = Math.ceil(inner.length / part);
    const chunkId = ++this.chunkIds;
    for (let index = 0; index < total; index++) {
      yield { chunkId, index, total, data: inner.slice(index * part, (index + 1) * part) };
    }
  }

  private remember(sequence: number, bytes: Uint8Array, compact: boolean): void {
    this.recent.push({ sequence, bytes, compact });
    this.recentBytes += bytes.length;
    // Array#shift moves every kept entry (4096 of them once full): drop by leaving a hole and moving
    // the start instead, and cut the holes off once there are RECENT_MAX_COUNT of them (amortized O(1)).
    while (this.recent.length - this.recentStart > RECENT_MAX_COUNT || this.recentBytes > RECENT_MAX_BYTES) {
      this.recentBytes -= this.recent[this.recentStart]!.bytes.length;
      this.recent[this.recentStart++] = undefined;
    }
    if (this.recentStart >= RECENT_MAX_COUNT) {
      this.recent = this.recent.slice(this.recentStart);
      this.recentStart = 0;
    }
  }
}

/** `to` with `from[0..length)` copied in. */
function copyInto(to: Uint8Array, from: Uint8Array, length: number): Uint8Array {
  to.set(from.subarray(0, length));
  return to;
}
