/**
 * The openai Python SDK (test/python/cases_openai.py, set up as docs/agents.md shows) through the
 * socket, against every provider mock: chat completions plain, streamed and with tools; the
 * Responses API plain, streamed, with a function-tool second turn and previous_response_id; and
 * the exceptions a Python user catches for an unknown model, a limit and a malformed request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockKind, MockProvider } from '../../mocks/index.js';
import type { PythonDriver } from '../../python/driver.js';
import { stackDir, startStack, type Stack } from '../sidecar/harness.js';
import { PROVIDERS, startPythonStack, VENV_BUILD_TIMEOUT_MS } from './stack.js';

let stack: Stack;
let mocks: Map<MockKind, MockProvider>;
let python: PythonDriver;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, mocks, python, close } = await startPythonStack('python-openai', ['cases_openai']));
}, VENV_BUILD_TIMEOUT_MS);

afterAll(() => close?.());

it('lists the sandbox models', async () => {
  expect(await python.value('openai.models')).toEqual(PROVIDERS.map((k) => `via-${k}`).sort());
});

describe.each(PROVIDERS)('openai Python SDK through a %s provider', (kind) => {
  const model = `via-${kind}`;

  it('completes a chat', async () => {
    const reply = await python.value<{ text: string; finish: string; model: string; usage: { prompt_tokens: number; completion_tokens: number } }>('openai.chat_plain', { model, text: 'hello from python' });
    expect(reply).toMatchObject({ text: 'echo: hello from python', finish: 'stop', model });
    expect(reply.usage.prompt_tokens).toBeGreaterThan(0);
    expect(reply.usage.completion_tokens).toBeGreaterThan(0);
  });

  it('streams a chat with usage', async () => {
    const reply = await python.value<{ chunks: number; text: string; finish: string; usage: { total_tokens: number } | null }>('openai.chat_stream', { model, text: 'stream these words please' });
    expect(reply.text).toBe('echo: stream these words please');
    expect(reply.chunks).toBeGreaterThan(2);
    expect(reply.finish).toBe('stop');
    expect(reply.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('round-trips a tool call', async () => {
    const reply = await python.value<{ finish: string; calls: { id: string; name: string; arguments: unknown }[]; answer: string }>('openai.chat_tools', { model, text: 'weather in Oslo', result: 'sunny, 21 degrees' });
    expect(reply.finish).toBe('tool_calls');
    expect(reply.calls).toEqual([{ id: expect.any(String), name: 'get_weather', arguments: { input: 'weather in Oslo' } }]);
    expect(reply.answer).toBe('tool result: sunny, 21 degrees');
  });

  it('streams a tool call', async () => {
    const reply = await python.value('openai.chat_tools_stream', { model, text: 'weather in Bergen' });
    expect(reply).toEqual({ finish: 'tool_calls', calls: [{ id: expect.any(String), name: 'get_weather', arguments: { input: 'weather in Bergen' } }] });
  });

  it('answers through the Responses API', async () => {
    const response = await python.value<Record<string, unknown>>('openai.responses_plain', { model, text: 'hello from the responses api' });
    expect(response).toMatchObject({ object: 'response', status: 'completed', model, text: 'echo: hello from the responses api', output: ['message'], id: expect.stringMatching(/^resp_/) });
    expect(response.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
  });

  it('streams through the Responses API', async () => {
    const response = await python.value<{ events: string[]; text: string; status: string }>('openai.responses_stream', { model, text: 'stream the responses words' });
    expect(response.text).toBe('echo: stream the responses words');
    expect(response.status).toBe('completed');
    expect(response.events[0]).toBe('response.created');
    expect(response.events.at(-1)).toBe('response.completed');
    expect(response.events).toContain('response.output_text.delta');
  });

  it.each([false, true])('runs a function tool and a second turn with its output (stream: %s)', async (stream) => {
    const reply = await python.value('openai.responses_tools', { model, text: 'weather in Tromsø', result: 'snow', stream });
    expect(reply).toEqual({ calls: [{ name: 'get_weather', call_id: expect.any(String), arguments: { input: 'weather in Tromsø' } }], answer: 'tool result: snow' });
  });

  it('retrieves, lists the input items of and deletes a response', async () => {
    if (kind === 'openai') {
      // OpenAI holds the responses its models made; the socket cannot name the provider to ask.
      const made = await python.value<{ id: string }>('openai.responses_plain', { model, text: 'held by openai' });
      const error = await python.error('openai.responses_retrieve_id', { response_id: made.id });
      expect(error).toMatchObject({ class: 'NotFoundError', status_code: 404, code: 'response_not_found' });
      return;
    }
    const reply = await python.value<{ id: string }>('openai.responses_retrieve', { model, text: 'keep this one' });
    expect(reply).toEqual({ same: true, text: 'echo: keep this one', items: [{ type: 'message', role: 'user', text: 'keep this one', id: 'msg_' }], id: expect.stringMatching(/^resp_/) });
    const gone = await python.error('openai.responses_retrieve_id', { response_id: reply.id });
    expect(gone).toMatchObject({ class: 'NotFoundError', status_code: 404, code: 'response_not_found' });
    expect(gone.str).toContain(reply.id);
  });

  it('continues with previous_response_id', async () => {
    const reply = await python.value('openai.responses_previous', { model, text: 'weather in Bodø', result: 'windy' });
    expect(reply).toEqual({ calls: 1, answer: 'tool result: windy', third: 'echo: and now?' });
    expect(mocks.get(kind)!.received.length).toBeGreaterThan(0);
  });
});

// Structured output goes to each provider's JSON mode with the schema (Anthropic's structured
// outputs, output_config.format, for a current Claude model; ADR 0020).
describe.each(['openai', 'anthropic', 'gemini', 'ollama'])('openai Python SDK structured output through a %s provider', (kind) => {
  it.each(['chat', 'responses'])('parses into a pydantic model (%s)', async (api) => {
    const parsed = await python.value('openai.parse', { model: `via-${kind}`, text: 'Oslo', api });
    expect(parsed).toEqual({ places: [{ name: 'Oslo', country: 'Oslo', population: 1 }], sure: true });
  });
});

describe('openai Python SDK errors', () => {
  it('raises NotFoundError 404 naming an unknown model', async () => {
    const error = await python.error('openai.chat_plain', { model: 'no-such-model', text: 'hi' });
    expect(error.class).toBe('NotFoundError');
    expect(error.bases).toContain('APIStatusError');
    expect(error.status_code).toBe(404);
    expect(error.str).toContain('no-such-model');
  });

  it('raises BadRequestError 400 naming the malformed field', async () => {
    const error = await python.error('openai.chat_raw', { body: { model: 'via-openai', messages: 'not a list' } });
    expect(error.class).toBe('BadRequestError');
    expect(error.status_code).toBe(400);
    expect(error.str).toMatch(/messages/);
  });

  it('raises BadRequestError 400 for a previous_response_id nobody holds', async () => {
    const error = await python.error('openai.responses_unknown_previous', { model: 'via-anthropic' });
    expect(error.class).toBe('BadRequestError');
    expect(error.status_code).toBe(400);
    expect(error.str).toContain('resp_neverissued0000');
  });

  it('raises RateLimitError 429 past the sandbox limit', async () => {
    const limited = await startStack(await stackDir(), {
      version: 1,
      sandbox: { name: 'python-limited' },
      limits: { requestsPerMinute: 1 },
      providers: [{ name: 'ollama', type: 'ollama', baseURL: mocks.get('ollama')!.url, models: [{ name: 'm' }] }],
    });
    try {
      await python.value('openai.chat_plain', { model: 'm', text: 'one' }, { socket: limited.socketPath });
      const error = await python.error('openai.chat_plain', { model: 'm', text: 'two' }, { socket: limited.socketPath });
      expect(error.class).toBe('RateLimitError');
      expect(error.status_code).toBe(429);
      expect(error.str).toContain('sandbox python-limited allows 1 requests per minute');
    } finally {
      await python.run('openai.models', {}, { socket: stack.socketPath });
      await limited.close();
    }
  });
});
