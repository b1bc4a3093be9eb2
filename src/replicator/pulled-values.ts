/**
 * Values a bulk pull keeps undecoded (issue 13): a joiner pulling a million counters would make a
 * million objects while the pull runs, which the young generation's collections then copy (about
 * half a joiner's CPU went to them). A page's GCounter states that are valid and of plain writer
 * ids (wire/fast-decode.ts `isPlainGCounterBytes`) go into the store as numbers into a
 * `PackedValues` (their bytes copied into slabs: a page's buffer is not kept), for keys the store
 * does not hold yet — exactly what merging them would have stored. Each is decoded on its first
 * read (Store.setDeferred), the rest in the background once pages stop coming for a while.
 *
 * One source of deferred values at a time per store: while a snapshot restore's values are still
 * being decoded, a pull decodes what it gets, as before.
 */
import type { Clock, TimerHandle } from "../clock.js";
import { PackedValues } from "../wire/codec.js";
import type { Store } from "./store.js";

/** Quiet time after the last page that kept values before decoding them in the background, ms. */
const SETTLE_DELAY_MS = 200;
/** CPU time one background slice may take before it yields, ms. */
const SLICE_MS = 5;
/** The first guess at how many values a pull keeps (the slabs then grow by doubling). */
const EXPECTED = 65_536;

export interface PulledValuesOptions {
  store: Store;
  clock: Clock;
  /** A value kept undecoded turned out corrupt when decoded (the store drops the key; a digest round repairs it). */
  onCorrupt: () => void;
}

export class PulledValues {
  private packed: PackedValues | undefined;
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(private readonly o: PulledValuesOptions) {}

  /** Where to number a value to keep undecoded; undefined: decode it now (the store is decoding a restore's). */
  source(): PackedValues | undefined {
    if (this.closed) return undefined;
    const current = this.o.store.deferringTo;
    if (current !== undefined) return current === this.packed ? this.packed : undefined;
    this.packed = new PackedValues(this.o.onCorrupt, EXPECTED, 0);
    this.o.store.deferTo(this.packed);
    return this.packed;
  }

  /** Values were kept: decode them once no page has kept any for SETTLE_DELAY_MS (a pull's CPU goes to the pull). */
  kept(): void {
    if (this.closed) return;
    this.o.clock.clear(this.timer);
    this.timer = this.o.clock.setTimeout(() => this.settle(), SETTLE_DELAY_MS);
    this.timer.unref();
  }

  private settle(): void {
    this.timer = undefined;
    if (this.closed || this.o.store.settleDeferred(SLICE_MS)) return;
    this.timer = this.o.clock.setTimeout(() => this.settle(), 0);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    this.o.clock.clear(this.timer);
    this.timer = undefined;
  }
}
