/**
 * Hand-written writers for the states encoded by the million: counters, GCounterState and
 * PNCounterState (every local write's delta as the outbox publishes it, every changed counter's
 * content hash). protobufjs takes ~1 µs and a few objects per counter; these write the same bytes
 * straight into a buffer — exactly the bytes protobufjs writes (test/wire/fast-encode.test.ts
 * compares them over random counters), so peers of every release read them, and content hashes
 * stay what they were.
 */
import { GCounter } from "../crdt/gcounter.js";
import type { Crdt, GCounterState, PNCounterState, SlotState } from "../crdt/types.js";
import { writeVarint } from "./varint.js";

/**
 * Write `value`'s state (the bytes of its `toState()`) at `p` in `buf`; returns the end. `writer`:
 * the compact form (states.ts `encodeState`), its node ids left out. Returns -1 — and the caller
 * takes the generic encoder — for a kind other than the counters, when the bytes would not fit in
 * `buf`, for a node id that is not ASCII, or a slot or a PNCounter half longer than 127 bytes
 * (lengths of one byte only: ids are short). A GCounter's slots are read as they are kept: no
 * state object per counter.
 */
export function writeCounter(buf: Uint8Array, p: number, value: Crdt, writer?: string): number {
  if (value.kind === "gcounter") {
    const c = value as GCounter;
    const n = GCounter.slotCount(c);
    for (let i = 0; i < n && p >= 0; i++) p = writeSlot(buf, p, GCounter.slotNode(c, i), GCounter.slotValue(c, i), writer);
    return p;
  }
  if (value.kind !== "pncounter") return -1;
  // PNCounterState { increments = 1; decrements = 2 }: both always written, empty or not.
  const { increments, decrements } = value.toState() as PNCounterState;
  if (increments === undefined || decrements === undefined) return -1;
  const end = writeHalf(buf, p, 0x0a, increments, writer);
  return end < 0 ? end : writeHalf(buf, end, 0x12, decrements, writer);
}

/** One GCounterState field of a PNCounterState. */
function writeHalf(buf: Uint8Array, p: number, tag: number, half: GCounterState, writer: string | undefined): number {
  if (p + 2 > buf.length) return -1;
  const end = writeGCounterState(buf, p + 2, half.slots, writer);
  if (end < 0 || end - p - 2 >= 0x80) return -1;
  buf[p] = tag;
  buf[p + 1] = end - p - 2;
  return end;
}

/** The GCounterState of `slots`, as `writeCounter` writes a GCounter's. */
function writeGCounterState(buf: Uint8Array, p: number, slots: readonly SlotState[], writer?: string): number {
  for (let i = 0; i < slots.length && p >= 0; i++) p = writeSlot(buf, p, slots[i]!.node, slots[i]!.value, writer);
  return p;
}

/** One GCounterState.slots field at `p`; returns its end, or -1 (see `writeCounter`). */
function writeSlot(buf: Uint8Array, p: number, node: string, value: number, writer: string | undefined): number {
  // Slot { node = 1; value = 2 }: protobufjs leaves out defaults, e.g. the compact form's empty node.
  const nodeLen = node === writer ? 0 : node.length;
  if (nodeLen >= 0x80 || p + nodeLen + 14 > buf.length) return -1;
  const at = p;
  p += 2; // slot tag and length, written once the length is known
  if (nodeLen > 0) {
    buf[p++] = 0x0a;
    buf[p++] = nodeLen;
    for (let j = 0; j < nodeLen; j++) {
      const c = node.charCodeAt(j);
      if (c >= 0x80) return -1;
      buf[p++] = c;
    }
  }
  if (value !== 0) {
    buf[p++] = 0x10;
    p = writeVarint(buf, p, value);
  }
  const inner = p - at - 2;
  if (inner >= 0x80) return -1;
  buf[at] = 0x0a; // GCounterState.slots
  buf[at + 1] = inner;
  return p;
}

/** Past this size V8 gives a typed array a zeroed backing store of its own, outside its heap. */
const ON_HEAP_BYTES = 64;

/**
 * A buffer for one outgoing message of `size` bytes, every one of which the caller writes. Up to
 * 64 bytes a typed array lives on V8's heap (~50 ns); past that `new Uint8Array` allocates and
 * zeroes a backing store of its own (~0.4 µs at 80 bytes, ~1 µs at 1 KB on these machines), where
 * Node's pool hands out a slice of a shared slab (`Buffer.allocUnsafe`, ~0.1 µs; messages past
 * 4 KB get an unzeroed buffer of their own). A message kept (the outbox keeps recent envelopes for
 * repair) pins its 8 KB slab.
 */
export function messageBytes(size: number): Uint8Array {
  return size <= ON_HEAP_BYTES ? new Uint8Array(size) : Buffer.allocUnsafe(size);
}
