/**
 * The MCP server one client session talks to. Every session gets its own SDK `Server` (the SDK
 * binds a server to one transport); all of them read the same aggregate and share the
 * backends' clients.
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
} from '@modelcontextprotocol/sdk/types.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { CALL_TOOL, SEARCH_TOOL, callToolDefinition, runSearch, searchToolDefinition, unwrapCall } from './builtin-tools.js';
import { callTool, complete, getPrompt, readResource, type RoutingContext } from './routing.js';
import type { SearchHit } from './search.js';

/** What a session server needs from the gateway. */
export interface SessionContext extends RoutingContext {
  /** Lazy mode: tools/list shows only search_tools and call_tool. */
  lazy(): boolean;
  search(query: string, limit: number): SearchHit[];
}

/** What the gateway tells clients about itself. */
export const SERVER_INFO = { name: 'airlock', title: 'Airlock MCP gateway', version: '0.1.0' } as const;

const INSTRUCTIONS =
  'This server brings together the MCP servers of this sandbox. Tool and prompt names are <backend prefix>__<name>; ' +
  'resource URIs are airlock+<prefix>+<original URI>. Use search_tools to find tools by keywords.';

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
      resources: { listChanged: true },
      prompts: { listChanged: true },
      completions: {},
    },
    instructions: INSTRUCTIONS,
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listedTools(ctx) }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => {
    const params = request.params;
    if (params.name === SEARCH_TOOL) return runSearch(params.arguments, (q, n) => ctx.search(q, n));
    if (params.name === CALL_TOOL) return callTool(ctx, unwrapCall(params), extra);
    return callTool(ctx, params, extra);
  });
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: ctx.aggregate().resources }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: ctx.aggregate().resourceTemplates }));
  server.setRequestHandler(ReadResourceRequestSchema, (request, extra) => readResource(ctx, request.params, extra));
  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: ctx.aggregate().prompts.map((p) => p.prompt) }));
  server.setRequestHandler(GetPromptRequestSchema, (request, extra) => getPrompt(ctx, request.params, extra));
  server.setRequestHandler(CompleteRequestSchema, (request, extra) => complete(ctx, request.params, extra));
  return server;
}
