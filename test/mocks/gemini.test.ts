import { ApiError, FunctionCallingConfigMode, GoogleGenAI } from '@google/genai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mockEmbedding, startMock } from './index.js';
import type { MockProvider } from './index.js';

const KEY = 'AIza-test-gemini-0001';
const MODEL = 'gemini-2.5-flash';
const tools = [{ functionDeclarations: ['lookup', 'search'].map((name) => ({ name, description: `${name} things` })) }];

let mock: MockProvider;
let ai: GoogleGenAI;

beforeAll(async () => {
  mock = await startMock('gemini', { keys: [KEY] });
  ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: mock.url } });
});
afterAll(() => mock.close());
beforeEach(() => mock.reset());

describe('gemini mock: generateContent', () => {
  it('echoes the user text with STOP and usage; the key travels in x-goog-api-key', async () => {
    const response = await ai.models.generateContent({ model: MODEL, contents: 'hello there' });
    expect(response.text).toBe('echo: hello there');
    expect(response.candidates?.[0]?.finishReason).toBe('STOP');
    expect(response.usageMetadata).toMatchObject({ candidatesTokenCount: 3, promptTokenCount: 2, totalTokenCount: 5 });
    const [request] = mock.received;
    expect(request?.path).toBe(`/v1beta/models/${MODEL}:generateContent`);
    expect(request?.headers['x-goog-api-key']).toBe(KEY);
  });

  it('answers candidateCount candidates, each billed; Gemini 3 takes one only', async () => {
    const response = await ai.models.generateContent({ model: MODEL, contents: 'hello there', config: { candidateCount: 3 } });
    expect(response.candidates?.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(response.usageMetadata?.candidatesTokenCount).toBe(9);
    const refused = await ai.models.generateContent({ model: 'gemini-3-pro-preview', contents: 'hello', config: { candidateCount: 2 } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).message).toContain('Multiple candidates is not enabled for this model');
  });

  it('streams word by word over SSE; the last response carries the finish reason', async () => {
    const stream = await ai.models.generateContentStream({ model: MODEL, contents: 'one two three' });
    const responses = [];
    for await (const response of stream) responses.push(response);
    expect(responses.map((r) => r.text).join('')).toBe('echo: one two three');
    expect(responses.length).toBe(4);
    expect(responses.at(-1)?.candidates?.[0]?.finishReason).toBe('STOP');
    expect(responses.slice(0, -1).every((r) => r.candidates?.[0]?.finishReason === undefined)).toBe(true);
    expect(mock.received[0]?.query).toMatchObject({ alt: 'sse' });
  });

  it('frames SSE as data: {json} CRLF CRLF, without [DONE]', async () => {
    const response = await fetch(`${mock.url}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse&key=${KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'raw' }] }] }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const text = await response.text();
    expect(text).not.toContain('[DONE]');
    const frames = text.split('\r\n\r\n');
    expect(frames.pop()).toBe('');
    for (const frame of frames) expect(JSON.parse(frame.replace(/^data: /, ''))).toHaveProperty('candidates');
  });

  it('calls functions (whole, args as an object), in parallel when asked', async () => {
    const single = await ai.models.generateContent({ model: MODEL, contents: 'find cats', config: { tools } });
    expect(single.functionCalls).toEqual([{ name: 'lookup', args: { input: 'find cats' } }]);
    expect(single.candidates?.[0]?.finishReason).toBe('STOP');

    const stream = await ai.models.generateContentStream({ model: MODEL, contents: 'both in parallel', config: { tools } });
    const calls = [];
    for await (const response of stream) calls.push(...(response.functionCalls ?? []));
    expect(calls.map((c) => c.name)).toEqual(['lookup', 'search']);

    const forced = await ai.models.generateContent({
      model: MODEL,
      contents: 'x',
      config: { tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ['search'] } } },
    });
    expect(forced.functionCalls?.map((c) => c.name)).toEqual(['search']);
    const none = await ai.models.generateContent({ model: MODEL, contents: 'talk', config: { tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.NONE } } } });
    expect(none.text).toBe('echo: talk');
  });

  it('refuses a function calling config without declarations, and allowedFunctionNames outside mode ANY or naming no declared function', async () => {
    const send = (config: Record<string, unknown>) => ai.models.generateContent({ model: MODEL, contents: 'x', config }).catch((e: unknown) => e);
    const refused = async (config: Record<string, unknown>, message: string) => {
      const e = await send(config);
      expect(e).toBeInstanceOf(ApiError);
      expect(e).toMatchObject({ status: 400 });
      expect(JSON.parse((e as ApiError).message)).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining(message) } });
    };
    await refused({ toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY } } }, 'Function calling config is set without function_declarations.');
    await refused({ tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ['missing'] } } }, "function 'missing' is not declared");
    await refused({ tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.AUTO, allowedFunctionNames: ['search'] } } }, 'only be set when mode is ANY');
    await refused({ tools, toolConfig: { functionCallingConfig: { allowedFunctionNames: ['search'] } } }, 'only be set when mode is ANY');
    const auto = await send({ tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.AUTO } } });
    expect((auto as { functionCalls?: unknown[] }).functionCalls).toHaveLength(1);
  });

  it('answers a function response and truncates at maxOutputTokens', async () => {
    const result = await ai.models.generateContent({
      model: MODEL,
      config: { tools },
      contents: [
        { role: 'user', parts: [{ text: 'find cats' }] },
        { role: 'model', parts: [{ functionCall: { name: 'lookup', args: { input: 'find cats' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { output: '3 cats' } } }] },
      ],
    });
    expect(result.text).toBe('tool result: 3 cats');

    const short = await ai.models.generateContent({ model: MODEL, contents: 'a b c d', config: { maxOutputTokens: 2 } });
    expect(short.text).toBe('echo: a');
    expect(short.candidates?.[0]?.finishReason).toBe('MAX_TOKENS');
  });
});

describe('gemini mock: embeddings and models', () => {
  it('embeds through batchEmbedContents (what the SDK calls) and embedContent', async () => {
    const response = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['alpha', 'beta'] });
    expect(mock.received[0]?.path).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
    expect(response.embeddings?.map((e) => e.values)).toEqual([mockEmbedding('alpha'), mockEmbedding('beta')]);

    const single = await fetch(`${mock.url}/v1beta/models/gemini-embedding-001:embedContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ content: { parts: [{ text: 'alpha' }] }, outputDimensionality: 16 }),
    });
    expect(await single.json()).toEqual({ embedding: { values: mockEmbedding('alpha', 16) } });
  });

  it('lists models', async () => {
    const pager = await ai.models.list();
    const names = [];
    for await (const model of pager) names.push(model.name);
    expect(names).toEqual(['models/gemini-2.5-flash', 'models/gemini-embedding-001']);
  });
});

describe('gemini mock: errors', () => {
  it('answers a bad key with 400 API_KEY_INVALID, as Google does', async () => {
    const bad = new GoogleGenAI({ apiKey: 'AIza-wrong', httpOptions: { baseUrl: mock.url } });
    const err = await bad.models.generateContent({ model: MODEL, contents: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toContain('API_KEY_INVALID');
  });

  it('surfaces scripted statuses with Google error bodies', async () => {
    mock.script({ status: 429, retryAfter: 5 }, { status: 503 });
    const limited = await ai.models.generateContent({ model: MODEL, contents: 'x' }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(ApiError);
    expect((limited as ApiError).status).toBe(429);
    expect(JSON.parse((limited as ApiError).message)).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });
    const unavailable = await ai.models.generateContent({ model: MODEL, contents: 'x' }).catch((e: unknown) => e);
    expect((unavailable as ApiError).status).toBe(503);
  });

  it('sends an error object mid-stream, which the SDK throws', async () => {
    mock.script({ midStreamError: { afterChunks: 1, status: 500 } });
    const stream = await ai.models.generateContentStream({ model: MODEL, contents: 'a b c' });
    const texts: string[] = [];
    const err = await (async () => {
      for await (const response of stream) texts.push(response.text ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(500);
    expect(texts).toEqual(['echo: ']);
  });
});
