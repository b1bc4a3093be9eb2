/**
 * Where a snapshot restore (durable/snapshots.ts `restore`) and a bulk pull (pulled-values.ts)
 * keep the values they have not decoded yet.
 */
import type { Crdt } from "../crdt/types.js";
import { decodeValueIn, kindOf } from "./states.js";

/**
 * The packed values a restore leaves undecoded, numbered in the order restored: each one's source
 * (a pack, or a slab its bytes were copied to), data type and byte range sit in typed arrays (no
 * object per value for the garbage collector to copy and mark: ten million of them cost seconds).
 * Why copies once the packs kept pass KEEP_PACKS_BYTES (48 MB): every buffer LevelDB hands out
 * is memory outside V8's heap, and V8 runs a full collection for each 64 MB of it that stays (its
 * "external memory pressure"); keeping every pack (keys and hashes besides the values) cost a
 * 10 M-key restore fifteen full collections, 0.2–0.4 s each. The first slab is sized for the
 * values still expected at the size seen so far (the next ones double), so the values take one or
 * two; a smaller restore keeps its packs and copies nothing. The sources stay referenced until every
 * value is decoded. A value that turns out corrupt is told to `onCorrupt` (a restore counts it as
 * a skipped entry, like one found corrupt during the restore). A store's `DeferredValues`
 * (extension/store-view.ts): `decode` takes the numbers `add` gave out.
 */
export class PackedValues {
  private readonly sources: Uint8Array[] = [];
  /** The slab being filled (undefined: packs are still kept as they are), and how far. */
  private slab: Uint8Array | undefined;
  private fill = 0;
  /** Bytes of the packs kept. */
  private kept = 0;
  private sourceAt: Int32Array;
  private startAt: Int32Array;
  private endAt: Int32Array;
  /** The data type's wire number (every known one is below 256). */
  private typeAt: Uint8Array;
  private count = 0;
  /** Bytes of the values numbered so far. */
  private bytes = 0;

  /**
   * `expected`: values the restore will number (room is made for them at once); `keepPacksBytes`:
   * bytes of packs kept as they are before values are copied.
   */
  constructor(
    private readonly onCorrupt: () => void,
    private readonly expected: number,
    private readonly keepPacksBytes = KEEP_PACKS_BYTES,
  ) {
    const length = Math.max(1024, expected);
    this.sourceAt = new Int32Array(length);
    this.startAt = new Int32Array(length);
    this.endAt = new Int32Array(length);
    this.typeAt = new Uint8Array(length);
  }

  /** Number the value at `start`..`end` of `pack` (the pack of the value added before, or the next one). */
  add(pack: Uint8Array, type: number, start: number, end: number): number {
    const n = this.count++;
    if (n === this.sourceAt.length) this.grow(2 * n);
    const length = end - start;
    this.bytes += length;
    this.typeAt[n] = type;
    if (this.slab === undefined && (this.sources.at(-1) === pack || this.keep(pack))) {
      this.sourceAt[n] = this.sources.length - 1;
      this.startAt[n] = start;
      this.endAt[n] = end;
      return n;
    }
    let slab = this.slab;
    if (slab === undefined || this.fill + length > slab.length) slab = this.nextSlab(length);
    let at = this.fill;
    // A value is a few dozen bytes: copied in place, no view per value.
    if (length > 64) slab.set(pack.subarray(start, end), at);
    else for (let i = start; i < end; i++) slab[at++] = pack[i]!;
    this.sourceAt[n] = this.sources.length - 1;
    this.startAt[n] = this.fill;
    this.endAt[n] = this.fill + length;
    this.fill += length;
    return n;
  }

  decode(n: number): Crdt {
    try {
      return decodeValueIn(kindOf(this.typeAt[n]!), this.sources[this.sourceAt[n]!]!, this.startAt[n]!, this.endAt[n]!);
    } catch (error) {
      this.onCorrupt();
      throw error;
    }
  }

  /** Keep `pack` as it is, if the packs kept so far leave room for it. */
  private keep(pack: Uint8Array): boolean {
    if (this.kept + pack.byteLength > this.keepPacksBytes) return false;
    this.sources.push(pack);
    this.kept += pack.byteLength;
    return true;
  }

  /** A new slab: room for the values still expected (at the size seen so far), or twice the last one, at least `length`. */
  private nextSlab(length: number): Uint8Array {
    const coming = Math.ceil(1.1 * (this.bytes / this.count) * (this.expected - this.count));
    const slab = new Uint8Array(Math.min(MAX_SLAB, Math.max(coming, 2 * (this.slab?.length ?? 0), length)));
    this.slab = slab;
    this.sources.push(slab);
    this.fill = 0;
    return slab;
  }

  private grow(length: number): void {
    const grown = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(length);
      b.set(a);
      return b;
    };
    this.sourceAt = grown(this.sourceAt, (n) => new Int32Array(n));
    this.startAt = grown(this.startAt, (n) => new Int32Array(n));
    this.endAt = grown(this.endAt, (n) => new Int32Array(n));
    this.typeAt = grown(this.typeAt, (n) => new Uint8Array(n));
  }
}

/** Packs a restore keeps as LevelDB read them, bytes; past it, their values are copied (see PackedValues). */
const KEEP_PACKS_BYTES = 48 * 1024 * 1024;
/** The largest slab of packed values, bytes. */
const MAX_SLAB = 1024 * 1024 * 1024;
