/**
 * assertProperty: fast-check with the suite's one seed and run count (fcParams in test/crdt/laws.ts:
 * fixed by default so CI is reproducible, FC_SEED=<int> / FC_RUNS=<n> to explore or replay). The
 * seed is printed whenever a property fails.
 */
import fc from "fast-check";
import { fcParams } from "../crdt/laws.js";

export function assertProperty<Ts>(name: string, property: fc.IProperty<Ts>, numRuns?: number): void {
  const params = fcParams(numRuns === undefined ? {} : { numRuns });
  try {
    fc.assert(property, params);
  } catch (error) {
    console.error(`property "${name}" failed with seed ${params.seed} (replay: FC_SEED=${params.seed})`);
    throw error;
  }
}
