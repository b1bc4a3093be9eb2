/**
 * Shared property-test harness for every CRDT: merge laws and delta laws, checked with fast-check.
 *
 * A type plugs in through a TypeSpec (empty value, a random mutation, how to apply it as a node).
 * States are produced the way a cluster produces them: replica i writes as node NODES[i] (a node id
 * is never shared by two replicas, so dots stay unique), with random merges in between.
 *
 * Reproduce a failure with the seed fast-check prints: FC_SEED=<seed> node --import tsx --test <file>.
 * FC_RUNS overrides the number of runs (default 500).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Crdt } from "../../src/crdt/types.js";

export interface TypeSpec<T extends Crdt<T>, Op> {
  name: string;
  empty(): T;
  /** A random mutation. */
  op: fc.Arbitrary<Op>;
  /** Performs the mutation as `node` (may return `value` unchanged if the op does not apply). */
  apply(value: T, node: string, op: Op): T;
}

export const NODES = ["a", "b", "c", "d", "e"] as const;

const DEFAULT_SEED = 20240611;

/** The parameters every property of the suite runs with: a fixed seed (FC_SEED) and ≥500 runs (FC_RUNS). */
export function fcParams(overrides: { numRuns?: number } = {}): { seed: number; numRuns: number } {
  const envSeed = process.env["FC_SEED"];
  const seed = envSeed !== undefined && envSeed !== "" ? Number(envSeed) : DEFAULT_SEED;
  if (!Number.isInteger(seed)) throw new Error(`FC_SEED must be an integer, got ${envSeed}`);
  const envRuns = process.env["FC_RUNS"];
  const numRuns = envRuns !== undefined && envRuns !== "" ? Number(envRuns) : (overrides.numRuns ?? 500);
  return { seed, numRuns };
}

/** JSON of a value's plain state (bigint-safe): the observable replicated state, for comparisons. */
export function stateJson(value: Crdt): string {
  return JSON.stringify(value.toState(), (_k, v: unknown) =>
    typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v,
  );
}

function show(value: Crdt | undefined): string {
  return value === undefined ? "undefined" : stateJson(value);
}

function assertEquals<T extends Crdt<T>>(actual: T, expected: T, what: string): void {
  if (!actual.equals(expected)) {
    throw new Error(`${what}\n  actual:   ${show(actual)}\n  expected: ${show(expected)}`);
  }
}

// ------------------------------------------------------------------ random histories

type Step<Op> = { t: "op"; r: number; op: Op } | { t: "merge"; from: number; to: number };

function stepArb<Op>(op: fc.Arbitrary<Op>): fc.Arbitrary<Step<Op>> {
  const r = fc.nat({ max: NODES.length - 1 });
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant("op" as const), r, op }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("merge" as const), from: r, to: r }) },
  );
}

/**
 * Runs a history on NODES.length replicas; returns every state it went through (each replica's
 * initial empty value and every value after a step), so picks include ancestors and descendants
 * of one another as well as concurrent states.
 */
function runHistory<T extends Crdt<T>, Op>(spec: TypeSpec<T, Op>, steps: Step<Op>[]): T[] {
  const replicas: T[] = NODES.map(() => spec.empty());
  const seen: T[] = [spec.empty()];
  for (const s of steps) {
    if (s.t === "op") {
      replicas[s.r] = spec.apply(replicas[s.r]!, NODES[s.r]!, s.op);
      seen.push(replicas[s.r]!);
    } else if (s.from !== s.to) {
      replicas[s.to] = replicas[s.to]!.merge(replicas[s.from]!);
      seen.push(replicas[s.to]!);
    }
  }
  return seen;
}

/** Three states of one random history (any of them possibly empty, or equal to another). */
function triple<T extends Crdt<T>, Op>(spec: TypeSpec<T, Op>): fc.Arbitrary<[T, T, T]> {
  const pick = fc.nat();
  return fc
    .tuple(fc.array(stepArb(spec.op), { maxLength: 24, size: "medium" }), pick, pick, pick)
    .map(([steps, i, j, k]) => {
      const seen = runHistory(spec, steps);
      // Favour the latest states (they carry the most history): pick from the end half the time.
      const at = (n: number): T => seen[n % 2 === 0 ? seen.length - 1 - ((n >> 1) % Math.min(seen.length, 6)) : (n >> 1) % seen.length]!;
      const picked = [at(i), at(j), at(k)] as [T, T, T];
      // Counterexamples print the states, not the opaque objects.
      Object.defineProperty(picked, fc.toStringMethod, { value: () => `[${picked.map(show).join(", ")}]` });
      return picked;
    });
}

// ------------------------------------------------------------------ merge laws

export function checkMergeLaws<T extends Crdt<T>, Op>(spec: TypeSpec<T, Op>): void {
  test(`${spec.name}: merge is commutative and leaves its inputs alone`, () => {
    fc.assert(
      fc.property(triple(spec), ([a, b]) => {
        const before = [stateJson(a), stateJson(b)];
        const ab = a.merge(b);
        const ba = b.merge(a);
        assertEquals(ab, ba, "a ⊔ b ≠ b ⊔ a");
        if (stateJson(ab) !== stateJson(ba)) throw new Error("a ⊔ b equals b ⊔ a but toState() differs");
        if (stateJson(a) !== before[0] || stateJson(b) !== before[1]) throw new Error("merge changed an input");
      }),
      fcParams(),
    );
  });

  test(`${spec.name}: merge is associative`, () => {
    fc.assert(
      fc.property(triple(spec), ([a, b, c]) => {
        assertEquals(a.merge(b).merge(c), a.merge(b.merge(c)), "(a ⊔ b) ⊔ c ≠ a ⊔ (b ⊔ c)");
      }),
      fcParams(),
    );
  });

  test(`${spec.name}: merge is idempotent, empty is its identity, equals is consistent`, () => {
    fc.assert(
      fc.property(triple(spec), ([a, b]) => {
        const empty = spec.empty();
        assertEquals(a.merge(a), a, "a ⊔ a ≠ a");
        assertEquals(a.merge(empty), a, "a ⊔ ∅ ≠ a");
        assertEquals(empty.merge(a), a, "∅ ⊔ a ≠ a");
        const ab = a.merge(b);
        assertEquals(ab.merge(b), ab, "(a ⊔ b) ⊔ b ≠ a ⊔ b");
        assertEquals(ab.merge(a), ab, "(a ⊔ b) ⊔ a ≠ a ⊔ b");
        if (a.equals(b) !== b.equals(a)) throw new Error("equals is not symmetric");
        if (a.equals(b) !== (stateJson(a) === stateJson(b))) {
          throw new Error(`equals disagrees with toState():\n  a: ${show(a)}\n  b: ${show(b)}`);
        }
        if (a.kind !== empty.kind) throw new Error(`kind changed: ${a.kind} vs ${empty.kind}`);
      }),
      fcParams(),
    );
  });

  test(`${spec.name}: toState() → JSON → fromState() round-trips`, async () => {
    // Through the registry, as the wire layer decodes (and so the registry's dispatch is covered too).
    const registry = await import("../../src/crdt/registry.js");
    fc.assert(
      fc.property(triple(spec), ([a]) => {
        const json = stateJson(a);
        const decoded = registry.fromState(a.kind, JSON.parse(json)) as T;
        if (decoded.delta !== undefined) throw new Error("fromState() produced a value with a delta");
        assertEquals(decoded, a, "fromState(toState(a)) ≠ a");
        if (stateJson(decoded) !== json) throw new Error(`toState() not canonical: ${json} vs ${stateJson(decoded)}`);
      }),
      fcParams(),
    );
    const empty = registry.emptyOf(spec.empty().kind, (spec.empty().toState() as { valueKind?: never }).valueKind);
    if (stateJson(empty) !== stateJson(spec.empty())) throw new Error("emptyOf(kind) differs from spec.empty()");
  });

  test(`${spec.name}: a mutation never changes its source value`, () => {
    fc.assert(
      fc.property(triple(spec), fc.array(spec.op, { minLength: 1, maxLength: 4 }), fc.nat({ max: NODES.length - 1 }), ([a], ops, n) => {
        let value = a;
        for (const op of ops) {
          const before = stateJson(value);
          const deltaBefore = show(value.delta);
          const next = spec.apply(value, NODES[n]!, op);
          if (stateJson(value) !== before) throw new Error(`mutation changed its source: ${before} → ${stateJson(value)}`);
          if (show(value.delta) !== deltaBefore) throw new Error("mutation changed its source's delta");
          const reset = next.resetDelta();
          if (reset.delta !== undefined) throw new Error("resetDelta() left a delta");
          if (!reset.equals(next)) throw new Error("resetDelta() changed the state");
          value = next;
        }
      }),
      fcParams(),
    );
  });
}

/**
 * `merge` returns `this` (the same object) exactly when the other side adds nothing, i.e. when the
 * result equals `this`: three replicas (nodes a, b, c) that mutate and merge each other at random.
 */
export function checkMergeReturnsThis<T extends Crdt<T>, Op>(spec: TypeSpec<T, Op>): void {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat({ max: 2 }), fc.option(spec.op, { nil: undefined })), { maxLength: 30 }), (steps) => {
      // Three replicas; an undefined op means "replica i merges replica i+1".
      const rs = [spec.empty(), spec.empty(), spec.empty()];
      for (const [i, op] of steps) {
        rs[i] = op === undefined ? rs[i]!.merge(rs[(i + 1) % 3]!) : spec.apply(rs[i]!, ["a", "b", "c"][i]!, op).resetDelta();
      }
      for (const x of rs) {
        for (const y of rs) {
          const m = x.merge(y);
          assert.equal(m === x, m.equals(x));
        }
      }
    }),
    fcParams(),
  );
}

// ------------------------------------------------------------------ delta laws

type Action<Op> = { t: "op"; r: number; op: Op } | { t: "deliver" | "drop" | "dup"; k: number };

function actionArb<Op>(op: fc.Arbitrary<Op>): fc.Arbitrary<Action<Op>> {
  const k = fc.nat({ max: 63 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant("op" as const), r: fc.nat({ max: NODES.length - 1 }), op }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant("deliver" as const), k }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("drop" as const), k }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("dup" as const), k }) },
  );
}

function joinAll<T extends Crdt<T>>(empty: T, values: readonly T[]): T {
  let out = empty;
  for (const v of values) out = out.merge(v);
  return out;
}

/** Checks what the origin of a mutation must guarantee about its delta. */
function checkOriginDelta<T extends Crdt<T>>(source: T, mutated: T): T | undefined {
  const delta = mutated.delta;
  if (delta === undefined) {
    assertEquals(mutated, source, "a mutation without a delta changed the state");
    return undefined;
  }
  if (delta.kind !== source.kind) throw new Error(`delta kind ${delta.kind} ≠ ${source.kind}`);
  assertEquals(source.merge(delta), mutated, "source ⊔ delta ≠ mutated");
  assertEquals(mutated.merge(delta), mutated, "delta ⋢ state (state ⊔ delta ≠ state)");
  return delta;
}

export function checkDeltaLaws<T extends Crdt<T>, Op>(spec: TypeSpec<T, Op>): void {
  test(`${spec.name}: deltas shipped in any order, duplicated or dropped, then one full exchange, converge`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 5 }),
        fc.boolean(),
        fc.array(actionArb(spec.op), { maxLength: 32 }),
        (n, allowDrops, actions) => {
          const empty = spec.empty();
          let replicas: T[] = Array.from({ length: n }, () => spec.empty());
          const pending: { to: number; delta: T }[] = [];
          const deltas: T[] = [];
          let dropped = false;
          const deliver = (i: number, keep: boolean): void => {
            const m = pending[i]!;
            if (!keep) pending.splice(i, 1);
            replicas[m.to] = replicas[m.to]!.merge(m.delta);
          };
          for (const a of actions) {
            if (a.t === "op") {
              const r = a.r % n;
              const source = replicas[r]!;
              const mutated = spec.apply(source, NODES[r]!, a.op);
              const delta = checkOriginDelta(source, mutated);
              if (delta !== undefined) {
                deltas.push(delta);
                for (let to = 0; to < n; to++) if (to !== r) pending.push({ to, delta });
              }
              replicas[r] = mutated.resetDelta();
            } else if (pending.length > 0) {
              const i = a.k % pending.length;
              if (a.t === "drop" && allowDrops) {
                pending.splice(i, 1);
                dropped = true;
              } else {
                deliver(i, a.t === "dup");
              }
            }
          }
          // Whatever is still in flight arrives, latest first.
          while (pending.length > 0) deliver(pending.length - 1, false);

          const all = joinAll(empty, replicas);
          // A replica's state is the join of the deltas it applied, so all deltas join to all states.
          assertEquals(joinAll(empty, deltas), all, "⊔ of every delta ≠ ⊔ of every replica");
          if (!dropped) {
            replicas.forEach((r, i) => assertEquals(r, all, `replica ${NODES[i]} did not converge on deltas alone`));
          }
          // One full-state exchange: everyone merges everyone's state.
          const states = replicas;
          replicas = states.map((r) => joinAll(r, states));
          replicas.forEach((r, i) => assertEquals(r, all, `replica ${NODES[i]} did not converge after a full exchange`));
        },
      ),
      fcParams(),
    );
  });

  test(`${spec.name}: an accumulated delta (several mutations, one resetDelta) carries them all`, () => {
    const node = fc.nat({ max: NODES.length - 1 });
    fc.assert(
      fc.property(triple(spec), fc.array(fc.tuple(node, spec.op), { minLength: 1, maxLength: 6 }), ([start], ops) => {
        const source = start.resetDelta();
        let value = source;
        // Several writers on one value: the history is discarded, so their dots cannot clash.
        for (const [n, op] of ops) value = spec.apply(value, NODES[n]!, op);
        checkOriginDelta(source, value);
        // A peer that already has part of the history converges with the same delta.
        const delta = value.delta;
        if (delta !== undefined) assertEquals(spec.empty().merge(delta).merge(source), value, "∅ ⊔ delta ⊔ source ≠ mutated");
      }),
      fcParams(),
    );
  });

  test(`${spec.name}: derivesFrom holds for mutations of the base, not for another value or a merge`, () => {
    const node = fc.nat({ max: NODES.length - 1 });
    fc.assert(
      fc.property(triple(spec), fc.array(fc.tuple(node, spec.op), { minLength: 1, maxLength: 6 }), ([start, other, extra], ops) => {
        const source = start.resetDelta();
        let value = source;
        for (const [n, op] of ops) value = spec.apply(value, NODES[n]!, op);
        assert.ok(value.derivesFrom(source), "a chain of mutations does not derive from its base");
        const elsewhere = other.resetDelta();
        if (stateJson(elsewhere) !== stateJson(source)) assert.ok(!value.derivesFrom(elsewhere), "derives from a value it was not made from");
        const merged = value.merge(extra.resetDelta());
        if (merged !== value && merged.delta !== undefined) assert.ok(!merged.derivesFrom(source), "a merge result still derives from the base");
        if (value.delta !== undefined) assert.ok(!value.resetDelta().derivesFrom(source) || value.resetDelta() === source, "a reset value derives from the base");
      }),
      fcParams(),
    );
  });
}
