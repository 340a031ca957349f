/**
 * MCP backends served over HTTP from inside the test process, written with the MCP SDK:
 * a Streamable HTTP server whose tool description the test can change at run time, and a server
 * that only speaks the older HTTP+SSE transport.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { mcpSessions } from '../../mocks/mcp-sessions.js';
import { McpServer, type RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';

export const ORIGINAL_DESCRIPTION = 'Returns the launch code marker.';

export interface HttpBackend {
  url: string;
  /** Changes the description of `marker` in every session (the backend sends list_changed). */
  setMarkerDescription(description: string): void;
  /** Tags of `slow` calls that started. */
  started: string[];
  /** Tags of `slow` calls that were cancelled by the caller. */
  cancelled: string[];
  /** Authorization header values seen on requests. */
  authorizations: Set<string | undefined>;
  /** The `_meta` of each `whoami` call, as the server got it. */
  whoamiMeta: (Record<string, unknown> | undefined)[];
  close(): Promise<void>;
}

/** A Streamable HTTP MCP server with tools `whoami`, `add`, `marker` and `slow`; requires a bearer token when given. */
export async function startHttpBackend(options: { token?: string } = {}): Promise<HttpBackend> {
  const markers = new Set<RegisteredTool>();
  let description = ORIGINAL_DESCRIPTION;
  const cancelled: string[] = [];
  const started: string[] = [];
  const authorizations = new Set<string | undefined>();
  const whoamiMeta: (Record<string, unknown> | undefined)[] = [];

  const build = () => {
    const server = new McpServer({ name: 'http-backend', version: '1.0.0' });
    server.registerTool('whoami', { description: 'Names the server that answers.' }, async (extra) => {
      whoamiMeta.push(extra._meta);
      return { content: [{ type: 'text', text: 'http-backend' }] };
    });
    server.registerTool(
      'add',
      { description: 'Adds two integers.', inputSchema: { a: z.number().int(), b: z.number().int() } },
      async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
    );
    const marker = server.registerTool('marker', { description, annotations: { readOnlyHint: true } }, async () => ({ content: [{ type: 'text', text: 'marker-ok' }] }));
    markers.add(marker);
    server.registerTool(
      'slow',
      { description: 'Waits for the given time unless cancelled.', inputSchema: { ms: z.number().int(), tag: z.string() } },
      async ({ ms, tag }, extra) => {
        started.push(tag);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            cancelled.push(tag);
            resolve();
          });
        });
        return { content: [{ type: 'text', text: `slept ${ms}` }] };
      },
    );
    return server;
  };

  const mcp = mcpSessions(build);
  const http = createServer((req, res) => {
    authorizations.add(req.headers.authorization);
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
      return;
    }
    mcp.handle(req, res);
  });
  const url = await listen(http, '/mcp');
  return {
    url,
    started,
    cancelled,
    authorizations,
    whoamiMeta,
    setMarkerDescription: (text) => {
      description = text;
      for (const marker of markers) marker.update({ description: text });
    },
    close: () => closeServer(http, mcp.close),
  };
}

/** An MCP server that speaks only the 2024-11-05 HTTP+SSE transport (GET /sse, POST /messages). */
export async function startSseOnlyBackend(): Promise<{ url: string; close(): Promise<void> }> {
  const transports = new Map<string, SSEServerTransport>();
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'GET' && url.pathname === '/sse') {
        const transport = new SSEServerTransport('/messages', res);
        transports.set(transport.sessionId, transport);
        const server = new McpServer({ name: 'sse-only', version: '1.0.0' });
        server.registerTool('legacy-echo', { description: 'Echoes over the legacy transport.', inputSchema: { text: z.string() } }, async ({ text }) => ({
          content: [{ type: 'text', text: `legacy:${text}` }],
        }));
        await server.connect(transport);
        return;
      }
      if (req.method === 'POST' && url.pathname === '/messages') {
        const transport = transports.get(url.searchParams.get('sessionId') ?? '');
        if (!transport) return void res.writeHead(404).end();
        return transport.handlePostMessage(req, res);
      }
      res.writeHead(405, { allow: 'GET' }).end();
    })().catch((err: unknown) => res.destroy(err as Error));
  });
  const url = await listen(http, '/sse');
  return { url, close: () => closeServer(http, async () => Promise.all([...transports.values()].map((t) => t.close())).then(() => undefined)) };
}

/** A Streamable HTTP MCP server listing the given tools; a call returns the called tool's name. */
export async function startCatalogBackend(tools: Tool[]): Promise<{ url: string; close(): Promise<void> }> {
  const mcp = mcpSessions(() => {
    const server = new Server({ name: 'catalog', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
    server.setRequestHandler(CallToolRequestSchema, (request) => ({ content: [{ type: 'text', text: `called ${request.params.name}` }] }));
    return server;
  });
  const http = createServer((req, res) => mcp.handle(req, res));
  const url = await listen(http, '/mcp');
  return { url, close: () => closeServer(http, mcp.close) };
}

async function listen(http: HttpServer, path: string): Promise<string> {
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}${path}`;
}

async function closeServer(http: HttpServer, closeSessions: () => Promise<void>): Promise<void> {
  await closeSessions().catch(() => undefined);
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
}

/**
 * A Streamable HTTP MCP server written by hand, without sessions, so a tool can answer with any
 * bytes: each of `tools` is listed, and a call of it is handed its request id and the response to
 * write (left open as long as the tool likes). Every stream it leaves open is closed with it.
 */
export async function startRawBackend(tools: Record<string, (id: number, res: ServerResponse) => void>): Promise<{ url: string; close(): Promise<void> }> {
  const http = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const message = JSON.parse(body) as { id?: number; method: string; params?: { protocolVersion?: string; name?: string } };
      const reply = (result: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
      if (message.id === undefined) return void res.writeHead(202).end();
      if (message.method === 'initialize') return reply({ protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'raw', version: '1' } });
      if (message.method === 'tools/list') return reply({ tools: Object.keys(tools).map((name) => ({ name, inputSchema: { type: 'object' } })) });
      const tool = message.method === 'tools/call' ? tools[message.params?.name ?? ''] : undefined;
      return tool ? tool(message.id, res) : reply({});
    });
  });
  const url = await listen(http, '/mcp');
  return { url, close: () => closeServer(http, async () => undefined) };
}
