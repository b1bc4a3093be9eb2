/**
 * Reassembly of chunked envelopes (a value too large for one message), bounded whatever strangers
 * send: at most `maxValues` values in progress, and at most `maxBytes` of memory for them counting
 * what each one really costs (a slot per announced fragment, an object per fragment received, not
 * only the data bytes: 40,000 one-byte fragments are megabytes, not 40 KB). Past either bound,
 * or past `maxAgeMs`, the oldest value in progress is dropped (anti-entropy brings it later).
 *
 * The map's insertion order is start order, so every eviction looks at its head only: O(1) per
 * fragment, however many values a flood started (eviction used to walk the whole map per fragment).
 */

/** Memory of one value in progress besides its fragments: the entry, its id, its slot array's header. */
export const VALUE_OVERHEAD = 256;
/** Memory per announced fragment (a slot of the array holding them). */
export const SLOT_BYTES = 8;
/** Memory per received fragment besides its data (a Uint8Array and its ArrayBuffer). */
export const FRAGMENT_OVERHEAD = 160;

export interface ReassemblyLimits {
  maxValues: number;
  maxBytes: number;
  maxAgeMs: number;
}

interface Partial {
  readonly parts: (Uint8Array | undefined)[];
  received: number;
  cost: number;
  readonly startedAtMs: number;
}

/** What one fragment did: the whole value's bytes, or why not yet. */
export type FragmentOutcome = Uint8Array | "partial" | "duplicate" | "mismatch" | "too-large";

export class Reassembly {
  private readonly partials = new Map<string, Partial>();
  private totalCost = 0;
  /** Values in progress dropped unfinished (too old, or pushed out by newer ones). */
  evicted = 0;

  constructor(private readonly limits: ReassemblyLimits) {}

  /** Values in progress. */
  get values(): number {
    return this.partials.size;
  }

  /** Memory they hold, as counted against `maxBytes`. */
  get bytes(): number {
    return this.totalCost;
  }

  /**
   * Fragment `index` of `total` of value `id` (index < total, checked by the decoder). `data` is
   * copied only when kept.
   */
  add(id: string, index: number, total: number, data: Uint8Array, nowMs: number): FragmentOutcome {
    const { maxValues, maxBytes, maxAgeMs } = this.limits;
    this.evictWhile((p) => nowMs - p.startedAtMs > maxAgeMs);
    let partial = this.partials.get(id);
    if (partial === undefined) {
      const cost = VALUE_OVERHEAD + id.length * 2 + SLOT_BYTES * total;
      if (cost > maxBytes) return "too-large";
      this.evictWhile(() => this.partials.size >= maxValues || this.totalCost + cost > maxBytes);
      partial = { parts: new Array<Uint8Array | undefined>(total), received: 0, cost, startedAtMs: nowMs };
      this.partials.set(id, partial);
      this.totalCost += cost;
    }
    if (total !== partial.parts.length) return "mismatch";
    if (partial.parts[index] !== undefined) return "duplicate";
    const cost = FRAGMENT_OVERHEAD + data.length;
    if (partial.cost + cost > maxBytes) {
      this.drop(id, partial);
      return "too-large";
    }
    this.evictWhile(() => this.totalCost + cost > maxBytes);
    if (this.partials.get(id) !== partial) return "too-large"; // it was the oldest: pushed out itself
    partial.parts[index] = data.slice();
    partial.received++;
    partial.cost += cost;
    this.totalCost += cost;
    if (partial.received < total) return "partial";
    this.drop(id, partial);
    return Buffer.concat(partial.parts as Uint8Array[]);
  }

  /** Drops the oldest values in progress while `over` holds for the oldest. */
  private evictWhile(over: (oldest: Partial) => boolean): void {
    for (const [id, p] of this.partials) {
      if (!over(p)) return;
      this.drop(id, p);
      this.evicted++;
    }
  }

  private drop(id: string, p: Partial): void {
    this.partials.delete(id);
    this.totalCost -= p.cost;
  }
}
