/**
 * GCounter: a grow-only counter. One slot per node; a node only ever raises its own slot; merge
 * takes the per-node maximum; the value is the sum of the slots.
 *
 * Slots are safe integers (≤ 2^53 − 1, the wire's uint64 restricted to what a number holds
 * exactly). The sum may go past 2^53: `value` then throws PrecisionError and `bigValue` is exact.
 *
 * Representation: one flat array `[node0, value0, node1, value1, …]` sorted by node (code-unit
 * order, the order of `toState()` and of the wire), copied — never changed — by a mutation. A
 * cluster has a handful of writers, so a copy is a few words and a lookup a short scan: measured
 * ~4× faster per increment and ~10× per merge than Map copies (A/B, min of 9 × 1 M). A counter
 * with one slot (one writer: most keys) holds it without an array, and a stored value's missing
 * delta costs no field of its own: such a counter is one 40-byte object, where Maps took ~230
 * bytes and the array ~112 (which matters at a million keys). `kind` lives on the prototype (one
 * field less per value and delta). Node ids decoded from the wire are interned, so a receiver
 * holds one copy of each writer id, not one per key.
 */
import { DecodeError, InvalidArgumentError, PrecisionError } from "../errors.js";
import type { DataTypeDescriptor, Json, JsonCapability, JsonWriter } from "./descriptor.js";
import type { Crdt, GCounterState, SlotState } from "./types.js";
import { checkAmount, checkNode, describe } from "./validate.js";
import { absorbedBy, coverageOf, foldIdOf, isCovered, isMarker, markerTime, mayBeFoldId, retiredBy } from "./writer-ids.js";

/** [node, value, node, value, …], nodes strictly ascending, values positive safe integers. */
type Slots = readonly (string | number)[];

const EMPTY_SLOTS: Slots = Object.freeze([]);

/** Index of `node`'s name in `s` (even), or `~insertionIndex` (negative) when absent. */
function find(s: Slots, node: string): number {
  const n = s.length;
  let i = 0;
  // Linear for the usual handful of slots; binary search past that.
  if (n > 32) {
    let lo = 0;
    let hi = n / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((s[2 * mid] as string) < node) lo = mid + 1;
      else hi = mid;
    }
    i = 2 * lo;
  } else {
    while (i < n && (s[i] as string) < node) i += 2;
  }
  return i < n && s[i] === node ? i : ~i;
}

/** Names of `s`'s slots. */
function* names(s: Slots): Generator<string> {
  for (let i = 0; i < s.length; i += 2) yield s[i] as string;
}

/** Whether any slot is a fold id (cheap: the usual answer is no). */
function hasFoldId(s: Slots): boolean {
  for (let i = 0; i < s.length; i += 2) if (mayBeFoldId(s[i] as string)) return true;
  return false;
}

/** `s` without the slots a fold id among them covers (writer-ids.ts); `s` itself when none. */
function dropCovered(s: Slots): Slots {
  if (!hasFoldId(s)) return s;
  const coverage = coverageOf(names(s));
  if (coverage === undefined) return s; // a "^" or "!" in a name that is no fold id
  const out: (string | number)[] = [];
  for (let i = 0; i < s.length; i += 2) if (!isCovered(s[i] as string, coverage)) out.push(s[i]!, s[i + 1]!);
  return out.length === s.length ? s : out;
}

/** The marker slots of `s` (writer-ids.ts `isMarker`), flat; empty (shared) when none, the usual case. */
function markerSlots(s: Slots): Slots {
  let out: (string | number)[] | undefined;
  for (let i = 0; i < s.length; i += 2) if (isMarker(s[i] as string)) (out ??= []).push(s[i]!, s[i + 1]!);
  return out ?? EMPTY_SLOTS;
}

/** Whether a slot named `node` counts toward the value: every slot but a marker's (it holds what was absorbed elsewhere). */
function counts(node: string): boolean {
  return !isMarker(node);
}

/** A copy of `s` with `node`'s slot set to `value`; `i` is `find(s, node)` when the caller has it. */
function withSlot(s: Slots, node: string, value: number, i = find(s, node)): Slots {
  if (i >= 0) {
    const out = s.slice();
    out[i + 1] = value;
    return out;
  }
  const at = ~i;
  const out = new Array<string | number>(s.length + 2);
  for (let j = 0; j < at; j++) out[j] = s[j]!;
  out[at] = node;
  out[at + 1] = value;
  for (let j = at; j < s.length; j++) out[j + 2] = s[j]!;
  return out;
}

/** A value's delta: what the mutators that made it added, and the delta-free value they started from. */
interface Pending {
  readonly delta: GCounter;
  /** Undefined for a merged value: it keeps its delta but derives from no value. */
  readonly origin: GCounter | undefined;
  /** The value's lone slot's value (see #more). */
  readonly lone: number;
}

export class GCounter implements Crdt<GCounter> {
  // On the prototype, not per instance: a million counters (and every delta) save a field each.
  declare readonly kind: "gcounter";
  static {
    Object.defineProperty(GCounter.prototype, "kind", { value: "gcounter", enumerable: true });
  }
  // A lone slot — the usual counter, written by one node — is held as its node in #slots and its
  // value in #more, without an array. Any other number of slots is an array. A counter with
  // exactly one slot always takes the lone form, so equal counters have equal forms.
  readonly #slots: Slots | string;
  // The lone slot's value (0 for an array), or, for a value with a delta, a record of the delta,
  // its origin and that value: a stored one-writer counter (no delta) is one 40-byte object,
  // header and two fields, where an array of its slot and fields for delta and origin took 112.
  readonly #more: number | Pending;

  static readonly #EMPTY = new GCounter(EMPTY_SLOTS, 0);

  private constructor(slots: Slots | string, lone: number, delta?: GCounter, origin?: GCounter) {
    this.#slots = slots;
    this.#more = delta === undefined ? lone : { delta, origin, lone };
  }

  // Helpers are static: a private instance method would add a field (its brand) to every counter.

  /** A counter of non-empty `slots` (a lone slot takes the lone form). */
  static #of(slots: Slots, delta?: GCounter, origin?: GCounter): GCounter {
    return slots.length === 2 ? new GCounter(slots[0] as string, slots[1] as number, delta, origin) : new GCounter(slots, 0, delta, origin);
  }

  static #lone(c: GCounter): number {
    const m = c.#more;
    return typeof m === "number" ? m : m.lone;
  }

  static #pending(c: GCounter): Pending | undefined {
    const m = c.#more;
    return typeof m === "number" ? undefined : m;
  }

  /** The slots of `c` as an array (a lone slot's is made on the spot). */
  static #array(c: GCounter): Slots {
    const s = c.#slots;
    return typeof s === "string" ? [s, GCounter.#lone(c)] : s;
  }

  static empty(): GCounter {
    return GCounter.#EMPTY;
  }

  /** Validates and decodes a plain state (slots sorted by node, unique, non-zero safe integers). */
  static fromState(state: GCounterState): GCounter {
    const slots = dropCovered(decodeSlots(state, "GCounterState"));
    return slots.length === 0 ? GCounter.#EMPTY : GCounter.#of(slots);
  }

  /**
   * @internal `fromState` of slots in the flat form `[node0, value0, node1, value1, …]`, which the
   * array becomes (not copied): what a decoder reading bytes builds without an object per slot (a
   * snapshot restore reads a million counters). The same validation.
   */
  static fromFlatSlots(flat: (string | number)[]): GCounter {
    if (flat.length % 2 !== 0) throw new DecodeError("GCounterState: a slot without its value");
    for (let i = 0; i < flat.length; i += 2) flat[i] = checkedSlot(flat[i], flat[i + 1], i > 0 ? (flat[i - 2] as string) : undefined, "GCounterState");
    const slots = flat.length === 0 ? EMPTY_SLOTS : dropCovered(flat);
    return slots.length === 0 ? GCounter.#EMPTY : GCounter.#of(slots);
  }

  /**
   * How many slots `c` has; with `slotNode` and `slotValue` (slot `i`, in node order), how the
   * encoders read a counter: no state object, nor a lone slot's pair, per counter encoded.
   */
  static slotCount(c: GCounter): number {
    const s = c.#slots;
    return typeof s === "string" ? 1 : s.length >>> 1;
  }

  static slotNode(c: GCounter, i: number): string {
    const s = c.#slots;
    return typeof s === "string" ? s : (s[2 * i] as string);
  }

  static slotValue(c: GCounter, i: number): number {
    const s = c.#slots;
    return typeof s === "string" ? GCounter.#lone(c) : (s[2 * i + 1] as number);
  }

  /** A counter of one slot, validated as `fromFlatSlots([node, value])` validates it (a decoder's usual counter, without the pair). */
  static fromSlot(node: string, value: number): GCounter {
    const checked = checkedSlot(node, value, undefined, "GCounterState");
    // A fold id may cover the slot (see dropCovered): that rule takes the general way.
    return mayBeFoldId(checked) ? GCounter.fromFlatSlots([checked, value]) : new GCounter(checked, value);
  }

  /** Adds `by` (a non-negative safe integer; 0 is a no-op) to `node`'s slot. */
  increment(node: string, by: number = 1): GCounter {
    checkNode(node);
    checkAmount(by, "increment", "use PNCounter.decrement to go down");
    if (by === 0) return this;
    const next = this.slot(node) + by;
    if (next > Number.MAX_SAFE_INTEGER) {
      throw new InvalidArgumentError(
        `node ${JSON.stringify(node)}'s slot would exceed Number.MAX_SAFE_INTEGER (2^53 - 1); a node's slot is a safe integer`,
      );
    }
    const s = this.#slots;
    const p = GCounter.#pending(this);
    if (p === undefined && (typeof s === "string" ? s === node : s.length === 0)) {
      // The usual write (one writer, no delta yet): the result and its delta are lone slots.
      return new GCounter(node, next, new GCounter(node, next), this);
    }
    const all = GCounter.#array(this);
    // The delta carries the value's markers: the slot it raises may hold an amount a marker's
    // absorption moved there, and a replica still holding the absorbed ids must drop them with it.
    const base = p === undefined ? markerSlots(all) : GCounter.#array(p.delta);
    return GCounter.#of(withSlot(all, node, next), GCounter.#of(withSlot(base, node, next)), p === undefined ? this : p.origin);
  }

  /** The sum of the slots. Throws PrecisionError past Number.MAX_SAFE_INTEGER: read `bigValue` then. */
  get value(): number {
    const s = this.#slots;
    if (typeof s === "string") return counts(s) ? GCounter.#lone(this) : 0;
    // Float sum: exact while ≤ MAX_SAFE_INTEGER and monotone (all slots ≥ 0), so the check is sound.
    let sum = 0;
    for (let i = 1; i < s.length; i += 2) if (counts(s[i - 1] as string)) sum += s[i] as number;
    if (sum > Number.MAX_SAFE_INTEGER) {
      throw new PrecisionError(
        "GCounter value exceeds Number.MAX_SAFE_INTEGER (2^53 - 1) and cannot be represented exactly as a number; read bigValue instead",
      );
    }
    return sum;
  }

  /** The exact sum of the slots. */
  get bigValue(): bigint {
    const s = GCounter.#array(this);
    let sum = 0n;
    for (let i = 1; i < s.length; i += 2) if (counts(s[i - 1] as string)) sum += BigInt(s[i] as number);
    return sum;
  }

  /** One node's slot (0 when it never incremented). */
  slot(node: string): number {
    if (typeof node !== "string") return 0;
    const s = this.#slots;
    if (typeof s === "string") return s === node ? GCounter.#lone(this) : 0;
    const i = find(s, node);
    return i >= 0 ? (s[i + 1] as number) : 0;
  }

  /** Whether `node` has a (non-zero) slot. */
  holds(node: string): boolean {
    const s = this.#slots;
    return typeof s === "string" ? s === node : find(s, node) >= 0;
  }

  /** The nodes that have a (non-zero) slot, in no particular order. */
  get nodes(): string[] {
    // Sized up front: every merge of a received counter asks (merge.ts, its writers' markers), and
    // an array grown by push starts with room for 17.
    const s = this.#slots;
    if (typeof s === "string") return [s];
    const out = new Array<string>(s.length >>> 1);
    for (let i = 0; i < out.length; i++) out[i] = s[2 * i] as string;
    return out;
  }

  get delta(): GCounter | undefined {
    return GCounter.#pending(this)?.delta;
  }

  resetDelta(): GCounter {
    const m = this.#more;
    if (typeof m === "number") return this;
    // A first write's delta is the whole value (one lone slot, see increment): it is the reset value.
    const d = m.delta;
    if (typeof this.#slots === "string" && d.#slots === this.#slots && d.#more === m.lone) return d;
    return new GCounter(this.#slots, m.lone);
  }

  derivesFrom(base: GCounter): boolean {
    return this === base || GCounter.#pending(this)?.origin === base;
  }

  /** Per-node maximum. Keeps this value's pending delta; returns `this` when `other` adds nothing. */
  merge(other: GCounter): GCounter {
    const sa = this.#slots;
    const sb = other.#slots;
    if (typeof sa === "string" && sa === sb) {
      // One writer on both sides (a receiver's usual merge): the larger slot wins.
      const mine = GCounter.#lone(this);
      const theirs = GCounter.#lone(other);
      return theirs > mine ? new GCounter(sa, theirs, this.delta) : this;
    }
    const a = GCounter.#array(this);
    const b = GCounter.#array(other);
    if (a === b || b.length === 0) return this;
    // One pass without allocating: does `other` add anything, and does `this`? The common cases
    // (an idempotent merge; a newer delta of the same writers) then cost one object at most.
    let i = 0;
    let j = 0;
    let otherAdds = false;
    let thisAdds = false;
    while (i < a.length && j < b.length && !(otherAdds && thisAdds)) {
      const na = a[i] as string;
      const nb = b[j] as string;
      if (na === nb) {
        const va = a[i + 1] as number;
        const vb = b[j + 1] as number;
        if (vb > va) otherAdds = true;
        else if (va > vb) thisAdds = true;
        i += 2;
        j += 2;
      } else if (na < nb) {
        thisAdds = true;
        i += 2;
      } else {
        otherAdds = true;
        j += 2;
      }
    }
    if (i < a.length) thisAdds = true;
    if (j < b.length) otherAdds = true;
    if (!otherAdds) return this;
    if (!thisAdds) {
      const shared = dropCovered(b); // slot arrays are never mutated: share
      return sameSlots(shared, a) ? this : GCounter.#of(shared, this.delta);
    }
    const out: (string | number)[] = [];
    i = 0;
    j = 0;
    while (i < a.length || j < b.length) {
      if (j >= b.length || (i < a.length && (a[i] as string) < (b[j] as string))) {
        out.push(a[i]!, a[i + 1]!);
        i += 2;
      } else if (i >= a.length || (b[j] as string) < (a[i] as string)) {
        out.push(b[j]!, b[j + 1]!);
        j += 2;
      } else {
        out.push(a[i]!, Math.max(a[i + 1] as number, b[j + 1] as number));
        i += 2;
        j += 2;
      }
    }
    // A fold id on one side drops the ids it covers on the other (a late slot of a retired writer).
    const merged = dropCovered(out);
    return sameSlots(merged, a) ? this : GCounter.#of(merged, this.delta);
  }

  /**
   * Folds the ids `writerId` retires (older ids of its node, see writer-ids.ts) into its node's
   * fold id: one slot holding their sum. The delta is that slot: wherever it arrives it replaces
   * them. Returns `this` when there is nothing to fold.
   */
  foldRetired(writerId: string): GCounter {
    const fold = foldIdOf(writerId);
    if (fold === undefined) return this;
    const s = GCounter.#array(this);
    let sum = 0;
    let retired = 0;
    const kept: (string | number)[] = [];
    for (let i = 0; i < s.length; i += 2) {
      const node = s[i] as string;
      if (retiredBy(writerId, node)) {
        // A marker's amount lives in another writer's slot already: it goes (the fold id covers
        // it) without being added, and alone it is nothing to fold (it expires by itself).
        if (!counts(node)) continue;
        sum += s[i + 1] as number;
        retired++;
      } else if (node !== fold) kept.push(node, s[i + 1]!);
    }
    if (retired === 0) return this;
    const total = sum + this.slot(fold);
    if (total > Number.MAX_SAFE_INTEGER) throw new PrecisionError(`the retired slots of ${JSON.stringify(writerId)}'s node add up past 2^53 - 1`);
    const slots = withSlot(kept, fold, total);
    const piece = new GCounter(fold, total);
    const p = GCounter.#pending(this);
    return p === undefined ? GCounter.#of(slots, piece, this) : GCounter.#of(slots, p.delta.merge(piece), p.origin);
  }

  /**
   * Absorbs the ids of a removed node that `marker` covers (writer-ids.ts `markerFor`) into `into`'s
   * slot: it grows by their amount, they go, and the marker's slot holds what the node's ids held
   * (its earlier markers' amounts included), for a comeback of the node to compare with. The delta
   * is `into`'s slot and the marker: wherever it arrives the absorbed slots go. `this` when the
   * value holds nothing the marker covers. `skip`: ids the value around this one covers already (a
   * map's context, see PruningCapability.absorbRemoved): dropped, neither moved nor recorded.
   */
  absorbRemoved(marker: string, into: string, skip?: (id: string) => boolean): GCounter {
    checkNode(into);
    const s = GCounter.#array(this);
    let moved = 0;
    let share = 0;
    let absorbed = 0;
    const kept: (string | number)[] = [];
    for (let i = 0; i < s.length; i += 2) {
      const node = s[i] as string;
      if (!absorbedBy(marker, node)) {
        if (node !== marker) kept.push(node, s[i + 1]!);
        continue;
      }
      if (skip?.(node) === true) continue; // gone already where this value lives (see the doc)
      absorbed++;
      share += s[i + 1] as number;
      if (counts(node)) moved += s[i + 1] as number;
    }
    if (absorbed === 0 || absorbedBy(marker, into)) return this;
    share = Math.max(share, this.slot(marker));
    const raised = this.slot(into) + moved;
    if (raised > Number.MAX_SAFE_INTEGER || share > Number.MAX_SAFE_INTEGER) throw new PrecisionError(`absorbing ${JSON.stringify(marker)} into ${JSON.stringify(into)} goes past 2^53 - 1`);
    let slots = withSlot(kept, marker, share);
    let piece: Slots = [marker, share];
    if (moved > 0) {
      slots = withSlot(slots, into, raised);
      piece = withSlot(piece, into, raised);
    }
    const delta = GCounter.#of(piece);
    const p = GCounter.#pending(this);
    return p === undefined ? GCounter.#of(slots, delta, this) : GCounter.#of(slots, p.delta.merge(delta), p.origin);
  }

  /** This value without the markers made before `cutoffMs` (they expired); `this` when none. Keeps the delta. */
  withoutMarkersBefore(cutoffMs: number): GCounter {
    const s = this.#slots;
    if (typeof s === "string" ? !s.includes("#") : !hasFoldId(s)) return this;
    const a = GCounter.#array(this);
    const kept: (string | number)[] = [];
    for (let i = 0; i < a.length; i += 2) {
      const t = markerTime(a[i] as string);
      if (t === undefined || t >= cutoffMs) kept.push(a[i]!, a[i + 1]!);
    }
    if (kept.length === a.length) return this;
    const p = GCounter.#pending(this);
    return kept.length === 0 ? (p === undefined ? GCounter.#EMPTY : new GCounter(EMPTY_SLOTS, 0, p.delta, p.origin)) : GCounter.#of(kept, p?.delta, p?.origin);
  }

  /** When the latest marker among its writer ids was made (0: none); no list of the ids is made (every received counter's merge asks). */
  latestMarkerTime(): number {
    const s = this.#slots;
    if (typeof s === "string") return markerTime(s) ?? 0;
    let latest = 0;
    for (let i = 0; i < s.length; i += 2) latest = Math.max(latest, markerTime(s[i] as string) ?? 0);
    return latest;
  }

  /** Whether a writer id with a slot may be a fold id (writer-ids.ts `mayBeFoldId`); no list of the ids is made. */
  mayHoldFoldId(): boolean {
    const s = this.#slots;
    return typeof s === "string" ? mayBeFoldId(s) : hasFoldId(s);
  }

  /** The writer ids with a slot (Akka's `modifiedByNodes`). */
  get writers(): string[] {
    return this.nodes;
  }

  equals(other: GCounter): boolean {
    if (this === other) return true;
    const a = this.#slots;
    const b = other.#slots;
    if (typeof a === "string" || typeof b === "string") return a === b && GCounter.#lone(this) === GCounter.#lone(other);
    return sameSlots(a, b);
  }

  toState(): GCounterState {
    const s = this.#slots;
    if (typeof s === "string") return { slots: [{ node: s, value: GCounter.#lone(this) }] };
    const slots = new Array<SlotState>(s.length >>> 1);
    for (let i = 0; i < slots.length; i++) slots[i] = { node: s[2 * i] as string, value: s[2 * i + 1] as number };
    return { slots };
  }
}

function sameSlots(a: Slots, b: Slots): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ------------------------------------------------------------------ validation

/**
 * Writer ids seen in decoded states, so that a receiver keeps one string per writer instead of one
 * per key and slot. Bounded: cleared when full (ids of long-gone incarnations then drop out).
 */
const INTERN_MAX = 4096;
const interned = new Map<string, string>();

function intern(s: string): string {
  const known = interned.get(s);
  if (known !== undefined) return known;
  if (interned.size >= INTERN_MAX) interned.clear();
  interned.set(s, s);
  return s;
}

function decodeSlots(state: unknown, what: string): Slots {
  if (typeof state !== "object" || state === null) throw new DecodeError(`${what} must be an object`);
  const slots = (state as { slots?: unknown }).slots;
  if (!Array.isArray(slots)) throw new DecodeError(`${what}.slots must be an array`);
  if (slots.length === 0) return EMPTY_SLOTS;
  const out = new Array<string | number>(slots.length * 2);
  let previous: string | undefined;
  let k = 0;
  for (const slot of slots as unknown[]) {
    if (typeof slot !== "object" || slot === null) throw new DecodeError(`${what}: a slot must be an object`);
    const { node, value } = slot as { node?: unknown; value?: unknown };
    const name = checkedSlot(node, value, previous, what);
    out[k++] = name;
    out[k++] = value as number;
    previous = name;
  }
  return out;
}

/** A decoded slot's node (interned), once node and value are checked; `previous`: the slot before's node. */
function checkedSlot(node: unknown, value: unknown, previous: string | undefined, what: string): string {
  if (typeof node !== "string" || node.length === 0 || !node.isWellFormed()) {
    throw new DecodeError(`${what}: slot node must be a non-empty string, got ${describe(node)}`);
  }
  if (previous !== undefined && !(previous < node)) {
    throw new DecodeError(`${what}: slots must be sorted by node without duplicates (${JSON.stringify(previous)} before ${JSON.stringify(node)})`);
  }
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new DecodeError(`${what}: slot ${JSON.stringify(node)} must hold a positive safe integer, got ${describe(value)}`);
  }
  return intern(node);
}

/** A counter's value as JSON: a number, or past 2^53 the exact decimal string. */
export function countJson(c: { readonly value: number; readonly bigValue: bigint }): Json {
  try {
    return c.value;
  } catch (e) {
    if (e instanceof PrecisionError) return c.bigValue.toString();
    throw e;
  }
}

/** Per-node counts; a node's writer ids (incarnations, fold ids) are summed into it. */
export function byNodeJson(c: GCounter, json: JsonWriter): Json {
  const out = Object.create(null) as Record<string, number>;
  for (const w of c.nodes.sort()) if (counts(w)) out[json.node(w)] = (out[json.node(w)] ?? 0) + c.slot(w);
  return out;
}

const gcounterJson: JsonCapability<GCounter> = {
  view: (c, json) => ({ value: countJson(c), detail: { byNode: byNodeJson(c, json) } }),
  ops: {
    increment: (args) => {
      const by = args.by();
      return (c, node) => c.increment(node, by);
    },
  },
};

// Its entry in the open registry of kinds (see StateByKind in types.ts).
declare module "./types.js" {
  interface StateByKind {
    gcounter: GCounterState;
  }
}

/** The GCounter data type (see descriptor.ts). */
export const gcounterType: DataTypeDescriptor<GCounter, GCounterState> = {
  kind: "gcounter",
  name: "GCounter",
  wireTag: 1,
  stateMessage: "GCounterState",
  empty: () => GCounter.empty(),
  fromState: (state) => GCounter.fromState(state),
  json: gcounterJson,
  pruning: {
    writers: (v) => v.writers,
    foldRetired: (v, writerId) => v.foldRetired(writerId),
    absorbRemoved: (v, marker, into, skip) => v.absorbRemoved(marker, into, skip),
    withoutMarkersBefore: (v, cutoffMs) => v.withoutMarkersBefore(cutoffMs),
    latestMarkerTime: (v) => v.latestMarkerTime(),
    mayHoldFoldId: (v) => v.mayHoldFoldId(),
    holds: (v, id) => v.holds(id),
  },
};
