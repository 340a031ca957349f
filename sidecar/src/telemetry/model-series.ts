/**
 * The metric cells a model call counts on, resolved once per (ingress API, operation, model) and
 * provider and kept, so a call's metrics cost a few map reads and additions instead of building,
 * validating and hashing label objects (see ./cells.ts). Label values are the ones
 * ./model-call.ts always used; the caches are bounded by the config (providers, models, APIs).
 */
import type { CounterCell, HistogramCell } from './cells.js';
import type { Metrics } from './metrics.js';

/**
 * GenAI operation names by the sidecar's operation kind: OpenAI's Responses API is a chat (the
 * conventions' `chat`, "such as OpenAI Chat API"); counting tokens has no name there and keeps its own.
 */
const OPERATION_NAMES: Record<string, string> = { chat: 'chat', responses: 'chat', completions: 'text_completion', embeddings: 'embeddings' };

/** `gen_ai.provider.name` well-known values by provider type. */
const PROVIDER_NAMES: Record<string, string> = { openai: 'openai', anthropic: 'anthropic', gemini: 'gcp.gemini', ollama: 'ollama', 'openai-compatible': 'openai' };

/** The GenAI operation name of an operation kind. */
export function operationName(kind: string): string {
  return OPERATION_NAMES[kind] ?? kind;
}

/** The GenAI provider name of a provider type. */
export function providerName(type: string): string {
  return PROVIDER_NAMES[type] ?? type;
}

/** A provider as telemetry names it: the config name and its type. */
export interface ProviderRef {
  name: string;
  type: string;
}

/** What a call with this provider (or none) ended with a given status counts on. */
interface Ending {
  requests: CounterCell;
  duration: HistogramCell;
}

/** The cells of one (API, operation, model) on one provider, or on none (a call no provider answered). */
export class ProviderSeries {
  private readonly genAi: { gen_ai_operation_name: string; gen_ai_provider_name: string; gen_ai_request_model: string };
  private readonly endings = new Map<number, Ending>();
  private attemptOk: CounterCell | undefined;
  private tokens: { input: HistogramCell; output: HistogramCell } | undefined;
  private firstChunkCell: HistogramCell | undefined;
  private costCell: CounterCell | undefined;
  private estimatedCell: CounterCell | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly call: { api: string; operation: string; model: string },
    private readonly provider: ProviderRef | undefined,
  ) {
    this.genAi = { gen_ai_operation_name: call.operation, gen_ai_provider_name: provider ? providerName(provider.type) : 'none', gen_ai_request_model: call.model };
  }

  private get providerLabel(): string {
    return this.provider?.name ?? 'none';
  }

  /** An attempt on this provider succeeded. */
  attemptSucceeded(): void {
    (this.attemptOk ??= this.metrics.attempts.cell({ provider: this.providerLabel, result: 'ok' })).inc();
  }

  /**
   * Tokens of one call, and its cost and whether they were estimated, on the model entry `model`.
   * Only counts the provider reported reach `gen_ai.client.token.usage`: the GenAI conventions say
   * an instrumentation that cannot obtain them "MUST NOT report usage metric" (offline counting
   * only when a user opts in), so an estimate (no usage in the answer, an abandoned attempt) is
   * counted in `airlock_usage_estimated_total` and the ledger, not there.
   */
  usage(model: string, usage: { input: number; output: number }, costUSD: number, estimated: boolean): void {
    if (!estimated) {
      const tokens = (this.tokens ??= {
        input: this.metrics.tokens.cell({ ...this.genAi, gen_ai_token_type: 'input' }),
        output: this.metrics.tokens.cell({ ...this.genAi, gen_ai_token_type: 'output' }),
      });
      tokens.input.observe(usage.input);
      tokens.output.observe(usage.output);
    }
    // The model entry that answered is nearly always the one asked for; another is looked up.
    const same = model === this.call.model;
    if (estimated) (same ? (this.estimatedCell ??= this.byModel('usageEstimated', model)) : this.byModel('usageEstimated', model)).inc();
    if (costUSD > 0) (same ? (this.costCell ??= this.byModel('cost', model)) : this.byModel('cost', model)).inc(costUSD);
  }

  private byModel(metric: 'cost' | 'usageEstimated', model: string): CounterCell {
    return this.metrics[metric].cell({ provider: this.providerLabel, model });
  }

  /** Time to the first chunk of a stream, in seconds. */
  firstChunk(seconds: number): void {
    (this.firstChunkCell ??= this.metrics.timeToFirstChunk.cell(this.genAi)).observe(seconds);
  }

  /** The call ended with `status` after `seconds`. */
  end(status: number, seconds: number): void {
    let ending = this.endings.get(status);
    if (!ending) {
      const s = String(status);
      ending = {
        requests: this.metrics.requests.cell({ api: this.call.api, operation: this.call.operation, provider: this.providerLabel, model: this.call.model, status: s }),
        duration: this.metrics.duration.cell({ ...this.genAi, error_type: status >= 400 ? s : '' }),
      };
      this.endings.set(status, ending);
    }
    ending.requests.inc();
    ending.duration.observe(seconds);
  }
}

/** The series of one (API, operation, model): one per provider config seen, and the one for none. */
export class ModelSeries {
  private readonly byProvider = new WeakMap<ProviderRef, ProviderSeries>();
  private readonly call: { api: string; operation: string; model: string };
  /** For a call no provider answered. */
  readonly none: ProviderSeries;

  constructor(
    private readonly metrics: Metrics,
    api: string,
    kind: string,
    model: string,
  ) {
    this.call = { api, operation: operationName(kind), model };
    this.none = new ProviderSeries(metrics, this.call, undefined);
  }

  /** The cells on `provider` (its config object: a reload brings new ones, with the same cells). */
  of(provider: ProviderRef | undefined): ProviderSeries {
    if (!provider) return this.none;
    let series = this.byProvider.get(provider);
    if (!series) {
      series = new ProviderSeries(this.metrics, this.call, provider);
      this.byProvider.set(provider, series);
    }
    return series;
  }
}

const cache = new WeakMap<Metrics, Map<string, Map<string, Map<string, ModelSeries>>>>();

/** The series of calls on `api` of `kind` for `model`, resolved once per combination. */
export function modelSeries(metrics: Metrics, api: string, kind: string, model: string): ModelSeries {
  let byApi = cache.get(metrics);
  if (!byApi) cache.set(metrics, (byApi = new Map()));
  let byKind = byApi.get(api);
  if (!byKind) byApi.set(api, (byKind = new Map()));
  let byModel = byKind.get(kind);
  if (!byModel) byKind.set(kind, (byModel = new Map()));
  let series = byModel.get(model);
  if (!series) byModel.set(model, (series = new ModelSeries(metrics, api, kind, model)));
  return series;
}
