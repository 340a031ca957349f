/**
 * A message from an HTTP MCP server larger than the sidecar can hold a few of: a tool result of
 * 60 MiB (a fetch tool the agent pointed at a large page, or a hostile server). The SDK reads a
 * JSON response or an event whole and the gateway holds it until the client has it, at a few
 * times its size, so a few such calls at once took the sidecar past its memory limit (the pod's
 * only door, and the spend not yet counted). Past 32 MiB the message is not read: the call fails.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { serveMcp, type ServedMcp } from '../../mocks/mcp-sessions.js';
import { serveGateway, text, until, type ServedGateway } from './harness.js';
import { startRawBackend } from './http-backends.js';
import { cappedFetchFor, connectWithin, httpTransport, MAX_STREAM_EVENT_BYTES, sending } from '../../../sidecar/src/mcp/client.js';
import { AnswerBudget } from '../../../sidecar/src/upstream/answer-budget.js';

/**
 * The budget, with the most it held at once: a half-message is held only until callMs passes
 * without a byte, a window a poll on a loaded machine could miss.
 */
class PeakBudget extends AnswerBudget {
  peak = 0;

  override hold(bytes: number, own: number): boolean {
    const fits = super.hold(bytes, own);
    this.peak = Math.max(this.peak, this.bytes);
    return fits;
  }
}

let backend: ServedMcp;
const served: ServedGateway[] = [];

beforeAll(async () => {
  backend = await serveMcp(() => {
    const server = new McpServer({ name: 'big', version: '1.0.0' });
    server.registerTool('page', { description: 'Returns a page of the given size in MiB.', inputSchema: {} }, async (_args, extra) => {
      const mib = Number((extra as { _meta?: { mib?: number } })._meta?.mib ?? 1);
      return { content: [{ type: 'text', text: 'z'.repeat(mib * 1024 * 1024) }] };
    });
    server.registerTool('small', { description: 'Returns a word.' }, async () => ({ content: [{ type: 'text', text: 'small' }] }));
    return server;
  });
});

afterAll(async () => {
  await Promise.all(served.map((s) => s.close()));
  await backend?.close();
});

it('does not read a message past 32 MiB (one event of the response stream), and serves the next call', async () => {
  const gateway = await serveGateway({ backends: [{ name: 'big', prefix: 'big', transport: 'streamable-http', url: backend.url, timeouts: { callMs: 600_000 } }] });
  served.push(gateway);
  await until('the backend ready', () => gateway.gateway.view().backends.every((b) => b.state === 'ready'));
  const agent = await gateway.connect();
  const page = (mib: number) => agent.client.callTool({ name: 'big__page', arguments: {}, _meta: { mib } }, undefined, { timeout: 60_000 });
  expect(text(await page(20))).toHaveLength(20 * 1024 * 1024);
  // The rest of the stream is not read, and the call fails with the reason (before, it waited out its callMs).
  await expect(page(60)).rejects.toThrow(/backend "big": the MCP server sent a message of more than 33554432 bytes; it is not read/);
  await until('the backend answering again', async () => text(await agent.client.callTool({ name: 'big__small', arguments: {} }).catch(() => ({}))) === 'small', 30_000);
}, 120_000);

it('stops reading a tools/list that pages on and on (each page well under 32 MiB), serving the tools that fit and saying why', async () => {
  // Before: 100 pages of 2 MiB were read and kept, and the sidecar died at its memory limit, again after every restart.
  let pages = 0;
  const endless = await serveMcp(() => {
    const server = new Server({ name: 'endless', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => {
      pages++;
      return { tools: Array.from({ length: 2_000 }, (_, i) => ({ name: `t${pages}-${i}`, description: 'x'.repeat(1_000), inputSchema: { type: 'object' as const } })), nextCursor: 'more' };
    });
    return server;
  });
  try {
    const gateway = await serveGateway({ backends: [{ name: 'endless', prefix: 'endless', transport: 'streamable-http', url: endless.url }] });
    served.push(gateway);
    await until('the backend ready', () => gateway.gateway.view().backends.every((b) => b.state === 'ready'));
    expect(gateway.gateway.view().backends[0]!.counts.tools).toBe(4096);
    // Three pages a read: the first, and at most the one re-read the opening of the event stream asks for.
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(pages).toBeLessThanOrEqual(6);
    expect(gateway.logs()).toContain('the server lists more tools than Airlock reads (at most 4096 entries and 8 MiB of definitions): the first 4096 are used');
  } finally {
    await endless.close();
  }
}, 60_000);

it("holds what it reads of a call's answer against the answer budget until the message ends, and nothing of the session's GET stream, where no event past 1 MiB is read", async () => {
  // A server that begins one event of 512 KiB on every stream it answers and never ends it.
  const raw = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"${'x'.repeat(512 * 1024)}`);
    if (req.method === 'GET' && req.url === '/big') res.write('y'.repeat(1024 * 1024));
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  const answers = new AnswerBudget(64 * 1024 * 1024);
  const fetch = cappedFetchFor(answers, 'streamable-http');
  /** Reads what comes of `path`; `failed` is the error that ended it (undefined when it ended plainly). */
  const read = async (path: string, init: RequestInit) => {
    const response = await fetch(`${base}${path}`, init);
    const reader = response.body!.getReader();
    const failed = (async () => {
      for (;;) if ((await reader.read()).done) return undefined;
    })().catch((err: unknown) => err as Error);
    return { stop: () => reader.cancel(), failed };
  };
  try {
    const post = await read('/mcp', { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } }) });
    // Held until the message ends, however long a loaded machine takes to read its 512 KiB.
    await until('the begun message held', () => answers.bytes > 512 * 1024);
    await post.stop();
    expect(answers.bytes).toBe(0);
    // Before: the GET stream's partial event held 512 KiB (30 MiB in red team 24's run) for as long as the server kept it open.
    const get = await read('/mcp', { method: 'GET' });
    const after300Ms = await Promise.race([get.failed, new Promise<'reading'>((resolve) => setTimeout(() => resolve('reading'), 300))]);
    expect(answers.bytes).toBe(0);
    expect(after300Ms).toBe('reading');
    await get.stop();
    expect((await (await read('/big', { method: 'GET' })).failed)?.message).toBe(`the MCP server sent a message of more than ${MAX_STREAM_EVENT_BYTES} bytes; it is not read`);
    expect(answers.bytes).toBe(0);
  } finally {
    raw.closeAllConnections();
    await new Promise<void>((resolve) => raw.close(() => resolve()));
  }
});

it("gives up a call's answer begun and then left without a byte for the backend's callMs: its request is answered with an error and its bytes of the budget are free", async () => {
  // A server that writes half of a result and then nothing, its connection open. Before (red team 24): the
  // half held its bytes of the budget until the server closed the connection.
  const half = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`event: message\ndata: {"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"${'x'.repeat(512 * 1024)}`);
  });
  await new Promise<void>((resolve) => half.listen(0, '127.0.0.1', resolve));
  const answers = new PeakBudget(64 * 1024 * 1024);
  try {
    const post = () => cappedFetchFor(answers, 'streamable-http', 500)(`http://127.0.0.1:${(half.address() as AddressInfo).port}/mcp`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'x' } }) });
    // As a transport sends request 7.
    const response = await sending(7, post);
    const text = new Response(response.body).text();
    expect(await text).toContain('{"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"the MCP server sent part of a message and then nothing for 500 ms; it is not read"}}');
    // The half was held while it waited, and is free now.
    expect(answers.peak).toBeGreaterThan(512 * 1024);
    expect(answers.bytes).toBe(0);
  } finally {
    half.closeAllConnections();
    await new Promise<void>((resolve) => half.close(() => resolve()));
  }
});

it("ends a call's answer once the call is settled, so a server sending a byte of a message now and then holds none of the budget after: the call cancelled (as at its timeout), or answered and a message begun", async () => {
  // Tool slow writes half of a result, tool chatty its result and half of a notification after it;
  // then each sends one byte of the half every 50 ms, its stream open. Before: the stall bound (no
  // byte for callMs, here 1 s) never came, and the half held its bytes for as long as the server
  // went on: the call's timeout did not end its stream, nor did its answer.
  const trickles: NodeJS.Timeout[] = [];
  const trickle = (res: ServerResponse, head: string) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`${head}event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"${'x'.repeat(512 * 1024)}`);
    trickles.push(setInterval(() => res.write('x'), 50));
  };
  const backend = await startRawBackend({
    slow: (_id, res) => trickle(res, ''),
    chatty: (id, res) => trickle(res, `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'done' }] } })}\n\n`),
  });
  const answers = new AnswerBudget(64 * 1024 * 1024);
  const client = new Client({ name: 'gateway', version: '1' });
  try {
    await connectWithin(client, httpTransport('streamable-http', new URL(backend.url), {}, undefined, answers, 1_000), 10_000);
    // Cancelled by its caller, as the SDK cancels a call at its timeout.
    const caller = new AbortController();
    const slow = client.callTool({ name: 'slow', arguments: {} }, undefined, { signal: caller.signal, timeout: 60_000 });
    await vi.waitFor(() => expect(answers.bytes).toBeGreaterThan(512 * 1024), { timeout: 10_000 });
    caller.abort(new Error('the caller left'));
    await expect(slow).rejects.toThrow(/the caller left/);
    expect(answers.bytes).toBe(0);
    expect(await client.callTool({ name: 'chatty', arguments: {} })).toEqual({ content: [{ type: 'text', text: 'done' }] });
    expect(answers.bytes).toBe(0);
  } finally {
    for (const t of trickles) clearInterval(t);
    await client.close();
    await backend.close();
  }
});
