/**
 * What travels from a backend back to the gateway's clients: logging messages, resource
 * updates, and the backend's own requests (sampling, elicitation, roots). Each upstream client
 * (one per downstream session for HTTP backends, or the shared one of a stdio backend) gets
 * these handlers; a request goes to the client session whose request the backend is serving,
 * related to that request so it travels on the same response stream, and its answer comes back.
 * A request while no client request is being served there reaches no client: nobody asked the
 * backend anything, so no client is there to answer it (a sampling request would put the backend's
 * own prompt before the agent's model at a moment of the backend's choosing).
 *
 * A backend none of whose tools, prompts and resources is exposed (pinned with nothing approved,
 * or everything filtered out; Aggregate.exposedBackends) reaches no client at all: its log
 * messages, resource updates and elicitation completions are dropped, and its sampling and
 * elicitation requests answered with an error.
 */
import { getSupportedElicitationModes, type Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CreateMessageRequestSchema,
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { ClientCapabilities, LoggingLevel, LoggingMessageNotification, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { wrapUri } from './naming.js';

/** A downstream client session as backends see it. */
export interface DownstreamSession {
  readonly id: string;
  /** The SDK server of the session: capabilities the client declared, and the way to reach it. */
  readonly server: Server;
  /** The level the client set with logging/setLevel; undefined until it sets one. */
  logLevel: LoggingLevel | undefined;
  /** Gateway (wrapped) URIs the client subscribed to. */
  readonly subscriptions: Set<string>;
}

/** URL-mode elicitations an upstream client asked for, remembered until their completion (the oldest are forgotten first). */
const MAX_OPEN_ELICITATIONS = 64;

const LEVELS: LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** A client request being served by a backend: whose it is, and its id there. */
export interface InFlight {
  session: DownstreamSession;
  requestId: RequestId;
}

/** Where the pass-through of one upstream client sends things. */
export interface UpstreamRoute {
  backend: string;
  prefix: string;
  /** The session owning this upstream client; undefined for a client shared by every session, or the gateway's own. */
  owner: DownstreamSession | undefined;
  /**
   * Whether a client without an owner serves every session's requests (a shared stdio process),
   * so that what it says unasked (log lines) is every session's; false for the gateway's own
   * session of a backend whose sessions have upstream sessions of their own, which only lists
   * and checks health: what it says reaches no client.
   */
  shared: boolean;
  /** Client requests this upstream client is serving now, oldest first. */
  inFlight: InFlight[];
  /** Every open session (for messages of a shared client). */
  sessions: () => Iterable<DownstreamSession>;
  /** Whether the backend may reach clients now: it has an approved tool, prompt or resource. */
  exposed: () => boolean;
  /** What the backend sends a client, with the backend's secret values replaced. */
  withoutSecrets<T>(value: T): T;
  /**
   * How long a client may take to answer the backend's sampling or elicitation request: the
   * backend's `timeouts.callMs` (the call the request serves waits as long). Not the MCP SDK's
   * 60 s default, which failed a person who answered an elicitation after 70 s.
   */
  answerMs: number;
}

/** Installs the pass-through handlers on an upstream client before it connects. */
export function installPassThrough(client: Client, route: UpstreamRoute): void {
  // A shared stdio process serves several sessions at once, and its requests carry nothing that
  // says which call they belong to: while more than one session has a call there, asking the
  // newest would show one client's question (or roots) to another and hand its answer back.
  const target = (what: string): InFlight => {
    if (!route.exposed()) {
      throw new McpError(
        ErrorCode.InvalidRequest,
        `${what} from backend ${JSON.stringify(route.backend)} is passed to no client: none of its tools, prompts or resources is exposed to the agent ` +
          '(its approval mode is pinned and nothing of it is approved, or its filters deny everything)',
      );
    }
    const current = route.inFlight.at(-1);
    if (!current) {
      throw new McpError(ErrorCode.InvalidRequest, `${what} from backend ${JSON.stringify(route.backend)} arrived while no client request was being served, so no client can answer it`);
    }
    const sessions = new Set(route.inFlight.map((entry) => entry.session));
    if (sessions.size > 1) {
      throw new McpError(
        ErrorCode.InvalidRequest,
        `${what} from backend ${JSON.stringify(route.backend)} arrived while requests of ${sessions.size} client sessions were in flight on its shared process, ` +
          'so the gateway cannot tell whose it is and asks no client; run the backend with stdio.processes: per-session to give each session its own process',
      );
    }
    return current;
  };
  const needs = (session: DownstreamSession, capability: keyof ClientCapabilities, what: string) => {
    if (!session.server.getClientCapabilities()?.[capability]) {
      throw new McpError(ErrorCode.InvalidRequest, `the client of this session does not support ${what} (it did not declare the ${capability} capability)`);
    }
  };

  client.setRequestHandler(CreateMessageRequestSchema, async (request, extra) => {
    const { session, requestId } = target('sampling/createMessage');
    needs(session, 'sampling', 'sampling');
    return session.server.createMessage(route.withoutSecrets(request.params), { relatedRequestId: requestId, signal: extra.signal, timeout: route.answerMs });
  });
  // URL-mode elicitations (a sign-in page the person opens) are completed later by a notification
  // naming the elicitation: it goes to the session that was asked, and only from the upstream
  // client that asked (another backend naming the id reaches no one).
  const askedFor = new Map<string, DownstreamSession>();
  client.setRequestHandler(ElicitRequestSchema, async (request, extra) => {
    const { session, requestId } = target('elicitation/create');
    needs(session, 'elicitation', 'elicitation');
    const params = route.withoutSecrets(request.params);
    const mode = params.mode ?? 'form';
    if (!getSupportedElicitationModes(session.server.getClientCapabilities()?.elicitation)[mode === 'url' ? 'supportsUrlMode' : 'supportsFormMode']) {
      throw new McpError(ErrorCode.InvalidParams, `the client of this session does not support ${mode}-mode elicitation (it did not declare elicitation.${mode})`);
    }
    if (params.mode === 'url') {
      askedFor.delete(params.elicitationId);
      askedFor.set(params.elicitationId, session);
      for (const oldest of askedFor.keys()) {
        if (askedFor.size <= MAX_OPEN_ELICITATIONS) break;
        askedFor.delete(oldest);
      }
    }
    return session.server.elicitInput(params, { relatedRequestId: requestId, signal: extra.signal, timeout: route.answerMs });
  });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, (notification) => {
    if (!route.exposed()) return;
    const id = notification.params.elicitationId;
    const session = askedFor.get(id);
    askedFor.delete(id);
    if (!session || !getSupportedElicitationModes(session.server.getClientCapabilities()?.elicitation).supportsUrlMode) return;
    session.server.notification({ method: 'notifications/elicitation/complete', params: route.withoutSecrets(notification.params) }).catch(() => undefined);
  });
  // No roots/list handler: roots are not declared (CLIENT_CAPABILITIES), and a backend that asks anyway gets "method not found", never the agent's roots.
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    if (!route.exposed()) return;
    let params: LoggingMessageNotification['params'];
    try {
      params = route.withoutSecrets({ ...notification.params, logger: notification.params.logger ? `${route.backend}/${notification.params.logger}` : route.backend });
    } catch {
      return; // a message that carries a secret in a form that cannot be removed is not passed on
    }
    for (const session of audience(route)) deliverLog(session, params);
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
    if (!route.exposed()) return;
    const uri = wrapUri(route.prefix, notification.params.uri);
    for (const session of audience(route)) {
      if (!session.subscriptions.has(uri)) continue;
      session.server.notification({ method: 'notifications/resources/updated', params: { ...notification.params, uri } }).catch(() => undefined);
    }
  });
}

/** The sessions what an upstream client says unasked goes to: its owner, every session of a shared one, none of the gateway's own. */
function audience(route: UpstreamRoute): Iterable<DownstreamSession> {
  return route.owner ? [route.owner] : route.shared ? route.sessions() : [];
}

function deliverLog(session: DownstreamSession, params: LoggingMessageNotification['params']): void {
  if (session.logLevel !== undefined && LEVELS.indexOf(params.level) < LEVELS.indexOf(session.logLevel)) return;
  session.server.notification({ method: 'notifications/message', params }).catch(() => undefined);
}
