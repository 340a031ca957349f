import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMock } from './index.js';
import type { MockKind, MockProvider } from './index.js';

let mock: MockProvider;
let client: OpenAI;
const messages = [{ role: 'user' as const, content: 'one two three four' }];

beforeAll(async () => {
  mock = await startMock('openai-compatible');
  client = new OpenAI({ apiKey: 'unused', baseURL: mock.url, maxRetries: 0, logLevel: 'off' });
});
afterAll(() => mock.close());
afterEach(() => mock.reset());

const chat = (body: Record<string, unknown> = {}) => client.chat.completions.create({ model: 'm', messages, ...body });
const chatStream = () => client.chat.completions.create({ model: 'm', messages, stream: true });

describe('scripting', () => {
  it('consumes scripted steps one per request, then falls back to the default', async () => {
    mock.setDefault({ reply: 'default reply' });
    mock.script({ reply: 'first' }, { status: 500 }, { reply: 'third' });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await chat().then((c) => c.choices[0]?.message.content, (e: { status: number }) => e.status));
    expect(answers).toEqual(['first', 500, 'third', 'default reply']);
    mock.reset();
    expect(mock.received).toEqual([]);
    expect((await chat()).choices[0]?.message.content).toBe('echo: one two three four');
  });

  it('sets Retry-After and extra headers, and records requests as they arrive', async () => {
    mock.script({ status: 429, retryAfter: 2, headers: { 'x-ratelimit-remaining-requests': '0' } });
    const pending = fetch(`${mock.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages }) });
    const [recorded] = await mock.waitForRequests(1);
    const response = await pending;
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(await response.json()).toEqual({ error: { message: expect.any(String), type: 'requests', param: null, code: 'rate_limit_exceeded' } });
    await recorded?.settled;
    expect(recorded?.aborted).toBe(false);
  });

  it('answers bad JSON and unknown paths in the provider error shape', async () => {
    const bad = await fetch(`${mock.url}/chat/completions`, { method: 'POST', body: '{"model": ' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const missing = await fetch(`${mock.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { message: 'Invalid URL (GET /v1/nope)' } });
  });
});

describe('connection faults', () => {
  it('resetBeforeHeaders gives SDK clients a connection error', async () => {
    mock.script({ resetBeforeHeaders: true }, { resetBeforeHeaders: true });
    await expect(chat()).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    const anthropic = await startMock('anthropic');
    try {
      anthropic.script({ resetBeforeHeaders: true });
      const sdk = new Anthropic({ apiKey: 'k', baseURL: anthropic.url, maxRetries: 0 });
      await expect(sdk.messages.create({ model: 'm', max_tokens: 5, messages })).rejects.toBeInstanceOf(Anthropic.APIConnectionError);
    } finally {
      await anthropic.close();
    }
    await mock.received[0]?.settled;
    expect(mock.received[0]?.aborted).toBe(false);
  });

  it('resetAfterChunks cuts a stream after n frames, and a body after half', async () => {
    mock.script({ resetAfterChunks: 2 });
    const stream = await chatStream();
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(seen).toEqual(['', 'echo: ']);

    mock.script({ resetAfterChunks: 1 });
    await expect(chat()).rejects.toBeInstanceOf(Error);
  });

  it('stallAfterChunks keeps the stream open until the client aborts, which is recorded', async () => {
    mock.script({ stallAfterChunks: 2 });
    const stream = await chatStream();
    const seen: string[] = [];
    for await (const chunk of stream) {
      seen.push(chunk.choices[0]?.delta.content ?? '');
      if (seen.length === 2) stream.controller.abort();
    }
    expect(seen).toEqual(['', 'echo: ']);
    const [recorded] = mock.received;
    await recorded?.settled;
    expect(recorded?.aborted).toBe(true);
  });

  it('records an abort during latencyMs, before any header', async () => {
    mock.script({ latencyMs: 60_000 });
    const controller = new AbortController();
    const call = client.chat.completions.create({ model: 'm', messages }, { signal: controller.signal }).catch((e: unknown) => e);
    const [recorded] = await mock.waitForRequests(1);
    controller.abort();
    expect(await call).toBeInstanceOf(OpenAI.APIUserAbortError);
    await recorded?.settled;
    expect(recorded?.aborted).toBe(true);
  });

  it('close() drops stalled connections without counting them as client aborts', async () => {
    const own = await startMock('openai');
    own.script({ stallAfterChunks: 1 });
    const sdk = new OpenAI({ apiKey: 'k', baseURL: own.url, maxRetries: 0 });
    const stream = await sdk.chat.completions.create({ model: 'm', messages, stream: true });
    const reading = (async () => {
      for await (const _ of stream);
    })().catch((e: unknown) => e);
    await own.close();
    expect(await reading).toBeInstanceOf(Error);
    await own.received[0]?.settled;
    expect(own.received[0]?.aborted).toBe(false);
  });

  it('delays headers by latencyMs and frames by chunkDelayMs (generous lower bounds)', async () => {
    mock.script({ latencyMs: 100 }, { chunkDelayMs: 20 });
    let started = performance.now();
    await chat();
    expect(performance.now() - started).toBeGreaterThanOrEqual(80);
    started = performance.now();
    let chunks = 0;
    for await (const _ of await chatStream()) chunks++;
    expect(chunks).toBe(7);
    expect(performance.now() - started).toBeGreaterThanOrEqual(6 * 20 * 0.8);
  });
});

describe('malformed JSON', () => {
  it('breaks a body and a stream frame so that the SDK fails to parse them', async () => {
    mock.script({ malformedJson: true }, { malformedJson: true });
    await expect(chat()).rejects.toThrow();
    const stream = await chatStream();
    await expect(
      (async () => {
        for await (const _ of stream);
      })(),
    ).rejects.toThrow();
  });

  it.each<[MockKind, string, Record<string, unknown>, Record<string, string>]>([
    ['openai', '/v1/chat/completions', { model: 'm', stream: true, messages }, {}],
    ['anthropic', '/v1/messages', { model: 'm', max_tokens: 50, stream: true, messages }, { 'anthropic-version': '2023-06-01' }],
    ['gemini', '/v1beta/models/m:streamGenerateContent?alt=sse', { contents: [{ role: 'user', parts: [{ text: 'a b' }] }] }, {}],
    ['ollama', '/api/chat', { model: 'm', messages }, {}],
  ])('%s: exactly one frame of the stream is broken JSON, the rest is intact', async (kind, path, body, headers) => {
    const provider = await startMock(kind);
    try {
      provider.script({ malformedJson: true });
      const response = await fetch(provider.origin + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      const text = await response.text();
      const frames = kind === 'ollama' ? text.split('\n') : text.split(/\r?\n\r?\n/);
      const payloads = frames.filter((f) => f !== '').map((f) => f.replace(/^event: \w+\n/, '').replace(/^data: /, ''));
      const broken = payloads.filter((p) => p !== '[DONE]' && !parses(p));
      expect(broken).toHaveLength(1);
      expect(payloads.indexOf(broken[0] ?? '')).toBe(1);
    } finally {
      await provider.close();
    }
  });
});

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('load', () => {
  it('serves 1,000 concurrent streaming requests, each answered with its own text', async () => {
    mock.setDefault({ chunkDelayMs: 5 });
    const agent = new Agent({ connections: 1_100 });
    try {
      const results = await Promise.all(
        Array.from({ length: 1_000 }, async (_, i) => {
          const response = await request(`${mock.url}/chat/completions`, {
            method: 'POST',
            dispatcher: agent,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: `request ${i}` }] }),
          });
          const text = await response.body.text();
          return { i, status: response.statusCode, text };
        }),
      );
      for (const { i, status, text } of results) {
        expect(status).toBe(200);
        expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
        const content = text
          .split('\n\n')
          .filter((f) => f.startsWith('data: {'))
          .map((f) => JSON.parse(f.slice(6)).choices[0]?.delta?.content ?? '')
          .join('');
        expect(content).toBe(`echo: request ${i}`);
      }
      expect(mock.received).toHaveLength(1_000);
    } finally {
      await agent.close();
    }
  }, 60_000);
});
