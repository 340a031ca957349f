/**
 * Ollama's context window: a model's `numCtx` goes as `options.num_ctx` on every call, so an
 * agent's long system prompt and its tools are not silently cut from the start of the prompt,
 * which Ollama does (and its mock does) past its small default window. No client API can say it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { DEFAULT_NUM_CTX } from '../../mocks/ollama.js';
import { stackDir, startStack, type Stack } from './harness.js';

const LLAMA = 'llama3.2:latest';
let stack: Stack;
let ollama: MockProvider;

beforeAll(async () => {
  ollama = await startMock('ollama');
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'ollama-context' },
    providers: [{ name: 'local', type: 'ollama', baseURL: ollama.url, models: [{ name: 'llama-default', upstreamName: LLAMA }, { name: 'llama-32k', upstreamName: LLAMA, numCtx: 32_768 }] }],
  });
});

afterAll(async () => {
  await stack?.close();
  await ollama?.close();
});

// An agent's system prompt of 5000 words (the mock's tokens) and one tool: past Ollama's default window.
const system = `You are a careful agent. ${'Follow the house rules. '.repeat(1250)}`;
const tool = { name: 'lookup', description: 'Look things up', parameters: { type: 'object', properties: { input: { type: 'string' } } } };
const sentOptions = () => (ollama.received.at(-1)!.body as { options?: Record<string, unknown> }).options;

describe('a long agent prompt to Ollama', () => {
  it('loses its system prompt and tools in Ollama\'s default window when the model sets no numCtx', async () => {
    const completion = await stack.openai().chat.completions.create({
      model: 'llama-default',
      messages: [{ role: 'system', content: system }, { role: 'user', content: 'find cats' }],
      tools: [{ type: 'function', function: tool }],
    });
    expect(sentOptions()?.num_ctx).toBeUndefined();
    expect(completion.choices[0]!.message.tool_calls).toBeUndefined();
    expect(completion.usage?.prompt_tokens).toBe(DEFAULT_NUM_CTX);
  });

  it('keeps them with numCtx, from an openai client, plain and streamed', async () => {
    const request = {
      model: 'llama-32k',
      messages: [{ role: 'system' as const, content: system }, { role: 'user' as const, content: 'find cats' }],
      tools: [{ type: 'function' as const, function: tool }],
    };
    const completion = await stack.openai().chat.completions.create(request);
    expect(sentOptions()).toEqual({ num_ctx: 32_768 });
    expect(completion.choices[0]!.message.tool_calls?.map((c) => c.type === 'function' && c.function.name)).toEqual(['lookup']);
    expect(completion.usage?.prompt_tokens).toBeGreaterThan(DEFAULT_NUM_CTX);

    const names: string[] = [];
    for await (const chunk of await stack.openai().chat.completions.create({ ...request, stream: true })) {
      names.push(...(chunk.choices[0]?.delta.tool_calls ?? []).flatMap((c) => c.function?.name ?? []));
    }
    expect(sentOptions()).toEqual({ num_ctx: 32_768 });
    expect(names).toEqual(['lookup']);
  });

  it('keeps them with numCtx, from an Anthropic client, beside its max_tokens', async () => {
    const message = await stack.anthropic().messages.create({
      model: 'llama-32k',
      max_tokens: 512,
      system,
      tools: [{ name: tool.name, description: tool.description, input_schema: tool.parameters as { type: 'object' } }],
      messages: [{ role: 'user', content: 'find cats' }],
    });
    expect(sentOptions()).toEqual({ num_predict: 512, num_ctx: 32_768 });
    expect(message.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'lookup' })]);
  });

  it('embeds a long input whole with numCtx, and cut at the default window without', async () => {
    const input = Array.from({ length: 5_000 }, (_, i) => `word${i}`).join(' ');
    const cut = await stack.openai().embeddings.create({ model: 'llama-default', input });
    expect(cut.usage.prompt_tokens).toBe(DEFAULT_NUM_CTX);
    const whole = await stack.openai().embeddings.create({ model: 'llama-32k', input });
    expect(whole.usage.prompt_tokens).toBe(5_000);
    expect((ollama.received.at(-1)!.body as { options?: unknown }).options).toEqual({ num_ctx: 32_768 });
  });
});

