/**
 * One seed per test run for fast-check: fixed by default so CI is reproducible, overridable with
 * FC_SEED=<int> to explore or to replay. It is printed whenever a property fails.
 */
import fc from "fast-check";

export const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 424242;
export const NUM_RUNS = 500;

export function assertProperty<Ts>(name: string, property: fc.IProperty<Ts>, numRuns = NUM_RUNS): void {
  try {
    fc.assert(property, { numRuns, seed: SEED });
  } catch (error) {
    console.error(`property "${name}" failed with seed ${SEED} (replay: FC_SEED=${SEED})`);
    throw error;
  }
}
