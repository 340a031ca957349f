/**
 * The connection side of a backend (backend.ts adds the requests): the gateway's own
 * long-lived MCP client (catalog, health, list changes) and the state machine that keeps it
 * connected.
 *
 *   stopped ──start──▶ connecting ──initialised + listed──▶ ready
 *                          ▲                                  │ closed, ping failed
 *                          └──── backoff timer ◀── failed ◀───┘ (or connect failed)
 *
 * While ready, a health check pings the backend and notices rotated secret files; a transport
 * error pings at once, and an error that means the backend lost our session (see
 * `sessionLost`) re-initialises at once. Anything that goes wrong only moves this backend to
 * `failed`; the gateway drops its tools from the lists until it is ready again.
 */
import type { AnswerBudget } from '../upstream/answer-budget.js';
import type { Logger } from 'pino';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError, PromptListChangedNotificationSchema, ResourceListChangedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { McpBackendConfig } from '../config/index.js';
import type { BackendDeps, BackendState, BackendStatus, SecretSink } from './backend-types.js';
import { backoffDelay, type BackendTuning } from './backoff.js';
import { closeClient } from './client.js';
import { bareMessage, GatewayError, GatewayErrorCode } from './errors.js';
import { fetchCatalog, fetchList, type BackendCatalog, type ListKind } from './listing.js';
import { redactor, valueRedactor } from '../log/redact.js';
import { stderrLog } from '../log/throttle.js';
import { fingerprint } from './secrets.js';
import { openClient, resolveSecrets, sessionLost, type ActiveTransport, type ConnectionSecrets, type OpenedClient } from './transports.js';
import { installPassThrough, type DownstreamSession, type UpstreamRoute } from './upstream.js';
import { UpstreamPool, type Upstream } from './upstream-pool.js';
import { RereadPacer } from './reread-pacer.js';

const LIST_KINDS: readonly ListKind[] = ['tools', 'resources', 'prompts'];

/** A backend's connection: the gateway's own client, its catalog, and the state machine that keeps it connected. */
/** The most of one backend's instructions a client is shown: they go into the agent's prompt with every other backend's. */
export const MAX_INSTRUCTIONS_CHARS = 4096;

export class BackendConnection {
  protected generation = 0;
  protected current: BackendState = 'stopped';
  private since = new Date();
  protected primary: Upstream | undefined;
  /** Upstream sessions of downstream sessions. */
  protected readonly pool: UpstreamPool;
  private readonly stateWaiters = new Set<() => void>();
  private probing = false;
  /** Requests to the backend in flight now, on any of its upstream sessions (backend.ts forward). */
  protected callsInFlight = 0;
  /** Calls ended since start: a call that ended while a health ping waited had the backend busy (./backend.ts counts both). */
  protected callsEnded = 0;
  protected attemptStartedAt = 0;
  private catalogNow: BackendCatalog | undefined;
  private catalogLast: BackendCatalog | undefined;
  private failures = 0;
  protected lastError: string | undefined;
  protected nextRetryAt: number | undefined;
  private readySince: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private secretsFingerprint: string | undefined;
  private scrub: (text: string) => string = (text) => text;
  /** Only the backend's secret values, in every form they are echoed in; undefined while it has none. */
  private scrubValues: ((text: string) => string) | undefined;
  private currentSecrets: string[] = [];
  /** Lists being re-read, with the connection generation that reads them. */
  private readonly refreshing = new Map<ListKind, number>();
  private readonly dirty = new Set<ListKind>();
  private readonly pacer: RereadPacer;
  private settleFirstAttempt: () => void = () => undefined;
  /** Resolves once the first connection attempt succeeded or failed. */
  readonly firstAttempt: Promise<void>;
  readonly logger: Logger;
  /** Where the backend's stderr lines go: bounded per second, each cut (a flooding backend filled the sidecar's memory). */
  private readonly logStderr: (line: string) => void;

  private readonly tuning: BackendTuning;
  private readonly onChange: (backend: BackendConnection) => void;
  private readonly secrets: SecretSink | undefined;
  readonly sessions: () => Iterable<DownstreamSession>;
  /** BackendDeps.exposed. */
  readonly exposed: () => boolean;
  /** Where stdio servers start (BackendDeps.stdioHost). */
  readonly stdioHost: string | undefined;
  /** BackendDeps.answers. */
  readonly answers: AnswerBudget | undefined;
  /** PoolOwner.processIdleMs. */
  readonly processIdleMs: number;

  constructor(
    protected cfg: McpBackendConfig,
    deps: BackendDeps,
  ) {
    this.logger = deps.logger.child({ backend: cfg.name });
    this.logStderr = stderrLog(this.logger, (line) => this.redact(line));
    this.tuning = deps.tuning;
    this.onChange = deps.onChange;
    this.secrets = deps.secrets;
    this.sessions = deps.sessions;
    this.exposed = deps.exposed;
    this.stdioHost = deps.stdioHost;
    this.answers = deps.answers;
    this.processIdleMs = deps.tuning.processIdleMs;
    this.pacer = new RereadPacer(cfg.name, deps.tuning.listRereadMinMs, this.logger, deps.rereadsHeld);
    this.pool = new UpstreamPool(this);
    this.firstAttempt = new Promise((resolve) => (this.settleFirstAttempt = resolve));
  }

  /** Replaces the backend's secret values in a text that came from it. */
  redact(text: string): string {
    return this.scrub(text);
  }

  /**
   * `value` (an answer, message or request of the backend on its way to a client) with the
   * backend's secret values replaced, wherever in it they are: the agent holds no credential of
   * the sandbox, and a backend may echo the header it was sent (a whoami tool, an error quoting
   * the request). Other key-shaped text is left alone: here it may be the content asked for.
   * @throws {GatewayError} when a secret sits in the JSON in a form whose removal breaks it.
   */
  withoutSecrets<T>(value: T): T {
    if (!this.scrubValues || value === undefined) return value;
    const text = JSON.stringify(value);
    const scrubbed = this.scrubValues(text);
    if (scrubbed === text) return value;
    try {
      return JSON.parse(scrubbed) as T;
    } catch {
      throw new GatewayError(GatewayErrorCode.BackendUnavailable, `backend ${JSON.stringify(this.name)} answered with one of its secret values in a form that could not be removed, so the answer is withheld`, {
        backend: this.name,
      });
    }
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

  /**
   * What the backend's server told its clients about using it (its `instructions`), at most
   * {@link MAX_INSTRUCTIONS_CHARS} characters, without its secret values; undefined while it is
   * not connected or said nothing.
   */
  instructions(): string | undefined {
    const said = this.primary?.opened.client.getInstructions()?.trim();
    if (!said) return undefined;
    try {
      return this.withoutSecrets(said.length > MAX_INSTRUCTIONS_CHARS ? `${said.slice(0, MAX_INSTRUCTIONS_CHARS)}…` : said);
    } catch {
      return undefined;
    }
  }

  /** Whether the backend announced a capability. */
  supports(capability: 'completions' | 'resources' | 'prompts' | 'tools' | 'logging'): boolean {
    return Boolean(this.primary?.opened.client.getServerCapabilities()?.[capability]);
  }

  /** The backend's resources capability (whether it takes subscriptions). */
  resourceCapabilities(): { subscribe?: boolean | undefined } | undefined {
    return this.primary?.opened.client.getServerCapabilities()?.resources;
  }

  /** Resolves once the backend is ready, failed or stopped (or after `ms`), whichever comes first. */
  protected settled(ms: number): Promise<void> {
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

  /** Whether each downstream session gets an upstream session of its own (HTTP backends, per-session stdio processes). */
  protected perSession(): boolean {
    return this.cfg.transport !== 'stdio' || this.cfg.stdio?.processes === 'per-session';
  }

  protected async connect(): Promise<void> {
    const generation = ++this.generation;
    this.attemptStartedAt = Date.now();
    this.clearTimers();
    this.nextRetryAt = undefined;
    this.setState('connecting');
    let opened: OpenedClient | undefined;
    const route: UpstreamRoute = {
      backend: this.name,
      prefix: this.cfg.prefix,
      owner: undefined,
      shared: !this.perSession(),
      inFlight: [],
      sessions: this.sessions,
      // Judged on this connection's own catalog: until it is read (a restarted server that holds
      // back tools/list, say), the last catalog is another process's, which pins may have approved.
      exposed: () => this.primary?.route === route && this.exposed(),
      withoutSecrets: (value) => this.withoutSecrets(value),
      answerMs: this.cfg.timeouts.callMs,
    };
    try {
      const secrets = await resolveSecrets(this.cfg);
      this.useSecrets(secrets);
      const timeoutMs = this.cfg.timeouts.connectMs;
      let opening: Client | undefined;
      opened = await openClient(this.cfg, secrets, {
        timeoutMs,
        stdioHost: this.stdioHost,
        answers: this.answers,
        prepare: (client, active) => {
          opening = client;
          this.prepare(client, active, generation, route);
        },
        // Changes the backend announced before its event stream was open never reached us: read
        // every list again (before ready they are marked dirty and read once the catalog is in).
        onStreamOpen: () => {
          if (opening) for (const kind of LIST_KINDS) this.refresh(generation, opening, kind);
        },
        onStderr: this.logStderr,
      });
      const catalog = await fetchCatalog(opened.client, timeoutMs);
      if (catalog.cut) this.logger.warn({ cut: catalog.cut }, 'MCP backend lists more than Airlock reads; the first entries are used');
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
    this.scrubValues = scrubbed.length > 0 ? valueRedactor(scrubbed) : undefined;
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

  /**
   * A list changed, as the backend announced on a client's own upstream session (an HTTP backend, a
   * per-session process): re-read on the gateway's session, where the catalog is read (PoolOwner).
   */
  listChanged(kind: ListKind): void {
    const primary = this.primary;
    if (primary) this.refresh(this.generation, primary.opened.client, kind);
  }

  /**
   * Re-reads one list after the backend announced a change. Announcements during a re-read
   * coalesce into one more; and a re-read of one list starts at least `tuning.listRereadMinMs`
   * after the last one started and finished (./reread-pacer.ts), the next read waiting out the
   * rest of the interval (trailing edge: the last change is read).
   */
  private refresh(generation: number, client: Client, kind: ListKind): void {
    if (generation !== this.generation) return;
    this.dirty.add(kind);
    if (this.primary?.opened.client !== client || this.refreshing.get(kind) === generation) return;
    this.refreshing.set(kind, generation);
    const current = () => generation === this.generation && this.primary?.opened.client === client;
    const run = async () => {
      while (this.dirty.has(kind)) {
        await this.pacer.slot(kind);
        if (!current()) return;
        this.dirty.delete(kind);
        try {
          const { cut, ...part } = await fetchList(client, kind, this.cfg.timeouts.connectMs);
          if (cut) this.logger.warn({ list: kind, cut }, 'MCP backend lists more than Airlock reads; the first entries are used');
          if (!current() || !this.catalogNow) return;
          this.catalogNow = { ...this.catalogNow, ...part };
          this.catalogLast = this.catalogNow;
          this.logger.debug({ list: kind }, 'MCP backend list changed');
          this.onChange(this);
        } finally {
          this.pacer.finished(kind);
        }
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
    const endedBefore = this.callsEnded;
    try {
      await primary.opened.client.ping({ timeout: Math.min(this.cfg.timeouts.connectMs, this.tuning.healthIntervalMs) });
    } catch (err) {
      // A server busy with a call (a tool that holds its event loop, a large result being written)
      // answers no ping until it is done: not a failure while calls are in flight, which have
      // their own callMs. Replacing the process killed a call that would have succeeded. A call
      // that ended while the ping waited counts too: the ping's answer queued behind the call's
      // times out just after it (a loaded machine failed a healthy backend 19 ms after its call).
      const busy = this.callsInFlight > 0 || this.callsEnded !== endedBefore;
      if (err instanceof McpError && err.code === ErrorCode.RequestTimeout && busy) {
        this.logger.debug({ calls: this.callsInFlight }, 'MCP backend did not answer a health ping while serving calls; checking again later');
        if (scheduled && generation === this.generation) this.scheduleHealthCheck(generation);
        return;
      }
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
  protected fail(generation: number, err: unknown, immediately = false): void {
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
