/**
 * A tool conversation started on Gemini 3 moves on to OpenAI and back: tool call ids stay within
 * OpenAI's 40 characters (the OpenAI mock refuses longer ones, as OpenAI does), while Gemini's
 * thought signatures, kept by the sidecar beside the ids, come back to Gemini exactly (the Gemini
 * mock refuses a current turn without them).
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const GEMINI = 'gemini-3-pro-preview';
let stack: Stack;
let gemini: MockProvider;
let openai: MockProvider;

beforeAll(async () => {
  gemini = await startMock('gemini', { keys: ['AIza-mock-key-0123456789abcdefghij'] });
  openai = await startMock('openai', { keys: ['sk-ids-0123456789abcdef'] });
  const dir = await stackDir();
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'tool-ids' },
    providers: [
      { name: 'gm', type: 'gemini', baseURL: gemini.url, apiKeys: [{ file: await keyFile(dir, 'gm', 'AIza-mock-key-0123456789abcdefghij') }], models: [{ name: GEMINI }] },
      { name: 'oa', type: 'openai', baseURL: openai.url, apiKeys: [{ file: await keyFile(dir, 'oa', 'sk-ids-0123456789abcdef') }], models: [{ name: 'gpt-4o' }] },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  await gemini?.close();
  await openai?.close();
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
