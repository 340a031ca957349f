/** The operator's answer to a sidecar asking for its sandbox's usage (ADR 0014). */
import { emptyTotals, type SandboxUsageReport } from '@airlock/sidecar/usage';
import type { SandboxUsageStatus } from '../api/index.js';
import { totalsOf } from './merge.js';


/** The sandbox's totals for `day`, and what of them came from `instance`. */
export function reportFor(usage: SandboxUsageStatus | undefined, day: string, instance: string | undefined): SandboxUsageReport {
  if (!usage || usage.day !== day) return { day, pods: 0, total: emptyTotals() };
  const counted = usage.pods?.find((p) => p.instance === instance);
  return { day, pods: usage.podCount ?? usage.pods?.length ?? 0, total: totalsOf(usage), ...(counted ? { counted: totalsOf(counted) } : {}) };
}
