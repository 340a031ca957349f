/** Retry timing of backends: exponential backoff with jitter, and the health-check interval. */

/** Timing knobs of the state machine; the defaults suit production, tests shorten them. */
export interface BackendTuning {
  /** Time between health-check pings of a ready backend. */
  healthIntervalMs: number;
  /** First retry delay after a failure; doubles with each consecutive failure. */
  backoffBaseMs: number;
  /** Longest retry delay. */
  backoffMaxMs: number;
  /** A backend ready this long has its failure count reset when it fails next. */
  stableAfterMs: number;
}

/** Production defaults of {@link BackendTuning}. */
export const DEFAULT_BACKEND_TUNING: BackendTuning = {
  healthIntervalMs: 15_000,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
  stableAfterMs: 60_000,
};

/** Delay before retry number `failures` (1-based): exponential, capped, with equal jitter. */
export function backoffDelay(failures: number, tuning: Pick<BackendTuning, 'backoffBaseMs' | 'backoffMaxMs'>, random = Math.random): number {
  const ceiling = Math.min(tuning.backoffMaxMs, tuning.backoffBaseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
