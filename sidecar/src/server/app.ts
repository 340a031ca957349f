/**
 * The agent-facing HTTP app: OpenAI and Anthropic APIs, MCP, health. `build()` returns a
 * fastify instance that is not listening; the entry point listens (on the Unix socket, and the
 * loopback port when configured), tests use `inject()`.
 */
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from '../log/logger.js';
import type { SecretRegistry } from '../log/redact.js';
import type { BodyBudget } from './body-budget.js';
import { anthropicIngress, anthropicRoutes, isAnthropicClient } from './anthropic-routes.js';
import type { Ingress } from './ingress.js';
import type { LiveConfig } from './live.js';
import type { Metrics } from '../telemetry/metrics.js';
import { guardLoopback } from './local-origin.js';
import { MCP_PATH, mcpClientErrorResponse, mcpRoute, refuseMcpMethod } from './mcp-route.js';
import { noSchemaCompilers } from './no-schemas.js';
import { openAIIngress, openAIRoutes } from './openai-routes.js';
import { refuse } from './refusal.js';
import { responsesRoutes } from './responses-routes.js';
import { geminiIngress, geminiRoutes, isGeminiClient } from './gemini-routes.js';
import type { SandboxUsage } from '../usage/sync.js';

/** What the MCP gateway offers the app (implemented in ../mcp). */
export interface McpHandler {
  handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, parsedBody?: unknown): Promise<void>;
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
  /** The request bodies in flight, shared by every listener; past it a request gets 503 before its body is read. */
  bodies?: BodyBudget | undefined;
  /** The sandbox's usage (GET /v1/usage); every model call is counted in its ledger. */
  usage?: SandboxUsage | undefined;
  /** Set for the TCP listener on 127.0.0.1:<loopbackPort>: requests must name it in Host and Origin. */
  loopbackPort?: number | undefined;
}

/** Builds the agent-facing app. */
export async function build(options: AppOptions): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: options.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // No pino child (with its serialised reqId binding) per request: nothing logs per request
    // through request.log on the hot path, and the few warnings that do need no request id.
    childLoggerFactory: (logger) => logger,
    schemaController: noSchemaCompilers,
    bodyLimit: options.maxBodyBytes,
    // Long streams: no server-side request timeout; the providers' totalMs bounds each call.
    requestTimeout: 0,
    return503OnClosing: true,
    // A URL fastify cannot decode never reaches a route: answer it in the client's shape too.
    frameworkErrors: (_error, request, reply) =>
      void (reply as unknown as FastifyReply)
        .code(400)
        .type('application/json')
        .send(ingressOf(request.url, request.headers).errorBody({ status: 400, type: 'invalid_request_error', message: `malformed request URL ${JSON.stringify(request.url.slice(0, 200))}` })),
    // Requests Node's HTTP parser refuses never reach fastify: still answer in the OpenAI shape.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return void socket.destroy();
      const mcpResponse = mcpClientErrorResponse(err);
      if (mcpResponse) return void socket.end(mcpResponse);
      const tooLarge = (err as { code?: string }).code === 'HPE_HEADER_OVERFLOW';
      const status = tooLarge ? 431 : 400;
      const body = JSON.stringify(openAIIngress.errorBody({ status, type: 'invalid_request_error', message: tooLarge ? 'request headers too large' : 'malformed HTTP request' }));
      socket.end(`HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    },
  });
  // Bodies stay raw: the handlers parse them (in the client's error shape) and can pass the
  // bytes through unchanged to a provider that speaks the same API.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  if (options.bodies) {
    const bodies = options.bodies;
    // Before the body is read: refused, it never takes memory. In the client's shape, retryable.
    app.addHook('onRequest', async (request, reply) => {
      if (bodies.admit(request.raw, reply.raw)) return;
      reply.header('retry-after', '1');
      const message = `the sidecar is already holding ${bodies.maxBytes} bytes of request bodies (listen.maxBodyBytesInFlight); retry when one has finished`;
      if (request.url.split('?')[0] === MCP_PATH) {
        return reply.code(503).send({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
      }
      return refuse(reply, ingressOf(request.url, request.headers), { status: 503, type: 'api_error', message });
    });
  }
  if (options.loopbackPort !== undefined) guardLoopback(app, options.loopbackPort);
  await app.register(openAIRoutes, options);
  await app.register(anthropicRoutes, options);
  await app.register(responsesRoutes, options);
  await app.register(geminiRoutes, options);
  // Paths and methods no route owns, answered in the shape of the API the client speaks.
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    if (options.mcp && path === MCP_PATH) return refuseMcpMethod(request.method, reply);
    return refuse(reply, ingressOf(request.url, request.headers), { status: 404, type: 'invalid_request_error', message: `unknown endpoint ${request.method} ${path}` });
  });

  if (options.mcp) await app.register(mcpRoute, { mcp: options.mcp });

  if (options.usage) {
    const usage = options.usage;
    // The sandbox's spend and budget across all its pods, so an agent can pace itself.
    app.get('/v1/usage', async () => usage.view());
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => readiness(options, reply));
  return app;
}

/** The API a request outside every route speaks, judged by its path, then by its headers. */
function ingressOf(url: string, headers: Record<string, string | string[] | undefined>): Ingress {
  if (url.startsWith('/v1beta/') || isGeminiClient(headers)) return geminiIngress;
  if (url.startsWith('/v1/messages') || isAnthropicClient(headers)) return anthropicIngress;
  return openAIIngress;
}

/** The providers whose every key was refused (401/403), by name: until their key Secret changes. */
export function rejectedProviders(live: LiveConfig): string[] {
  return live.loaded ? live.current.providers.filter((p) => p.keys.allDisabled()).map((p) => p.config.name) : [];
}

/**
 * Ready once a config is loaded and (when configured) the MCP gateway is up; reports a refused
 * config and providers that refused every key (degraded: the agent gets a clear error for their
 * models until the key Secret changes).
 */
export function readiness(options: Pick<AppOptions, 'live' | 'mcp'>, reply: { code(status: number): unknown }) {
  const { configHash, rejected } = options.live.status();
  const ready = options.live.loaded && (options.mcp?.ready() ?? true);
  const credentialsRejected = rejectedProviders(options.live);
  reply.code(ready ? 200 : 503);
  return {
    status: ready ? (rejected || credentialsRejected.length > 0 ? 'degraded' : 'ready') : 'not ready',
    configHash,
    ...(rejected ? { rejectedConfig: { hash: rejected.hash, errors: rejected.errors } } : {}),
    ...(credentialsRejected.length > 0 ? { providers: credentialsRejected.map((name) => ({ name, problem: 'credentials rejected: the provider refused every API key (401/403)' })) } : {}),
  };
}
