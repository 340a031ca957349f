/** The operator's answer to a sidecar asking for its sandbox's usage (ADR 0014). */
import { emptyTotals, type SandboxUsageReport } from '@airlock/sidecar/usage';
import type { SandboxUsageStatus } from '../api/index.js';
import { totalsOf } from './merge.js';

/**
 * The sandbox's totals for the day last counted, and what of them came from `instance`; `today`
 * only when nothing was counted yet. Until the leader's first round of a new UTC day (or while
 * this replica's clock is ahead of the leader's) that is the day before, told as such: a sidecar
 * keeps its pod count and, on its new day, its even part of the whole budget. An answer for today
 * with no pods gave a sidecar that had not heard from the operator before (one started just after
 * midnight) the whole budget, and claimed a count of a day not counted.
 */
export function reportFor(usage: SandboxUsageStatus | undefined, today: string, instance: string | undefined): SandboxUsageReport {
  if (!usage) return { day: today, pods: 0, total: emptyTotals() };
  const counted = usage.pods?.find((p) => p.instance === instance);
  return { day: usage.day, pods: usage.podCount ?? usage.pods?.length ?? 0, total: totalsOf(usage), ...(counted ? { counted: totalsOf(counted) } : {}) };
}
