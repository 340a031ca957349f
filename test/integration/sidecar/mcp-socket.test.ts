/**
 * The MCP endpoint as an agent meets it: the real sidecar app on its Unix socket, an MCP SDK
 * client, a real MCP server from npm behind it (stdio), and the tool view on the admin port.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { npmServer } from '../mcp/harness.js';
import { stackDir, startStack, type Stack } from './harness.js';

let stack: Stack;
let client: Client;

beforeAll(async () => {
  const dir = await stackDir();
  const files = join(dir, 'files');
  await mkdir(files);
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'mcp' },
    mcp: {
      backends: [
        { name: 'everything', prefix: 'everything', transport: 'stdio', stdio: npmServer('mcp-server-everything', 'stdio'), tools: { deny: ['*long*'] } },
        { name: 'filesystem', prefix: 'fs', transport: 'stdio', stdio: npmServer('mcp-server-filesystem', files) },
      ],
    },
  });
  const fetchThroughSocket = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher: stack.dispatcher })) as unknown as typeof fetch;
  client = new Client({ name: 'agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL('http://airlock/mcp'), { fetch: fetchThroughSocket }));
});

afterAll(async () => {
  await client?.close();
  await stack?.close();
});

it('lists the tools of both backends, prefixed, without the denied ones', async () => {
  await expect
    .poll(async () => (await client.listTools()).tools.map((t) => t.name), { timeout: 30_000 })
    .toEqual(expect.arrayContaining(['everything__echo', 'fs__read_text_file', 'fs__list_directory']));
  const names = (await client.listTools()).tools.map((t) => t.name);
  expect(names.filter((n) => !n.startsWith('everything__') && !n.startsWith('fs__'))).toEqual(['search_tools']);
  expect(names.filter((n) => n.includes('long'))).toEqual([]);
});

it('calls a tool through the socket', async () => {
  const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'through the airlock' } });
  expect(JSON.stringify(result.content)).toContain('through the airlock');
});

it('shows every tool with its hash and state on the admin port', async () => {
  const view = (await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/mcp/tools`)).json()) as { tools: { prefixedName: string; sha256: string; state: string }[] };
  const echo = view.tools.find((t) => t.prefixedName === 'everything__echo');
  expect(echo).toMatchObject({ state: 'approved', sha256: expect.stringMatching(/^[a-f0-9]{64}$/) });
});
