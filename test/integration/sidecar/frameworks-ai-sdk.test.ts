/**
 * The Vercel AI SDK (`ai` with `@ai-sdk/openai` chat and Responses models,
 * `@ai-sdk/openai-compatible`, `@ai-sdk/anthropic`, `@ai-sdk/google`) through the socket, set up as its docs say (a provider with `baseURL` and a
 * `fetch` that dials the Unix socket), against every provider type: what an agent developer
 * sees from generateText, streamText, a multi-step tool loop, generateObject, usage and errors.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogle } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, embedMany, generateObject, generateText, Output, stepCountIs, streamText, tool, ToolLoopAgent, type LanguageModel, type ModelMessage } from 'ai';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mockEmbedding, startMock, type MockProvider } from '../../mocks/index.js';
import { EVERY_PROVIDER, keyFile, providerStackForFile, stackDir, startStack, type Stack } from './harness.js';

// o4-mini: an OpenAI model that reasons, for the runs with reasoning on (via-openai does not, and
// OpenAI refuses reasoning_effort there, as the mock does).
const suite = providerStackForFile('ai-sdk', { models: { openai: ['o4-mini'] } });

const dispatchers: Agent[] = [];
afterAll(() => Promise.all(dispatchers.map((d) => d.close())));

/** A fetch that dials the socket; the URL's host is never looked up. */
function socketFetch(socketPath: string): typeof globalThis.fetch {
  const dispatcher = new Agent({ connect: { socketPath } });
  dispatchers.push(dispatcher);
  return ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof globalThis.fetch;
}

/** The AI SDK's model factories, each configured for a socket as its docs say: a `baseURL` and a `fetch` that dials the socket. */
function withSocket(socketPath: string, client: string): (model: string) => LanguageModel {
  const fetch = socketFetch(socketPath);
  const openai = createOpenAI({ apiKey: 'unused', baseURL: 'http://airlock/v1', fetch });
  const factories: Record<string, (model: string) => LanguageModel> = {
    'openai chat': (model) => openai.chat(model),
    'openai responses': (model) => openai.responses(model),
    // The generic provider for OpenAI-compatible servers, as many agents reach a gateway.
    'openai-compatible': createOpenAICompatible({ name: 'airlock', apiKey: 'unused', baseURL: 'http://airlock/v1', fetch, includeUsage: true, supportsStructuredOutputs: true }),
    anthropic: createAnthropic({ apiKey: 'unused', baseURL: 'http://airlock/v1', fetch }),
    google: createGoogle({ apiKey: 'unused', baseURL: 'http://airlock/v1beta', fetch }),
  };
  return factories[client]!;
}

const CLIENTS = ['openai chat', 'openai responses', 'openai-compatible', 'anthropic', 'google'];

const weather = () => {
  const calls: string[] = [];
  return {
    calls,
    tools: {
      get_weather: tool({
        description: 'Current weather for a city',
        inputSchema: z.object({ input: z.string() }),
        execute: async ({ input }) => {
          calls.push(input);
          return `sunny in ${input}`;
        },
      }),
    },
  };
};

describe.each(CLIENTS)('the AI SDK %s model', (client) => {
  describe.each(EVERY_PROVIDER)('through a %s provider', (kind) => {
    const model = () => withSocket(suite.stack.socketPath, client)(`via-${kind}`);
    // The google provider sends a tool's result as functionResponse.response = {name, content};
    // a Gemini model reads that object, and so does a translated one, as its JSON text (the mock
    // model echoes it), since Gemini's only documented unwrapping is an `output` field.
    const answerFrom = (result: string) =>
      client === 'google' && kind !== 'gemini' ? `tool result: ${JSON.stringify({ name: 'get_weather', content: result })}` : `tool result: ${result}`;

    it('generates text and reports usage', async () => {
      const result = await generateText({ model: model(), prompt: 'hello there' });
      expect(result.text).toBe('echo: hello there');
      expect(result.finishReason).toBe('stop');
      expect(result.usage.inputTokens).toBeGreaterThan(0);
      expect(result.usage.outputTokens).toBe(3);
    });

    it('streams text, then the finish reason and usage', async () => {
      const result = streamText({ model: model(), prompt: 'stream these words please' });
      const deltas: string[] = [];
      for await (const delta of result.textStream) deltas.push(delta);
      expect(deltas.join('')).toBe('echo: stream these words please');
      expect(deltas.length).toBeGreaterThan(1);
      expect(await result.finishReason).toBe('stop');
      expect((await result.usage).outputTokens).toBe(5);
    });

    it('reports a cut answer as finish reason length, plain and streamed', async () => {
      const plain = await generateText({ model: model(), prompt: 'one two three four five six', maxOutputTokens: 3 });
      expect(plain.finishReason).toBe('length');
      expect(plain.text).toBe('echo: one two');
      const streamed = streamText({ model: model(), prompt: 'one two three four five six', maxOutputTokens: 3 });
      expect(await streamed.text).toBe('echo: one two');
      expect(await streamed.finishReason).toBe('length');
    });

    it('surfaces a provider error in the middle of a stream as an error part', async () => {
      // After content has reached the client (an error before it fails over instead).
      suite.mocks.get(kind)!.script({ midStreamError: { afterChunks: 6, message: 'upstream fell over' } });
      const reported: unknown[] = [];
      const result = streamText({ model: model(), prompt: 'one two three four five six seven eight nine ten', maxRetries: 0, onError: ({ error }) => void reported.push(error) });
      const types: string[] = [];
      let error: unknown;
      for await (const part of result.fullStream) {
        types.push(part.type);
        if (part.type === 'error') error = part.error;
      }
      expect(types.indexOf('text-delta')).toBeGreaterThan(-1);
      expect(types.indexOf('text-delta')).toBeLessThan(types.indexOf('error'));
      expect(types.slice(types.indexOf('error')).filter((t) => t === 'text-delta')).toEqual([]);
      expect(String((error as Error).message ?? JSON.stringify(error))).toContain('upstream fell over');
      expect(reported).toEqual([error]);
    });

    it('runs a multi-step tool loop to the answer', async () => {
      const { calls, tools } = weather();
      const result = await generateText({ model: model(), tools, stopWhen: stepCountIs(3), prompt: 'Oslo' });
      expect(calls).toEqual(['Oslo']);
      expect(result.steps.map((s) => s.finishReason)).toEqual(['tool-calls', 'stop']);
      expect(result.steps[0]!.toolCalls[0]!.toolCallId).toMatch(/\S/);
      expect(result.text).toBe(answerFrom('sunny in Oslo'));
      const stepOutput = result.steps.reduce((sum, s) => sum + (s.usage.outputTokens ?? 0), 0);
      expect(result.steps[0]!.usage.outputTokens).toBeGreaterThan(0);
      expect(result.totalUsage.outputTokens).toBe(stepOutput);
    });

    it('continues a conversation from the response messages of a stream and of a plain call', async () => {
      // The Responses model sends earlier answers as item_references (store is on): OpenAI holds
      // those items, the sidecar holds those it translated and puts them in the input.
      const sentAnswer = (answer: string) => {
        const sent = JSON.stringify(suite.mocks.get(kind)!.received.at(-1)!.body);
        expect(sent).toContain(client === 'openai responses' && kind === 'openai' ? 'item_reference' : answer);
      };
      const first = streamText({ model: model(), prompt: 'first question' });
      const history: ModelMessage[] = [{ role: 'user', content: 'first question' }, ...(await first.response).messages, { role: 'user', content: 'second question' }];
      const second = await generateText({ model: model(), messages: history });
      expect(second.text).toBe('echo: second question');
      sentAnswer('echo: first question');
      const third = await generateText({ model: model(), messages: [...history, ...second.response.messages, { role: 'user', content: 'third question' }] });
      expect(third.text).toBe('echo: third question');
      sentAnswer('echo: second question');
    });

    it('runs a tool loop with reasoning on', async () => {
      const { calls, tools } = weather();
      const thinking = kind === 'openai' ? withSocket(suite.stack.socketPath, client)('o4-mini') : model();
      const result = await generateText({ model: thinking, tools, reasoning: 'low', stopWhen: stepCountIs(3), prompt: 'Tromso' });
      expect(calls).toEqual(['Tromso']);
      expect(result.text).toBe(answerFrom('sunny in Tromso'));
      // Claude's thinking reaches the Anthropic client (which hands it back, signed, on the tool
      // round trip); other clients' reasoning fields are their own and not compared here.
      if (client === 'anthropic' && kind === 'anthropic') expect(result.steps.map((s) => s.reasoningText)).toEqual(['Considering: Tromso', 'Considering: sunny in Tromso']);
    });

    it('runs a ToolLoopAgent', async () => {
      const { calls, tools } = weather();
      const agent = new ToolLoopAgent({ model: model(), instructions: 'Answer with the weather tool.', tools });
      const result = await agent.generate({ prompt: 'Alta' });
      expect(calls).toEqual(['Alta']);
      expect(result.text).toBe(answerFrom('sunny in Alta'));
    });

    it('streams a multi-step tool loop', async () => {
      const { calls, tools } = weather();
      const result = streamText({ model: model(), tools, stopWhen: stepCountIs(3), prompt: 'Bergen' });
      let text = '';
      for await (const delta of result.textStream) text += delta;
      expect(calls).toEqual(['Bergen']);
      expect(text).toBe(answerFrom('sunny in Bergen'));
      expect((await result.steps).map((s) => s.finishReason)).toEqual(['tool-calls', 'stop']);
    });

    const schema = z.object({ city: z.string(), days: z.number() });
    it('generates an object that matches its schema', async () => {
      const { object, usage } = await generateObject({ model: model(), schema, prompt: 'weather for two days' });
      expect(object).toEqual({ city: expect.stringContaining('weather for two days'), days: expect.any(Number) });
      expect(usage.outputTokens).toBeGreaterThan(0);
    });

    it('generates and streams structured output with Output.object (v7, generateObject\'s successor)', async () => {
      const { output } = await generateText({ model: model(), output: Output.object({ schema }), prompt: 'weather for four days' });
      expect(output).toEqual({ city: expect.stringContaining('weather for four days'), days: expect.any(Number) });
      const streamed = streamText({ model: model(), output: Output.object({ schema }), prompt: 'weather for five days' });
      expect(await streamed.output).toEqual({ city: expect.stringContaining('weather for five days'), days: expect.any(Number) });
    });
  });

  it('surfaces a model outside the sandbox as an API error the SDK does not retry', async () => {
    const error = await generateText({ model: withSocket(suite.stack.socketPath, client)('gpt-secret'), prompt: 'hi', maxRetries: 0 }).catch((e: unknown) => e);
    expect(APICallError.isInstance(error)).toBe(true);
    const apiError = error as APICallError;
    expect(apiError.statusCode).toBeGreaterThanOrEqual(400);
    expect(apiError.statusCode).toBeLessThan(500);
    expect(apiError.message).toContain('gpt-secret');
    expect(apiError.isRetryable).toBe(false);
  });

  it('surfaces a limit refusal with its reason, retryable', async () => {
    const mock = await startMock('ollama');
    const stack = await startStack(await stackDir(), { version: 1, sandbox: { name: 'limited' }, providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: [{ name: 'm' }] }], limits: { requestsPerMinute: 1 } });
    try {
      const model = withSocket(stack.socketPath, client)('m');
      expect((await generateText({ model, prompt: 'one', maxRetries: 0 })).text).toBe('echo: one');
      const error = await generateText({ model, prompt: 'two', maxRetries: 0 }).catch((e: unknown) => e);
      expect(APICallError.isInstance(error)).toBe(true);
      const apiError = error as APICallError;
      expect(apiError.statusCode).toBe(429);
      expect(apiError.isRetryable).toBe(true);
      expect(apiError.message).toContain('allows 1 requests per minute');
      expect(Number(apiError.responseHeaders?.['retry-after'])).toBeGreaterThan(0);
      expect(mock.received).toHaveLength(1);
    } finally {
      await stack.close();
      await mock.close();
    }
  });
});

describe.each(EVERY_PROVIDER)('the AI SDK anthropic model with native structured outputs, through a %s provider', (kind) => {
  it('generates an object from output_config.format', async () => {
    const { object } = await generateObject({
      model: withSocket(suite.stack.socketPath, 'anthropic')(`via-${kind}`),
      schema: z.object({ city: z.string(), days: z.number() }),
      prompt: 'weather for three days',
      providerOptions: { anthropic: { structuredOutputMode: 'outputFormat' } },
    });
    expect(object).toEqual({ city: expect.stringContaining('weather for three days'), days: expect.any(Number) });
  });
});

describe.each(['openai', 'gemini', 'ollama'])('AI SDK embeddings through a %s provider', (kind) => {
  it.each(['openai', 'google'])('embeds many values with the %s embedding model', async (client) => {
    const fetch = socketFetch(suite.stack.socketPath);
    const model =
      client === 'openai'
        ? createOpenAI({ apiKey: 'unused', baseURL: 'http://airlock/v1', fetch }).embeddingModel(`via-${kind}`)
        : createGoogle({ apiKey: 'unused', baseURL: 'http://airlock/v1beta', fetch }).embeddingModel(`via-${kind}`);
    const { embeddings, usage } = await embedMany({ model, values: ['alpha', 'beta'] });
    expect(embeddings).toEqual([mockEmbedding('alpha'), mockEmbedding('beta')].map((v) => v.map((x) => expect.closeTo(x, 5))));
    // Gemini's batchEmbedContents reports no usage: the google model says NaN (against Gemini
    // too), the openai model the 0 tokens the sidecar reports for a Gemini-served embedding.
    if (client === 'openai' && kind === 'gemini') expect(usage.tokens).toBe(0);
    else if (client === 'openai') expect(usage.tokens).toBeGreaterThan(0);
  });
});

describe('the AI SDK anthropic model on Claude-named sandbox models', () => {
  // For a Claude model name @ai-sdk/anthropic turns on what that model has: structured outputs
  // (output_config.format, strict tools, the anthropic-beta header naming them) and thinking.
  let stack: Stack;
  const mocks: MockProvider[] = [];
  beforeAll(async () => {
    const dir = await stackDir();
    const [anthropic, ollama] = [await startMock('anthropic', { keys: ['sk-ant-claude-named'] }), await startMock('ollama')];
    mocks.push(anthropic, ollama);
    stack = await startStack(dir, {
      version: 1,
      sandbox: { name: 'claude-named' },
      providers: [
        { name: 'anthropic', type: 'anthropic', baseURL: anthropic.url, apiKeys: [{ file: await keyFile(dir, 'anthropic', 'sk-ant-claude-named') }], models: [{ name: 'claude-sonnet-4-6' }] },
        // An alias some sandboxes keep: a Claude name served by a local model.
        { name: 'local', type: 'ollama', baseURL: ollama.url, models: [{ name: 'claude-haiku-4-5' }] },
      ],
    });
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all(mocks.map((m) => m.close()));
  });

  it.each([
    ['claude-sonnet-4-6', 0],
    ['claude-haiku-4-5', 1],
  ])('%s: a tool loop with reasoning, and an object', async (name, served) => {
    const model = withSocket(stack.socketPath, 'anthropic')(name);
    const { calls, tools } = weather();
    const loop = await generateText({ model, tools, reasoning: 'low', stopWhen: stepCountIs(3), prompt: 'Lofoten' });
    expect(calls).toEqual(['Lofoten']);
    expect(loop.text).toBe('tool result: sunny in Lofoten');
    const { output } = await generateText({ model, output: Output.object({ schema: z.object({ city: z.string() }) }), prompt: 'a city' });
    expect(output).toEqual({ city: 'a city' });
    // The SDK's beta header (for strict tools) reaches Anthropic, and no other provider.
    const betas = mocks[served]!.received.map((r) => r.headers['anthropic-beta'] ?? '');
    if (served === 0) expect(betas.filter((b) => b.includes('structured-outputs')).length).toBeGreaterThan(0);
    else expect(mocks[served]!.received.flatMap((r) => Object.keys(r.headers).filter((h) => h.startsWith('anthropic')))).toEqual([]);
  });
});
