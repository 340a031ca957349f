/**
 * The OpenAI Agents SDK (`@openai/agents`) through the socket against every provider type, set up
 * as docs/agents.md says: the SDK's own loop (call the model, run the tool, hand back
 * function_call and function_call_output items, answer) must work unchanged on the Responses API
 * (plain and streamed) and on chat completions; the sandbox's MCP tools reach it through its own
 * MCP class (MCPServerStreamableHttp on `/mcp`, a real npm MCP server behind the gateway); a
 * handoff moves the run to a second agent; and the usage the SDK adds up is what the sidecar counted.
 */
import { Agent, MCPServerStreamableHttp, OpenAIProvider, Runner, setTracingDisabled, tool } from '@openai/agents';
import { fetch as undiciFetch } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { MockKind } from '../../mocks/index.js';
import { npmServer } from '../mcp/harness.js';
import { EVERY_PROVIDER, modelUsage, providerStackForFile, waitForTools } from './harness.js';

const PROVIDERS = EVERY_PROVIDER;
const mcp = { backends: [{ name: 'everything', prefix: 'everything', transport: 'stdio' as const, stdio: npmServer('mcp-server-everything', 'stdio'), tools: { allow: ['echo'] } }] };
const suite = providerStackForFile('agents', { extra: { mcp } });

beforeAll(async () => {
  // The SDK would export traces to OpenAI; the sandbox has no such door, and a test needs none.
  setTracingDisabled(true);
  await waitForTools(suite.stack, ['everything__echo']);
});

/** The weather tool, recording the cities it was called with. */
function weatherTool(calls: string[]) {
  return tool({
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: z.object({ input: z.string() }),
    execute: async ({ input }) => {
      calls.push(input);
      return `sunny in ${input}`;
    },
  });
}

/** A runner on the socket; the SDK's own openai (v7) client type differs from the test's, the client object is the same API. */
const runner = (useResponses: boolean) => new Runner({ modelProvider: new OpenAIProvider({ openAIClient: suite.stack.openai() as never, useResponses }) });

describe.each(PROVIDERS)('an Agents SDK run through a %s provider', (kind: MockKind) => {
  const model = `via-${kind}`;

  it.each([
    ['the Responses API', true],
    ['chat completions', false],
  ])('calls the tool and answers from its result on %s; the SDK counts what the sidecar counted', async (_api, useResponses) => {
    const calls: string[] = [];
    const agent = new Agent({ name: 'weather', instructions: 'Answer with the weather tool.', tools: [weatherTool(calls)], model });
    const before = await modelUsage(suite.stack, model);
    const result = await runner(useResponses).run(agent, 'Oslo');
    expect(calls).toEqual(['Oslo']);
    expect(result.finalOutput).toBe('tool result: sunny in Oslo');
    // The run's saved state (what an app would persist to resume it) holds no provider key.
    const key = suite.keys[kind];
    if (key !== undefined) expect(result.state.toString()).not.toContain(key);
    const after = await modelUsage(suite.stack, model);
    const { usage } = result.runContext;
    expect(usage.requests).toBe(2);
    expect({ requests: after.requests - before.requests, input: after.inputTokens - before.inputTokens, output: after.outputTokens - before.outputTokens }).toEqual({
      requests: 2,
      input: usage.inputTokens,
      output: usage.outputTokens,
    });
  });

  it('streams the run: the text arrives in pieces and adds up to the final answer', async () => {
    const calls: string[] = [];
    const agent = new Agent({ name: 'weather', instructions: 'Answer with the weather tool.', tools: [weatherTool(calls)], model });
    const result = await runner(true).run(agent, 'Bergen', { stream: true });
    const pieces: string[] = [];
    for await (const piece of result.toTextStream()) pieces.push(piece);
    await result.completed;
    expect(calls).toEqual(['Bergen']);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe('tool result: sunny in Bergen');
    expect(result.finalOutput).toBe('tool result: sunny in Bergen');
  });

  it('calls a sandbox MCP tool through its MCPServerStreamableHttp on /mcp and answers from its result', async () => {
    const fetch = (url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher: suite.stack.dispatcher });
    const airlock = new MCPServerStreamableHttp({ url: 'http://airlock/mcp', name: 'airlock', fetch });
    await airlock.connect();
    try {
      // The model picks the tool (the mock is told which); the SDK calls it on /mcp through the socket.
      suite.mocks.get(kind)!.script({ toolCalls: [{ name: 'everything__echo', arguments: { message: 'via the agents sdk' } }] });
      const agent = new Agent({ name: 'echo', instructions: 'Use the tools.', mcpServers: [airlock], model });
      const result = await runner(true).run(agent, 'echo something');
      expect(result.newItems.map((item) => item.type)).toEqual(['tool_call_item', 'tool_call_output_item', 'message_output_item']);
      expect(result.finalOutput).toContain('Echo: via the agents sdk');
    } finally {
      await airlock.close();
    }
  });

  it('hands off to a second agent, which runs its tool and answers', async () => {
    const calls: string[] = [];
    const weather = new Agent({ name: 'weather', handoffDescription: 'Knows the weather', instructions: 'Answer with the weather tool.', tools: [weatherTool(calls)], model });
    const triage = new Agent({ name: 'triage', instructions: 'Hand weather questions to the weather agent.', handoffs: [weather], model });
    suite.mocks.get(kind)!.script({ toolCalls: [{ name: 'transfer_to_weather' }] }, { toolCalls: [{ name: 'get_weather', arguments: { input: 'Tromsø' } }] });
    const result = await runner(true).run(triage, 'What is the weather in Tromsø?');
    expect(result.lastAgent?.name).toBe('weather');
    expect(calls).toEqual(['Tromsø']);
    expect(result.finalOutput).toBe('tool result: sunny in Tromsø');
  });

  it('continues a conversation with previousResponseId: the next run sees the earlier one', async () => {
    const calls: string[] = [];
    const agent = new Agent({ name: 'weather', instructions: 'Answer with the weather tool.', tools: [weatherTool(calls)], model });
    const first = await runner(true).run(agent, 'Oslo');
    expect(first.lastResponseId).toMatch(/^resp_/);
    const mock = suite.mocks.get(kind)!;
    const before = mock.received.length;
    mock.script({ toolCalls: [] });
    const second = await runner(true).run(agent, 'And tomorrow?', { previousResponseId: first.lastResponseId });
    expect(second.finalOutput).toBe('echo: And tomorrow?');
    // OpenAI holds its responses and gets the id; any other provider gets the first run's exchange from the sidecar.
    const sent = mock.received.slice(before).at(-1)!;
    if (kind === 'openai') expect(sent.body).toMatchObject({ previous_response_id: first.lastResponseId });
    else expect(sent.rawBody).toContain('sunny in Oslo');
  });
});
