/**
 * One backend: its connection (backend-connection.ts) and the requests clients send it, each on
 * the right upstream session.
 *
 * Sessions: an HTTP backend (streamable-http or sse) gets one upstream session per downstream
 * session, opened on the session's first request and closed with it, so one client's state on
 * the backend is never another's. A stdio backend runs one process shared by every session,
 * unless `stdio.processes` is `per-session` (then one process per session, at most
 * `stdio.maxProcesses`).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { CallToolResultSchema, CompleteResultSchema, EmptyResultSchema, GetPromptResultSchema, ReadResourceResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolRequest, CompleteRequest, GetPromptRequest, LoggingLevel, ReadResourceRequest } from '@modelcontextprotocol/sdk/types.js';
import { BackendConnection } from './backend-connection.js';
import type { ForwardOptions } from './backend-types.js';
import { GatewayError, GatewayErrorCode, backendError, bareMessage } from './errors.js';
import { wrapUri } from './naming.js';
import { sessionLost } from './transports.js';
import type { DownstreamSession } from './upstream.js';
import type { Upstream } from './upstream-pool.js';

export type { BackendDeps, BackendState, BackendStatus, ForwardOptions, SecretSink } from './backend-types.js';

/** One configured backend: its connection, and the requests forwarded to it. */
export class Backend extends BackendConnection {
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

  /**
   * resources/subscribe or resources/unsubscribe with the backend's own URI. A shared process keeps
   * one subscription per URI for all sessions: one session's unsubscribe goes to it only when no
   * other session still watches the URI (it silenced every other session before).
   */
  async subscription(method: 'resources/subscribe' | 'resources/unsubscribe', uri: string, options: ForwardOptions): Promise<unknown> {
    if (method === 'resources/unsubscribe' && !this.perSession() && this.watchedByOthers(uri, options.session)) return {};
    return this.forward(`${method} ${JSON.stringify(uri)}`, (client, o) => client.request({ method, params: { uri } }, EmptyResultSchema, o), options);
  }

  private watchedByOthers(uri: string, session: DownstreamSession | undefined): boolean {
    const wrapped = wrapUri(this.cfg.prefix, uri);
    for (const other of this.sessions()) if (other !== session && other.subscriptions.has(wrapped)) return true;
    return false;
  }

  /** logging/setLevel on the session's upstream session (a shared stdio process gets the latest level). */
  setLogLevel(level: LoggingLevel, options: ForwardOptions) {
    return this.forward('logging/setLevel', (client, o) => client.request({ method: 'logging/setLevel', params: { level } }, EmptyResultSchema, o), options);
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
      this.callsInFlight += 1;
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
        throw backendError(err, { backend: this.name, what, timeoutMs, secrets: this });
      } finally {
        this.callsInFlight -= 1;
        this.callsEnded += 1;
        if (options.session) this.pool.touch(options.session.id);
        if (entry) upstream.route.inFlight.splice(upstream.route.inFlight.indexOf(entry), 1);
      }
    }
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
}
