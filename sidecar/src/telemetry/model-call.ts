/**
 * What one model call reports: its metrics and its spans, following the OpenTelemetry GenAI
 * conventions. The relay calls these hooks and knows nothing of Prometheus or OpenTelemetry.
 *
 * Span tree of a call: `chat gpt-4o` (CLIENT, the root of a trace of the sidecar's own, linked to
 * the agent's `traceparent` when it sent one: see {@link withAgentContext}) with one child
 * `attempt <provider>` per upstream attempt, whose context goes upstream in `traceparent`. Spans carry names, numbers and statuses only: never a key (the key's index is
 * the attribute), and no prompt or completion text unless the sandbox opts in to content capture
 * (`telemetry.captureMessageContent`, see ./content.ts), and then redacted.
 *
 * Without a tracer provider registered (no `telemetry.otlp`), the OpenTelemetry API hands out
 * non-recording spans: each hook costs a few property reads.
 */
import { context, createContextKey, INVALID_SPAN_CONTEXT, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Link, type Span, type SpanContext } from '@opentelemetry/api';
import type { LimitRefusal } from '../router/limits.js';
import type { ChatRequest } from '../wire/openai.js';
import { contentAttributes, inputContent, OutputContent } from './content.js';
import type { Metrics } from './metrics.js';
import { modelSeries, operationName, providerName, type ModelSeries, type ProviderRef } from './model-series.js';
import { tracingActive } from './tracing.js';

/**
 * Without a registered SDK the API's spans are non-recording no-ops: one shared span stands in for
 * them instead of building spans, contexts and attribute objects per call (measured ~10 µs of a
 * call's CPU in place at saturation, bench/README.md "Round 3: the floor").
 */
const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The tracer of the sidecar; a no-op until `startTracing` registers a provider. */
export const tracer = () => trace.getTracer('airlock-sidecar');

/** Which limit refused a call, for the refusal counter. */
export type LimitKind = LimitRefusal['limit'];

export type { ProviderRef } from './model-series.js';

/** One attempt's report. */
export interface AttemptTelemetry {
  /** Headers to send upstream with this attempt (W3C `traceparent`, when tracing is on). */
  readonly headers: Record<string, string>;
  /** The provider answered and its response will be used. */
  succeeded(status: number): void;
  /** The attempt failed; `kind` is the failure kind (timeout, status, connect …). */
  failed(kind: string, status: number): void;
}

/** The outcome of a call as the agent saw it. */
export interface CallEnd {
  /** HTTP status returned to the agent. */
  status: number;
  /** The model name the provider answered with, when known. */
  responseModel?: string | undefined;
  /** The id the provider gave its answer, when known. */
  responseId?: string | undefined;
  finishReasons?: readonly string[] | undefined;
}

/** Telemetry of one model call; create with `startModelCall`, end exactly once. */
export class ModelCall {
  private readonly span: Span;
  private readonly spanContext: Context;
  private readonly started = performance.now();
  private firstChunkSeen = false;
  private provider: ProviderRef | undefined;
  private lastFailed: { provider: string; reason: string } | undefined;
  /** The last provider tried, which a call that failed everywhere is counted under. */
  private tried: ProviderRef | undefined;
  private ended = false;
  /** What the call cost and the tokens estimated for it so far, for its span. */
  private costUSD = 0;
  private readonly estimated = { input: 0, output: 0 };
  private content: { input: ReturnType<typeof inputContent> | undefined; output: OutputContent; redact: (text: string) => string } | undefined;
  /** The metric cells of this call's API, operation and model (resolved once, shared by calls). */
  private readonly series: ModelSeries;

  constructor(
    private readonly metrics: Metrics,
    private readonly info: { api: string; kind: string; model: string; stream: boolean },
    parent: Context = context.active(),
  ) {
    metrics.inFlightCalls++;
    this.series = modelSeries(metrics, info.api, info.kind, info.model);
    if (!tracingActive()) {
      this.span = NO_SPAN;
      this.spanContext = parent;
      return;
    }
    const operation = operationName(info.kind);
    this.span = tracer().startSpan(
      `${operation} ${info.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { 'gen_ai.operation.name': operation, 'gen_ai.request.model': info.model, 'airlock.api': info.api, 'airlock.stream': info.stream },
        links: agentLinks(parent),
      },
      parent,
    );
    this.spanContext = trace.setSpan(parent, this.span);
  }

  /**
   * Runs `fn(...args)` with this call's span active, so what it logs carries the call's span id
   * (telemetry/log-trace.ts); as it is without tracing. Arguments rather than a closure, as
   * {@link withAgentContext}.
   */
  within<A extends unknown[], T>(fn: (...args: A) => T, ...args: A): T {
    return this.span === NO_SPAN ? fn(...args) : context.with(this.spanContext, fn, undefined, ...args);
  }

  private get operation(): string {
    return operationName(this.info.kind);
  }

  /**
   * Records the call's messages on its span (opt-in): the request now, the answer as it is added
   * with {@link output}, all through `redact`. Nothing is kept when the span is not recording.
   */
  captureContent(request: Pick<ChatRequest, 'messages'> | undefined, redact: (text: string) => string): void {
    if (!this.span.isRecording()) return;
    this.content = { input: request ? inputContent(request) : undefined, output: new OutputContent(), redact };
  }

  /** Whether the call's span records (tracing is on and sampled it): what only the span shows need not be worked out otherwise. */
  get recording(): boolean {
    return this.span.isRecording();
  }

  /** Whether the answer's content is wanted (content capture is on and the span records). */
  get capturing(): boolean {
    return this.content !== undefined;
  }

  /** A canonical result or stream chunk of the answer, for content capture; a no-op without it. */
  output(value: unknown): void {
    this.content?.output.add(value);
  }

  /** A sandbox limit refused the call before any provider was tried. */
  refused(limit: LimitKind): void {
    this.metrics.limitRefusals.inc({ limit });
    this.span.setAttribute('airlock.limit', limit);
  }

  /** An attempt starts on `provider` with the key at `keyIndex` (-1 for a keyless provider). */
  attempt(provider: ProviderRef, attempt: { number: number; keyIndex: number; upstreamModel: string }): AttemptTelemetry {
    if (this.lastFailed && this.lastFailed.provider !== provider.name) {
      this.metrics.failovers.inc({ provider: this.lastFailed.provider, reason: this.lastFailed.reason });
    }
    const span = this.span === NO_SPAN ? NO_SPAN : tracer().startSpan(
      `attempt ${provider.name}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'gen_ai.operation.name': this.operation,
          'gen_ai.provider.name': providerName(provider.type),
          'gen_ai.request.model': attempt.upstreamModel,
          'airlock.provider': provider.name,
          'airlock.attempt': attempt.number,
          'airlock.key.index': attempt.keyIndex,
          ...(this.lastFailed ? { 'airlock.failover.from': this.lastFailed.provider, 'airlock.failover.reason': this.lastFailed.reason } : {}),
        },
      },
      this.spanContext,
    );
    const headers: Record<string, string> = span === NO_SPAN ? NO_HEADERS : {};
    if (span !== NO_SPAN) propagation.inject(trace.setSpan(this.spanContext, span), headers);
    return new AttemptReport(this, provider, span, headers);
  }

  /** An attempt on `provider` succeeded: its answer is the call's. */
  attemptSucceeded(provider: ProviderRef, span: Span, status: number): void {
    this.provider = provider;
    this.lastFailed = undefined;
    this.series.of(provider).attemptSucceeded();
    span.setAttribute('http.response.status_code', status);
    span.end();
  }

  /** An attempt on `provider` failed with `kind` (and `status`). */
  attemptFailed(provider: ProviderRef, span: Span, kind: string, status: number): void {
    const reason = kind === 'status' ? String(status) : kind;
    this.lastFailed = { provider: provider.name, reason };
    this.tried = provider;
    this.metrics.attempts.inc({ provider: provider.name, result: kind });
    span.setAttributes({ 'http.response.status_code': status, 'error.type': reason });
    span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
    span.end();
  }

  /** The first chunk of a stream went to the agent: time to first token. */
  firstChunk(): void {
    if (this.firstChunkSeen) return;
    this.firstChunkSeen = true;
    const seconds = (performance.now() - this.started) / 1000;
    this.series.of(this.provider).firstChunk(seconds);
    this.span.addEvent('gen_ai.first_chunk');
  }

  /**
   * Tokens the provider reported (or, `estimated`, counted from the text when it reported none, or
   * of an attempt abandoned mid-answer) and what they cost from the configured prices. The span's
   * `gen_ai.usage.*` are the reported counts only, as the metric's; estimates add up in
   * `airlock.usage.estimated_*`, and the cost is the call's whole.
   */
  usage(provider: ProviderRef, model: string, usage: { input: number; output: number }, costUSD: number, estimated = false): void {
    this.series.of(provider).usage(model, usage, costUSD, estimated);
    if (this.span === NO_SPAN) return;
    this.costUSD += costUSD;
    if (estimated) {
      this.estimated.input += usage.input;
      this.estimated.output += usage.output;
      this.span.setAttributes({ 'airlock.usage.estimated_input_tokens': this.estimated.input, 'airlock.usage.estimated_output_tokens': this.estimated.output });
    } else {
      this.span.setAttributes({ 'gen_ai.usage.input_tokens': usage.input, 'gen_ai.usage.output_tokens': usage.output });
    }
    this.span.setAttribute('airlock.cost_usd', this.costUSD);
  }

  /** The provider that answered, else the last one tried ('none' when no attempt was made): for logs. */
  get providerName(): string {
    return (this.provider ?? this.tried)?.name ?? 'none';
  }

  /** The call is over (success, failure or refusal). */
  end(result: CallEnd): void {
    if (this.ended) return;
    this.ended = true;
    const provider = this.provider ?? this.tried;
    this.metrics.inFlightCalls--;
    this.series.of(provider).end(result.status, (performance.now() - this.started) / 1000);
    const failed = result.status >= 400;
    if (provider) this.span.setAttributes({ 'gen_ai.provider.name': providerName(provider.type), 'airlock.provider': provider.name });
    if (result.responseModel) this.span.setAttribute('gen_ai.response.model', result.responseModel);
    if (result.responseId) this.span.setAttribute('gen_ai.response.id', result.responseId);
    if (result.finishReasons?.length) this.span.setAttribute('gen_ai.response.finish_reasons', [...result.finishReasons]);
    this.span.setAttribute('http.response.status_code', result.status);
    if (this.content) this.span.setAttributes(contentAttributes(this.content.input, this.content.output.messages(), this.content.redact));
    if (failed) {
      this.span.setAttribute('error.type', String(result.status));
      this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.end();
  }
}

/** One attempt's report, reported once (a class, not closures: it lives across the upstream round trip). */
class AttemptReport implements AttemptTelemetry {
  private done = false;

  constructor(
    private readonly call: ModelCall,
    private readonly provider: ProviderRef,
    private readonly span: Span,
    readonly headers: Record<string, string>,
  ) {}

  succeeded(status: number): void {
    if (this.done) return;
    this.done = true;
    this.call.attemptSucceeded(this.provider, this.span, status);
  }

  failed(kind: string, status: number): void {
    if (this.done) return;
    this.done = true;
    this.call.attemptFailed(this.provider, this.span, kind, status);
  }
}

/** Starts the telemetry of one model call under the active context (the agent's trace, if any). */
export function startModelCall(metrics: Metrics, info: { api: string; kind: string; model: string; stream: boolean }): ModelCall {
  return new ModelCall(metrics, info);
}

/** What a call's answer says about itself, for its span. */
export interface Described {
  id?: string;
  model?: string;
  finishReasons?: string[];
}

/** The response id, model and finish reasons of a result or stream chunk, merged into `into`. */
export function describeResult(result: unknown, into: Described = {}): Described {
  if (typeof result !== 'object' || result === null) return into;
  // A Responses stream's events carry the response whole (`response.created`, `response.completed`).
  const response = (result as { type?: unknown; response?: unknown }).response;
  if (typeof response === 'object' && response !== null && typeof (result as { type?: unknown }).type === 'string') return describeResult(response, into);
  const { id, model, choices } = result as { id?: unknown; model?: unknown; choices?: unknown };
  if (typeof model === 'string' && model) into.model = model;
  if (typeof id === 'string' && id) into.id = id;
  if (Array.isArray(choices)) {
    for (const choice of choices as { finish_reason?: unknown }[]) {
      if (typeof choice?.finish_reason === 'string') (into.finishReasons ??= []).push(choice.finish_reason);
    }
  }
  return into;
}

/** The agent's W3C trace context of the request being served, kept for a link (see {@link withAgentContext}). */
const AGENT_CONTEXT = createContextKey('airlock agent trace context');

/**
 * Runs `fn(...args)` with the agent's W3C trace context (its `traceparent`) at hand as a link, not
 * as the parent. Arguments rather than a closure: a model call passes its relay without making one.
 *
 * A link, because the agent is the party these spans observe and everything in its header is its
 * choice: as the parent, its sampled flag `00` made the SDK's ParentBased sampler record nothing of
 * the call (content capture included), and its trace id put the platform's spans in whatever trace
 * it named, where a collector's trace-id sampling (or a spoofed `tracestate` threshold) drops what
 * the agent picked, and a trace it had seen elsewhere gets spans grafted in. Each call is instead
 * the root of a trace the sidecar starts (sampled by the sidecar's sampler alone, its id random,
 * no agent `tracestate` sent upstream), linked to the agent's span so a trace viewer still leads
 * from the agent's trace to it.
 */
export function withAgentContext<A extends unknown[], T>(headers: Record<string, string | string[] | undefined>, fn: (...args: A) => T, ...args: A): T {
  if (!tracingActive()) return fn(...args);
  const agent = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers));
  return context.with(agent ? ROOT_CONTEXT.setValue(AGENT_CONTEXT, agent) : ROOT_CONTEXT, fn, undefined, ...args);
}

/** The link to the agent's span for a span started in `parent` with no span of the sidecar above it. */
export function agentLinks(parent: Context): Link[] | undefined {
  if (trace.getSpan(parent)) return undefined;
  const agent = parent.getValue(AGENT_CONTEXT) as SpanContext | undefined;
  return agent ? [{ context: agent, attributes: { 'airlock.link': 'agent' } }] : undefined;
}
