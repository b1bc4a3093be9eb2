/**
 * GCounter: a grow-only counter. One slot per node; a node only ever raises its own slot; merge
 * takes the per-node maximum; the value is the sum of the slots.
 *
 * Slots are safe integers (≤ 2^53 − 1, the wire's uint64 restricted to what a number holds
 * exactly). The sum may go past 2^53: `value` then throws PrecisionError and `bigValue` is exact.
 * The slots live in a Map that is copied, never changed, by a mutation (cheap for a cluster's
 * handful of nodes); sorting happens only in `toState()`.
 */
import { DecodeError, InvalidArgumentError, PrecisionError } from "../errors.js";
import type { Crdt, GCounterState, SlotState } from "./types.js";

type Slots = ReadonlyMap<string, number>;

const EMPTY_SLOTS: Slots = new Map();

export class GCounter implements Crdt<GCounter> {
  readonly kind = "gcounter" as const;
  readonly #slots: Slots;
  readonly #delta: GCounter | undefined;

  static readonly #EMPTY = new GCounter(EMPTY_SLOTS, undefined);

  private constructor(slots: Slots, delta: GCounter | undefined) {
    this.#slots = slots;
    this.#delta = delta;
  }

  static empty(): GCounter {
    return GCounter.#EMPTY;
  }

  /** Validates and decodes a plain state (slots sorted by node, unique, non-zero safe integers). */
  static fromState(state: GCounterState): GCounter {
    return new GCounter(decodeSlots(state, "GCounterState"), undefined);
  }

  /** Adds `by` (a non-negative safe integer; 0 is a no-op) to `node`'s slot. */
  increment(node: string, by: number = 1): GCounter {
    checkNode(node);
    checkAmount(by, "increment", "use PNCounter.decrement to go down");
    if (by === 0) return this;
    const next = (this.#slots.get(node) ?? 0) + by;
    if (next > Number.MAX_SAFE_INTEGER) {
      throw new InvalidArgumentError(
        `node ${JSON.stringify(node)}'s slot would exceed Number.MAX_SAFE_INTEGER (2^53 - 1); a node's slot is a safe integer`,
      );
    }
    const slots = new Map(this.#slots);
    slots.set(node, next);
    let deltaSlots: Map<string, number>;
    if (this.#delta === undefined) {
      deltaSlots = new Map([[node, next]]);
    } else {
      deltaSlots = new Map(this.#delta.#slots);
      deltaSlots.set(node, next);
    }
    return new GCounter(slots, new GCounter(deltaSlots, undefined));
  }

  /** The sum of the slots. Throws PrecisionError past Number.MAX_SAFE_INTEGER: read `bigValue` then. */
  get value(): number {
    // Float sum: exact while ≤ MAX_SAFE_INTEGER and monotone (all slots ≥ 0), so the check is sound.
    let sum = 0;
    for (const v of this.#slots.values()) sum += v;
    if (sum > Number.MAX_SAFE_INTEGER) {
      throw new PrecisionError(
        "GCounter value exceeds Number.MAX_SAFE_INTEGER (2^53 - 1) and cannot be represented exactly as a number; read bigValue instead",
      );
    }
    return sum;
  }

  /** The exact sum of the slots. */
  get bigValue(): bigint {
    let sum = 0n;
    for (const v of this.#slots.values()) sum += BigInt(v);
    return sum;
  }

  /** One node's slot (0 when it never incremented). */
  slot(node: string): number {
    return this.#slots.get(node) ?? 0;
  }

  /** The nodes that have a (non-zero) slot, in no particular order. */
  get nodes(): string[] {
    return [...this.#slots.keys()];
  }

  get delta(): GCounter | undefined {
    return this.#delta;
  }

  resetDelta(): GCounter {
    return this.#delta === undefined ? this : new GCounter(this.#slots, undefined);
  }

  /** Per-node maximum. Keeps this value's pending delta; returns `this` when `other` adds nothing. */
  merge(other: GCounter): GCounter {
    let merged: Map<string, number> | undefined;
    for (const [node, v] of other.#slots) {
      if (v > (this.#slots.get(node) ?? 0)) {
        merged ??= new Map(this.#slots);
        merged.set(node, v);
      }
    }
    return merged === undefined ? this : new GCounter(merged, this.#delta);
  }

  equals(other: GCounter): boolean {
    if (this === other) return true;
    if (this.#slots.size !== other.#slots.size) return false;
    for (const [node, v] of this.#slots) if (other.#slots.get(node) !== v) return false;
    return true;
  }

  toState(): GCounterState {
    const slots: SlotState[] = [];
    for (const [node, value] of this.#slots) slots.push({ node, value });
    slots.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    return { slots };
  }
}

// ------------------------------------------------------------------ validation

/** @internal A writing node's id: a non-empty, well-formed string (shared by this folder's modules). */
export function checkNode(node: unknown): asserts node is string {
  if (typeof node !== "string" || node.length === 0 || !node.isWellFormed()) {
    throw new InvalidArgumentError(`node id must be a non-empty string, got ${describe(node)}`);
  }
}

/** @internal */
export function checkAmount(by: unknown, what: string, hint: string): asserts by is number {
  if (typeof by !== "number" || !Number.isSafeInteger(by) || by < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative safe integer; ${hint} (got ${describe(by)})`);
  }
}

/** @internal A short description of a bad argument for error messages. */
export function describe(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x);
  if (typeof x === "bigint") return `${x}n`;
  if (typeof x === "number" || typeof x === "boolean" || x === null || x === undefined) return String(x);
  return typeof x;
}

function decodeSlots(state: unknown, what: string): Slots {
  if (typeof state !== "object" || state === null) throw new DecodeError(`${what} must be an object`);
  const slots = (state as { slots?: unknown }).slots;
  if (!Array.isArray(slots)) throw new DecodeError(`${what}.slots must be an array`);
  if (slots.length === 0) return EMPTY_SLOTS;
  const out = new Map<string, number>();
  let previous: string | undefined;
  for (const slot of slots as unknown[]) {
    if (typeof slot !== "object" || slot === null) throw new DecodeError(`${what}: a slot must be an object`);
    const { node, value } = slot as { node?: unknown; value?: unknown };
    if (typeof node !== "string" || node.length === 0 || !node.isWellFormed()) {
      throw new DecodeError(`${what}: slot node must be a non-empty string, got ${describe(node)}`);
    }
    if (previous !== undefined && !(previous < node)) {
      throw new DecodeError(`${what}: slots must be sorted by node without duplicates (${JSON.stringify(previous)} before ${JSON.stringify(node)})`);
    }
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw new DecodeError(`${what}: slot ${JSON.stringify(node)} must hold a positive safe integer, got ${describe(value)}`);
    }
    out.set(node, value);
    previous = node;
  }
  return out;
}
