/**
 * What sidecars and the operator exchange about a sandbox's usage (ADR 0014): a sidecar's own
 * counters for today (admin port, `GET /usage`), and the sandbox-wide totals the operator keeps
 * in AgentSandbox.status and serves to the sidecars (`GET /usage/<namespace>/<name>`).
 */
import * as z from '../zod.js';

const count = z.number().check(z.int(), z.minimum(0));
const spent = z.number().check(z.minimum(0));
const day = () => z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/));

/** At most this many models are listed in a report or a total (and in AgentSandbox status). */
export const MAX_MODELS = 1000;
/**
 * The entry the models past {@link MAX_MODELS} are summed into: a name with a space, which no
 * model name can have (config model names and aliases are `^[^\s]+$`).
 */
export const OTHER_MODELS = '(other models)';

/** Usage of one model. */
export const ModelUsage = z.object({
  // 256: as long as a model name or alias may be in the config (a longer bound here than there
  // made the whole report unreadable to the operator).
  model: z.string().check(z.minLength(1), z.maxLength(256)),
  requests: count,
  inputTokens: count,
  outputTokens: count,
  spentUSD: spent,
});
export type ModelUsage = z.infer<typeof ModelUsage>;

/** Usage totals of a UTC day: overall and by model. */
export const UsageTotals = z.object({
  requests: count,
  inputTokens: count,
  outputTokens: count,
  spentUSD: spent,
  byModel: z.array(ModelUsage).check(z.maxLength(MAX_MODELS)),
});
export type UsageTotals = z.infer<typeof UsageTotals>;

/** A sidecar's own counters, as `GET /usage` on its admin port returns them. */
export const InstanceUsage = z.extend(UsageTotals, {
  /** Random per sidecar process: a restarted sidecar is a new instance whose counts start at 0. */
  instance: z.string().check(z.regex(/^[a-z0-9-]{8,64}$/)),
  /** The UTC day (YYYY-MM-DD) the counters are for. */
  day: day(),
});
export type InstanceUsage = z.infer<typeof InstanceUsage>;

/**
 * What `GET /usage` on a sidecar's admin port returns: its counters, and the providers that
 * refused every key it holds (401), by name only, so the operator can show it on the
 * ModelProvider's status. Never a key, a file or what the provider answered.
 */
export const SidecarReport = z.extend(InstanceUsage, {
  credentialsRejected: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(253))).check(z.maxLength(256)), []),
});
export type SidecarReport = z.infer<typeof SidecarReport>;

/** The operator's answer to a sidecar: the sandbox's totals and how much of them came from it. */
export const SandboxUsageReport = z.object({
  day: day(),
  /** Pods of the sandbox (counted or not yet): each may spend its even part of what is left. */
  pods: count,
  total: UsageTotals,
  /** The asking instance's counts included in `total` (absent when the operator has not seen it yet). */
  counted: z.optional(UsageTotals),
});
export type SandboxUsageReport = z.infer<typeof SandboxUsageReport>;

/** Empty totals. */
export const emptyTotals = (): UsageTotals => ({ requests: 0, inputTokens: 0, outputTokens: 0, spentUSD: 0, byModel: [] });

/** a + sign·b, by model; models that end with nothing are dropped. */
export function combine(a: UsageTotals, b: UsageTotals, sign: 1 | -1 = 1): UsageTotals {
  const models = new Map<string, ModelUsage>();
  for (const m of a.byModel) models.set(m.model, { ...m });
  for (const m of b.byModel) {
    const into = models.get(m.model) ?? { model: m.model, requests: 0, inputTokens: 0, outputTokens: 0, spentUSD: 0 };
    models.set(m.model, {
      model: m.model,
      requests: Math.max(0, into.requests + sign * m.requests),
      inputTokens: Math.max(0, into.inputTokens + sign * m.inputTokens),
      outputTokens: Math.max(0, into.outputTokens + sign * m.outputTokens),
      spentUSD: Math.max(0, into.spentUSD + sign * m.spentUSD),
    });
  }
  return totalsByModel([...models.values()].filter((m) => m.requests > 0 || m.spentUSD > 0));
}

/**
 * Totals of `models` (which it may reorder): by model in name order, at most {@link MAX_MODELS}
 * of them. Past that the ones that spent least (then were called least) are summed into
 * {@link OTHER_MODELS}, so the totals stay whole. Why: the agent chooses which models it calls,
 * and a report or status with one model too many is refused whole (the operator's schema, the
 * CRD's maxItems), which stopped its pod's spend from being counted at all.
 */
export function totalsByModel(models: ModelUsage[]): UsageTotals {
  let byModel = models;
  if (byModel.length > MAX_MODELS) {
    // An (other models) entry already there (a pod's report in a sandbox's total) is added to.
    const named = byModel.filter((m) => m.model !== OTHER_MODELS).sort((x, y) => y.spentUSD - x.spentUSD || y.requests - x.requests || x.model.localeCompare(y.model));
    const other: ModelUsage = { model: OTHER_MODELS, requests: 0, inputTokens: 0, outputTokens: 0, spentUSD: 0 };
    for (const m of [...byModel.filter((m) => m.model === OTHER_MODELS), ...named.slice(MAX_MODELS - 1)]) {
      other.requests += m.requests;
      other.inputTokens += m.inputTokens;
      other.outputTokens += m.outputTokens;
      other.spentUSD += m.spentUSD;
    }
    byModel = [...named.slice(0, MAX_MODELS - 1), other];
  }
  byModel.sort((x, y) => x.model.localeCompare(y.model));
  const sum = (k: 'requests' | 'inputTokens' | 'outputTokens' | 'spentUSD') => byModel.reduce((s, m) => s + m[k], 0);
  return { requests: sum('requests'), inputTokens: sum('inputTokens'), outputTokens: sum('outputTokens'), spentUSD: sum('spentUSD'), byModel };
}

/** The UTC day of a time, YYYY-MM-DD. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

const DAY_MS = 86_400_000;

/**
 * Today's UTC day from a clock, for code that asks on every call (the limits, the ledger): the
 * date is formatted only when the clock leaves the day it last saw (or goes back).
 */
export class UtcDayClock {
  private ends = 0;
  private day = '';

  constructor(private readonly now: () => number) {}

  /** YYYY-MM-DD of now. */
  today(): string {
    const now = this.now();
    if (now >= this.ends || now < this.ends - DAY_MS) {
      this.ends = (Math.floor(now / DAY_MS) + 1) * DAY_MS;
      this.day = utcDay(now);
    }
    return this.day;
  }
}
