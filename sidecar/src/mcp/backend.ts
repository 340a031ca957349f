/**
 * One backend: the gateway's own long-lived MCP client (catalog, health, list changes), the
 * clients of the downstream sessions, and the state machine that keeps it connected.
 *
 *   stopped ──start──▶ connecting ──initialised + listed──▶ ready
 *                          ▲                                  │ closed, ping failed
 *                          └──── backoff timer ◀── failed ◀───┘ (or connect failed)
 *
 * While ready, a health check pings the backend and notices rotated secret files; a transport
 * error pings at once, and an error that means the backend lost our session (see
 * `sessionLost`) re-initialises at once. Anything that goes wrong only moves this backend to
 * `failed`; the gateway drops its tools from the lists until it is ready again.
 *
 * Sessions: an HTTP backend (streamable-http or sse) gets one upstream session per downstream
 * session, opened on the session's first request and closed with it, so one client's state on
 * the backend is never another's. A stdio backend runs one process shared by every session,
 * unless `stdio.processes` is `per-session` (then one process per session, at most
 * `stdio.maxProcesses`).
 */
import type { Logger } from 'pino';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolResultSchema,
  CompleteResultSchema,
  EmptyResultSchema,
  ErrorCode,
  GetPromptResultSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ReadResourceResultSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { CallToolRequest, CompleteRequest, GetPromptRequest, LoggingLevel, ReadResourceRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpBackendConfig } from '../config/index.js';
import { GatewayError, GatewayErrorCode, backendError, bareMessage } from './errors.js';
import { backoffDelay, type BackendTuning } from './backoff.js';
import { fetchCatalog, fetchList, type BackendCatalog, type ListKind } from './listing.js';
import { redactor } from '../log/redact.js';
import { fingerprint } from './secrets.js';
import { closeClient } from './client.js';
import { openClient, resolveSecrets, sessionLost, type ActiveTransport, type ConnectionSecrets, type OpenedClient } from './transports.js';
import { installPassThrough, type DownstreamSession, type UpstreamRoute } from './upstream.js';
import type { BackendDeps, BackendState, BackendStatus, ForwardOptions, SecretSink } from './backend-types.js';

export type { BackendDeps, BackendState, BackendStatus, ForwardOptions, SecretSink } from './backend-types.js';
import { UpstreamPool, type Upstream } from './upstream-pool.js';

/** One configured backend: its shared client, catalog and connection state machine. */
export class Backend {
  private generation = 0;
  private current: BackendState = 'stopped';
  private since = new Date();
  private primary: Upstream | undefined;
  /** Upstream sessions of downstream sessions. */
  private readonly pool: UpstreamPool;
  private readonly stateWaiters = new Set<() => void>();
  private probing = false;
  private attemptStartedAt = 0;
  private catalogNow: BackendCatalog | undefined;
  private catalogLast: BackendCatalog | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private nextRetryAt: number | undefined;
  private readySince: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private secretsFingerprint: string | undefined;
  private scrub: (text: string) => string = (text) => text;
  private currentSecrets: string[] = [];
  /** Lists being re-read, with the connection generation that reads them. */
  private readonly refreshing = new Map<ListKind, number>();
  private readonly dirty = new Set<ListKind>();
  private settleFirstAttempt: () => void = () => undefined;
  /** Resolves once the first connection attempt succeeded or failed. */
  readonly firstAttempt: Promise<void>;
  readonly logger: Logger;

  private readonly tuning: BackendTuning;
  private readonly onChange: (backend: Backend) => void;
  private readonly secrets: SecretSink | undefined;
  readonly sessions: () => Iterable<DownstreamSession>;

  constructor(
    private cfg: McpBackendConfig,
    deps: BackendDeps,
  ) {
    this.logger = deps.logger.child({ backend: cfg.name });
    this.tuning = deps.tuning;
    this.onChange = deps.onChange;
    this.secrets = deps.secrets;
    this.sessions = deps.sessions;
    this.pool = new UpstreamPool(this);
    this.firstAttempt = new Promise((resolve) => (this.settleFirstAttempt = resolve));
  }

  /** Replaces the backend's secret values in a text that came from it. */
  redact(text: string): string {
    return this.scrub(text);
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
  /** Stops for good: closes every client (ending stdio children) and cancels timers. */
  async stop(): Promise<void> {
    this.generation++;
    this.clearTimers();
    const primary = this.primary;
    this.primary = undefined;
    this.catalogNow = undefined;
    this.nextRetryAt = undefined;
    this.setState('stopped');
    this.secrets?.set(this.secretOwner, []);
    this.settleFirstAttempt();
    await Promise.all([this.pool.closeAll(), primary ? closeClient(primary.opened.client, primary.opened.transport) : undefined]);
  }

  /** Closes the upstream session of a downstream session that ended. */
  endSession(id: string): Promise<void> {
    return this.pool.end(id);
  }

  /** The state for the admin view. */
  status(): BackendStatus {
    const opened = this.primary?.opened;
    return {
      name: this.cfg.name,
      prefix: this.cfg.prefix,
      transport: this.cfg.transport,
      activeTransport: opened?.active,
      state: this.current,
      since: this.since.toISOString(),
      failures: this.failures,
      lastError: this.lastError,
      nextRetryAt: this.nextRetryAt === undefined ? undefined : new Date(this.nextRetryAt).toISOString(),
      pid: opened?.pid,
      server: opened?.client.getServerVersion(),
      sessions: this.pool.size,
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
  supports(capability: 'completions' | 'resources' | 'prompts' | 'tools' | 'logging'): boolean {
    return Boolean(this.primary?.opened.client.getServerCapabilities()?.[capability]);
  }

  /** The backend's resources capability (whether it takes subscriptions). */
  resourceCapabilities(): { subscribe?: boolean | undefined } | undefined {
    return this.primary?.opened.client.getServerCapabilities()?.resources;
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

  /** resources/subscribe or resources/unsubscribe with the backend's own URI. */
  subscription(method: 'resources/subscribe' | 'resources/unsubscribe', uri: string, options: ForwardOptions) {
    return this.forward(`${method} ${JSON.stringify(uri)}`, (client, o) => client.request({ method, params: { uri } }, EmptyResultSchema, o), options);
  }

  /** logging/setLevel on the session's upstream session (a shared stdio process gets the latest level). */
  setLogLevel(level: LoggingLevel, options: ForwardOptions) {
    return this.forward('logging/setLevel', (client, o) => client.request({ method: 'logging/setLevel', params: { level } }, EmptyResultSchema, o), options);
  }

  /** Tells the session's upstream session that the client's roots changed. */
  async rootsChanged(session: DownstreamSession): Promise<void> {
    const upstream = this.perSession() ? await this.pool.existing(session.id) : this.primary;
    await upstream?.opened.client.sendRootsListChanged().catch(() => undefined);
  }

  /**
   * Sends one request to the backend with its call timeout, on the upstream session of the
   * request's downstream session, translating failures into errors that name the backend. A
   * request the backend refused because it lost the session (so it never ran) is sent once
   * more on a re-initialised session.
   */
  private async forward<T>(what: string, send: (client: Client, options: RequestOptions) => Promise<T>, options: ForwardOptions): Promise<T> {
    const timeoutMs = this.cfg.timeouts.callMs;
    const arrived = Date.now();
    for (let attempt = 0; ; attempt++) {
      await this.readyFor(arrived);
      if (this.current !== 'ready' || !this.primary) throw new GatewayError(GatewayErrorCode.BackendUnavailable, this.unavailableReason(), { backend: this.name, state: this.current });
      const upstream = await this.upstreamFor(options.session, what);
      const entry = options.session && options.requestId !== undefined ? { session: options.session, requestId: options.requestId } : undefined;
      if (entry) upstream.route.inFlight.push(entry);
      try {
        return await send(upstream.opened.client, { timeout: timeoutMs, signal: options.signal, onprogress: options.onprogress });
      } catch (err) {
        if (options.signal?.aborted) throw err;
        if (sessionLost(err, upstream.opened.active)) {
          this.lost(upstream, err);
          if (attempt === 0) {
            await this.settled(this.cfg.timeouts.connectMs);
            continue;
          }
        }
        throw backendError(err, { backend: this.name, what, timeoutMs, redact: (t) => this.redact(t) });
      } finally {
        if (entry) upstream.route.inFlight.splice(upstream.route.inFlight.indexOf(entry), 1);
      }
    }
  }

  private perSession(): boolean {
    return this.cfg.transport !== 'stdio' || this.cfg.stdio?.processes === 'per-session';
  }

  /** The upstream session serving `session`: its own (opened now if need be) or the shared one. */
  private upstreamFor(session: DownstreamSession | undefined, what: string): Promise<Upstream> | Upstream {
    if (!session || !this.perSession()) return this.primary as Upstream;
    return this.pool.get(session, what);
  }

  /** The backend lost the session `upstream` had: a downstream session's one is reopened on its next request, the gateway's own re-initialises now. */
  private lost(upstream: Upstream, err: unknown): void {
    if (upstream === this.primary) this.fail(this.generation, new Error(`the backend lost the session: ${bareMessage(err)}`), true);
    else if (upstream.route.owner) void this.pool.drop(upstream.route.owner.id, upstream);
  }

  /**
   * A request for a backend that is down does not wait for the end of the backoff: it waits for
   * a connection attempt made after it arrived (starting one now if need be), so a backend that
   * is back serves it.
   */
  private async readyFor(arrived: number): Promise<void> {
    for (let i = 0; i < 3 && (this.current === 'failed' || this.current === 'connecting'); i++) {
      if (this.current === 'failed') {
        if (this.attemptStartedAt >= arrived) return;
        this.logger.debug('MCP backend request while failed; reconnecting now');
        void this.connect();
      }
      await this.settled(this.cfg.timeouts.connectMs);
    }
  }

  /** Resolves once the backend is ready, failed or stopped (or after `ms`), whichever comes first. */
  private settled(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stateWaiters.delete(check);
        resolve();
      };
      const check = () => {
        if (this.current !== 'connecting' && !(this.current === 'failed' && this.nextRetryAt !== undefined && this.nextRetryAt <= Date.now() + 5)) done();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.stateWaiters.add(check);
      check();
    });
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.attemptStartedAt = Date.now();
    this.clearTimers();
    this.nextRetryAt = undefined;
    this.setState('connecting');
    let opened: OpenedClient | undefined;
    const route: UpstreamRoute = { backend: this.name, prefix: this.cfg.prefix, owner: undefined, inFlight: [], sessions: this.sessions };
    try {
      const secrets = await resolveSecrets(this.cfg);
      this.useSecrets(secrets);
      const timeoutMs = this.cfg.timeouts.connectMs;
      opened = await openClient(this.cfg, secrets, {
        timeoutMs,
        prepare: (client, active) => this.prepare(client, active, generation, route),
        onStderr: (line) => this.logger.info({ stream: 'stderr' }, this.redact(line)),
      });
      const catalog = await fetchCatalog(opened.client, timeoutMs);
      if (generation !== this.generation) {
        await closeClient(opened.client, opened.transport);
        return;
      }
      this.primary = { opened, route };
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
      if (opened) await closeClient(opened.client, opened.transport);
      if (generation === this.generation) this.fail(generation, err);
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
    this.scrub = redactor(scrubbed);
    this.secretsFingerprint = secretsFingerprint(secrets);
  }

  /** Handlers installed on the gateway's own client before it connects. */
  private prepare(client: Client, active: ActiveTransport, generation: number, route: UpstreamRoute): void {
    const mine = () => generation === this.generation && this.primary?.opened.client === client;
    client.onclose = () => {
      if (mine()) this.fail(generation, new Error('connection closed'));
    };
    client.onerror = (err) => {
      this.logger.debug({ err: this.redact(err.message) }, 'MCP backend transport error');
      if (!mine()) return;
      // A lost session re-initialises now; any other transport error is checked now rather than at the next health check.
      if (sessionLost(err, active)) this.fail(generation, new Error(`the backend lost the session: ${this.redact(bareMessage(err))}`), true);
      else void this.healthCheck(generation, false);
    };
    installPassThrough(client, route);
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.refresh(generation, client, 'tools'));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => this.refresh(generation, client, 'resources'));
    client.setNotificationHandler(PromptListChangedNotificationSchema, () => this.refresh(generation, client, 'prompts'));
    client.fallbackNotificationHandler = async (n) => this.logger.debug({ method: n.method }, 'MCP backend notification ignored');
  }

  /** Re-reads one list after the backend announced a change; coalesces bursts of announcements. */
  private refresh(generation: number, client: Client, kind: ListKind): void {
    if (generation !== this.generation) return;
    this.dirty.add(kind);
    if (this.primary?.opened.client !== client || this.refreshing.get(kind) === generation) return;
    this.refreshing.set(kind, generation);
    const run = async () => {
      while (this.dirty.delete(kind)) {
        const part = await fetchList(client, kind, this.cfg.timeouts.connectMs);
        if (generation !== this.generation || this.primary?.opened.client !== client || !this.catalogNow) return;
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
    this.healthTimer = setTimeout(() => void this.healthCheck(generation, true), this.tuning.healthIntervalMs);
    this.healthTimer.unref();
  }

  /** Pings the backend (and, when `scheduled`, checks the secret files and schedules the next check). */
  private async healthCheck(generation: number, scheduled: boolean): Promise<void> {
    const primary = this.primary;
    if (generation !== this.generation || this.current !== 'ready' || !primary || (!scheduled && this.probing)) return;
    this.probing = true;
    try {
      await primary.opened.client.ping({ timeout: Math.min(this.cfg.timeouts.connectMs, this.tuning.healthIntervalMs) });
    } catch (err) {
      // A server without ping still answered, so it is alive.
      if (!(err instanceof McpError && err.code === ErrorCode.MethodNotFound)) {
        if (generation === this.generation) this.fail(generation, new Error(`health check failed: ${bareMessage(err)}`), sessionLost(err, primary.opened.active));
        return;
      }
    } finally {
      this.probing = false;
    }
    if (!scheduled) return;
    try {
      const secrets = await resolveSecrets(this.cfg);
      if (generation === this.generation && secretsFingerprint(secrets) !== this.secretsFingerprint) {
        this.logger.info('MCP backend secret files changed; reconnecting');
        this.primary = undefined;
        this.catalogNow = undefined;
        void Promise.all([this.pool.closeAll(), closeClient(primary.opened.client, primary.opened.transport)]);
        void this.connect();
        return;
      }
    } catch (err) {
      this.logger.warn({ err: bareMessage(err) }, 'MCP backend secret files unreadable; keeping the current connection');
    }
    if (generation === this.generation) this.scheduleHealthCheck(generation);
  }

  /** Moves to `failed` and schedules a reconnect: after the backoff, or at once when the backend is up but lost our session. */
  private fail(generation: number, err: unknown, immediately = false): void {
    if (generation !== this.generation || this.current === 'stopped') return;
    this.generation++;
    const primary = this.primary;
    this.primary = undefined;
    this.catalogNow = undefined;
    this.clearTimers();
    if (this.readySince !== undefined && Date.now() - this.readySince >= this.tuning.stableAfterMs) this.failures = 0;
    this.readySince = undefined;
    this.failures++;
    const delay = immediately ? 0 : backoffDelay(this.failures, this.tuning);
    this.nextRetryAt = Date.now() + delay;
    this.lastError = this.redact(bareMessage(err));
    this.logger.warn({ err: this.lastError, failures: this.failures, retryInMs: delay }, 'MCP backend failed');
    const retryGeneration = this.generation;
    this.setState('failed');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (retryGeneration === this.generation) void this.connect();
    }, delay);
    this.retryTimer.unref();
    void this.pool.closeAll();
    if (primary) void closeClient(primary.opened.client, primary.opened.transport);
  }

  private setState(state: BackendState): void {
    const changed = state !== this.current;
    this.current = state;
    this.since = new Date();
    if (changed) this.onChange(this);
    for (const waiter of [...this.stateWaiters]) waiter();
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
