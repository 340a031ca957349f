/**
 * The MCP server one client session talks to. Every session gets its own SDK `Server` (the SDK
 * binds a server to one transport); all of them read the same aggregate. Requests reach each
 * backend on that session's own upstream session (see backend.ts), so what the backend sends
 * back (logging, resource updates, sampling, elicitation) reaches this client, if the backend has
 * a tool, prompt or resource exposed (upstream.ts).
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Backend } from './backend.js';
import { CALL_TOOL, SEARCH_TOOL, callToolDefinition, runSearch, searchToolDefinition, unwrapCall } from './builtin-tools.js';
import { GatewayError, GatewayErrorCode } from './errors.js';
import { callTool, complete, getPrompt, readResource, subscription, type RoutingContext } from './routing.js';
import type { SearchHit } from './search.js';
import type { DownstreamSession } from './upstream.js';

/** What a session server needs from the gateway. */
export interface SessionContext extends RoutingContext {
  /** Lazy mode: tools/list shows only search_tools and call_tool. */
  lazy(): boolean;
  search(query: string, limit: number): SearchHit[];
  /** Every configured backend. */
  allBackends(): Iterable<Backend>;
  /** Most entries in one page of a list; longer lists continue with a cursor. */
  pageSize(): number;
  /** A session's server was created; `closed` when it ended. */
  sessionOpened(session: DownstreamSession): void;
  sessionClosed(session: DownstreamSession): void;
}

/** What the gateway tells clients about itself. */
export const SERVER_INFO = { name: 'airlock', title: 'Airlock MCP gateway', version: '0.1.0' } as const;

const INSTRUCTIONS =
  'This server brings together the MCP servers of this sandbox. Tool and prompt names are <backend prefix>__<name>; ' +
  'resource URIs are airlock+<prefix>+<original URI>. Use search_tools to find tools by keywords.';

/**
 * The instructions a new session gets: the gateway's own, then what each connected backend tells its
 * clients (a server's `instructions`, which clients such as Claude Code put in the model's prompt),
 * each under the prefix its tools carry here, so the model reads them with the names it calls.
 * Not those of a backend in `pinned` approval mode: only what was approved by its hash reaches
 * clients from it (pinning.ts), and instructions are text a model reads that no pin covers. Nor
 * those of a backend none of whose tools, prompts and resources is exposed (`exposed` lists the
 * backends that have one, Aggregate.exposedBackends): what the agent may not use does not speak
 * to it either.
 */
export function instructionsFor(backends: Iterable<Backend>, exposed: ReadonlySet<string>): string {
  const parts = [INSTRUCTIONS];
  for (const backend of backends) {
    if (backend.config.approval.mode === 'pinned' || !exposed.has(backend.name)) continue;
    const own = backend.instructions();
    if (own) parts.push(`Backend ${JSON.stringify(backend.config.prefix)} (its names start with ${backend.config.prefix}__) says:\n${own}`);
  }
  return parts.join('\n\n');
}

/** The tools/list result for the current aggregate. */
export function listedTools(ctx: SessionContext): Tool[] {
  if (ctx.lazy()) return [searchToolDefinition, callToolDefinition];
  return [...ctx.aggregate().listedTools, searchToolDefinition];
}

/** A new SDK server wired to the gateway, ready to connect to one session's transport. */
export function createSessionServer(ctx: SessionContext): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: {
      tools: { listChanged: true },
      resources: { listChanged: true, subscribe: true },
      prompts: { listChanged: true },
      completions: {},
      logging: {},
    },
    instructions: instructionsFor(ctx.allBackends(), ctx.aggregate().exposedBackends),
  });
  let id: string | undefined;
  const session: DownstreamSession = {
    // The transport knows the id once the session is initialised, before any request reaches a handler.
    get id() {
      return (id ??= server.transport?.sessionId) ?? '';
    },
    server,
    logLevel: undefined,
    subscriptions: new Set(),
  };
  const page = <T>(items: T[], cursor: string | undefined) => paginate(items, cursor, ctx.pageSize());

  server.setRequestHandler(ListToolsRequestSchema, (request) => {
    const { items, nextCursor } = page(listedTools(ctx), request.params?.cursor);
    return { tools: items, nextCursor };
  });
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => {
    const params = request.params;
    if (params.name === SEARCH_TOOL) return runSearch(params.arguments, (q, n) => ctx.search(q, n));
    if (params.name === CALL_TOOL) {
      const unwrapped = unwrapCall(params);
      return 'content' in unwrapped ? unwrapped : callTool(ctx, unwrapped, extra, session);
    }
    return callTool(ctx, params, extra, session);
  });
  server.setRequestHandler(ListResourcesRequestSchema, (request) => {
    const { items, nextCursor } = page(ctx.aggregate().resources, request.params?.cursor);
    return { resources: items, nextCursor };
  });
  server.setRequestHandler(ListResourceTemplatesRequestSchema, (request) => {
    const { items, nextCursor } = page(ctx.aggregate().resourceTemplates, request.params?.cursor);
    return { resourceTemplates: items, nextCursor };
  });
  server.setRequestHandler(ReadResourceRequestSchema, (request, extra) => readResource(ctx, request.params, extra, session));
  server.setRequestHandler(SubscribeRequestSchema, (request, extra) => subscription(ctx, 'resources/subscribe', request.params.uri, extra, session));
  server.setRequestHandler(UnsubscribeRequestSchema, (request, extra) => subscription(ctx, 'resources/unsubscribe', request.params.uri, extra, session));
  server.setRequestHandler(ListPromptsRequestSchema, (request) => {
    const { items, nextCursor } = page(ctx.aggregate().prompts, request.params?.cursor);
    return { prompts: items.map((p) => p.prompt), nextCursor };
  });
  server.setRequestHandler(GetPromptRequestSchema, (request, extra) => getPrompt(ctx, request.params, extra, session));
  server.setRequestHandler(CompleteRequestSchema, (request, extra) => complete(ctx, request.params, extra, session));
  server.setRequestHandler(SetLevelRequestSchema, async (request, extra) => {
    session.logLevel = request.params.level;
    // Every ready backend that logs gets the level on this session's upstream session; one that fails is skipped.
    // Not a backend with nothing exposed: it would open an upstream session for this client and
    // could answer with log lines or requests of its own (upstream.ts drops them anyway).
    const exposed = ctx.aggregate().exposedBackends;
    const ready = [...ctx.allBackends()].filter((b) => b.state === 'ready' && b.supports('logging') && exposed.has(b.name));
    await Promise.all(ready.map((b) => b.setLogLevel(request.params.level, { session, signal: extra.signal }).catch(() => undefined)));
    return {};
  });
  // The agent's roots are its container's paths and go to no backend (mcp/client.ts CLIENT_CAPABILITIES): a change is nobody's business.
  server.setNotificationHandler(RootsListChangedNotificationSchema, () => undefined);
  server.oninitialized = () => ctx.sessionOpened(session);
  server.onclose = () => ctx.sessionClosed(session);
  return server;
}

/**
 * One page of a list. The cursor is opaque to clients (base64url of the offset); a list that
 * changed between pages is re-read by clients anyway, since every change sends list_changed.
 */
export function paginate<T>(items: T[], cursor: string | undefined, size: number): { items: T[]; nextCursor?: string } {
  let offset = 0;
  if (cursor !== undefined) {
    const parsed = /^o(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!parsed) throw new GatewayError(GatewayErrorCode.InvalidParams, `invalid cursor ${JSON.stringify(cursor)}: pass the nextCursor of the previous page`);
    offset = Number(parsed[1]);
  }
  const end = offset + size;
  return end < items.length ? { items: items.slice(offset, end), nextCursor: Buffer.from(`o${end}`).toString('base64url') } : { items: items.slice(offset) };
}
