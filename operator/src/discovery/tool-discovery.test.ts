import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalToolJson, toolHash } from '@airlock/sidecar/pinning';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { ListToolsRequestSchema, ToolSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { mcpSessions } from '../../../test/mocks/mcp-sessions.js';
import { discoverTools, toolStates } from './tool-discovery.js';

const TOKEN = 'mcp-test-token-91d2c7e0';
const AUTH = { authorization: `Bearer ${TOKEN}` };

const running: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((close) => close()));
});

/** Serves `handler` on 127.0.0.1 and registers its shutdown; resolves to the origin. */
async function serve(handler: RequestListener, onClose: () => Promise<unknown> = async () => undefined): Promise<string> {
  const http = createServer(handler);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  running.push(async () => {
    await onClose().catch(() => undefined);
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

/** A port nothing listens on: bind one, then free it. */
async function deadPort(): Promise<number> {
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  await new Promise<void>((resolve) => http.close(() => resolve()));
  return port;
}

/** Refuses a request without the bearer token, echoing the header it got (as careless servers do). */
function refused(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.headers.authorization === `Bearer ${TOKEN}`) return false;
  res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `unauthorized: ${req.headers.authorization ?? 'no header'}` }));
  return true;
}

function weatherServer(name: string): McpServer {
  const server = new McpServer({ name, version: '1.0.0' });
  server.registerTool(
    'get-weather',
    {
      description: 'Current weather for a city.',
      inputSchema: { city: z.string() },
      outputSchema: { celsius: z.number() },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    async () => ({ content: [{ type: 'text', text: '21' }], structuredContent: { celsius: 21 } }),
  );
  server.registerTool('add', { description: 'Adds two integers.', inputSchema: { a: z.number().int(), b: z.number().int() } }, async ({ a, b }) => ({
    content: [{ type: 'text', text: String(a + b) }],
  }));
  return server;
}

/** A stateful Streamable HTTP server (one transport per session) built by `build`, behind a bearer token. */
async function streamableServer(build: () => McpServer | Server = () => weatherServer('streamable')) {
  const mcp = mcpSessions(build);
  const methods: string[] = [];
  const origin = await serve((req, res) => {
    methods.push(req.method ?? '');
    if (refused(req, res)) return;
    mcp.handle(req, res);
  }, mcp.close);
  return { url: `${origin}/mcp`, sessions: mcp.sessions, methods };
}

/** A server that speaks only the 2024-11-05 HTTP+SSE transport (GET /sse, POST /messages), behind a bearer token. */
async function sseOnlyServer() {
  const transports = new Map<string, SSEServerTransport>();
  const origin = await serve(
    (req, res) => {
      if (refused(req, res)) return;
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        if (req.method === 'GET' && url.pathname === '/sse') {
          const transport = new SSEServerTransport('/messages', res);
          transports.set(transport.sessionId, transport);
          await weatherServer('sse-only').connect(transport);
          return;
        }
        const transport = req.method === 'POST' && url.pathname === '/messages' ? transports.get(url.searchParams.get('sessionId') ?? '') : undefined;
        if (transport) return transport.handlePostMessage(req, res);
        res.writeHead(405, { allow: 'GET' }).end('method not allowed');
      })().catch((err: unknown) => res.destroy(err as Error));
    },
    () => Promise.all([...transports.values()].map((t) => t.close())),
  );
  return { url: `${origin}/sse` };
}

/** A low-level server that lists exactly these raw tools, `pageSize` per tools/list page. */
function catalog(tools: Record<string, unknown>[], pageSize = tools.length): () => Server {
  return () => {
    const server = new Server({ name: 'catalog', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, (request) => {
      const start = Number(request.params?.cursor ?? 0);
      const next = start + pageSize;
      return { tools: tools.slice(start, next) as Tool[], ...(next < tools.length ? { nextCursor: String(next) } : {}) };
    });
    return server;
  };
}

const target = (url: string, transport: 'streamable-http' | 'sse' = 'streamable-http', headers: Record<string, string> = AUTH) => ({ transport, url, headers, timeoutMs: 5_000 });

describe('discoverTools over Streamable HTTP', () => {
  it('lists the tools with their definitions, sending the configured headers', async () => {
    const server = await streamableServer();
    const result = await discoverTools(target(server.url));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.tools.map((t) => t.name).sort()).toEqual(['add', 'get-weather']);
    const weather = result.tools.find((t) => t.name === 'get-weather');
    expect(weather).toMatchObject({
      description: 'Current weather for a city.',
      inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      outputSchema: { type: 'object', properties: { celsius: { type: 'number' } } },
      annotations: { readOnlyHint: true, openWorldHint: true },
    });
  });

  it('ends its session and leaves nothing open', async () => {
    const server = await streamableServer();
    expect((await discoverTools(target(server.url))).ok).toBe(true);
    expect(server.methods).toContain('DELETE');
    expect(server.sessions.size).toBe(0);
  });

  it('follows tools/list pagination', async () => {
    const tools = Array.from({ length: 7 }, (_, i) => ({ name: `t${i}`, inputSchema: { type: 'object' } }));
    const server = await streamableServer(catalog(tools, 3));
    const result = await discoverTools(target(server.url));
    expect(result).toMatchObject({ ok: true, tools: tools.map((t) => ({ name: t.name })) });
  });

  it.each([
    ['entries', 1_000, 10, 4096, 'the server lists more tools than Airlock reads (at most 4096 entries and 8 MiB of definitions): the first 4096 are used', 5],
    ['characters', 2, 1024 * 1024, 7, 'the server lists more tools than Airlock reads (at most 4096 entries and 8 MiB of definitions): the first 7 are used', 4],
  ])('stops reading a server that pages on and on past the most %s a list holds, and keeps what fits', async (_what, perPage, descriptionChars, kept, why, pagesRead) => {
    // Before: up to 100 pages were read and kept whole, and such a server took the operator past its memory limit.
    let pages = 0;
    const description = 'd'.repeat(descriptionChars);
    const server = await streamableServer(() => {
      const s = new Server({ name: 'endless', version: '1.0.0' }, { capabilities: { tools: {} } });
      s.setRequestHandler(ListToolsRequestSchema, () => {
        pages++;
        return { tools: Array.from({ length: perPage }, (_, i) => ({ name: `t${pages}-${i}`, description, inputSchema: { type: 'object' as const } })), nextCursor: 'more' };
      });
      return s;
    });
    const result = await discoverTools(target(server.url));
    expect(result).toMatchObject({ ok: true, cut: [why] });
    expect(result.ok && result.tools).toHaveLength(kept);
    expect(pages).toBe(pagesRead);
  });

  it('sees the tools a server offers only to clients that can sample or elicit, as the gateway does (neither gives roots: they are the agent\'s paths)', async () => {
    // One client module for the operator and the sidecar: the same capabilities declared, so the same list.
    const server = await streamableServer(() => {
      const s = new Server({ name: 'capability-aware', version: '1.0.0' }, { capabilities: { tools: {} } });
      s.setRequestHandler(ListToolsRequestSchema, () => {
        const caps = s.getClientCapabilities() ?? {};
        const tools = [{ name: 'always', inputSchema: { type: 'object' as const } }];
        for (const cap of ['sampling', 'elicitation', 'roots'] as const) if (caps[cap]) tools.push({ name: `needs-${cap}`, inputSchema: { type: 'object' as const } });
        return { tools };
      });
      return s;
    });
    const result = await discoverTools({ transport: 'streamable-http', url: server.url, headers: AUTH, timeoutMs: 5_000 });
    expect(result.ok && result.tools.map((t) => t.name)).toEqual(['always', 'needs-sampling', 'needs-elicitation']);
  });

  it('reports a server without the tools capability as having no tools', async () => {
    const server = await streamableServer(() => new Server({ name: 'empty', version: '1.0.0' }, { capabilities: {} }));
    expect(await discoverTools(target(server.url))).toEqual({ ok: true, tools: [], prompts: [], resources: [], resourceTemplates: [] });
  });

  it('reports a wrong token as 401 without revealing the header value (after trying SSE, as the fallback rule says)', async () => {
    const server = await streamableServer();
    const result = await discoverTools(target(server.url, 'streamable-http', { authorization: 'Bearer wrong-token-5c1e0a' }));
    expect(result).toMatchObject({ ok: false, reason: 'streamable-http: 401 Unauthorized: the server refused the credentials; SSE fallback: 401 Unauthorized: the server refused the credentials' });
    if (!result.ok) expect(result.reason).not.toContain('wrong-token-5c1e0a');
  });

  it('reports a dead port as connection refused, without falling back', async () => {
    const result = await discoverTools(target(`http://127.0.0.1:${await deadPort()}/mcp`));
    expect(result).toEqual({ ok: false, reason: 'streamable-http: connection refused (ECONNREFUSED)' });
  });

  it('gives up after timeoutMs when the server never answers', async () => {
    const url = await serve(() => undefined);
    const started = Date.now();
    const result = await discoverTools({ ...target(`${url}/mcp`), timeoutMs: 300 });
    expect(result).toEqual({ ok: false, reason: 'streamable-http: no answer within 300 ms while connecting (timeout)' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('rejects a url that is not one', async () => {
    expect(await discoverTools(target('not a url'))).toEqual({ ok: false, reason: 'the url is not a valid URL' });
  });
});

describe('discoverTools over HTTP+SSE', () => {
  it('falls back to SSE when the server answers the Streamable HTTP POST with a 4xx', async () => {
    const server = await sseOnlyServer();
    const result = await discoverTools(target(server.url, 'streamable-http'));
    expect(result).toMatchObject({ ok: true, tools: expect.arrayContaining([expect.objectContaining({ name: 'get-weather' })]) });
  });

  it('uses SSE directly for transport sse, with the headers', async () => {
    const server = await sseOnlyServer();
    expect(await discoverTools(target(server.url, 'sse'))).toMatchObject({ ok: true, tools: expect.arrayContaining([expect.objectContaining({ name: 'add' })]) });
    const refusedResult = await discoverTools(target(server.url, 'sse', { authorization: 'Bearer nope-nope-nope' }));
    expect(refusedResult).toMatchObject({ ok: false, reason: 'sse: 401 Unauthorized: the server refused the credentials' });
    if (!refusedResult.ok) expect(refusedResult.reason).not.toContain('nope-nope-nope');
  });

  it('reports a dead port as connection refused', async () => {
    expect(await discoverTools(target(`http://127.0.0.1:${await deadPort()}/sse`, 'sse'))).toEqual({ ok: false, reason: 'sse: connection refused (ECONNREFUSED)' });
  });

  it('gives up after timeoutMs when an SSE server never sends its endpoint', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' }).write(': hello\n\n');
    });
    const result = await discoverTools({ ...target(`${url}/sse`, 'sse'), timeoutMs: 300 });
    expect(result).toEqual({ ok: false, reason: 'sse: no answer within 300 ms while connecting (timeout)' });
  });
});

describe('the hash in status is the hash the sidecar enforces', () => {
  // What the server sends on the wire: a title, _meta, and an annotation key the MCP schema does
  // not know. The SDK client drops that key (and the gateway never serves it), and the sidecar
  // hashes what the SDK client returns, so the operator must hash the same parsed object.
  const wire = {
    name: 'get-weather',
    title: 'Weather',
    description: 'Current weather for a city.',
    inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    annotations: { readOnlyHint: true, 'x-vendor-risk': 'low' },
    _meta: { 'example.com/origin': 'test' },
  };
  // Computed outside this code: printf '%s' '<canonical JSON below>' | sha256sum
  const CANONICAL =
    '{"_meta":{"example.com/origin":"test"},"annotations":{"readOnlyHint":true},"description":"Current weather for a city.","inputSchema":{"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"name":"get-weather","title":"Weather"}';
  const SHA256 = 'd0043515a761a7f3280fca9a9b1c3284576b436e102079587c798d55e75a65ce';
  const WIRE_SHA256 = 'cbe608187de88e56acd9fd56f26c874398215d43fd43e3c573d9a7d54071eddc';

  it('hashes exactly the tool the SDK client returns from tools/list (fixed vector)', async () => {
    const server = await streamableServer(catalog([wire]));
    const result = await discoverTools(target(server.url));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const [tool] = result.tools;
    expect(tool && canonicalToolJson(tool)).toBe(CANONICAL);
    expect(toolStates(result.tools, { mode: 'auto' })).toEqual([{ name: 'get-weather', sha256: SHA256, state: 'approved' }]);
    // The same object shape the sidecar's gateway hashes: the SDK's parse of the wire tool.
    expect(toolHash(ToolSchema.parse(wire))).toBe(SHA256);
    // And not the raw wire JSON, which would never match a pin the sidecar checks.
    expect(toolHash(wire)).toBe(WIRE_SHA256);
  });

  it('approves a tool pinned with that hash and reports a moved definition as changed', async () => {
    const server = await streamableServer(catalog([wire, { ...wire, name: 'other' }]));
    const result = await discoverTools(target(server.url));
    if (!result.ok) throw new Error(result.reason);
    expect(toolStates(result.tools, { mode: 'pinned', pinned: [{ name: 'get-weather', sha256: SHA256 }, { name: 'other', sha256: SHA256 }] })).toEqual([
      { name: 'get-weather', sha256: SHA256, state: 'approved' },
      { name: 'other', sha256: toolHash({ ...ToolSchema.parse(wire), name: 'other' }), state: 'changed' },
    ]);
  });
});
