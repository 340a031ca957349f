/**
 * Bounded, reproducible fuzzing: every property runs with a fixed seed and a fixed number of
 * runs, both printed, so a failure in CI replays locally with the same inputs.
 *
 * Environment (read here only):
 * - `AIRLOCK_FUZZ_SEED`: replaces every property's default seed (to explore beyond CI's inputs);
 * - `AIRLOCK_FUZZ_RUNS`: multiplies every property's number of runs (e.g. 10 for a long local run).
 *
 * A failing property reports fast-check's `{ seed, path }`; re-run that one test with
 * `AIRLOCK_FUZZ_SEED=<seed>` to replay it (the `path` in the report skips straight to the
 * shrunk counterexample when passed to `fuzzParameters(..., { path })`).
 */
import fc from 'fast-check';

const seedOverride = process.env.AIRLOCK_FUZZ_SEED === undefined ? undefined : Number(process.env.AIRLOCK_FUZZ_SEED);
const runsFactor = Number(process.env.AIRLOCK_FUZZ_RUNS ?? '1');

/** fast-check parameters for one property: its seed and run count, announced on stdout. */
export function fuzzParameters<T>(name: string, defaults: { seed: number; numRuns: number }, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  const seed = seedOverride !== undefined && Number.isFinite(seedOverride) ? seedOverride : defaults.seed;
  const numRuns = Math.max(1, Math.round(defaults.numRuns * (Number.isFinite(runsFactor) && runsFactor > 0 ? runsFactor : 1)));
  console.log(`[fuzz] ${name}: seed=${seed} runs=${numRuns}`);
  return { seed, numRuns, ...extra };
}

/** The number of runs a property would make (for budgets in test titles). */
export function scaledRuns(numRuns: number): number {
  return Math.max(1, Math.round(numRuns * (Number.isFinite(runsFactor) && runsFactor > 0 ? runsFactor : 1)));
}
