/**
 * The agent-facing HTTP app: OpenAI and Anthropic APIs, MCP, health. `build()` returns an app that
 * is not listening; the entry point listens on the Unix socket, and the loopback port when
 * configured. It runs on `node:http` with the sidecar's own router (ADR 0024).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { SecretRegistry } from '../log/redact.js';
import type { BodyBudget } from './body-budget.js';
import { anthropicIngress, anthropicRoutes, isAnthropicClient } from './anthropic-routes.js';
import { HttpApp, JSON_UTF8 } from './http/app.js';
import { writeJson } from './http/reply.js';
import type { HttpRequest } from './http/router.js';
import type { Ingress } from './ingress.js';
import type { LiveConfig } from './live.js';
import type { Metrics } from '../telemetry/metrics.js';
import { guardLoopback } from './local-origin.js';
import { jsonRpcError, MCP_PATH, mcpClientErrorResponse, mcpRoute, refuseMcpMethod } from './mcp-route.js';
import { openAIIngress, openAIRoutes } from './openai-routes.js';
import { refuse } from './refusal.js';
import { responsesRoutes } from './responses-routes.js';
import { geminiIngress, geminiRoutes, isGeminiClient } from './gemini-routes.js';
import type { SandboxUsage } from '../usage/sync.js';
import { agentConnectionLimit } from './http/connection-limit.js';

/** What the MCP gateway offers the app (implemented in ../mcp). */
export interface McpHandler {
  handle(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void>;
  ready(): boolean;
}

export interface AppOptions {
  live: LiveConfig;
  log: Logger;
  metrics: Metrics;
  secrets: SecretRegistry;
  mcp?: McpHandler;
  /** Largest request body accepted; larger ones get 413. */
  maxBodyBytes: number;
  /** `listen.stalledReaderMs`: a connection whose client leaves written bytes unread this long is closed. */
  stalledReaderMs?: number | undefined;
  /** The request bodies in flight, shared by every listener; past it a request gets 503 before its body is read. */
  bodies?: BodyBudget | undefined;
  /** The sandbox's usage (GET /v1/usage); every model call is counted in its ledger. */
  usage?: SandboxUsage | undefined;
  /** Set for the TCP listener on 127.0.0.1:<loopbackPort>: requests must name it in Host and Origin. */
  loopbackPort?: number | undefined;
}

/** Builds the agent-facing app. */
export function build(options: AppOptions): HttpApp {
  const bodies = options.bodies;
  // Paths and methods no route owns, answered in the shape of the API the client speaks.
  const notFound = (request: HttpRequest, res: ServerResponse) => {
    if (options.mcp && request.rawPath === MCP_PATH) return refuseMcpMethod(request.method, res);
    refuse(res, ingressOf(request), { status: 404, type: 'invalid_request_error', message: `unknown endpoint ${request.method} ${request.rawPath}${prefixHint(app, request)}` });
  };
  const app = new HttpApp({
    bodyLimit: options.maxBodyBytes,
    notFound,
    // A URL that cannot be decoded never reaches a route: answered in the client's shape too.
    badTarget: (request, res) =>
      refuse(res, ingressOf(request), { status: 400, type: 'invalid_request_error', message: `malformed request URL ${JSON.stringify(request.url.slice(0, 200))}` }),
    closing: (request, res) => {
      const message = 'the sidecar is shutting down; retry on a new connection';
      if (request.rawPath === MCP_PATH) return writeJson(res, 503, jsonRpcError(-32000, message), JSON_UTF8);
      refuse(res, ingressOf(request), { status: 503, type: 'api_error', message });
    },
    before: options.loopbackPort === undefined ? undefined : guardLoopback(options.loopbackPort, options.log),
    // Before the body is read: refused, it never takes memory. In the client's shape, retryable.
    admit: bodies && ((request, res) => {
      if (bodies.admit(request.raw, res)) return true;
      const message = `the sidecar is already holding ${bodies.maxBytes} bytes of request bodies (listen.maxBodyBytesInFlight); retry when one has finished`;
      if (request.rawPath === MCP_PATH) writeJson(res, 503, jsonRpcError(-32000, message), { ...JSON_UTF8, 'retry-after': '1' });
      else refuse(res, ingressOf(request), { status: 503, type: 'api_error', message }, { 'retry-after': '1' });
      return false;
    }),
    expectationFailed: (request, res) =>
      refuse(res, ingressOf(request), { status: 417, type: 'invalid_request_error', message: `unsupported Expect: ${JSON.stringify(String(request.headers.expect).slice(0, 100))} (only 100-continue)` }),
    // Requests Node's HTTP parser refuses never reach a route: still answered in the OpenAI shape (MCP's for /mcp).
    clientError: (err, socket) => clientError(err, socket),
    // The agent opens connections for nothing: bounded, so the admin port always has descriptors left.
    maxConnections: agentConnectionLimit(),
    // A client that stops reading its answer holds it in memory, and its call uncounted, for ever.
    stalledReaderMs: options.stalledReaderMs,
  });
  const router = app.router;
  openAIRoutes(router, options);
  anthropicRoutes(router, options);
  responsesRoutes(router, options);
  geminiRoutes(router, options, notFound);
  if (options.mcp) mcpRoute(router, options.mcp);

  const plain = { onError: (_err: unknown, request: HttpRequest, res: ServerResponse) => refuse(res, ingressOf(request), { status: 500, type: 'api_error', message: 'internal error in the Airlock sidecar' }) };
  if (options.usage) {
    const usage = options.usage;
    // The sandbox's spend and budget across all its pods, so an agent can pace itself.
    router.add('GET', '/v1/usage', () => usage.view(), plain);
  }
  router.add('GET', '/healthz', () => ({ status: 'ok' }), plain);
  router.add('GET', '/readyz', (_request, res) => sendReadiness(options, res), plain);
  return app;
}

function clientError(err: Error & { code?: string }, socket: Socket): void {
  // Bytes after a request that asked to close the connection (Connection: close, HTTP/1.0): they
  // are no request of the client's, and its answer is still to come; nothing more is read, and
  // the connection closes once that answer is written (a 400 here took its place).
  if (err.code === 'HPE_CLOSED_CONNECTION' && socket.writable) return void socket.pause();
  // An answer under way on this connection (pipelining) cannot be followed by another: close.
  if (!socket.writable || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) return void socket.destroy();
  const mcpResponse = mcpClientErrorResponse(err);
  if (mcpResponse) return void socket.end(mcpResponse);
  const [status, reason, message] = CLIENT_ERRORS[err.code ?? ''] ?? MALFORMED;
  // In the shape of the API the request line's path belongs to (headers are not parsed yet).
  const ingress = ingressOf({ rawPath: requestPath(err), headers: {} });
  const body = JSON.stringify(ingress.errorBody({ status, type: 'invalid_request_error', message }));
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** What Node's parser refused, by its code: status, reason phrase, message. */
const MALFORMED: [number, string, string] = [400, 'Bad Request', 'malformed HTTP request'];
const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'request headers too large'],
  // Headers or body not received in time (SERVER_OPTIONS in ./http/app.ts).
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request was not received in time'],
};

/** The path of the request line Node's parser refused, from the bytes it read ('' when it did not get that far). */
function requestPath(err: Error & { rawPacket?: unknown }): string {
  const line = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.subarray(0, 256).toString('latin1') : '';
  return /^[A-Z]+ (\/[^ ?#]*)/.exec(line)?.[1] ?? '';
}

/** The API a request outside every route speaks, judged by its path, then by its headers. */
/** API version prefixes a client's base URL may leave out (LiteLLM's `gemini/` with an api_base that has no `/v1beta`). */
const PREFIXES = ['/v1', '/v1beta'];

/** A hint for a path that is one of the sidecar's with a version prefix in front: the base URL lacks it. */
function prefixHint(app: HttpApp, request: HttpRequest): string {
  for (const prefix of PREFIXES) {
    if (request.path.startsWith(`${prefix}/`)) return '';
    if (app.router.find(request.method, prefix + request.path)) return `; did you mean ${prefix}${request.rawPath}? The client's base URL should end in ${prefix}`;
  }
  return '';
}

function ingressOf({ rawPath, headers }: Pick<HttpRequest, 'rawPath' | 'headers'>): Ingress {
  if (rawPath.startsWith('/v1beta/') || isGeminiClient(headers)) return geminiIngress;
  if (rawPath.startsWith('/v1/messages') || isAnthropicClient(headers)) return anthropicIngress;
  return openAIIngress;
}

/** The providers whose every key was refused (401), by name: until their key Secret changes. */
export function rejectedProviders(live: LiveConfig): string[] {
  return live.loaded ? live.current.providers.filter((p) => p.keys.allDisabled()).map((p) => p.config.name) : [];
}

/**
 * Ready once a config is loaded and (when configured) the MCP gateway is up; reports a refused
 * config and providers that refused every key (degraded: the agent gets a clear error for their
 * models until the key Secret changes).
 */
export function readiness(options: Pick<AppOptions, 'live' | 'mcp'>): { status: number; body: unknown } {
  const { configHash, rejected } = options.live.status();
  const ready = options.live.loaded && (options.mcp?.ready() ?? true);
  const credentialsRejected = rejectedProviders(options.live);
  return {
    status: ready ? 200 : 503,
    body: {
      status: ready ? (rejected || credentialsRejected.length > 0 ? 'degraded' : 'ready') : 'not ready',
      configHash,
      ...(rejected ? { rejectedConfig: { hash: rejected.hash, errors: rejected.errors } } : {}),
      ...(credentialsRejected.length > 0 ? { providers: credentialsRejected.map((name) => ({ name, problem: 'credentials rejected: the provider refused every API key (401)' })) } : {}),
    },
  };
}

/** Answers /readyz with {@link readiness}. */
export function sendReadiness(options: Pick<AppOptions, 'live' | 'mcp'>, res: ServerResponse): void {
  const { status, body } = readiness(options);
  writeJson(res, status, body, JSON_UTF8);
}
