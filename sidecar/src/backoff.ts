/**
 * The one exponential backoff of the repository (exported as `@airlock/sidecar/backoff`): the
 * provider retries, the MCP backend reconnects, and the operator's work queue and informer
 * restarts all take their delays from here, each with its own bounds and jitter.
 */

/** Bounds and jitter of a backoff. */
export interface Backoff {
  /** Delay of the first attempt; doubles with each one after. */
  baseMs: number;
  /** The ceiling never grows beyond this. */
  maxMs: number;
  /** The delay is the ceiling times a factor drawn uniformly from [low, high]; [1, 1] (the default) means none. */
  jitter?: readonly [low: number, high: number] | undefined;
}

/** Delay before attempt number `attempt` (1-based): `baseMs · 2^(attempt-1)`, capped at `maxMs`, times the jitter factor. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
  const [low, high] = backoff.jitter ?? [1, 1];
  return Math.round(ceiling * (low + random() * (high - low)));
}
