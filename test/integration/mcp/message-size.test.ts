/**
 * A message from an HTTP MCP server larger than the sidecar can hold a few of: a tool result of
 * 60 MiB (a fetch tool the agent pointed at a large page, or a hostile server). The SDK reads a
 * JSON response or an event whole and the gateway holds it until the client has it, at a few
 * times its size, so a few such calls at once took the sidecar past its memory limit (the pod's
 * only door, and the spend not yet counted). Past 32 MiB the message is not read: the call fails.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { mcpSessions, type McpSessions } from '../../mocks/mcp-sessions.js';
import { serveGateway, text, until, type ServedGateway } from './harness.js';

let sessions: McpSessions;
let closeBackend: () => Promise<void>;
let url: string;
const served: ServedGateway[] = [];

beforeAll(async () => {
  sessions = mcpSessions(() => {
    const server = new McpServer({ name: 'big', version: '1.0.0' });
    server.registerTool('page', { description: 'Returns a page of the given size in MiB.', inputSchema: {} }, async (_args, extra) => {
      const mib = Number((extra as { _meta?: { mib?: number } })._meta?.mib ?? 1);
      return { content: [{ type: 'text', text: 'z'.repeat(mib * 1024 * 1024) }] };
    });
    server.registerTool('small', { description: 'Returns a word.' }, async () => ({ content: [{ type: 'text', text: 'small' }] }));
    return server;
  });
  const http = createServer((req, res) => sessions.handle(req, res));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  closeBackend = async () => {
    await sessions.close();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  };
});

afterAll(async () => {
  await Promise.all(served.map((s) => s.close()));
  await closeBackend?.();
});

it('does not read a message past 32 MiB (one event of the response stream), and serves the next call', async () => {
  const gateway = await serveGateway({ backends: [{ name: 'big', prefix: 'big', transport: 'streamable-http', url, timeouts: { callMs: 10_000 } }] });
  served.push(gateway);
  await until('the backend ready', () => gateway.gateway.view().backends.every((b) => b.state === 'ready'));
  const agent = await gateway.connect();
  const page = (mib: number) => agent.client.callTool({ name: 'big__page', arguments: {}, _meta: { mib } }, undefined, { timeout: 60_000 });
  expect(text(await page(20))).toHaveLength(20 * 1024 * 1024);
  // The stream ends unread; the call fails at its callMs.
  await expect(page(60)).rejects.toThrow(/did not answer tools\/call "page" within 10000 ms/);
  expect(gateway.logs()).toContain('the MCP server sent a message of more than 33554432 bytes; it is not read');
  await until('the backend answering again', async () => text(await agent.client.callTool({ name: 'big__small', arguments: {} }).catch(() => ({}))) === 'small', 30_000);
}, 120_000);
