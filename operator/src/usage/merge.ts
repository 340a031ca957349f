/**
 * Summing a sandbox's usage over its pods (ADR 0014), purely: the status so far plus what each
 * running sidecar reports gives the new status. A sidecar's counters are cumulative for its
 * process and day, so the status keeps each instance's last report; an instance that is gone
 * (its pod deleted, or the pod now reports a new instance after a restart) moves into `retired`,
 * so nothing it counted is lost. A new UTC day starts from zero.
 */
import { combine, emptyTotals, type InstanceUsage, type UsageTotals } from '@airlock/sidecar/usage';
import type { SandboxUsageStatus } from '../api/index.js';

/** Only the counts of a report or status entry. */
export const totalsOf = (u: UsageTotals): UsageTotals => ({ requests: u.requests, inputTokens: u.inputTokens, outputTokens: u.outputTokens, spentUSD: u.spentUSD, byModel: u.byModel });

/** What one collection round saw. */
export interface Collected {
  /** The UTC day now. */
  day: string;
  /** Reports of the sidecars that answered, by pod name. */
  reports: { pod: string; usage: InstanceUsage }[];
  /** Pods of the sandbox that exist now (answering or not). */
  livePods: ReadonlySet<string>;
  /** Of those, how many run their sidecar now: the pods the sandbox's limits are shared among. */
  sharing: number;
  dailyBudgetUSD: number | undefined;
  now: Date;
}

type PodEntry = NonNullable<SandboxUsageStatus['pods']>[number];


/** The new usage status. */
export function mergeUsage(previous: SandboxUsageStatus | undefined, round: Collected): SandboxUsageStatus {
  const sameDay = previous?.day === round.day;
  let retired = sameDay && previous?.retired ? totalsOf(previous.retired) : emptyTotals();
  const kept = new Map<string, PodEntry>();
  for (const entry of sameDay ? (previous?.pods ?? []) : []) kept.set(entry.instance, entry);

  const answered = new Map<string, PodEntry>();
  for (const { pod, usage } of round.reports) {
    if (usage.day !== round.day) continue;
    // An instance belongs to the pod it was first seen in, and a pod's counters only grow. Without
    // the firewall an agent can answer on its pod's admin port (docs/security.md, residual risks):
    // a report naming another pod's instance must not replace that pod's spend with its own.
    const last = kept.get(usage.instance);
    const owner = last?.pod ?? answered.get(usage.instance)?.pod;
    if (owner !== undefined && owner !== pod) continue;
    // Lower counts than the instance's last report are not its own (they never go down within its
    // day): the last report stands.
    if (last && lowered(last, usage)) answered.set(usage.instance, last);
    else answered.set(usage.instance, { pod, instance: usage.instance, ...totalsOf(usage) });
  }
  const pods: PodEntry[] = [];
  for (const [instance, entry] of kept) {
    if (answered.has(instance)) continue;
    const podRestarted = [...answered.values()].some((a) => a.pod === entry.pod);
    if (round.livePods.has(entry.pod) && !podRestarted) pods.push(entry);
    else retired = combine(retired, totalsOf(entry));
  }
  pods.push(...answered.values());
  pods.sort((a, b) => a.pod.localeCompare(b.pod) || a.instance.localeCompare(b.instance));

  const total = pods.reduce<UsageTotals>((sum, p) => combine(sum, totalsOf(p)), retired);
  return {
    day: round.day,
    updatedAt: round.now.toISOString(),
    ...microdollars(total),
    ...(round.dailyBudgetUSD !== undefined ? { budgetRemainingUSD: toMicro(Math.max(0, round.dailyBudgetUSD - total.spentUSD)) } : {}),
    podCount: round.sharing,
    retired,
    pods,
  };
}

/** Whether `next` counts less than `last` anywhere. */
const lowered = (last: UsageTotals, next: UsageTotals) =>
  next.requests < last.requests || next.inputTokens < last.inputTokens || next.outputTokens < last.outputTokens || next.spentUSD < last.spentUSD;

/** Sums of floating-point prices carry noise (0.026999999999999996); status shows micro-dollars. */
const toMicro = (usd: number) => Math.round(usd * 1e6) / 1e6;
const microdollars = (t: UsageTotals): UsageTotals => ({ ...t, spentUSD: toMicro(t.spentUSD), byModel: t.byModel.map((m) => ({ ...m, spentUSD: toMicro(m.spentUSD) })) });

/** Whether two statuses differ in anything but the collection time. */
export function usageChanged(a: SandboxUsageStatus | undefined, b: SandboxUsageStatus): boolean {
  const strip = (s: SandboxUsageStatus | undefined) => (s ? JSON.stringify({ ...s, updatedAt: undefined }) : '');
  return strip(a) !== strip(b);
}
