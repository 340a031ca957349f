/**
 * MCP clients other than the official SDK's, against the sandbox's `/mcp` through the socket,
 * each set up as its docs say: the Vercel AI SDK's (`@ai-sdk/mcp` createMCPClient, its `http`
 * transport with a socket `fetch`), whose tools then drive a model through the same socket, and
 * LangChain's (`@langchain/mcp-adapters`: `loadMcpTools` over an MCP SDK client on the socket, and
 * MultiServerMCPClient, which takes no fetch, on the sidecar's loopback port); and the MCP
 * Inspector's CLI mode, which takes a URL, on the loopback port.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createMCPClient } from '@ai-sdk/mcp';
import { createOpenAI } from '@ai-sdk/openai';
import { HumanMessage } from '@langchain/core/messages';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { loadMcpTools, MultiServerMCPClient } from '@langchain/mcp-adapters';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, stepCountIs } from 'ai';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { freePort, mcpClient, stackDir, startStack, type Stack } from '../sidecar/harness.js';
import { npmServer } from './harness.js';

let stack: Stack;
let mock: MockProvider;
let socketFetch: typeof fetch;
let loopbackPort: number;

beforeAll(async () => {
  const dir = await stackDir();
  const files = join(dir, 'files');
  await mkdir(files);
  mock = await startMock('ollama');
  loopbackPort = await freePort();
  stack = await startStack(dir, {
    version: 1,
    listen: { loopbackPort },
    sandbox: { name: 'frameworks-mcp' },
    providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: [{ name: 'fast' }] }],
    mcp: {
      backends: [
        { name: 'everything', prefix: 'everything', transport: 'stdio', stdio: npmServer('mcp-server-everything', 'stdio'), tools: { allow: ['echo', 'get-sum'] } },
        { name: 'filesystem', prefix: 'fs', transport: 'stdio', stdio: npmServer('mcp-server-filesystem', files), tools: { allow: ['list_directory'] } },
      ],
    },
  });
  // The URL's host is never looked up: every connection goes to the socket.
  socketFetch = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher: stack.dispatcher })) as unknown as typeof fetch;
  // Both backends' tools are listed once their servers are up.
  const probe = await createMCPClient({ transport: { type: 'http', url: 'http://airlock/mcp', fetch: socketFetch } });
  try {
    await vi.waitFor(async () => expect(Object.keys(await probe.tools()).length).toBeGreaterThanOrEqual(4), { timeout: 30_000, interval: 200 });
  } finally {
    await probe.close();
  }
});

afterAll(async () => {
  await stack?.close();
  await mock?.close();
});

describe('the AI SDK MCP client', () => {
  it('lists the sandbox tools, prefixed, and calls one', async () => {
    const client = await createMCPClient({ transport: { type: 'http', url: 'http://airlock/mcp', fetch: socketFetch } });
    try {
      const tools = await client.tools();
      expect(Object.keys(tools).sort()).toEqual(['everything__echo', 'everything__get-sum', 'fs__list_directory', 'search_tools']);
      const output = await tools.everything__echo!.execute!({ message: 'through the airlock' }, { toolCallId: 'c1', messages: [], context: {} });
      expect(JSON.stringify(output)).toContain('through the airlock');
    } finally {
      await client.close();
    }
  });

  it('gives its tools to a model on the same socket, which calls one in a tool loop', async () => {
    const client = await createMCPClient({ transport: { type: 'http', url: 'http://airlock/mcp', fetch: socketFetch } });
    try {
      const { everything__echo } = await client.tools();
      const model = createOpenAI({ apiKey: 'unused', baseURL: 'http://airlock/v1', fetch: socketFetch }).chat('fast');
      const result = await generateText({ model, tools: { everything__echo: everything__echo! }, stopWhen: stepCountIs(2), prompt: 'hello' });
      // The mock model calls the offered tool with the user's text, then answers from its result.
      expect(result.steps[0]!.toolCalls.map((c) => [c.toolName, c.input])).toEqual([['everything__echo', { message: 'hello' }]]);
      // The SDK hands the model the tool's MCP content as JSON text.
      expect(result.text).toBe('tool result: [{"type":"text","text":"Echo: hello"}]');
    } finally {
      await client.close();
    }
  });
});

describe('LangChain MCP adapters', () => {
  it('loadMcpTools over an MCP SDK client on the socket: the tools drive a LangGraph agent', async () => {
    const client = await mcpClient(stack);
    try {
      const tools = await loadMcpTools('airlock', client);
      expect(tools.map((t) => t.name).sort()).toEqual(['everything__echo', 'everything__get-sum', 'fs__list_directory', 'search_tools']);
      const echo = tools.find((t) => t.name === 'everything__echo')!;
      expect(await echo.invoke({ message: 'through the airlock' })).toContain('Echo: through the airlock');
      const llm = new ChatOpenAI({ model: 'fast', apiKey: 'unused', configuration: { baseURL: 'http://airlock/v1', fetch: socketFetch } });
      const agent = createReactAgent({ llm, tools: [echo] });
      const { messages } = await agent.invoke({ messages: [new HumanMessage('hello')] });
      expect(messages.at(-1)!.content).toBe('tool result: Echo: hello');
    } finally {
      await client.close();
    }
  });

  it('MultiServerMCPClient on the loopback port lists and calls the tools', async () => {
    const client = new MultiServerMCPClient({ mcpServers: { airlock: { transport: 'http', url: `http://127.0.0.1:${loopbackPort}/mcp` } } });
    try {
      const tools = await client.getTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['everything__echo', 'everything__get-sum', 'fs__list_directory', 'search_tools']);
      const sum = tools.find((t) => t.name === 'everything__get-sum')!;
      expect(String(await sum.invoke({ a: 2, b: 3 }))).toContain('5');
    } finally {
      await client.close();
    }
  });
});

describe('the MCP Inspector CLI', () => {
  const bin = join(import.meta.dirname, '../../../node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');
  /** Runs `inspector --cli <url> ...args` with a throwaway home (it keeps a catalog and secrets there), and parses its JSON output. */
  async function inspector(...args: string[]): Promise<unknown> {
    const home = await mkdtemp(join(tmpdir(), 'airlock-inspector-'));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [bin, '--cli', `http://127.0.0.1:${loopbackPort}/mcp`, '--transport', 'http', ...args], { env: { ...process.env, HOME: home, MCP_CATALOG_PATH: join(home, 'mcp.json') }, timeout: 30_000 });
      return JSON.parse(stdout);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }

  it('lists the sandbox tools', async () => {
    const listed = (await inspector('--method', 'tools/list')) as { tools: { name: string }[] };
    expect(listed.tools.map((t) => t.name).sort()).toEqual(['everything__echo', 'everything__get-sum', 'fs__list_directory', 'search_tools']);
  });

  it('calls a tool with arguments', async () => {
    const result = (await inspector('--method', 'tools/call', '--tool-name', 'everything__get-sum', '--tool-arg', 'a=2', 'b=3')) as { content: { text: string }[] };
    expect(result.content[0]!.text).toContain('5');
  });
});
