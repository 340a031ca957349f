/**
 * The official OpenAI and Anthropic SDKs, pointed at the sidecar's Unix socket, complete plain,
 * streaming and tool-call round trips against each provider type's mock: 2 clients × 4
 * providers × 3 kinds. Every provider mock checks its key, so routing and key handling are real.
 */
import { describe, expect, it } from 'vitest';
import type { MockKind } from '../../mocks/index.js';
import { EVERY_PROVIDER, providerStackForFile } from './harness.js';

const PROVIDERS = EVERY_PROVIDER;
const suite = providerStackForFile('matrix');

/** The path each provider's chat call arrives at, proving the call went where it should. */
const CHAT_PATH: Record<string, RegExp> = {
  openai: /^\/v1\/chat\/completions$/,
  anthropic: /^\/v1\/messages$/,
  gemini: /^\/v1beta\/models\/[^/]+:(generateContent|streamGenerateContent)$/,
  ollama: /^\/api\/chat$/,
};

function lastCall(kind: MockKind) {
  const call = suite.mocks.get(kind)!.received.at(-1);
  expect(call?.path).toMatch(CHAT_PATH[kind]!);
  return call!;
}

const weather = {
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] },
};

describe.each(PROVIDERS)('through a %s provider', (kind) => {
  const model = `via-${kind}`;

  describe('OpenAI SDK', () => {
    it('completes a plain chat', async () => {
      const completion = await suite.stack.openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'hello from openai sdk' }] });
      expect(completion.choices[0]!.message.content).toBe('echo: hello from openai sdk');
      expect(completion.choices[0]!.finish_reason).toBe('stop');
      expect(completion.model).toBe(model);
      expect(completion.usage?.total_tokens).toBeGreaterThan(0);
      lastCall(kind);
    });

    it('streams a chat', async () => {
      const stream = await suite.stack.openai().chat.completions.create({
        model,
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'stream these words please' }],
      });
      let text = '';
      let finish: string | null = null;
      let usage: unknown;
      let chunks = 0;
      for await (const chunk of stream) {
        chunks += 1;
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      expect(text).toBe('echo: stream these words please');
      expect(finish).toBe('stop');
      expect(chunks).toBeGreaterThan(2);
      expect(usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
      lastCall(kind);
    });

    it('round-trips a tool call', async () => {
      const client = suite.stack.openai();
      const tools = [{ type: 'function' as const, function: weather }];
      const messages: Parameters<typeof client.chat.completions.create>[0]['messages'] = [{ role: 'user', content: 'weather in Oslo' }];
      const first = await client.chat.completions.create({ model, messages, tools });
      const call = first.choices[0]!.message.tool_calls?.[0];
      expect(first.choices[0]!.finish_reason).toBe('tool_calls');
      expect(call?.type === 'function' && call.function.name).toBe('get_weather');
      expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ input: 'weather in Oslo' });
      const second = await client.chat.completions.create({
        model,
        tools,
        messages: [...messages, first.choices[0]!.message, { role: 'tool', tool_call_id: call!.id, content: 'sunny, 21 degrees' }],
      });
      expect(second.choices[0]!.message.content).toBe('tool result: sunny, 21 degrees');
      lastCall(kind);
    });
  });

  describe('Anthropic SDK', () => {
    it('completes a plain message', async () => {
      const message = await suite.stack.anthropic().messages.create({ model, max_tokens: 256, messages: [{ role: 'user', content: 'hello from anthropic sdk' }] });
      expect(message.content).toEqual([expect.objectContaining({ type: 'text', text: 'echo: hello from anthropic sdk' })]);
      expect(message.stop_reason).toBe('end_turn');
      expect(message.usage.output_tokens).toBeGreaterThan(0);
      lastCall(kind);
    });

    it('streams a message', async () => {
      const stream = suite.stack.anthropic().messages.stream({ model, max_tokens: 256, messages: [{ role: 'user', content: 'stream these words please' }] });
      let deltas = 0;
      stream.on('text', () => (deltas += 1));
      const message = await stream.finalMessage();
      expect(message.content).toEqual([expect.objectContaining({ type: 'text', text: 'echo: stream these words please' })]);
      expect(message.stop_reason).toBe('end_turn');
      expect(deltas).toBeGreaterThan(1);
      lastCall(kind);
    });

    it('round-trips a tool call', async () => {
      const client = suite.stack.anthropic();
      const tools = [{ name: weather.name, description: weather.description, input_schema: weather.parameters as { type: 'object' } }];
      const messages: Parameters<typeof client.messages.create>[0]['messages'] = [{ role: 'user', content: 'weather in Lima' }];
      const first = await client.messages.create({ model, max_tokens: 256, messages, tools });
      expect(first.stop_reason).toBe('tool_use');
      const use = first.content.find((b) => b.type === 'tool_use');
      expect(use).toMatchObject({ name: 'get_weather', input: { input: 'weather in Lima' } });
      const second = await client.messages.create({
        model,
        max_tokens: 256,
        tools,
        messages: [...messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use!.type === 'tool_use' ? use!.id : '', content: 'cloudy, 18 degrees' }] }],
      });
      expect(second.content).toEqual([expect.objectContaining({ type: 'text', text: 'tool result: cloudy, 18 degrees' })]);
      lastCall(kind);
    });
  });
});
