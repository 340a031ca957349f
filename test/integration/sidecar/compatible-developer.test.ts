/**
 * The `developer` role (the openai SDK with reasoning models, the Agents SDK) to an
 * OpenAI-compatible server goes as `system`, which every such server takes: the mock refuses
 * `developer` as vLLM does for a chat template without the role. OpenAI itself keeps it. An
 * OpenAI client's tool names reach such a server as written, alias or not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const QWEN = 'Qwen/Qwen3-8B';
const OPENAI_KEY = 'sk-developer-0123456789abcdef';
let stack: Stack;
let vllm: MockProvider;
let openai: MockProvider;

beforeAll(async () => {
  vllm = await startMock('openai-compatible');
  openai = await startMock('openai', { keys: [OPENAI_KEY] });
  const dir = await stackDir();
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'developer-role' },
    providers: [
      { name: 'vllm', type: 'openai-compatible', baseURL: vllm.url, models: [{ name: QWEN }, { name: 'qwen', upstreamName: QWEN }] },
      { name: 'oa', type: 'openai', baseURL: openai.url, apiKeys: [{ file: await keyFile(dir, 'oa', OPENAI_KEY) }], models: [{ name: 'gpt-4o' }] },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  await vllm?.close();
  await openai?.close();
});

const messages = [
  { role: 'developer' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'hello there' },
];
const sentRoles = (mock: MockProvider) => (mock.received.at(-1)!.body as { messages: { role: string }[] }).messages.map((m) => m.role);

describe('the developer role to an OpenAI-compatible server', () => {
  it.each([QWEN, 'qwen'])('is sent as system for %s (the client body passed through, and translated), plain and streamed', async (model) => {
    const completion = await stack.openai().chat.completions.create({ model, messages });
    expect(completion.choices[0]!.message.content).toBe('echo: hello there');
    expect(sentRoles(vllm)).toEqual(['system', 'user']);
    let text = '';
    for await (const chunk of await stack.openai().chat.completions.create({ model, messages, stream: true })) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: hello there');
    expect(sentRoles(vllm)).toEqual(['system', 'user']);
    expect((vllm.received.at(-1)!.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });
  });

  it('is sent as system from a Responses call', async () => {
    const response = await stack.openai().responses.create({ model: QWEN, input: messages });
    expect(response.output_text).toBe('echo: hello there');
    expect(sentRoles(vllm)).toEqual(['system', 'user']);
  });

  it('stays developer to OpenAI', async () => {
    await stack.openai().chat.completions.create({ model: 'gpt-4o', messages });
    expect(sentRoles(openai)).toEqual(['developer', 'user']);
  });
});

describe('tool names to an OpenAI-compatible server from an OpenAI client', () => {
  // vLLM takes any function name; the client speaks the server's own API, so nothing renames them.
  const tools = [{ type: 'function' as const, function: { name: 'fs.read_file', description: 'read a file', parameters: { type: 'object', properties: { path: { type: 'string' } } } } }];
  const sentTools = () => (vllm.received.at(-1)!.body as { tools: { function: { name: string } }[] }).tools.map((t) => t.function.name);

  it.each([QWEN, 'qwen'])('reach %s as written and come back as written, plain and streamed', async (model) => {
    const completion = await stack.openai().chat.completions.create({ model, tools, messages: [{ role: 'user', content: 'read it' }] });
    expect(sentTools()).toEqual(['fs.read_file']);
    expect(completion.choices[0]!.message.tool_calls?.map((c) => (c.type === 'function' ? c.function.name : c.type))).toEqual(['fs.read_file']);
    const names: string[] = [];
    for await (const chunk of await stack.openai().chat.completions.create({ model, tools, stream: true, messages: [{ role: 'user', content: 'read it' }] })) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) if (call.function?.name) names.push(call.function.name);
    }
    expect(sentTools()).toEqual(['fs.read_file']);
    expect(names).toEqual(['fs.read_file']);
  });
});
