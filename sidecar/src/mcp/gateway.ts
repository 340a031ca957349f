/**
 * The MCP gateway: the sandbox's MCP backends behind one Streamable HTTP endpoint. The app
 * mounts {@link McpGateway.handle} on `/mcp`, serves {@link McpGateway.view} on the admin port,
 * reports {@link McpGateway.ready} in /readyz and applies config reloads with
 * {@link McpGateway.reload}.
 */
import type { AnswerBudget } from '../upstream/answer-budget.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import canonicalize from 'canonicalize';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import type { McpBackendConfig, SidecarConfig } from '../config/index.js';
import { aggregate, type Aggregate } from './aggregate.js';
import type { BuiltinResource, BuiltinTool } from './builtin-tools.js';
import type { CounterMetric, HistogramMetric } from '../telemetry/cells.js';
import { Backend, type BackendStatus, type SecretSink } from './backend.js';
import { DEFAULT_BACKEND_TUNING, type BackendTuning } from './backoff.js';
import type { ToolApprovalState } from './pinning.js';
import { ToolIndex, type SearchHit } from './search.js';
import type { ToolCallRecord } from './routing.js';
import { createSessionServer, type SessionContext } from './session-server.js';
import { SessionRegistry, type ListChange, type SessionLimits } from './sessions.js';
import type { DownstreamSession } from './upstream.js';

/** Timing and size knobs; defaults suit production, tests shorten them. */
export interface GatewayTuning extends BackendTuning, Omit<SessionLimits, 'maxBodyBytes'> {
  /** Changes within this window reach clients as one list_changed per list. */
  notifyDebounceMs: number;
  /** Most entries in one page of tools/list, resources/list, resources/templates/list and prompts/list. */
  listPageSize: number;
}

/** The gateway's Prometheus metrics (telemetry/metrics.ts names them; the backend state gauge reads {@link McpGateway.view}). */
export interface McpMetrics {
  mcpToolCalls: CounterMetric<'backend' | 'tool' | 'result'>;
  mcpToolDuration: HistogramMetric<'backend' | 'tool'>;
  mcpListRereadsHeld: CounterMetric<'backend' | 'list'>;
}

/** The metrics label of a call's outcome: refusals by the gate and timeouts have their own. */
function resultLabel(record: ToolCallRecord): string {
  if (record.outcome !== 'error') return record.outcome;
  if (record.code === ErrorCode.InvalidParams) return 'denied';
  if (record.code === ErrorCode.RequestTimeout) return 'timeout';
  return 'error';
}

/** Production defaults of {@link GatewayTuning}. */
export const DEFAULT_GATEWAY_TUNING: GatewayTuning = {
  ...DEFAULT_BACKEND_TUNING,
  maxSessions: 256,
  idleMs: 24 * 60 * 60 * 1000,
  notifyDebounceMs: 25,
  listPageSize: 500,
};

/** The tuning of `config`: defaults, then the config's mcp.health, then what the caller (a test) sets. */
function tuningOf(config: SidecarConfig, overrides: Partial<GatewayTuning> | undefined): GatewayTuning {
  const { intervalMs, backoffBaseMs, backoffMaxMs } = config.mcp.health;
  return { ...DEFAULT_GATEWAY_TUNING, healthIntervalMs: intervalMs, backoffBaseMs, backoffMaxMs, ...overrides };
}

/** Options of {@link createMcpGateway}. */
export interface McpGatewayOptions {
  config: SidecarConfig;
  logger: Logger;
  tuning?: Partial<GatewayTuning> | undefined;
  /** The process-wide secret registry: backend secret values are added so no log line shows them. */
  secrets?: SecretSink | undefined;
  metrics?: McpMetrics | undefined;
  /** The sidecar's own tools, served as `airlock__<name>` through the same filters, search and audit as backend tools. */
  builtins?: readonly BuiltinTool[] | undefined;
  /** The sidecar's own resources, listed and read as `airlock+airlock:<uri>`. */
  builtinResources?: readonly BuiltinResource[] | undefined;
  /**
   * The stdio host's socket (`AIRLOCK_STDIO_HOST`): stdio servers start in the pod's
   * airlock-tools container, away from the sidecar's keys. Unset, they start as children of this
   * process, which is for running the sidecar outside a pod only.
   */
  stdioHost?: string | undefined;
  /** The sidecar's bound on answers its clients have not read: the results `/mcp` sends count against it (sessions.ts). */
  answers?: AnswerBudget | undefined;
}

/** What the admin view shows of every tool, prompt, resource and template. */
interface EntryView {
  backend: string;
  sha256: string;
  state: ToolApprovalState;
  /** Whether its backend is ready (entries of down backends are kept with their last definition). */
  available: boolean;
  reason?: string | undefined;
}

/** One tool in the admin view. */
export interface ToolView extends EntryView {
  /** The name clients call: `<prefix>__<tool>` (empty when the tool could not be named). */
  prefixedName: string;
  /** The name the backend uses, which pins refer to. */
  name: string;
}

/** One prompt, resource or resource template in the admin view; `name` is what pins refer to (the URI for resources). */
export interface DefinitionView extends EntryView {
  kind: 'prompt' | 'resource' | 'resourceTemplate';
  name: string;
}

/** The admin view of the gateway. */
export interface McpGatewayView {
  ready: boolean;
  lazy: boolean;
  sessions: number;
  backends: (BackendStatus & { counts: { tools: number; resources: number; resourceTemplates: number; prompts: number } })[];
  tools: ToolView[];
  /** Prompts, resources and resource templates with their hashes and states. */
  definitions: DefinitionView[];
}

/** The MCP gateway the sidecar app mounts. */
export interface McpGateway {
  /** Serves one request to `/mcp` (POST, GET or DELETE). Call it after hijacking the reply; pass the parsed JSON body when the framework already read it. */
  handle(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void>;
  /** Applies a new config: restarts only backends whose connection settings changed; sessions stay. */
  reload(config: SidecarConfig): Promise<void>;
  /** JSON for the admin port: every backend with its state, every tool with its hash and approval state. */
  view(): McpGatewayView;
  /** True once every backend has made its first connection attempt (successful or not), until close. */
  ready(): boolean;
  /** Ends every session and stops every backend. */
  close(): Promise<void>;
}

/** Creates the gateway and starts connecting to the configured backends. */
export function createMcpGateway(options: McpGatewayOptions): McpGateway {
  return new Gateway(options);
}

function entryView(e: EntryView): EntryView {
  return { backend: e.backend, sha256: e.sha256, state: e.state, available: e.available, ...(e.reason ? { reason: e.reason } : {}) };
}

/** The settings whose change needs a new connection; the rest apply in place. */
function connectionKey(config: McpBackendConfig): string {
  const { transport, url, headers, stdio, timeouts } = config;
  return canonicalize({ transport, url, headers, stdio, connectMs: timeouts.connectMs }) ?? '';
}

class Gateway implements McpGateway, SessionContext {
  private config: SidecarConfig;
  private readonly logger: Logger;
  private readonly tuning: GatewayTuning;
  private readonly tuningOverrides: Partial<GatewayTuning> | undefined;
  private readonly secrets: SecretSink | undefined;
  private readonly builtins: readonly BuiltinTool[];
  private readonly builtinResources: readonly BuiltinResource[];
  private readonly metrics: McpMetrics | undefined;
  private readonly stdioHost: string | undefined;
  private readonly answers: AnswerBudget | undefined;
  private readonly downstream = new Set<DownstreamSession>();
  private backends = new Map<string, Backend>();
  private current: Aggregate | undefined;
  private readonly index = new ToolIndex();
  private readonly sessions: SessionRegistry;
  private readonly notified: Record<ListChange, string>;
  private notifyTimer: NodeJS.Timeout | undefined;
  private initialised = false;
  private closed = false;

  constructor(options: McpGatewayOptions) {
    this.config = options.config;
    // `module`, not `component`: pino writes a child's key beside the base's, and a JSON line with
    // the same key twice is refused by Elasticsearch.
    this.logger = options.logger.child({ module: 'mcp' });
    this.tuningOverrides = options.tuning;
    this.tuning = tuningOf(options.config, options.tuning);
    this.secrets = options.secrets;
    this.builtins = options.builtins ?? [];
    this.builtinResources = options.builtinResources ?? [];
    this.metrics = options.metrics;
    this.stdioHost = options.stdioHost;
    this.answers = options.answers;
    this.sessions = new SessionRegistry(
      () => createSessionServer(this),
      this.logger,
      {
        maxSessions: this.tuning.maxSessions,
        idleMs: this.tuning.idleMs,
        maxBodyBytes: options.config.listen.maxBodyBytes,
      },
      this.answers,
    );
    const initial = this.aggregate();
    this.notified = { tools: this.visibleToolsFingerprint(initial), resources: initial.fingerprints.resources, prompts: initial.fingerprints.prompts };
    for (const backendConfig of this.config.mcp.backends) this.startBackend(backendConfig);
    void Promise.all([...this.backends.values()].map((b) => b.firstAttempt)).then(() => {
      this.initialised = true;
      this.logger.info({ backends: this.backends.size, ready: [...this.backends.values()].filter((b) => b.state === 'ready').length }, 'MCP gateway initialised');
    });
  }

  handle(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void> {
    return this.sessions.handle(req, res, parsedBody);
  }

  async reload(config: SidecarConfig): Promise<void> {
    if (this.closed) return;
    const previous = this.backends;
    const stopping: Promise<void>[] = [];
    this.backends = new Map();
    for (const backendConfig of config.mcp.backends) {
      const existing = previous.get(backendConfig.name);
      previous.delete(backendConfig.name);
      if (existing && connectionKey(existing.config) === connectionKey(backendConfig)) {
        existing.updatePolicy(backendConfig);
        this.backends.set(backendConfig.name, existing);
        continue;
      }
      if (existing) {
        this.logger.info({ backend: backendConfig.name }, 'MCP backend connection settings changed; restarting it');
        stopping.push(existing.stop());
      }
      this.startBackend(backendConfig);
    }
    for (const removed of previous.values()) {
      this.logger.info({ backend: removed.name }, 'MCP backend removed from config; stopping it');
      stopping.push(removed.stop());
    }
    // Backends hold this object: new health and backoff settings apply from their next check or retry.
    Object.assign(this.tuning, tuningOf(config, this.tuningOverrides));
    this.config = config;
    this.changed();
    await Promise.all(stopping);
  }

  view(): McpGatewayView {
    const agg = this.aggregate();
    return {
      ready: this.ready(),
      lazy: this.lazy(),
      sessions: this.sessions.size,
      backends: [...this.backends.values()].map((b) => {
        const c = b.lastCatalog;
        const counts = { tools: c?.tools.length ?? 0, resources: c?.resources.length ?? 0, resourceTemplates: c?.resourceTemplates.length ?? 0, prompts: c?.prompts.length ?? 0 };
        return { ...b.status(), counts };
      }),
      tools: agg.tools.map((e) => ({ prefixedName: e.prefixedName, name: e.name, ...entryView(e) })),
      definitions: [
        ...[...agg.promptsByName.values()].map((e) => ({ kind: 'prompt' as const, name: e.name, ...entryView(e) })),
        ...agg.resourceEntries.map((e) => ({ kind: e.kind, name: e.key, ...entryView(e) })),
      ],
    };
  }

  ready(): boolean {
    return this.initialised && !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.notifyTimer);
    await this.sessions.closeAll();
    await Promise.all([...this.backends.values()].map((b) => b.stop()));
    this.logger.info('MCP gateway closed');
  }

  // SessionContext

  aggregate(): Aggregate {
    this.current ??= aggregate(
      [...this.backends.values()].map((b) => ({ config: b.config, catalog: b.lastCatalog, available: b.state === 'ready' })),
      this.config.mcp.tools,
      this.builtins.filter((b) => b.enabled?.(this.config) ?? true).map((b) => b.definition),
      this.builtinResources.filter((r) => r.enabled?.(this.config) ?? true).map((r) => r.definition),
    );
    return this.current;
  }

  builtinResource(uri: string): BuiltinResource | undefined {
    return this.builtinResources.find((r) => r.definition.uri === uri && (r.enabled?.(this.config) ?? true));
  }

  backend(name: string): Backend | undefined {
    return this.backends.get(name);
  }

  builtin(name: string): BuiltinTool | undefined {
    return this.builtins.find((b) => b.definition.name === name);
  }

  allBackends(): Iterable<Backend> {
    return this.backends.values();
  }

  pageSize(): number {
    return this.tuning.listPageSize;
  }

  sessionOpened(session: DownstreamSession): void {
    this.downstream.add(session);
  }

  sessionClosed(session: DownstreamSession): void {
    this.downstream.delete(session);
    // Its upstream sessions end with it (a DELETE to HTTP backends, the process of per-session stdio).
    if (session.id) for (const backend of this.backends.values()) void backend.endSession(session.id);
  }

  toolCalled(record: ToolCallRecord): void {
    this.logger.info({ audit: 'mcp_tool_call', ...record }, 'MCP tool call');
    this.metrics?.mcpToolCalls.inc({ backend: record.backend, tool: record.tool, result: resultLabel(record) });
    this.metrics?.mcpToolDuration.observe({ backend: record.backend, tool: record.tool }, record.durationMs / 1000);
  }

  lazy(): boolean {
    return this.config.mcp.tools.lazy;
  }

  search(query: string, limit: number): SearchHit[] {
    const agg = this.aggregate();
    return this.index.search(agg.listedTools, agg.fingerprints.tools, query, limit);
  }

  private startBackend(config: McpBackendConfig): void {
    const backend = new Backend(config, {
      logger: this.logger,
      tuning: this.tuning,
      secrets: this.secrets,
      sessions: () => this.downstream,
      exposed: () => this.aggregate().exposedBackends.has(config.name),
      stdioHost: this.stdioHost,
      answers: this.answers,
      rereadsHeld: this.metrics?.mcpListRereadsHeld,
      onChange: (b) => {
        if (this.backends.get(b.name) === b) this.changed();
      },
    });
    this.backends.set(config.name, backend);
    backend.start();
  }

  /** Drops the cached aggregate and schedules list_changed for the lists that now differ. */
  private changed(): void {
    this.current = undefined;
    if (this.notifyTimer || this.closed) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = undefined;
      const agg = this.aggregate();
      const now: Record<ListChange, string> = { tools: this.visibleToolsFingerprint(agg), resources: agg.fingerprints.resources, prompts: agg.fingerprints.prompts };
      for (const kind of ['tools', 'resources', 'prompts'] as const) {
        if (now[kind] === this.notified[kind]) continue;
        this.notified[kind] = now[kind];
        this.logger.debug({ list: kind, sessions: this.sessions.size }, 'MCP list changed; notifying sessions');
        this.sessions.notify(kind);
      }
    }, this.tuning.notifyDebounceMs);
    this.notifyTimer.unref();
  }

  private visibleToolsFingerprint(agg: Aggregate): string {
    return this.lazy() ? 'lazy' : agg.fingerprints.tools;
  }
}
