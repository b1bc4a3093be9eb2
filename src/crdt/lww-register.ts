/**
 * LWWRegister: a last-writer-wins register.
 *
 * Writes are ordered by (timestamp, node, canonical value): the higher timestamp wins; on equal
 * timestamps the lexicographically higher node id wins (UnisonDB's rule; a replicator's writer id
 * `nodeId~incarnation` counts as its node id, then the whole writer id breaks the tie, see
 * `compareWriters`); a full tie (one writer writing two values with the same timestamp) goes to
 * the higher canonical encoding, so merge is commutative whatever happens. The empty register is
 * below every write.
 *
 * `set` defaults its timestamp to max(lwwNow(), current timestamp + 1) — the clock the caller
 * installed (see lww-time.ts) — so a local overwrite always wins over what it read. A write that loses to the
 * current value (an explicit, stale timestamp) is ignored: `set` returns the same value, with no
 * delta, exactly as a peer would ignore it on merge. The delta of a write is the whole register.
 */
import { DecodeError, InvalidArgumentError } from "../errors.js";
import type { DataTypeDescriptor, JsonCapability } from "./descriptor.js";
import { canonical, decodeCanonical, isCanonical } from "./element.js";
import { checkNode, describe } from "./validate.js";
import { compareWriters, lwwNow } from "./lww-time.js";
import type { Crdt, Element, LWWRegisterState } from "./types.js";

export class LWWRegister<T extends Element = Element> implements Crdt<LWWRegister<T>> {
  readonly kind = "lwwRegister" as const;
  /** The winning value; undefined for the empty register. */
  readonly value: T | undefined;
  /** The winning write's timestamp (0 for the empty register). */
  readonly timestamp: number;
  /** The winning write's node ("" for the empty register). */
  readonly node: string;
  readonly #encoded: string; // canonical(value); "" for the empty register
  readonly #delta: LWWRegister<T> | undefined;
  readonly #origin: LWWRegister<T> | undefined; // the delta-free value the mutators that made #delta started from

  static readonly #EMPTY = new LWWRegister<Element>(undefined, "", 0, "", undefined);

  private constructor(
    value: T | undefined,
    encoded: string,
    timestamp: number,
    node: string,
    delta: LWWRegister<T> | undefined,
    origin?: LWWRegister<T>,
  ) {
    this.value = value;
    this.#encoded = encoded;
    this.timestamp = timestamp;
    this.node = node;
    this.#delta = delta;
    this.#origin = origin;
  }

  static empty<T extends Element = Element>(): LWWRegister<T> {
    return LWWRegister.#EMPTY as LWWRegister<T>;
  }

  /** Validates and decodes a plain state. The empty register is `{ timestamp: 0, node: "" }`. */
  static fromState<T extends Element = Element>(state: LWWRegisterState): LWWRegister<T> {
    if (typeof state !== "object" || state === null) throw new DecodeError("LWWRegisterState must be an object");
    const { value, timestamp, node } = state as { value?: unknown; timestamp?: unknown; node?: unknown };
    if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new DecodeError(`LWWRegisterState.timestamp must be a non-negative safe integer, got ${describe(timestamp)}`);
    }
    if (typeof node !== "string") throw new DecodeError("LWWRegisterState.node must be a string");
    if (value === undefined) {
      if (timestamp !== 0 || node !== "") {
        throw new DecodeError("LWWRegisterState without a value must be the empty register (timestamp 0, node \"\")");
      }
      return LWWRegister.#EMPTY as LWWRegister<T>;
    }
    if (node.length === 0 || !node.isWellFormed()) throw new DecodeError("LWWRegisterState.node must be a non-empty string");
    if (typeof value !== "string" || !isCanonical(value)) throw new DecodeError("LWWRegisterState.value is not a canonical encoding");
    return new LWWRegister<T>(decodeCanonical(value) as T, value, timestamp, node, undefined);
  }

  /**
   * Writes `value` as `node`. `timestamp` (a non-negative safe integer, milliseconds by convention)
   * defaults to max(lwwNow(), this.timestamp + 1): the wall clock, or inside `Replicator.update`
   * the replicator's hybrid logical clock. A write that loses to the current value is
   * ignored (returns this value unchanged).
   */
  set(node: string, value: T, timestamp?: number): LWWRegister<T> {
    checkNode(node);
    const encoded = canonical(value); // InvalidArgumentError for unsupported values
    let ts: number;
    if (timestamp === undefined) {
      ts = Math.max(lwwNow(), this.timestamp + 1);
      if (!Number.isSafeInteger(ts)) {
        throw new InvalidArgumentError("the register's timestamp is at Number.MAX_SAFE_INTEGER; no later timestamp exists");
      }
    } else if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new InvalidArgumentError(`timestamp must be a non-negative safe integer (milliseconds), got ${describe(timestamp)}`);
    } else {
      ts = timestamp;
    }
    if (this.#compareWrite(ts, node, encoded) <= 0) return this;
    // Keep a private copy of structured values, so the caller mutating `value` later changes nothing.
    const stored = (typeof value === "object" && value !== null ? decodeCanonical(encoded) : value) as T;
    const write = new LWWRegister<T>(stored, encoded, ts, node, undefined);
    return new LWWRegister<T>(stored, encoded, ts, node, write, this.#delta === undefined ? this : this.#origin);
  }

  get delta(): LWWRegister<T> | undefined {
    return this.#delta;
  }

  resetDelta(): LWWRegister<T> {
    return this.#delta === undefined ? this : new LWWRegister<T>(this.value, this.#encoded, this.timestamp, this.node, undefined);
  }

  derivesFrom(base: LWWRegister<T>): boolean {
    return this === base || (this.#delta !== undefined && this.#origin === base);
  }

  /** The later write. Keeps this value's pending delta; returns `this` when `other` is not later. */
  merge(other: LWWRegister<T>): LWWRegister<T> {
    if (this.#compareWrite(other.timestamp, other.node, other.#encoded) <= 0) return this;
    return new LWWRegister<T>(other.value, other.#encoded, other.timestamp, other.node, this.#delta);
  }

  equals(other: LWWRegister<T>): boolean {
    return this.timestamp === other.timestamp && this.node === other.node && this.#encoded === other.#encoded;
  }

  /** Order of writes: timestamp, then node id (`compareWriters`), then canonical encoding (all ascending). */
  #compareWrite(timestamp: number, node: string, encoded: string): number {
    if (timestamp !== this.timestamp) return timestamp < this.timestamp ? -1 : 1;
    if (node !== this.node) return compareWriters(node, this.node);
    return encoded < this.#encoded ? -1 : encoded > this.#encoded ? 1 : 0;
  }

  toState(): LWWRegisterState {
    if (this.value === undefined) return { timestamp: 0, node: "" };
    return { value: this.#encoded, timestamp: this.timestamp, node: this.node };
  }
}

const lwwRegisterJson: JsonCapability<LWWRegister> = {
  view: (r, json) => ({ value: r.value === undefined ? null : json.element(r.value), detail: { timestamp: r.timestamp, node: json.node(r.node) } }),
  ops: {
    set: (args) => {
      const x = args.element();
      const timestamp = args.timestamp();
      return (r, node) => r.set(node, x, timestamp);
    },
  },
};

// Its entry in the open registry of kinds (see StateByKind in types.ts).
declare module "./types.js" {
  interface StateByKind {
    lwwRegister: LWWRegisterState;
  }
}

/** The LWWRegister data type (see descriptor.ts). */
export const lwwRegisterType: DataTypeDescriptor<LWWRegister, LWWRegisterState> = {
  kind: "lwwRegister",
  name: "LWWRegister",
  wireTag: 5,
  stateMessage: "LWWRegisterState",
  empty: () => LWWRegister.empty(),
  fromState: (state) => LWWRegister.fromState(state),
  json: lwwRegisterJson,
  maxLwwTimestamp: (register) => register.timestamp,
};
