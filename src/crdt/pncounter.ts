/**
 * PNCounter: a counter that goes up and down, as two GCounters (increments P, decrements N);
 * value = P − N. Its delta is the pair of the two GCounters' deltas.
 */
import { DecodeError, PrecisionError } from "../errors.js";
import type { DataTypeDescriptor, JsonCapability } from "./descriptor.js";
import { byNodeJson, countJson, GCounter } from "./gcounter.js";
import { checkAmount, checkNode } from "./validate.js";
import type { Crdt, PNCounterState } from "./types.js";

export class PNCounter implements Crdt<PNCounter> {
  readonly kind = "pncounter" as const;
  /** Increments per node. */
  readonly increments: GCounter;
  /** Decrements per node. */
  readonly decrements: GCounter;

  static readonly #EMPTY = new PNCounter(GCounter.empty(), GCounter.empty());

  private constructor(increments: GCounter, decrements: GCounter) {
    this.increments = increments;
    this.decrements = decrements;
  }

  static empty(): PNCounter {
    return PNCounter.#EMPTY;
  }

  static fromState(state: PNCounterState): PNCounter {
    if (typeof state !== "object" || state === null) throw new DecodeError("PNCounterState must be an object");
    const { increments, decrements } = state as { increments?: unknown; decrements?: unknown };
    // An absent sub-message is the empty counter (proto3 omits empty messages).
    const p = increments === undefined ? GCounter.empty() : GCounter.fromState(increments as never);
    const n = decrements === undefined ? GCounter.empty() : GCounter.fromState(decrements as never);
    return p.equals(GCounter.empty()) && n.equals(GCounter.empty()) ? PNCounter.#EMPTY : new PNCounter(p, n);
  }

  /** Adds `by` (a non-negative safe integer; 0 is a no-op). */
  increment(node: string, by: number = 1): PNCounter {
    checkNode(node);
    checkAmount(by, "increment", "use decrement to go down");
    if (by === 0) return this;
    return new PNCounter(this.increments.increment(node, by), this.decrements);
  }

  /** Subtracts `by` (a non-negative safe integer; 0 is a no-op). */
  decrement(node: string, by: number = 1): PNCounter {
    checkNode(node);
    checkAmount(by, "decrement", "use increment to go up");
    if (by === 0) return this;
    return new PNCounter(this.increments, this.decrements.increment(node, by));
  }

  /** P − N. Throws PrecisionError when it is not a safe integer: read `bigValue` then. */
  get value(): number {
    let p: number | undefined;
    let n: number | undefined;
    try {
      p = this.increments.value;
      n = this.decrements.value;
    } catch (e) {
      if (!(e instanceof PrecisionError)) throw e;
    }
    if (p !== undefined && n !== undefined) return p - n; // both safe ⇒ the difference is exact
    const exact = this.bigValue;
    if (exact > BigInt(Number.MAX_SAFE_INTEGER) || exact < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new PrecisionError(
        "PNCounter value is outside Number.MIN_SAFE_INTEGER..MAX_SAFE_INTEGER and cannot be represented exactly as a number; read bigValue instead",
      );
    }
    return Number(exact);
  }

  /** The exact value, possibly negative. */
  get bigValue(): bigint {
    return this.increments.bigValue - this.decrements.bigValue;
  }

  get delta(): PNCounter | undefined {
    const p = this.increments.delta;
    const n = this.decrements.delta;
    if (p === undefined && n === undefined) return undefined;
    return new PNCounter(p ?? GCounter.empty(), n ?? GCounter.empty());
  }

  resetDelta(): PNCounter {
    if (this.increments.delta === undefined && this.decrements.delta === undefined) return this;
    return new PNCounter(this.increments.resetDelta(), this.decrements.resetDelta());
  }

  derivesFrom(base: PNCounter): boolean {
    if (this === base) return true;
    const p = this.increments;
    const n = this.decrements;
    return (p.delta !== undefined || n.delta !== undefined) && p.derivesFrom(base.increments) && n.derivesFrom(base.decrements);
  }

  /** Keeps this value's pending delta; returns `this` when `other` adds nothing. */
  merge(other: PNCounter): PNCounter {
    const p = this.increments.merge(other.increments);
    const n = this.decrements.merge(other.decrements);
    return p === this.increments && n === this.decrements ? this : new PNCounter(p, n);
  }

  /** Folds the ids `writerId` retires in both halves (see GCounter.foldRetired). */
  foldRetired(writerId: string): PNCounter {
    return PNCounter.#both(this, (c) => c.foldRetired(writerId));
  }

  /** Absorbs a removed node's ids in both halves (see GCounter.absorbRemoved). */
  absorbRemoved(marker: string, into: string, skip?: (id: string) => boolean): PNCounter {
    return PNCounter.#both(this, (c) => c.absorbRemoved(marker, into, skip));
  }

  /** Drops expired markers in both halves (see GCounter.withoutMarkersBefore). */
  withoutMarkersBefore(cutoffMs: number): PNCounter {
    return PNCounter.#both(this, (c) => c.withoutMarkersBefore(cutoffMs));
  }

  // Static: a private instance method would add a field (its brand) to every counter.
  static #both(v: PNCounter, f: (c: GCounter) => GCounter): PNCounter {
    const p = f(v.increments);
    const n = f(v.decrements);
    return p === v.increments && n === v.decrements ? v : new PNCounter(p, n);
  }

  /** The writer ids with a slot in either half. */
  get writers(): string[] {
    return [...new Set([...this.increments.writers, ...this.decrements.writers])];
  }

  equals(other: PNCounter): boolean {
    return this === other || (this.increments.equals(other.increments) && this.decrements.equals(other.decrements));
  }

  toState(): PNCounterState {
    return { increments: this.increments.toState(), decrements: this.decrements.toState() };
  }
}

const pncounterJson: JsonCapability<PNCounter> = {
  view: (c, json) => ({ value: countJson(c), detail: { increments: byNodeJson(c.increments, json), decrements: byNodeJson(c.decrements, json) } }),
  ops: {
    increment: (args) => {
      const by = args.by();
      return (c, node) => c.increment(node, by);
    },
    decrement: (args) => {
      const by = args.by();
      return (c, node) => c.decrement(node, by);
    },
  },
};

// Its entry in the open registry of kinds (see StateByKind in types.ts).
declare module "./types.js" {
  interface StateByKind {
    pncounter: PNCounterState;
  }
}

/** The PNCounter data type (see descriptor.ts). */
export const pncounterType: DataTypeDescriptor<PNCounter, PNCounterState> = {
  kind: "pncounter",
  name: "PNCounter",
  wireTag: 2,
  stateMessage: "PNCounterState",
  empty: () => PNCounter.empty(),
  fromState: (state) => PNCounter.fromState(state),
  json: pncounterJson,
  pruning: {
    writers: (v) => v.writers,
    foldRetired: (v, writerId) => v.foldRetired(writerId),
    absorbRemoved: (v, marker, into, skip) => v.absorbRemoved(marker, into, skip),
    withoutMarkersBefore: (v, cutoffMs) => v.withoutMarkersBefore(cutoffMs),
    mayHoldFoldId: (v) => v.increments.mayHoldFoldId() || v.decrements.mayHoldFoldId(),
    holds: (v, id) => v.increments.holds(id) || v.decrements.holds(id),
  },
};
