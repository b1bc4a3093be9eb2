/**
 * GSet: a grow-only set. Elements are identified by their canonical encoding (element.ts);
 * merge is union. The encoding → element map is persistent (pmap.ts), so an add to a large set
 * copies O(log n) small nodes, not the set; sorting happens on read (`elements`, memoized) and in
 * `toState()`.
 */
import { DecodeError } from "../errors.js";
import type { DataTypeDescriptor, JsonCapability } from "./descriptor.js";
import { canonical, compareCanonical, decodeCanonical, isCanonical } from "./element.js";
import { PMap, sameMaps } from "./pmap.js";
import { checkNode } from "./validate.js";
import type { Crdt, Element, GSetState } from "./types.js";

type Members<T> = PMap<T>;

export class GSet<T extends Element = Element> implements Crdt<GSet<T>> {
  readonly kind = "gset" as const;
  readonly #members: Members<T>;
  readonly #delta: GSet<T> | undefined;
  readonly #origin: GSet<T> | undefined; // the delta-free value the mutators that made #delta started from
  #sortedKeys: string[] | undefined; // memo of the sorted encodings (not observable state)

  static readonly #EMPTY = new GSet<Element>(PMap.empty(), undefined);

  private constructor(members: Members<T>, delta: GSet<T> | undefined, origin?: GSet<T>) {
    this.#members = members;
    this.#delta = delta;
    this.#origin = origin;
  }

  static empty<T extends Element = Element>(): GSet<T> {
    return GSet.#EMPTY as GSet<T>;
  }

  /** Validates (canonical, sorted, unique encodings) and decodes a plain state. */
  static fromState<T extends Element = Element>(state: GSetState): GSet<T> {
    if (typeof state !== "object" || state === null) throw new DecodeError("GSetState must be an object");
    const elements = (state as { elements?: unknown }).elements;
    if (!Array.isArray(elements)) throw new DecodeError("GSetState.elements must be an array");
    let previous: string | undefined;
    const members = PMap.build<T>((m) => {
      for (const e of elements as unknown[]) {
        if (typeof e !== "string" || !isCanonical(e)) throw new DecodeError("GSetState: element is not a canonical encoding");
        if (previous !== undefined && compareCanonical(previous, e) >= 0) {
          throw new DecodeError("GSetState: elements must be sorted by canonical encoding without duplicates");
        }
        m.set(e, decodeCanonical(e) as T);
        previous = e;
      }
    });
    return members.size === 0 ? GSet.empty<T>() : new GSet<T>(members, undefined);
  }

  /**
   * Adds `x`. `node` (the writing node) is validated but not recorded: a GSet needs no causality;
   * it is taken for uniformity with ORSet.add. Adding a present element returns the same value.
   */
  add(node: string, x: T): GSet<T> {
    checkNode(node);
    const key = canonical(x);
    if (this.#members.has(key)) return this;
    // Keep a private copy of structured values, so the caller mutating `x` later changes nothing.
    const stored = (typeof x === "object" && x !== null ? decodeCanonical(key) : x) as T;
    const deltaMembers = (this.#delta === undefined ? PMap.empty<T>() : this.#delta.#members).set(key, stored);
    return new GSet<T>(this.#members.set(key, stored), new GSet<T>(deltaMembers, undefined), this.#delta === undefined ? this : this.#origin);
  }

  has(x: T): boolean {
    return this.#members.has(canonical(x));
  }

  /** The elements, sorted by canonical encoding (the same order on every node). */
  get elements(): T[] {
    return this.sortedKeys().map((k) => this.#members.get(k)!);
  }

  get size(): number {
    return this.#members.size;
  }

  get delta(): GSet<T> | undefined {
    return this.#delta;
  }

  resetDelta(): GSet<T> {
    return this.#delta === undefined ? this : new GSet<T>(this.#members, undefined);
  }

  derivesFrom(base: GSet<T>): boolean {
    return this === base || (this.#delta !== undefined && this.#origin === base);
  }

  /** Union. Keeps this value's pending delta; returns `this` when `other` adds nothing. */
  merge(other: GSet<T>): GSet<T> {
    if (other === this || other.#members.size === 0) return this;
    // Into the larger side: merging a small delta into a large set costs O(delta log n).
    const [base, side] = this.#members.size >= other.#members.size ? [this.#members, other.#members] : [other.#members, this.#members];
    const merged = base.mutate((m) => side.forEach((x, key) => void (m.get(key) === undefined && m.set(key, x))));
    if (merged.size === this.#members.size) return this; // a union as large as this value is this value
    return new GSet<T>(merged, this.#delta);
  }

  equals(other: GSet<T>): boolean {
    if (this === other) return true;
    return sameMaps(this.#members, other.#members, () => true);
  }

  /** @internal encoding → element, as stored (content hashes diff two versions of it). */
  get memberMap(): PMap<T> {
    return this.#members;
  }

  toState(): GSetState {
    return { elements: [...this.sortedKeys()] };
  }

  private sortedKeys(): string[] {
    return (this.#sortedKeys ??= this.#members.keys().sort(compareCanonical));
  }
}

const gsetJson: JsonCapability<GSet> = {
  view: (s, json) => ({ value: s.elements.map(json.element) }),
  ops: {
    add: (args) => {
      const x = args.element();
      return (s, node) => s.add(node, x);
    },
  },
};

// Its entry in the open registry of kinds (see StateByKind in types.ts).
declare module "./types.js" {
  interface StateByKind {
    gset: GSetState;
  }
}

/** The GSet data type (see descriptor.ts). */
export const gsetType: DataTypeDescriptor<GSet, GSetState> = {
  kind: "gset",
  name: "GSet",
  wireTag: 3,
  stateMessage: "GSetState",
  empty: () => GSet.empty(),
  fromState: (state) => GSet.fromState(state),
  json: gsetJson,
};
