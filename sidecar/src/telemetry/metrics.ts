/**
 * Every Prometheus metric the sidecar exports, named in this one file: a new metric is added here
 * and nowhere else. Names follow Prometheus (base units, `_total` on counters) and, for model
 * calls, the OpenTelemetry GenAI conventions as Prometheus spells them (`gen_ai.client.token.usage`
 * becomes `gen_ai_client_token_usage`, its attributes `gen_ai_token_type` and so on).
 *
 * Label values are bounded: providers, models and MCP backends come from the config, tools from
 * the backends' filtered listings, statuses and reasons from fixed sets. A client's free text
 * (an unknown model, a tool name that does not exist) never becomes a label.
 */
// prom-client's Registry, Gauge and Counter by their own modules, not its index: the index also loads its
// Pushgateway (node:https and so TLS, node:zlib), its cluster aggregator (node:cluster) and its
// default metrics (perf_hooks, v8), none of which the sidecar uses; in a bare process the index is
// 22 MiB of resident memory and these modules 3 (bench/README.md, "Round 6").
import { LIMIT_KINDS } from '../router/limits.js';
import type { LogDrops } from '../log/logger.js';
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Registry from 'prom-client/lib/registry.js';
import { CounterMetric, HistogramMetric } from './cells.js';
import { registerProcessMetrics } from './process-metrics.js';

/** GenAI attribute names as Prometheus labels. */
const GENAI_LABELS = ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model'] as const;

/** Buckets the GenAI conventions recommend for `gen_ai.client.token.usage`. */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
/**
 * Buckets the GenAI conventions recommend for durations (and time to first chunk), doubled on to
 * 655.36 s: a call may run 600 s (`timeouts.totalMs`), and reasoning or long streamed answers pass
 * 82 s often, where a p95 would stick at the conventions' last bound.
 */
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68, 655.36];

/** What the provider-state gauges read at scrape time: one entry per configured provider. */
export interface ProviderState {
  name: string;
  breaker: 'closed' | 'open' | 'half-open';
  /** State of each key by index (never a key's value). */
  keys: readonly ('healthy' | 'resting' | 'disabled' | 'withheld')[];
}

/** What the MCP backend gauge reads at scrape time: one entry per configured backend. */
export interface McpBackendState {
  name: string;
  state: 'connecting' | 'ready' | 'failed' | 'stopped';
}

const MCP_BACKEND_STATES = ['connecting', 'ready', 'failed', 'stopped'] as const;

/** What the sandbox usage gauges read at scrape time. */
export interface UsageState {
  sandbox: string;
  /** Sandbox-wide spend today in USD, as far as this sidecar knows. */
  spentTodayUSD: number;
  /** The sandbox's daily budget, when it has one. */
  dailyBudgetUSD: number | undefined;
}

const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
const KEY_STATES = ['healthy', 'resting', 'disabled', 'withheld'] as const;

/** The sidecar's metrics on their own registry (served on the admin port only). */
export class Metrics {
  readonly registry = new Registry();
  private providerStates: () => readonly ProviderState[] = () => [];
  private usageState: () => UsageState | undefined = () => undefined;
  private mcpBackendStates: () => readonly McpBackendState[] = () => [];
  private logDrops: () => LogDrops = () => ({ backlog: 0, rate: 0 });
  private answerBytes: () => number = () => 0;

  /** Model API calls answered, by ingress API, operation, provider, model and HTTP status. */
  readonly requests = new CounterMetric({
    name: 'airlock_model_requests_total',
    help: 'Model API requests by ingress API, operation, provider, model and HTTP status returned to the agent.',
    labelNames: ['api', 'operation', 'provider', 'model', 'status'] as const,
    registers: [this.registry],
  });
  /** Model API calls being served: counted by the calls, read by the gauge at scrape time. */
  inFlightCalls = 0;
  readonly inFlight: Gauge = new Gauge({
    name: 'airlock_model_requests_in_flight',
    help: 'Model API requests being served.',
    registers: [this.registry],
    collect: () => this.inFlight.set(this.inFlightCalls),
  });
  /** `gen_ai.client.operation.duration`: from the agent's request to the end of the response. */
  readonly duration = new HistogramMetric({
    name: 'gen_ai_client_operation_duration_seconds',
    help: 'GenAI operation duration: from the agent request to the last byte of the response, failovers included.',
    labelNames: [...GENAI_LABELS, 'error_type'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  /** `gen_ai.client.operation.time_to_first_chunk`: time to first token of a streamed call. */
  readonly timeToFirstChunk = new HistogramMetric({
    name: 'gen_ai_client_operation_time_to_first_chunk_seconds',
    help: 'Time to first token of streamed calls: from the agent request to the first chunk sent back.',
    labelNames: GENAI_LABELS,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  /** `gen_ai.client.token.usage`: tokens per call as the provider reported them (never an estimate). */
  readonly tokens = new HistogramMetric({
    name: 'gen_ai_client_token_usage',
    help: 'Tokens used per call, by token type (input, output), as reported by the provider; estimated ones are not observed (airlock_usage_estimated_total counts those calls).',
    labelNames: [...GENAI_LABELS, 'gen_ai_token_type'] as const,
    buckets: TOKEN_BUCKETS,
    registers: [this.registry],
  });
  readonly cost = new CounterMetric({
    name: 'airlock_cost_usd_total',
    help: 'Spend in USD from the configured model prices, by provider and model.',
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
  });
  readonly usageEstimated = new CounterMetric({
    name: 'airlock_usage_estimated_total',
    help: 'Calls whose provider reported no token usage, so the tokens were estimated from the text (about 4 characters a token), by provider and model.',
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
  });
  readonly attempts = new CounterMetric({
    name: 'airlock_provider_attempts_total',
    help: 'Attempts sent to providers, by provider and result (ok, or the failure kind).',
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });
  /** A call moved on from this provider to the next candidate. */
  readonly failovers = new CounterMetric({
    name: 'airlock_failovers_total',
    help: 'Calls that failed over away from a provider, by that provider and the reason (the failure kind or HTTP status).',
    labelNames: ['provider', 'reason'] as const,
    registers: [this.registry],
  });
  /** Model requests refused before routing: a bad body, an unknown model, what the sandbox does not allow. */
  readonly requestRefusals = new CounterMetric({
    name: 'airlock_model_request_refusals_total',
    help: 'Model requests answered with an error before any provider was tried (bad body 400, unknown model 404, body too large 413, ...), by API and status.',
    labelNames: ['api', 'status'] as const,
    registers: [this.registry],
  });
  /** Calls refused by a limit before reaching any provider. */
  readonly limitRefusals = new CounterMetric({
    name: 'airlock_limit_refusals_total',
    help: 'Calls refused with 429 by a sandbox limit, by limit (requests, tokens, concurrency, budget).',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly mcpToolCalls = new CounterMetric({
    name: 'airlock_mcp_tool_calls_total',
    help: 'MCP tool calls through the gateway, by backend, tool and result (ok, tool_error, denied, timeout, cancelled, error).',
    labelNames: ['backend', 'tool', 'result'] as const,
    registers: [this.registry],
  });
  readonly mcpToolDuration = new HistogramMetric({
    name: 'airlock_mcp_tool_call_duration_seconds',
    help: 'Duration of MCP tool calls through the gateway, by backend and tool.',
    labelNames: ['backend', 'tool'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly mcpListRereadsHeld = new CounterMetric({
    name: 'airlock_mcp_list_rereads_held_total',
    help: 'Re-reads of an MCP backend list held back because the backend announced list_changed again within the minimum interval, by backend and list (tools, resources, prompts); steady growth means the backend keeps announcing changes.',
    labelNames: ['backend', 'list'] as const,
    registers: [this.registry],
  });
  readonly configReloads = new CounterMetric({
    name: 'airlock_config_reloads_total',
    help: 'Config reloads by result (applied, rejected).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    registerProcessMetrics(this.registry);
    // Every limit from the start, at 0: an alert on increase() sees the first refusal (a series
    // born at 1 shows no increase).
    for (const limit of LIMIT_KINDS) this.limitRefusals.inc({ limit }, 0);
    const states = () => this.providerStates();
    new Gauge({
      name: 'airlock_provider_circuit_state',
      help: 'Circuit breaker state per provider: 1 for the current state (closed, open, half-open), 0 for the others.',
      labelNames: ['provider', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const p of states()) for (const state of BREAKER_STATES) this.set({ provider: p.name, state }, p.breaker === state ? 1 : 0);
      },
    });
    new Gauge({
      name: 'airlock_provider_keys',
      help: 'API keys per provider by state (healthy, disabled after a 401, resting after a 429 for some model).',
      labelNames: ['provider', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const p of states()) for (const state of KEY_STATES) this.set({ provider: p.name, state }, p.keys.filter((k) => k === state).length);
      },
    });
    const backends = () => this.mcpBackendStates();
    new Gauge({
      name: 'airlock_mcp_backend_state',
      help: 'State of each MCP backend: 1 for the current state (connecting, ready, failed, stopped), 0 for the others.',
      labelNames: ['backend', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const b of backends()) for (const state of MCP_BACKEND_STATES) this.set({ backend: b.name, state }, b.state === state ? 1 : 0);
      },
    });
    const logDrops = () => this.logDrops();
    new Counter({
      name: 'airlock_log_lines_dropped_total',
      help: 'Log lines not written, by reason: backlog (stdout held its bound of unwritten log, the reader was too slow), rate (a source past its per-interval bound: a backend stderr, refused requests; one line per interval says how many).',
      labelNames: ['reason'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const counts = logDrops();
        for (const reason of ['backlog', 'rate'] as const) this.inc({ reason }, counts[reason]);
      },
    });
    const answerBytes = () => this.answerBytes();
    new Gauge({
      name: 'airlock_answer_bytes_in_flight',
      help: 'Bytes of answers the sidecar holds that their clients have not read yet (model answers read whole, MCP results, MCP messages being read from backends); bounded by listen.maxAnswerBytesInFlight.',
      registers: [this.registry],
      collect() {
        this.set(answerBytes());
      },
    });
    const usage = () => this.usageState();
    new Gauge({
      name: 'airlock_sandbox_spend_usd',
      help: "The sandbox's spend today (UTC) in USD, across all its pods as far as this sidecar knows.",
      labelNames: ['sandbox'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const u = usage();
        if (u) this.set({ sandbox: u.sandbox }, u.spentTodayUSD);
      },
    });
    new Gauge({
      name: 'airlock_sandbox_budget_remaining_usd',
      help: "What is left of the sandbox's daily budget in USD (absent without a budget).",
      labelNames: ['sandbox'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const u = usage();
        if (u?.dailyBudgetUSD !== undefined) this.set({ sandbox: u.sandbox }, Math.max(0, u.dailyBudgetUSD - u.spentTodayUSD));
      },
    });
  }

  /** Where the breaker and key gauges read from at scrape time (the live runtime's providers). */
  watchProviders(source: () => readonly ProviderState[]): void {
    this.providerStates = source;
  }

  /** Where the MCP backend gauge reads from at scrape time (the gateway's backends). */
  watchMcpBackends(source: () => readonly McpBackendState[]): void {
    this.mcpBackendStates = source;
  }

  /** Where the dropped-log-lines counter reads from at scrape time (the sidecar logger's counts). */
  watchLog(source: () => LogDrops): void {
    this.logDrops = source;
  }

  /** Where the answer bytes gauge reads from at scrape time (the sidecar's answer budget, upstream/answer-budget.ts). */
  watchAnswers(source: () => number): void {
    this.answerBytes = source;
  }

  /** Where the sandbox spend gauges read from at scrape time. */
  watchUsage(source: () => UsageState | undefined): void {
    this.usageState = source;
  }
}
