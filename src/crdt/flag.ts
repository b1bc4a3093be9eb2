/**
 * Flag: a boolean that only goes from false to true. Merge is logical or.
 */
import { DecodeError } from "../errors.js";
import type { DataTypeDescriptor, JsonCapability } from "./descriptor.js";
import { checkNode } from "./validate.js";
import type { Crdt, FlagState } from "./types.js";

export class Flag implements Crdt<Flag> {
  readonly kind = "flag" as const;
  readonly enabled: boolean;
  readonly #delta: Flag | undefined;

  static readonly #DISABLED = new Flag(false, undefined);
  static readonly #ENABLED = new Flag(true, undefined);
  static readonly #ENABLED_WITH_DELTA = new Flag(true, Flag.#ENABLED);

  private constructor(enabled: boolean, delta: Flag | undefined) {
    this.enabled = enabled;
    this.#delta = delta;
  }

  static empty(): Flag {
    return Flag.#DISABLED;
  }

  static fromState(state: FlagState): Flag {
    if (typeof state !== "object" || state === null) throw new DecodeError("FlagState must be an object");
    const { enabled } = state as { enabled?: unknown };
    // proto3 omits a false bool.
    if (enabled === undefined || enabled === false) return Flag.#DISABLED;
    if (enabled === true) return Flag.#ENABLED;
    throw new DecodeError("FlagState.enabled must be a boolean");
  }

  /**
   * Sets the flag (for good). The writing node may be passed for uniformity with the other types'
   * mutators (`f.enable(self)`); it is validated but not recorded. Enabling an enabled flag
   * returns the same value.
   */
  enable(node?: string): Flag {
    if (node !== undefined) checkNode(node);
    return this.enabled ? this : Flag.#ENABLED_WITH_DELTA;
  }

  get delta(): Flag | undefined {
    return this.#delta;
  }

  resetDelta(): Flag {
    return this.#delta === undefined ? this : this.enabled ? Flag.#ENABLED : Flag.#DISABLED;
  }

  /** A flag's only mutation enables a disabled flag (values are shared singletons: no origin to keep). */
  derivesFrom(base: Flag): boolean {
    return this === base || (this.#delta !== undefined && !base.enabled);
  }

  /** Logical or. Keeps this value's pending delta; returns `this` when `other` adds nothing. */
  merge(other: Flag): Flag {
    return this.enabled || !other.enabled ? this : Flag.#ENABLED;
  }

  equals(other: Flag): boolean {
    return this.enabled === other.enabled;
  }

  toState(): FlagState {
    return { enabled: this.enabled };
  }
}

const flagJson: JsonCapability<Flag> = {
  view: (f) => ({ value: f.enabled }),
  ops: { enable: () => (f, node) => f.enable(node) },
};

// Its entry in the open registry of kinds (see StateByKind in types.ts).
declare module "./types.js" {
  interface StateByKind {
    flag: FlagState;
  }
}

/** The Flag data type (see descriptor.ts). */
export const flagType: DataTypeDescriptor<Flag, FlagState> = {
  kind: "flag",
  name: "Flag",
  wireTag: 7,
  stateMessage: "FlagState",
  empty: () => Flag.empty(),
  fromState: (state) => Flag.fromState(state),
  json: flagJson,
};
