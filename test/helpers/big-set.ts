import { ORSet } from "../../src/crdt/orset.js";
import type { ORSetState } from "../../src/crdt/types.js";

/** An ORSet of `n` elements written by "w" (one dot each), built straight from its state: fast at 200 k elements. */
export function bigSet(n: number): ORSet<string> {
  const names = Array.from({ length: n }, (_, i) => `s${String(i).length + 5}:item-${i}`).sort();
  const state: ORSetState = {
    entries: names.map((element, i) => ({ element, dots: [{ node: "w", counter: i + 1 }] })),
    context: { vector: [{ node: "w", value: n }], cloud: [] },
  };
  return ORSet.fromState<string>(state);
}
