/**
 * The upstream sessions of downstream sessions for one backend: opened on a downstream
 * session's first request, closed with it (a DELETE for Streamable HTTP, the process for
 * stdio), dropped when the backend lost them so the next request opens a fresh one.
 */
import type { Logger } from 'pino';
import type { McpBackendConfig } from '../config/index.js';
import { GatewayError, GatewayErrorCode, backendError } from './errors.js';
import { closeClient } from './client.js';
import { openClient, resolveSecrets, sessionLost, type OpenedClient } from './transports.js';
import { installPassThrough, type DownstreamSession, type UpstreamRoute } from './upstream.js';

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
  /** Where stdio servers start (BackendDeps.stdioHost). */
  readonly stdioHost: string | undefined;
}

/** The per-session upstream clients of one backend. */
export class UpstreamPool {
  private readonly own = new Map<string, Promise<Upstream>>();
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
    const existing = this.own.get(session.id);
    if (existing) return existing;
    const { config, name } = this.owner;
    const cap = config.stdio?.maxProcesses ?? Infinity;
    if (config.transport === 'stdio' && this.own.size >= cap) {
      throw new GatewayError(
        GatewayErrorCode.BackendUnavailable,
        `backend ${JSON.stringify(name)} already runs ${cap} processes, one per client session (stdio.maxProcesses); end a session or raise the limit`,
        { backend: name },
      );
    }
    const opening = this.open(session, this.epoch).catch((err: unknown) => {
      if (this.own.get(session.id) === opening) this.own.delete(session.id);
      throw backendError(err, { backend: name, what: `opening a session for ${what}`, timeoutMs: config.timeouts.connectMs, redact: (t) => this.owner.redact(t) });
    });
    this.own.set(session.id, opening);
    return opening;
  }

  /** Forgets `upstream` (if it is still the session's) and closes it; the next request opens another. */
  async drop(id: string, upstream: Upstream): Promise<void> {
    if ((await this.existing(id)) !== upstream) return;
    this.own.delete(id);
    await upstream.opened.client.close().catch(() => undefined);
  }

  /** Closes the upstream session of a downstream session that ended. */
  async end(id: string): Promise<void> {
    const own = this.own.get(id);
    this.own.delete(id);
    const upstream = await own?.catch(() => undefined);
    if (upstream) await closeClient(upstream.opened.client, upstream.opened.transport);
  }

  /** Closes every upstream session (the backend failed, reconnects or stops). */
  async closeAll(): Promise<void> {
    this.epoch++;
    const all = [...this.own.values()];
    this.own.clear();
    await Promise.all(all.map(async (p) => p.then((u) => closeClient(u.opened.client, u.opened.transport)).catch(() => undefined)));
  }

  private async open(session: DownstreamSession, epoch: number): Promise<Upstream> {
    const { config, logger } = this.owner;
    const route: UpstreamRoute = {
      backend: config.name,
      prefix: config.prefix,
      owner: session,
      inFlight: [],
      sessions: () => this.owner.sessions(),
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
      onStderr: (line) => logger.info({ stream: 'stderr', session: session.id }, this.owner.redact(line)),
      prepare: (client, active) => {
        installPassThrough(client, route);
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
