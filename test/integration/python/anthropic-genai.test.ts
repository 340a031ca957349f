/**
 * The anthropic and google-genai Python SDKs (test/python/cases_anthropic.py, cases_genai.py, set
 * up as docs/agents.md shows) through the socket, against every provider mock: messages plain,
 * streamed and with tools, count_tokens, models; generate_content plain, streamed, function calling
 * (by hand and the SDK's automatic loop), count_tokens, models; and the exceptions a Python user
 * catches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockEmbedding, type MockKind, type MockProvider } from '../../mocks/index.js';
import type { PythonDriver } from '../../python/driver.js';
import type { Stack } from '../sidecar/harness.js';
import { PROVIDERS, startPythonStack, VENV_BUILD_TIMEOUT_MS } from './stack.js';

let python: PythonDriver;
let stack: Stack;
let mocks: Map<MockKind, MockProvider>;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ python, stack, mocks, close } = await startPythonStack('python-anthropic-genai', ['cases_anthropic', 'cases_genai']));
}, VENV_BUILD_TIMEOUT_MS);

afterAll(() => close?.());

describe.each(PROVIDERS)('anthropic Python SDK through a %s provider', (kind) => {
  const model = `via-${kind}`;

  it('creates a message', async () => {
    const message = await python.value<Record<string, unknown>>('anthropic.create', { model, text: 'hello from python' });
    expect(message).toMatchObject({ type: 'message', role: 'assistant', model, text: 'echo: hello from python', stop_reason: 'end_turn', id: expect.stringMatching(/^msg_/) });
    expect(message.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
  });

  it('streams a message', async () => {
    const message = await python.value<{ events: string[]; text: string; stop_reason: string; usage: { output_tokens: number } }>('anthropic.stream', { model, text: 'stream these words please' });
    expect(message.text).toBe('echo: stream these words please');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(message.events[0]).toBe('message_start');
    expect(message.events.at(-1)).toBe('message_stop');
  });

  it('streams with AsyncAnthropic', async () => {
    expect(await python.value('anthropic.stream_async', { model, text: 'async anthropic words' })).toBe('echo: async anthropic words');
  });

  it.each([false, true])('round-trips a tool use (streamed: %s)', async (streamed) => {
    const reply = await python.value('anthropic.tools', { model, text: 'weather in Oslo', result: 'sunny, 21 degrees', streamed });
    expect(reply).toEqual({ stop_reason: 'tool_use', uses: [{ id: expect.any(String), name: 'get_weather', input: { input: 'weather in Oslo' } }], answer: 'tool result: sunny, 21 degrees' });
  });

  it('counts tokens, saying when it is an estimate', async () => {
    const counted = await python.value<{ input_tokens: number; estimate: string | null }>('anthropic.count_tokens', { model, text: 'how many tokens are in this question about the weather in Oslo' });
    expect(counted.input_tokens).toBeGreaterThan(5);
    expect(counted.estimate).toBe(kind === 'anthropic' || kind === 'gemini' ? null : 'estimate');
  });

  it('retrieves the model', async () => {
    expect(await python.value('anthropic.retrieve', { model })).toMatchObject({ type: 'model', id: model });
  });
});

describe('anthropic Python SDK models and errors', () => {
  it('lists the sandbox models', async () => {
    expect(await python.value('anthropic.list_models')).toEqual(PROVIDERS.map((k) => `via-${k}`).sort());
  });

  it('raises NotFoundError 404 for an unknown model, in Anthropic shape', async () => {
    const error = await python.error('anthropic.create', { model: 'no-such-model', text: 'hi' });
    expect(error.class).toBe('NotFoundError');
    expect(error.status_code).toBe(404);
    expect(error.body).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('no-such-model') } });
  });

  it('raises NotFoundError 404 from models.retrieve for an unknown model', async () => {
    const error = await python.error('anthropic.retrieve', { model: 'no-such-model' });
    expect(error.class).toBe('NotFoundError');
    expect(error.body).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('raises BadRequestError 400 naming the malformed field', async () => {
    const error = await python.error('anthropic.raw', { body: { model: 'via-anthropic', max_tokens: 'many', messages: [{ role: 'user', content: 'hi' }] } });
    expect(error.class).toBe('BadRequestError');
    expect(error.status_code).toBe(400);
    expect(error.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/max_tokens/) } });
  });
});

describe.each(PROVIDERS)('google-genai Python SDK through a %s provider', (kind) => {
  const model = `via-${kind}`;

  it('generates content', async () => {
    const response = await python.value<Record<string, unknown>>('genai.generate', { model, text: 'hello from genai' });
    expect(response).toMatchObject({ text: 'echo: hello from genai', finish: 'STOP', prompt_tokens: expect.any(Number), output_tokens: expect.any(Number) });
  });

  it('streams content', async () => {
    const response = await python.value<{ chunks: number; text: string; finish: string; total_tokens: number; none_texts: number }>('genai.stream', { model, text: 'stream these words please' });
    expect(response.text).toBe('echo: stream these words please');
    // Every chunk's text is a string, the last one's too (print(chunk.text, end="") prints no "None").
    expect(response.none_texts).toBe(0);
    expect(response.chunks).toBeGreaterThan(1);
    expect(response.finish).toBe('STOP');
    expect(response.total_tokens).toBeGreaterThan(0);
  });

  it('generates and streams with client.aio', async () => {
    expect(await python.value('genai.generate_async', { model, text: 'hello from aio' })).toEqual({ text: 'echo: hello from aio', streamed: 'echo: hello from aio' });
  });

  it('round-trips a function call', async () => {
    const reply = await python.value('genai.function_call', { model, text: 'weather in Oslo', result: 'sunny, 21 degrees' });
    expect(reply).toEqual({ calls: [{ name: 'get_weather', args: { input: 'weather in Oslo' } }], answer: 'tool result: sunny, 21 degrees' });
  });

  it("runs the SDK's automatic function calling", async () => {
    const reply = await python.value('genai.automatic_function_calling', { model, text: 'Oslo' });
    expect(reply).toEqual({ seen: ['Oslo'], answer: expect.stringContaining('sunny in Oslo') });
  });

  it('takes an image part made with Part.from_bytes', async () => {
    expect(await python.value('genai.image', { model, text: 'What is this?' })).toBe('echo: What is this? [image]');
  });

  it('counts tokens', async () => {
    expect(await python.value('genai.count_tokens', { model, text: 'how many tokens are in this question about the weather in Oslo' })).toBeGreaterThan(5);
  });

  it('gets the model', async () => {
    expect(await python.value('genai.get_model', { model })).toEqual({ name: `models/${model}`, display_name: model });
  });
});

describe.each(['openai', 'gemini', 'ollama'])('google-genai Python SDK embeddings through a %s provider', (kind) => {
  it('embeds a list of contents', async () => {
    const vectors = await python.value('genai.embed', { model: `via-${kind}`, texts: ['first text', 'second text'] });
    // google-genai takes a model whose name has "gemini" in it for a multimodal embedding model
    // and sends the list as the parts of one content: one embedding of all of it.
    expect(vectors).toEqual(kind === 'gemini' ? [mockEmbedding('first text second text')] : [mockEmbedding('first text'), mockEmbedding('second text')]);
  });

  it('embeds one content with :embedContent', async () => {
    const response = await stack.fetch(`/v1beta/models/via-${kind}:embedContent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: { parts: [{ text: 'one' }, { text: 'text' }] } }) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ embedding: { values: mockEmbedding('one text') } });
  });
});

// As for the openai SDK: Anthropic models are asked for the JSON in the system prompt, which a mock cannot follow.
describe.each(['openai', 'gemini', 'ollama'])('google-genai Python SDK structured output through a %s provider', (kind) => {
  it('parses into pydantic models', async () => {
    expect(await python.value('genai.structured', { model: `via-${kind}`, text: 'Bergen' })).toEqual([{ name: 'Bergen', population: 1 }]);
  });
});

it('google-genai Python SDK: thinking_config reaches a Claude model as its thinking budget', async () => {
  const anthropic = mocks.get('anthropic')!;
  anthropic.reset();
  expect(await python.value('genai.thinking', { model: 'via-anthropic', text: 'think first', budget: 2048 })).toContain('think first');
  expect(anthropic.received.at(-1)!.body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 2048 } });
});

describe('google-genai Python SDK models and errors', () => {
  it('raises ClientError 400 for embeddings of a model whose provider has none', async () => {
    const error = await python.error('genai.embed', { model: 'via-anthropic', texts: ['x'] });
    expect(error).toMatchObject({ class: 'ClientError', code: 400, status: 'INVALID_ARGUMENT' });
    expect(error.str).toContain('supports embeddings');
  });


  it('lists the served models', async () => {
    expect(await python.value('genai.list_models')).toEqual(PROVIDERS.map((k) => `models/via-${k}`).sort());
  });

  it('raises ClientError 404 NOT_FOUND for an unknown model', async () => {
    const error = await python.error('genai.generate', { model: 'no-such-model', text: 'hi' });
    expect(error.class).toBe('ClientError');
    expect(error.bases).toContain('APIError');
    expect(error.code).toBe(404);
    expect(error.status).toBe('NOT_FOUND');
    expect(error.str).toContain('no-such-model');
  });
});
