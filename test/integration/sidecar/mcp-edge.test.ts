/**
 * The /mcp edge of the real sidecar, on the socket and on the loopback port, from the MCP SDK
 * client and from raw HTTP as an attacker sends it: DNS-rebinding protection (forged Origin and
 * Host on the TCP listener, the socket exempt), every refusal in JSON-RPC shape, bad params and
 * bad built-in tool arguments as errors a client and a model can act on, and a backend that never
 * connected named as such. server-everything (stdio) is the real backend.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { fetch as undiciFetch } from 'undici';
import { npmServer, until } from '../mcp/harness.js';
import { freePort, stackDir, startStack, type Stack } from './harness.js';

let stack: Stack;
let port: number;
let deadPort: number;
const clients: Client[] = [];

/** An SDK client over the socket or the loopback port, sending `headers` on every request. */
async function mcpClient(via: 'socket' | 'loopback', headers: Record<string, string> = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const socketFetch = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher: stack.dispatcher })) as unknown as typeof fetch;
  const url = via === 'socket' ? new URL('http://airlock/mcp') : new URL(`http://127.0.0.1:${port}/mcp`);
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers }, ...(via === 'socket' ? { fetch: socketFetch } : {}) });
  const client = new Client({ name: 'edge-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

/** One raw HTTP/1.1 request to the loopback port with exactly the given headers. */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      // An SSE stream (a request's answers) is kept as its text.
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: !text ? undefined : String(res.headers['content-type']).startsWith('text/event-stream') ? text : JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The JSON-RPC messages of an answer: its JSON body, or each `data:` of its SSE stream. */
function messagesOf(answer: { json: unknown }): unknown[] {
  if (typeof answer.json !== 'string') return [answer.json];
  return answer.json
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)) as unknown);
}

const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
const mcpHeaders = (host: string) => ({ host, 'content-type': 'application/json', accept: 'application/json, text/event-stream' });

beforeAll(async () => {
  port = await freePort();
  deadPort = await freePort();
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'edge' },
    listen: { loopbackPort: port },
    mcp: {
      backends: [
        { name: 'everything', prefix: 'ev', transport: 'stdio', stdio: npmServer('mcp-server-everything', 'stdio') },
        // Nothing listens there: this backend never connects.
        { name: 'dead', prefix: 'dead', transport: 'streamable-http', url: `http://127.0.0.1:${deadPort}/mcp`, timeouts: { connectMs: 1_000 } },
      ],
    },
  });
  await until('the sidecar ready', async () => (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/readyz`)).status === 200);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await stack?.close();
});

describe('DNS-rebinding protection on the loopback port', () => {
  it('serves an SDK client on the loopback port and the socket', async () => {
    const { client } = await mcpClient('loopback');
    expect((await client.callTool({ name: 'ev__echo', arguments: { message: 'tcp' } })).content).toEqual([{ type: 'text', text: 'Echo: tcp' }]);
    const sameOrigin = await mcpClient('loopback', { origin: `http://localhost:${port}` });
    expect((await sameOrigin.client.listTools()).tools.length).toBeGreaterThan(1);
  });

  it('refuses a forged Origin with 403 in JSON-RPC shape and starts no session', async () => {
    const sessionsBefore = ((await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/mcp/tools`)).json()) as { sessions: number }).sessions;
    for (const origin of ['http://evil.example', `http://127.0.0.1.evil.example:${port}`, 'null', `https://localhost:${port}`, `http://localhost:${port + 1}`]) {
      const res = await raw('POST', '/mcp', { ...mcpHeaders(`127.0.0.1:${port}`), origin }, initialize);
      expect(res.status, origin).toBe(403);
      expect(res.headers['mcp-session-id']).toBeUndefined();
      expect(res.json).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32000, message: expect.stringContaining('Invalid Origin header') } });
    }
    // The GET stream and DELETE too, and the SDK client sees the refusal.
    expect((await raw('GET', '/mcp', { host: `127.0.0.1:${port}`, origin: 'http://evil.example', accept: 'text/event-stream' })).status).toBe(403);
    await expect(mcpClient('loopback', { origin: 'http://evil.example' })).rejects.toThrow(/403|Invalid Origin/);
    const sessionsAfter = ((await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/mcp/tools`)).json()) as { sessions: number }).sessions;
    expect(sessionsAfter).toBe(sessionsBefore);
  });

  it('refuses a forged Host on every route, in the shape of that route', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`]) {
      const res = await raw('POST', '/mcp', mcpHeaders(host), initialize);
      expect(res.status, host).toBe(403);
      expect(res.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000, message: expect.stringContaining('Invalid Host header') } });
    }
    const chat = await raw('POST', '/v1/chat/completions', { host: 'evil.example', 'content-type': 'application/json' }, '{}');
    expect(chat.status).toBe(403);
    expect(chat.json).toMatchObject({ error: { type: 'permission_error', message: expect.stringContaining('Invalid Host header') } });
    const messages = await raw('POST', '/v1/messages', { host: `127.0.0.1:${port}`, origin: 'http://evil.example', 'content-type': 'application/json' }, '{}');
    expect(messages.status).toBe(403);
    expect(messages.json).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
  });

  it('leaves the Unix socket exempt: a browser cannot reach it', async () => {
    const { client } = await mcpClient('socket', { origin: 'http://evil.example' });
    expect((await client.listTools()).tools.length).toBeGreaterThan(1);
  });
});

describe('errors in JSON-RPC shape', () => {
  it('answers PUT, PATCH, OPTIONS and HEAD on /mcp with 405 and the allowed methods', async () => {
    for (const method of ['PUT', 'PATCH', 'OPTIONS']) {
      // OPTIONS as a browser's CORS preflight sends it: no body.
      const res = method === 'OPTIONS' ? await raw(method, '/mcp', { host: `127.0.0.1:${port}`, 'access-control-request-method': 'POST' }) : await raw(method, '/mcp', mcpHeaders(`127.0.0.1:${port}`), '{}');
      expect(res.status, `${method} ${JSON.stringify(res.json)}`).toBe(405);
      expect(res.headers.allow).toBe('GET, POST, DELETE');
      expect(res.json).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32000, message: expect.stringContaining(`Method not allowed: ${method} /mcp`) } });
    }
    expect((await raw('HEAD', '/mcp', { host: `127.0.0.1:${port}` })).status).toBe(405);
  });

  it('answers oversized headers on /mcp with 431 in JSON-RPC shape', async () => {
    const response = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      let text = '';
      socket.on('data', (d) => (text += d));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.end(`POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nx-big: ${'a'.repeat(64 * 1024)}\r\ncontent-length: 2\r\n\r\n{}`);
    });
    expect(response).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4))).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'request headers too large' } });
  });

  it('answers an empty batch with one Invalid Request error, with and without a session', async () => {
    const { transport } = await mcpClient('loopback');
    for (const headers of [mcpHeaders(`127.0.0.1:${port}`), { ...mcpHeaders(`127.0.0.1:${port}`), 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION }]) {
      const res = await raw('POST', '/mcp', headers, '[]');
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: expect.stringContaining('the batch is empty') } });
    }
  });

  it('answers tools/call without a name with -32602 naming the field, not a validation dump', async () => {
    const { transport } = await mcpClient('loopback');
    const headers = { ...mcpHeaders(`127.0.0.1:${port}`), 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION };
    const res = await raw('POST', '/mcp', headers, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { arguments: {} } }));
    const [answer] = messagesOf(res);
    expect(answer).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32602, message: expect.stringMatching(/^Invalid params for tools\/call: params\.name: /) } });
    expect((answer as { error: { message: string } }).error.message).not.toMatch(/[[{]/);
  });

  it('answers bad params of the other methods with -32602 too (the SDK said -32603, an internal error, with zod\'s issues as text)', async () => {
    const { transport } = await mcpClient('loopback');
    const headers = { ...mcpHeaders(`127.0.0.1:${port}`), 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION };
    const requests: [string, object][] = [
      ['logging/setLevel', { level: 'verbose' }],
      ['resources/subscribe', { uri: 5 }],
      ['tools/list', { cursor: 5 }],
      ['prompts/list', { cursor: {} }],
    ];
    for (const [i, [method, params]] of requests.entries()) {
      const res = await raw('POST', '/mcp', headers, JSON.stringify({ jsonrpc: '2.0', id: i, method, params }));
      expect(messagesOf(res)).toEqual([{ jsonrpc: '2.0', id: i, error: { code: -32602, message: expect.stringContaining(`Invalid params for ${method}: params.`) } }]);
    }
  });

  it('answers each item of a batch on its own: -32602 for the one with bad params, the others as without it', async () => {
    const { transport } = await mcpClient('loopback');
    const headers = { ...mcpHeaders(`127.0.0.1:${port}`), 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION };
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'search_tools', arguments: 'echo' } },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { arguments: {} } },
      { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'search_tools', arguments: { query: 'echo a message' } } },
    ];
    const res = await raw('POST', '/mcp', headers, JSON.stringify(batch));
    expect(res.status).toBe(200);
    // One answer per request, in the order they are ready.
    type Answer = { id: number; result?: { tools?: unknown[]; isError?: boolean }; error?: { code: number; message: string } };
    const answers = new Map((messagesOf(res) as Answer[]).map((answer) => [answer.id, answer]));
    expect([...answers.keys()].sort()).toEqual([1, 2, 3, 4]);
    expect(answers.get(1)!.result!.tools!.length).toBeGreaterThan(0);
    expect(answers.get(2)!.error).toEqual({ code: -32602, message: expect.stringMatching(/^Invalid params for tools\/call: params\.arguments: /) });
    expect(answers.get(3)!.error).toEqual({ code: -32602, message: expect.stringMatching(/^Invalid params for tools\/call: params\.name: /) });
    expect(answers.get(4)!.result!.isError).toBeFalsy();
  });
});

describe('the connection', () => {
  it('closes it after answering a client that sent Connection: close, and keeps it for one that did not (the SDK said keep-alive to both)', async () => {
    /** Sends `head` + body on a new connection; the text received and whether the server closed it within a second. */
    const send = (connection: string) =>
      new Promise<{ text: string; closed: boolean }>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port });
        let text = '';
        const timer = setTimeout(() => {
          socket.destroy();
          resolve({ text, closed: false });
        }, 1_000);
        socket.on('data', (d) => (text += d));
        socket.on('end', () => {
          clearTimeout(timer);
          resolve({ text, closed: true });
        });
        socket.on('error', reject);
        socket.write(
          `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nconnection: ${connection}\r\ncontent-length: ${Buffer.byteLength(initialize)}\r\n\r\n${initialize}`,
        );
      });
    const closing = await send('close');
    expect(closing.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(closing.text.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(closing.closed).toBe(true);
    const kept = await send('keep-alive');
    expect(kept.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(kept.text.toLowerCase()).toContain('\r\nconnection: keep-alive\r\n');
    expect(kept.closed).toBe(false);
  });
});

describe('errors a client or a model can act on', () => {
  it('reports bad search_tools and call_tool arguments as tool errors the model can correct', async () => {
    const { client } = await mcpClient('socket');
    const search = await client.callTool({ name: 'search_tools', arguments: { limit: 0 } });
    expect(search.isError).toBe(true);
    expect(JSON.stringify(search.content)).toMatch(/invalid arguments for search_tools: query: .*limit: /);
    const corrected = await client.callTool({ name: 'search_tools', arguments: { query: 'echo a message' } });
    expect(corrected.isError).toBeFalsy();
    const call = await client.callTool({ name: 'call_tool', arguments: { arguments: {} } });
    expect(call).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringContaining('invalid arguments for call_tool: name') }] });
  });

  it('says a tool of a backend that never connected cannot be reached, and why, instead of "no tool by that name"', async () => {
    const { client } = await mcpClient('socket');
    const error = await client.callTool({ name: 'dead__fetch', arguments: {} }).catch((e: unknown) => e as Error & { code?: number });
    expect(error).toBeInstanceOf(Error);
    expect((error as { code?: number }).code).toBe(-32603);
    expect((error as Error).message).toMatch(/tool "dead__fetch" cannot be reached: backend "dead" is (failed|connecting); last error: /);
    expect((error as Error).message).not.toContain('no tool by that name');
  });
});

describe('airlock-sidecar run --help', () => {
  it('prints the usage and exits 0, without a stack trace', async () => {
    const root = join(import.meta.dirname, '../../..');
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'sidecar/src/cli.ts'), 'run', '--help'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(out).toContain('airlock-sidecar run [--config FILE]');
    expect(out).not.toMatch(/\n\s+at /);
  });
});
