/**
 * The upstream sessions of downstream sessions for one backend: opened on a downstream
 * session's first request, closed with it (a DELETE for Streamable HTTP, the process for
 * stdio), dropped when the backend lost them so the next request opens a fresh one.
 */
import type { Logger } from 'pino';
import type { McpBackendConfig } from '../config/index.js';
import { GatewayError, GatewayErrorCode, backendError } from './errors.js';
import { PromptListChangedNotificationSchema, ResourceListChangedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { closeClient } from './client.js';
import type { ListKind } from './listing.js';
import { openClient, resolveSecrets, sessionLost, type OpenedClient } from './transports.js';
import { installPassThrough, type DownstreamSession, type UpstreamRoute } from './upstream.js';
import type { AnswerBudget } from '../upstream/answer-budget.js';

/** One connected upstream client and where its pass-through goes. */
export interface Upstream {
  opened: OpenedClient;
  route: UpstreamRoute;
}

/** What the pool needs from its backend. */
export interface PoolOwner {
  readonly name: string;
  readonly config: McpBackendConfig;
  readonly logger: Logger;
  redact(text: string): string;
  /** What the backend sends a client, with its secret values replaced (BackendConnection.withoutSecrets). */
  withoutSecrets<T>(value: T): T;
  sessions(): Iterable<DownstreamSession>;
  /** Whether the backend may reach clients now (BackendDeps.exposed). */
  exposed(): boolean;
  /** Where stdio servers start (BackendDeps.stdioHost). */
  readonly stdioHost: string | undefined;
  /** The sidecar's answer budget, which a message being read on a client's upstream session counts against too (BackendDeps.answers). */
  readonly answers: AnswerBudget | undefined;
  /** How long a per-session process must have served nothing before another session may take its place (BackendTuning.processIdleMs). */
  readonly processIdleMs: number;
  /** The backend announced a list change on a client's upstream session: the catalog is read again. */
  listChanged(kind: ListKind): void;
}

/** The per-session upstream clients of one backend. */
export class UpstreamPool {
  private readonly own = new Map<string, Promise<Upstream>>();
  /** When each session last sent a request to its upstream session. */
  private readonly used = new Map<string, number>();
  /** The upstream sessions that are open (what `own` resolved to). */
  private readonly opened = new Map<string, Upstream>();
  /** Bumped when the backend's connection is replaced: sessions still opening are then discarded. */
  private epoch = 0;

  constructor(private readonly owner: PoolOwner) {}

  /** Upstream sessions open or opening. */
  get size(): number {
    return this.own.size;
  }

  /** The open upstream session of `id`, if any. */
  async existing(id: string): Promise<Upstream | undefined> {
    return this.own.get(id)?.catch(() => undefined);
  }

  /** The upstream session of `session`, opened now if it has none. */
  get(session: DownstreamSession, what: string): Promise<Upstream> {
    this.used.set(session.id, Date.now());
    const existing = this.own.get(session.id);
    if (existing) return existing;
    const { config, name } = this.owner;
    const cap = config.stdio?.maxProcesses ?? Infinity;
    if (config.transport === 'stdio' && this.own.size >= cap && !this.evictIdle(session.id)) {
      throw new GatewayError(
        GatewayErrorCode.BackendUnavailable,
        `backend ${JSON.stringify(name)} already runs ${cap} processes, one per client session (stdio.maxProcesses); end a session or raise the limit`,
        { backend: name },
      );
    }
    const opening = this.open(session, this.epoch).catch((err: unknown) => {
      if (this.own.get(session.id) === opening) this.own.delete(session.id);
      throw backendError(err, { backend: name, what: `opening a session for ${what}`, timeoutMs: config.timeouts.connectMs, secrets: this.owner });
    });
    this.own.set(session.id, opening);
    opening.then((upstream) => this.own.get(session.id) === opening && this.opened.set(session.id, upstream)).catch(() => undefined);
    return opening;
  }

  /** A request of session `id` ended: its idle time counts from now. */
  touch(id: string): void {
    if (this.used.has(id)) this.used.set(id, Date.now());
  }

  /**
   * Ends the process of the session that has gone longest without a request, if that is at least
   * `processIdleMs` and none of its requests is in flight; that session gets a new process on its
   * next request. @returns whether one was ended.
   */
  private evictIdle(for_: string): boolean {
    const now = Date.now();
    let oldest: [string, number] | undefined;
    for (const [id, at] of this.used) {
      const upstream = this.opened.get(id);
      if (id === for_ || !upstream || upstream.route.inFlight.length > 0 || now - at < this.owner.processIdleMs) continue;
      if (!oldest || at < oldest[1]) oldest = [id, at];
    }
    if (!oldest) return false;
    const id = oldest[0];
    this.owner.logger.info({ session: id, idleMs: now - oldest[1] }, 'MCP backend process of an idle session ended to start one for another session (stdio.maxProcesses)');
    void this.end(id);
    return true;
  }

  /** Forgets `upstream` (if it is still the session's) and closes it; the next request opens another. */
  async drop(id: string, upstream: Upstream): Promise<void> {
    if ((await this.existing(id)) !== upstream) return;
    this.own.delete(id);
    this.opened.delete(id);
    await upstream.opened.client.close().catch(() => undefined);
  }

  /** Closes the upstream session of a downstream session that ended. */
  async end(id: string): Promise<void> {
    const own = this.own.get(id);
    this.own.delete(id);
    this.used.delete(id);
    this.opened.delete(id);
    const upstream = await own?.catch(() => undefined);
    if (upstream) await closeClient(upstream.opened.client, upstream.opened.transport);
  }

  /** Closes every upstream session (the backend failed, reconnects or stops). */
  async closeAll(): Promise<void> {
    this.epoch++;
    const all = [...this.own.values()];
    this.own.clear();
    this.used.clear();
    this.opened.clear();
    await Promise.all(all.map(async (p) => p.then((u) => closeClient(u.opened.client, u.opened.transport)).catch(() => undefined)));
  }

  private async open(session: DownstreamSession, epoch: number): Promise<Upstream> {
    const { config, logger } = this.owner;
    const route: UpstreamRoute = {
      backend: config.name,
      prefix: config.prefix,
      owner: session,
      shared: false,
      inFlight: [],
      sessions: () => this.owner.sessions(),
      exposed: () => this.owner.exposed(),
      withoutSecrets: (value) => this.owner.withoutSecrets(value),
      answerMs: config.timeouts.callMs,
    };
    const opening: { upstream?: Upstream } = {};
    const drop = () => {
      if (opening.upstream) void this.drop(session.id, opening.upstream);
    };
    const opened = await openClient(config, await resolveSecrets(config), {
      timeoutMs: config.timeouts.connectMs,
      stdioHost: this.owner.stdioHost,
      answers: this.owner.answers,
      onStderr: (line) => logger.info({ stream: 'stderr', session: session.id }, this.owner.redact(line)),
      prepare: (client, active) => {
        installPassThrough(client, route);
        // A server announces changes on the session that caused them (a tool added during a call):
        // the catalog, read on the gateway's own session, is read again.
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.owner.listChanged('tools'));
        client.setNotificationHandler(ResourceListChangedNotificationSchema, () => this.owner.listChanged('resources'));
        client.setNotificationHandler(PromptListChangedNotificationSchema, () => this.owner.listChanged('prompts'));
        client.onclose = drop;
        client.onerror = (err) => {
          logger.debug({ session: session.id, err: this.owner.redact(err.message) }, 'MCP backend session transport error');
          if (sessionLost(err, active)) drop();
        };
      },
    });
    const upstream = { opened, route };
    opening.upstream = upstream;
    if (epoch !== this.epoch) {
      await closeClient(opened.client, opened.transport);
      throw new Error('the backend reconnected meanwhile');
    }
    logger.debug({ session: session.id, transport: opened.active, pid: opened.pid }, 'MCP backend session opened');
    return upstream;
  }
}
