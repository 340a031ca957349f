/**
 * MCP and Python, both ways: the MCP Python SDK client (test/python/cases_mcp.py) on the sidecar's
 * /mcp through the socket, in front of a real npm MCP server (server-everything) and a real PyPI
 * one (mcp-server-time, run by the venv's python as a stdio backend); and the Node MCP SDK client
 * calling the PyPI server through the gateway; and fastmcp's Client, a third-party MCP client.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { npmServer } from '../mcp/harness.js';
import { startPython, type PythonDriver } from '../../python/driver.js';
import { venvPython } from '../../python/venv.js';
import { mcpClient, stackDir, startStack, type Stack } from '../sidecar/harness.js';
import { VENV_BUILD_TIMEOUT_MS } from './stack.js';

let stack: Stack;
let python: PythonDriver;
let node: Client;

beforeAll(async () => {
  const pythonBin = await venvPython();
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'python-mcp' },
    mcp: {
      backends: [
        { name: 'everything', prefix: 'everything', transport: 'stdio', stdio: npmServer('mcp-server-everything', 'stdio'), tools: { deny: ['*long*'] } },
        { name: 'time', prefix: 'time', transport: 'stdio', stdio: { command: pythonBin, args: ['-m', 'mcp_server_time', '--local-timezone', 'UTC'] } },
      ],
    },
  });
  python = await startPython(stack.socketPath, ['cases_mcp', 'cases_fastmcp']);
  node = await mcpClient(stack);
  // Both backends connect in the background; wait until both catalogs are served.
  await vi.waitFor(
    async () => expect((await node.listTools()).tools.map((t) => t.name)).toEqual(expect.arrayContaining(['everything__echo', 'time__get_current_time'])),
    { timeout: 60_000, interval: 250 },
  );
}, VENV_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await node?.close();
  await python?.close();
  await stack?.close();
});

describe('the MCP Python SDK client on /mcp', () => {
  it('connects and sees the gateway', async () => {
    expect(await python.value('mcp.server_info')).toMatchObject({ protocol: expect.any(String), tools: true });
  });

  it('lists the tools of both backends, prefixed, without the denied ones', async () => {
    const names = await python.value<string[]>('mcp.list_tools');
    expect(names).toEqual(expect.arrayContaining(['everything__echo', 'time__get_current_time', 'time__convert_time', 'search_tools']));
    expect(names.filter((n) => n.includes('long'))).toEqual([]);
  });

  it('calls a tool of the npm server', async () => {
    const result = await python.value('mcp.call_tool', { name: 'everything__echo', arguments: { message: 'from python' } });
    expect(result).toMatchObject({ is_error: false, content: [{ type: 'text', text: expect.stringContaining('from python') }] });
  });

  it('calls a tool of the PyPI server', async () => {
    const result = await python.value<{ is_error: boolean; content: { text: string }[] }>('mcp.call_tool', { name: 'time__convert_time', arguments: { source_timezone: 'UTC', time: '12:00', target_timezone: 'Asia/Tokyo' } });
    expect(result.is_error).toBe(false);
    expect(JSON.parse(result.content[0]!.text)).toMatchObject({ source: { timezone: 'UTC' }, target: { timezone: 'Asia/Tokyo', datetime: expect.stringContaining('T21:00:00') } });
  });

  it('gets a prompt', async () => {
    const result = await python.value<{ listed: string[]; messages: unknown[] }>('mcp.prompts', { name: 'everything__simple-prompt', arguments: {} });
    expect(result.listed).toContain('everything__simple-prompt');
    expect(result.messages).toEqual([expect.objectContaining({ role: 'user', content: expect.objectContaining({ type: 'text' }) })]);
  });

  it('lists and reads resources, under the gateway URIs', async () => {
    const result = await python.value<{ uris: string[]; first: string; contents: { uri: string }[] }>('mcp.resources');
    expect(result.uris.length).toBeGreaterThan(0);
    expect(result.first).toMatch(/^airlock\+/);
    expect(result.contents[0]?.uri).toBe(result.first);
  });

  it('gets an MCP error naming an unknown tool', async () => {
    const error = await python.error('mcp.call_tool', { name: 'everything__no_such_tool', arguments: {} });
    expect(error.class).toBe('MCPError');
    expect(error.code).toBe(-32602);
    expect(error.str).toContain('everything__no_such_tool');
  });
});

describe('the Node MCP SDK client calling a PyPI MCP server through the gateway', () => {
  it('calls mcp-server-time', async () => {
    const result = await node.callTool({ name: 'time__get_current_time', arguments: { timezone: 'Europe/Oslo' } });
    expect(result.isError).toBeFalsy();
    const text = (result.content as { type: string; text: string }[])[0]!.text;
    expect(JSON.parse(text)).toMatchObject({ timezone: 'Europe/Oslo', datetime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });

  it('gets the PyPI server’s own error for a bad argument', async () => {
    const result = await node.callTool({ name: 'time__get_current_time', arguments: { timezone: 'Not/AZone' } });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('Not/AZone');
  });
});

describe("fastmcp's Client on /mcp", () => {
  it('lists the tools of both backends, prefixed', async () => {
    const names = await python.value<string[]>('fastmcp.list_tools');
    expect(names).toEqual(expect.arrayContaining(['everything__echo', 'time__get_current_time', 'search_tools']));
    expect(names.filter((n) => n.includes('long'))).toEqual([]);
  });

  it('calls a tool of each backend', async () => {
    expect(await python.value('fastmcp.call_tool', { name: 'everything__echo', arguments: { message: 'from fastmcp' } })).toMatchObject({ is_error: false, text: ['Echo: from fastmcp'] });
    const time = await python.value<{ text: string[] }>('fastmcp.call_tool', { name: 'time__get_current_time', arguments: { timezone: 'Europe/Oslo' } });
    expect(JSON.parse(time.text[0]!)).toMatchObject({ timezone: 'Europe/Oslo' });
  });

  it('gets the MCP error naming a tool the sandbox does not expose', async () => {
    // fastmcp raises the JSON-RPC error as the MCP SDK's MCPError (its ToolError is for a tool
    // result with isError).
    const error = await python.error('fastmcp.call_tool', { name: 'everything__longRunningOperation', arguments: {} });
    expect(error).toMatchObject({ class: 'MCPError', code: -32602 });
    expect(error.str).toContain('everything__longRunningOperation');
  });

  it('reads a resource under its gateway URI', async () => {
    const result = await python.value<{ uri: string; read: string[] }>('fastmcp.read_first_resource');
    expect(result.uri).toMatch(/^airlock\+/);
    expect(result.read).toEqual([result.uri]);
  });
});
