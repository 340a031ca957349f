/**
 * One backend: a long-lived MCP client shared by every session, and the state machine that
 * keeps it connected.
 *
 *   stopped ──start──▶ connecting ──initialised + listed──▶ ready
 *                          ▲                                  │ closed, ping failed
 *                          └──── backoff timer ◀── failed ◀───┘ (or connect failed)
 *
 * While ready, a health check pings the backend and notices rotated secret files. Anything that
 * goes wrong only moves this backend to `failed`; the gateway drops its tools from the lists
 * until it is ready again.
 */
import type { Logger } from 'pino';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolResultSchema,
  CompleteResultSchema,
  ErrorCode,
  GetPromptResultSchema,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ReadResourceResultSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { CallToolRequest, CompleteRequest, GetPromptRequest, Implementation, ReadResourceRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpBackendConfig } from '../config/index.js';
import { GatewayError, GatewayErrorCode, backendError, bareMessage } from './errors.js';
import { backoffDelay, type BackendTuning } from './backoff.js';
import { fetchCatalog, fetchList, type BackendCatalog, type ListKind } from './listing.js';
import { fingerprint, redactor } from './secrets.js';
import { openClient, resolveSecrets, type ActiveTransport, type ConnectionSecrets, type OpenedClient } from './transports.js';

/** Where a backend is in its lifecycle. */
export type BackendState = 'connecting' | 'ready' | 'failed' | 'stopped';

/** A backend's state as the admin view shows it. */
export interface BackendStatus {
  name: string;
  prefix: string;
  transport: McpBackendConfig['transport'];
  /** The transport in use: `sse` when streamable-http fell back. */
  activeTransport?: ActiveTransport | undefined;
  state: BackendState;
  /** When the backend entered its state (ISO 8601). */
  since: string;
  /** Consecutive failed attempts. */
  failures: number;
  lastError?: string | undefined;
  nextRetryAt?: string | undefined;
  pid?: number | undefined;
  server?: Implementation | undefined;
}

/** Per-request options passed through from the client's request. */
export interface ForwardOptions {
  signal?: AbortSignal | undefined;
  onprogress?: RequestOptions['onprogress'];
}

/** Where secret values are registered so the process-wide logger scrubs them too. */
export interface SecretSink {
  set(owner: string, values: Iterable<string>): void;
}

/** What a backend needs from the gateway. */
export interface BackendDeps {
  logger: Logger;
  tuning: BackendTuning;
  /** Called whenever the state or the catalog changed. */
  onChange: (backend: Backend) => void;
  secrets?: SecretSink | undefined;
}

/** One configured backend: its shared client, catalog and connection state machine. */
export class Backend {
  private generation = 0;
  private current: BackendState = 'stopped';
  private since = new Date();
  private opened: OpenedClient | undefined;
  private catalogNow: BackendCatalog | undefined;
  private catalogLast: BackendCatalog | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private nextRetryAt: number | undefined;
  private readySince: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private secretsFingerprint: string | undefined;
  private redact: (text: string) => string = (text) => text;
  private currentSecrets: string[] = [];
  /** Lists being re-read, with the connection generation that reads them. */
  private readonly refreshing = new Map<ListKind, number>();
  private readonly dirty = new Set<ListKind>();
  private settleFirstAttempt: () => void = () => undefined;
  /** Resolves once the first connection attempt succeeded or failed. */
  readonly firstAttempt: Promise<void>;
  private readonly logger: Logger;

  private readonly tuning: BackendTuning;
  private readonly onChange: (backend: Backend) => void;
  private readonly secrets: SecretSink | undefined;

  constructor(
    private cfg: McpBackendConfig,
    deps: BackendDeps,
  ) {
    this.logger = deps.logger.child({ backend: cfg.name });
    this.tuning = deps.tuning;
    this.onChange = deps.onChange;
    this.secrets = deps.secrets;
    this.firstAttempt = new Promise((resolve) => (this.settleFirstAttempt = resolve));
  }

  get name(): string {
    return this.cfg.name;
  }

  get config(): McpBackendConfig {
    return this.cfg;
  }

  get state(): BackendState {
    return this.current;
  }

  /** The catalog while ready, else undefined. */
  get catalog(): BackendCatalog | undefined {
    return this.catalogNow;
  }

  /** The most recent catalog, kept while the backend is down (for the admin view). */
  get lastCatalog(): BackendCatalog | undefined {
    return this.catalogLast;
  }

  /** Replaces settings that need no reconnect (prefix, filters, approval, call timeout). */
  updatePolicy(config: McpBackendConfig): void {
    this.cfg = config;
  }

  /** Starts connecting; a started backend keeps reconnecting until stopped. */
  start(): void {
    if (this.current !== 'stopped') return;
    void this.connect();
  }

  /** Stops for good: closes the client (ending a stdio child) and cancels timers. */
  async stop(): Promise<void> {
    this.generation++;
    this.clearTimers();
    const opened = this.opened;
    this.opened = undefined;
    this.catalogNow = undefined;
    this.nextRetryAt = undefined;
    this.setState('stopped');
    this.secrets?.set(this.secretOwner, []);
    this.settleFirstAttempt();
    await opened?.client.close().catch(() => undefined);
  }

  /** The state for the admin view. */
  status(): BackendStatus {
    return {
      name: this.cfg.name,
      prefix: this.cfg.prefix,
      transport: this.cfg.transport,
      activeTransport: this.opened?.active,
      state: this.current,
      since: this.since.toISOString(),
      failures: this.failures,
      lastError: this.lastError,
      nextRetryAt: this.nextRetryAt === undefined ? undefined : new Date(this.nextRetryAt).toISOString(),
      pid: this.opened?.pid,
      server: this.opened?.client.getServerVersion(),
    };
  }

  /** A sentence on why the backend cannot serve requests now, for error messages. */
  unavailableReason(): string {
    const parts = [`backend ${JSON.stringify(this.cfg.name)} is ${this.current}`];
    if (this.lastError) parts.push(`last error: ${this.lastError}`);
    if (this.nextRetryAt !== undefined) parts.push(`next attempt in ${Math.max(0, Math.ceil((this.nextRetryAt - Date.now()) / 1000))} s`);
    return parts.join('; ');
  }

  /** Whether the backend announced a capability. */
  supports(capability: 'completions' | 'resources' | 'prompts' | 'tools'): boolean {
    return Boolean(this.opened?.client.getServerCapabilities()?.[capability]);
  }

  /** tools/call with the backend's own tool name; fails with a {@link GatewayError} naming the backend. */
  callTool(params: CallToolRequest['params'], options: ForwardOptions) {
    return this.forward(`tools/call ${JSON.stringify(params.name)}`, (client, o) => client.request({ method: 'tools/call', params }, CallToolResultSchema, o), options);
  }

  /** resources/read with the backend's own URI. */
  readResource(params: ReadResourceRequest['params'], options: ForwardOptions) {
    return this.forward(`resources/read ${JSON.stringify(params.uri)}`, (client, o) => client.request({ method: 'resources/read', params }, ReadResourceResultSchema, o), options);
  }

  /** prompts/get with the backend's own prompt name. */
  getPrompt(params: GetPromptRequest['params'], options: ForwardOptions) {
    return this.forward(`prompts/get ${JSON.stringify(params.name)}`, (client, o) => client.request({ method: 'prompts/get', params }, GetPromptResultSchema, o), options);
  }

  /** completion/complete with the backend's own reference. */
  complete(params: CompleteRequest['params'], options: ForwardOptions) {
    return this.forward('completion/complete', (client, o) => client.request({ method: 'completion/complete', params }, CompleteResultSchema, o), options);
  }

  /** Sends one request to the backend with its call timeout, translating failures into errors that name it. */
  private async forward<T>(what: string, send: (client: Client, options: RequestOptions) => Promise<T>, options: ForwardOptions): Promise<T> {
    const opened = this.opened;
    if (this.current !== 'ready' || !opened) throw new GatewayError(GatewayErrorCode.BackendUnavailable, this.unavailableReason(), { backend: this.name, state: this.current });
    const timeoutMs = this.cfg.timeouts.callMs;
    try {
      return await send(opened.client, { timeout: timeoutMs, signal: options.signal, onprogress: options.onprogress });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw backendError(err, { backend: this.name, what, timeoutMs, redact: this.redact });
    }
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.clearTimers();
    this.nextRetryAt = undefined;
    this.setState('connecting');
    let opened: OpenedClient | undefined;
    try {
      const secrets = await resolveSecrets(this.cfg);
      this.useSecrets(secrets);
      const timeoutMs = this.cfg.timeouts.connectMs;
      opened = await openClient(this.cfg, secrets, {
        timeoutMs,
        prepare: (client) => this.prepare(client, generation),
        onStderr: (line) => this.logger.info({ stream: 'stderr' }, this.redact(line)),
      });
      const catalog = await fetchCatalog(opened.client, timeoutMs);
      if (generation !== this.generation) {
        await opened.client.close().catch(() => undefined);
        return;
      }
      this.opened = opened;
      this.catalogNow = catalog;
      this.catalogLast = catalog;
      this.readySince = Date.now();
      this.lastError = undefined;
      this.logger.info(
        { transport: opened.active, pid: opened.pid, tools: catalog.tools.length, resources: catalog.resources.length, prompts: catalog.prompts.length },
        'MCP backend ready',
      );
      this.setState('ready');
      this.scheduleHealthCheck(generation);
      for (const kind of [...this.dirty]) this.refresh(generation, opened.client, kind);
    } catch (err) {
      if (generation !== this.generation) {
        await opened?.client.close().catch(() => undefined);
        return;
      }
      await opened?.client.close().catch(() => undefined);
      this.fail(generation, err);
    } finally {
      this.settleFirstAttempt();
    }
  }

  private get secretOwner(): string {
    return `mcp-backend:${this.cfg.name}`;
  }

  private useSecrets(secrets: ConnectionSecrets): void {
    // Keep scrubbing the previous values too: a process being replaced may still print them.
    const scrubbed = [...new Set([...secrets.secrets, ...this.currentSecrets])];
    this.currentSecrets = secrets.secrets;
    this.secrets?.set(this.secretOwner, scrubbed);
    this.redact = redactor(scrubbed);
    this.secretsFingerprint = secretsFingerprint(secrets);
  }

  /** Handlers installed on each new client before it connects. */
  private prepare(client: Client, generation: number): void {
    client.onclose = () => {
      if (generation === this.generation && this.opened?.client === client) this.fail(generation, new Error('connection closed'));
    };
    client.onerror = (err) => this.logger.debug({ err: this.redact(err.message) }, 'MCP backend transport error');
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.refresh(generation, client, 'tools'));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => this.refresh(generation, client, 'resources'));
    client.setNotificationHandler(PromptListChangedNotificationSchema, () => this.refresh(generation, client, 'prompts'));
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      this.logger.debug({ level: n.params.level, from: n.params.logger, data: this.redact(JSON.stringify(n.params.data) ?? '') }, 'MCP backend log message');
    });
    client.fallbackNotificationHandler = async (n) => this.logger.debug({ method: n.method }, 'MCP backend notification ignored');
  }

  /** Re-reads one list after the backend announced a change; coalesces bursts of announcements. */
  private refresh(generation: number, client: Client, kind: ListKind): void {
    if (generation !== this.generation) return;
    this.dirty.add(kind);
    if (this.opened?.client !== client || this.refreshing.get(kind) === generation) return;
    this.refreshing.set(kind, generation);
    const run = async () => {
      while (this.dirty.delete(kind)) {
        const part = await fetchList(client, kind, this.cfg.timeouts.connectMs);
        if (generation !== this.generation || this.opened?.client !== client || !this.catalogNow) return;
        this.catalogNow = { ...this.catalogNow, ...part };
        this.catalogLast = this.catalogNow;
        this.logger.debug({ list: kind }, 'MCP backend list changed');
        this.onChange(this);
      }
    };
    run()
      .catch((err: unknown) => this.logger.warn({ list: kind, err: this.redact(bareMessage(err)) }, 'MCP backend list refresh failed; keeping the previous list'))
      .finally(() => {
        if (this.refreshing.get(kind) === generation) this.refreshing.delete(kind);
      });
  }

  private scheduleHealthCheck(generation: number): void {
    this.healthTimer = setTimeout(() => void this.healthCheck(generation), this.tuning.healthIntervalMs);
    this.healthTimer.unref();
  }

  private async healthCheck(generation: number): Promise<void> {
    const opened = this.opened;
    if (generation !== this.generation || this.current !== 'ready' || !opened) return;
    try {
      await opened.client.ping({ timeout: Math.min(this.cfg.timeouts.connectMs, this.tuning.healthIntervalMs) });
    } catch (err) {
      // A server without ping still answered, so it is alive.
      if (!(err instanceof McpError && err.code === ErrorCode.MethodNotFound)) {
        if (generation === this.generation) this.fail(generation, new Error(`health check failed: ${bareMessage(err)}`));
        return;
      }
    }
    try {
      const secrets = await resolveSecrets(this.cfg);
      if (generation === this.generation && secretsFingerprint(secrets) !== this.secretsFingerprint) {
        this.logger.info('MCP backend secret files changed; reconnecting');
        void opened.client.close().catch(() => undefined);
        this.opened = undefined;
        this.catalogNow = undefined;
        void this.connect();
        return;
      }
    } catch (err) {
      this.logger.warn({ err: bareMessage(err) }, 'MCP backend secret files unreadable; keeping the current connection');
    }
    if (generation === this.generation) this.scheduleHealthCheck(generation);
  }

  private fail(generation: number, err: unknown): void {
    if (generation !== this.generation || this.current === 'stopped') return;
    const opened = this.opened;
    this.opened = undefined;
    this.catalogNow = undefined;
    this.clearTimers();
    if (this.readySince !== undefined && Date.now() - this.readySince >= this.tuning.stableAfterMs) this.failures = 0;
    this.readySince = undefined;
    this.failures++;
    const delay = backoffDelay(this.failures, this.tuning);
    this.nextRetryAt = Date.now() + delay;
    this.lastError = this.redact(bareMessage(err));
    this.logger.warn({ err: this.lastError, failures: this.failures, retryInMs: delay }, 'MCP backend failed');
    this.setState('failed');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (generation === this.generation) void this.connect();
    }, delay);
    this.retryTimer.unref();
    void opened?.client.close().catch(() => undefined);
  }

  private setState(state: BackendState): void {
    const changed = state !== this.current;
    this.current = state;
    this.since = new Date();
    if (changed) this.onChange(this);
  }

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.healthTimer);
    this.retryTimer = undefined;
    this.healthTimer = undefined;
  }
}

function secretsFingerprint(secrets: ConnectionSecrets): string {
  return fingerprint({ ...prefixKeys('header:', secrets.headers), ...prefixKeys('env:', secrets.env) });
}

function prefixKeys(prefix: string, values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [prefix + k, v]));
}
