/**
 * A tool conversation started on Gemini 3 moves on to OpenAI and back: tool call ids stay within
 * OpenAI's 40 characters (the OpenAI mock refuses longer ones, as OpenAI does), while Gemini's
 * thought signatures, kept by the sidecar beside the ids, come back to Gemini exactly (the Gemini
 * mock refuses a current turn without them). An Anthropic client's own ids past 40 characters
 * reach OpenAI and OpenAI-compatible servers as ids they take.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const GEMINI = 'gemini-3-pro-preview';
let stack: Stack;
let gemini: MockProvider;
let openai: MockProvider;
let compatible: MockProvider;

beforeAll(async () => {
  gemini = await startMock('gemini', { keys: ['AIza-mock-key-0123456789abcdefghij'] });
  openai = await startMock('openai', { keys: ['sk-ids-0123456789abcdef'] });
  compatible = await startMock('openai-compatible', { keys: ['sk-compat-0123456789abcdef'] });
  const dir = await stackDir();
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'tool-ids' },
    providers: [
      { name: 'gm', type: 'gemini', baseURL: gemini.url, apiKeys: [{ file: await keyFile(dir, 'gm', 'AIza-mock-key-0123456789abcdefghij') }], models: [{ name: GEMINI }] },
      { name: 'oa', type: 'openai', baseURL: openai.url, apiKeys: [{ file: await keyFile(dir, 'oa', 'sk-ids-0123456789abcdef') }], models: [{ name: 'gpt-4o' }] },
      { name: 'vl', type: 'openai-compatible', baseURL: compatible.url, apiKeys: [{ file: await keyFile(dir, 'vl', 'sk-compat-0123456789abcdef') }], models: [{ name: 'qwen3' }] },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  await gemini?.close();
  await openai?.close();
  await compatible?.close();
});

const TOOLS: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

async function firstCall(stream: boolean): Promise<OpenAI.ChatCompletionMessageParam[]> {
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather in Paris?' }];
  let calls: OpenAI.ChatCompletionMessageFunctionToolCall[];
  if (stream) {
    const s = stack.openai().chat.completions.stream({ model: GEMINI, messages, tools: TOOLS, tool_choice: 'required', stream: true });
    calls = ((await s.finalChatCompletion()).choices[0]!.message.tool_calls ?? []) as OpenAI.ChatCompletionMessageFunctionToolCall[];
  } else {
    const completion = await stack.openai().chat.completions.create({ model: GEMINI, messages, tools: TOOLS, tool_choice: 'required' });
    calls = (completion.choices[0]!.message.tool_calls ?? []) as OpenAI.ChatCompletionMessageFunctionToolCall[];
  }
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls) expect(call.id.length).toBeLessThanOrEqual(40);
  return [...messages, { role: 'assistant', content: null, tool_calls: calls }, ...calls.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: 'sunny, 21 degrees' }))];
}

describe.each([false, true])('a Gemini 3 tool call (streamed: %s)', (stream) => {
  it('continues on OpenAI without a 400 and back on Gemini with its signature', async () => {
    const history = await firstCall(stream);
    // The signature went to the client nowhere: not in the ids, not in any field.
    expect(JSON.stringify(history)).not.toMatch(/sig|signature/i);

    const onOpenAI = await stack.openai().chat.completions.create({ model: 'gpt-4o', messages: history, tools: TOOLS });
    expect(onOpenAI.choices[0]!.message.content).toBe('tool result: sunny, 21 degrees');

    const onGemini = await stack.openai().chat.completions.create({ model: GEMINI, messages: history, tools: TOOLS });
    expect(onGemini.choices[0]!.message.content).toBe('tool result: sunny, 21 degrees');
    const sent = gemini.received.at(-1)!.body as { contents: { role: string; parts: { functionCall?: unknown; thoughtSignature?: string }[] }[] };
    const signed = sent.contents.flatMap((c) => c.parts).find((p) => p.functionCall);
    expect(signed?.thoughtSignature).toMatch(/^[A-Za-z0-9+/]{80,}={0,2}$/);
  });
});

describe.each([
  ['gpt-4o', () => openai],
  ['qwen3', () => compatible],
] as const)('an Anthropic client whose tool_use ids are longer than 40 characters, to %s', (model, mock) => {
  // Anthropic takes ids of any length; frameworks that mint their own go past 40.
  const first = `toolu_${'a'.repeat(49)}`;
  const second = `toolu_${'b'.repeat(49)}`;
  const tools: Anthropic.Tool[] = [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
  const turn = (id: string, city: string): Anthropic.MessageParam[] => [
    { role: 'assistant', content: [{ type: 'tool_use', id, name: 'get_weather', input: { city } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: `sunny in ${city}` }] },
  ];
  const sentIds = () => {
    const messages = mock().received.at(-1)!.body as { messages: { tool_calls?: { id: string }[]; tool_call_id?: string }[] };
    return messages.messages.flatMap((m) => [...(m.tool_calls ?? []).map((c) => c.id), ...(m.tool_call_id ? [m.tool_call_id] : [])]);
  };

  it('is answered (plain and streamed), each call paired with its result under one short id, the same in the next turn', async () => {
    const history: Anthropic.MessageParam[] = [{ role: 'user', content: 'weather in Oslo?' }, ...turn(first, 'Oslo')];
    const plain = await stack.anthropic().messages.create({ model, max_tokens: 100, tools, messages: history });
    expect(plain.content).toEqual([expect.objectContaining({ type: 'text', text: 'tool result: sunny in Oslo' })]);
    const once = sentIds();
    expect(once).toHaveLength(2);
    expect(once[0]).toBe(once[1]);
    expect(once[0]!.length).toBeLessThanOrEqual(40);

    // The next turn sends the long id again, and a second one.
    const next = [...history, { role: 'assistant' as const, content: 'And Lima?' }, { role: 'user' as const, content: 'yes' }, ...turn(second, 'Lima')];
    const streamed = await stack.anthropic().messages.stream({ model, max_tokens: 100, tools, messages: next }).finalMessage();
    expect(streamed.content[0]).toMatchObject({ type: 'text', text: 'tool result: sunny in Lima' });
    const twice = sentIds();
    expect(twice.slice(0, 2)).toEqual(once);
    expect(twice[2]).toBe(twice[3]);
    expect(twice[2]).not.toBe(once[0]);
    expect(twice[2]!.length).toBeLessThanOrEqual(40);
  });

  it("is sent so from an OpenAI client's own history too (one written for another provider, e.g. after a failover)", async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'weather in Oslo?' },
      { role: 'assistant', content: null, tool_calls: [{ id: first, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: first, content: 'sunny in Oslo' },
    ];
    const answer = await stack.openai().chat.completions.create({ model, messages, tools: TOOLS });
    expect(answer.choices[0]!.message.content).toBe('tool result: sunny in Oslo');
    const ids = sentIds();
    expect(ids[0]).toBe(ids[1]);
    expect(ids[0]!.length).toBeLessThanOrEqual(40);
  });
});
