/** Retry timing of MCP backends: reconnect backoff and the health-check interval. */
import { backoffDelay as delay } from '../backoff.js';

/** Timing knobs of the state machine; the defaults suit production, the config's mcp.health and tests change them. */
export interface BackendTuning {
  /** Time between health-check pings of a ready backend. */
  healthIntervalMs: number;
  /** First retry delay after a failure; doubles with each consecutive failure. */
  backoffBaseMs: number;
  /** Longest retry delay. */
  backoffMaxMs: number;
  /** A backend ready this long has its failure count reset when it fails next. */
  stableAfterMs: number;
  /**
   * Least time between two re-reads of one list of one backend after it announced list_changed:
   * a backend announcing changes without pause would otherwise keep the sidecar's only thread
   * re-reading, hashing and re-indexing its lists. A change inside the window is read when it ends.
   */
  listRereadMinMs: number;
  /**
   * A session whose per-session process has served nothing this long gives it up when another
   * session needs one past `stdio.maxProcesses` (clients that never end their session, such as
   * the MCP Inspector's CLI or an agent that crashed, held every process until the idle reaper).
   */
  processIdleMs: number;
}

/** Production defaults of {@link BackendTuning}. */
export const DEFAULT_BACKEND_TUNING: BackendTuning = {
  healthIntervalMs: 15_000,
  backoffBaseMs: 500,
  backoffMaxMs: 5_000,
  stableAfterMs: 60_000,
  listRereadMinMs: 1_000,
  processIdleMs: 60_000,
};

/** Delay before reconnect number `failures` (1-based): exponential, capped, with equal jitter (half to all of the ceiling). */
export function backoffDelay(failures: number, tuning: Pick<BackendTuning, 'backoffBaseMs' | 'backoffMaxMs'>, random = Math.random): number {
  return delay(failures, { baseMs: tuning.backoffBaseMs, maxMs: tuning.backoffMaxMs, jitter: [0.5, 1] }, random);
}
