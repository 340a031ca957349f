/**
 * ADR 0005's promise, taken literally: until content reaches the client, a failing provider fails
 * over. Frames that only open an answer (OpenAI's role-only chunk; Anthropic's message_start,
 * content_block_start and ping) are held back, so an upstream that fails right after them — the
 * Anthropic `overloaded_error` seen in production — still leaves the client a whole answer from
 * the healthy fallback, in either SDK, with no stray frame of the failed attempt.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

let stack: Stack;
let anthropicMock: MockProvider;
let openaiMock: MockProvider;

beforeAll(async () => {
  const dir = await stackDir();
  anthropicMock = await startMock('anthropic', { keys: ['sk-ant-first-0123456789abcdef'] });
  openaiMock = await startMock('openai', { keys: ['sk-first-0123456789abcdef'] });
  const an = [{ file: await keyFile(dir, 'an', 'sk-ant-first-0123456789abcdef') }];
  const oa = [{ file: await keyFile(dir, 'oa', 'sk-first-0123456789abcdef') }];
  const retries = { maxAttempts: 1 };
  // `claude-first` prefers Anthropic and falls back on OpenAI; `gpt-first` the other way round.
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'before-content' },
    providers: [
      { name: 'an', type: 'anthropic', baseURL: anthropicMock.url, apiKeys: an, priority: 0, retries, models: [{ name: 'claude-first' }] },
      { name: 'oa', type: 'openai', baseURL: openaiMock.url, apiKeys: oa, priority: 0, retries, models: [{ name: 'gpt-first' }] },
      { name: 'an-fallback', type: 'anthropic', baseURL: anthropicMock.url, apiKeys: an, priority: 10, retries, models: [{ name: 'gpt-first', upstreamName: 'claude-fallback' }] },
      { name: 'oa-fallback', type: 'openai', baseURL: openaiMock.url, apiKeys: oa, priority: 10, retries, models: [{ name: 'claude-first', upstreamName: 'gpt-fallback' }] },
    ],
  });
});

afterEach(() => {
  anthropicMock.reset();
  openaiMock.reset();
});

afterAll(async () => {
  await stack?.close();
  await anthropicMock?.close();
  await openaiMock?.close();
});

const QUESTION = 'fail over before content';

describe('an Anthropic upstream that fails right after opening its answer', () => {
  it.each([
    ['message_start', 1],
    ['message_start, content_block_start and ping', 3],
  ])('after %s: the OpenAI SDK streams the whole answer from the fallback', async (_frames, afterChunks) => {
    anthropicMock.script({ midStreamError: { afterChunks, status: 529 } });
    const stream = await stack.openai().chat.completions.create({ model: 'claude-first', stream: true, messages: [{ role: 'user', content: QUESTION }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(`echo: ${QUESTION}`);
    expect(openaiMock.received).toHaveLength(1);
  });

  it.each([
    ['message_start', 1],
    ['message_start, content_block_start and ping', 3],
  ])('after %s: the Anthropic SDK (passed through natively) gets one well-formed message from the fallback', async (_frames, afterChunks) => {
    anthropicMock.script({ midStreamError: { afterChunks, status: 529 } });
    const events: string[] = [];
    const stream = stack.anthropic().messages.stream({ model: 'claude-first', max_tokens: 64, messages: [{ role: 'user', content: QUESTION }] });
    stream.on('streamEvent', (event) => events.push(event.type));
    const message = await stream.finalMessage();
    expect(message.content).toEqual([expect.objectContaining({ type: 'text', text: `echo: ${QUESTION}` })]);
    // One message_start: nothing of the failed attempt reached the client.
    expect(events.filter((e) => e === 'message_start')).toHaveLength(1);
    expect(openaiMock.received).toHaveLength(1);
  });
});

describe('an OpenAI upstream that fails right after its role-only chunk', () => {
  it('the OpenAI SDK streams the whole answer from the fallback', async () => {
    openaiMock.script({ midStreamError: { afterChunks: 1, status: 500 } });
    const stream = await stack.openai().chat.completions.create({ model: 'gpt-first', stream: true, messages: [{ role: 'user', content: QUESTION }] });
    const roles: string[] = [];
    let text = '';
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.role) roles.push(chunk.choices[0].delta.role);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(`echo: ${QUESTION}`);
    expect(roles).toEqual(['assistant']);
    expect(anthropicMock.received).toHaveLength(1);
  });

  it('the Anthropic SDK gets its answer from the fallback', async () => {
    openaiMock.script({ midStreamError: { afterChunks: 1, status: 500 } });
    const message = await stack.anthropic().messages.stream({ model: 'gpt-first', max_tokens: 64, messages: [{ role: 'user', content: QUESTION }] }).finalMessage();
    expect(message.content[0]).toMatchObject({ type: 'text', text: `echo: ${QUESTION}` });
  });
});

it('after content has reached the client there is still no failover: the stream ends with an error', async () => {
  anthropicMock.script({ midStreamError: { afterChunks: 5, status: 529 } });
  const stream = await stack.openai().chat.completions.create({ model: 'claude-first', stream: true, messages: [{ role: 'user', content: QUESTION }] });
  const error = await (async () => {
    for await (const _ of stream);
  })().catch((err: unknown) => err);
  expect(error).toBeInstanceOf(OpenAI.APIError);
  expect((error as Error).message).toMatch(/overloaded/i);
  expect(openaiMock.received).toHaveLength(0);
});

describe('every provider overloaded', () => {
  it("is Anthropic's 529 overloaded_error to an Anthropic client, with the providers' Retry-After, where it was a 503 api_error without one", async () => {
    anthropicMock.script({ status: 529, retryAfter: 7 });
    openaiMock.script({ status: 529, retryAfter: 9 });
    const error = await stack.anthropic().messages.create({ model: 'claude-first', max_tokens: 16, messages: [{ role: 'user', content: 'busy?' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(error).toMatchObject({ status: 529, error: { error: { type: 'overloaded_error' } } });
    expect((error as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after')).toBe('7');
  });

  it('is a 503 to OpenAI and Gemini clients (529 is Anthropic\'s own), with the Retry-After', async () => {
    anthropicMock.script({ status: 529, retryAfter: 7 }, { status: 529, retryAfter: 7 });
    openaiMock.script({ status: 529, retryAfter: 9 }, { status: 529, retryAfter: 9 });
    const openai = await stack.openai().chat.completions.create({ model: 'claude-first', messages: [{ role: 'user', content: 'busy?' }] }).catch((e: unknown) => e);
    expect(openai).toMatchObject({ status: 503 });
    expect((openai as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('7');
    const gemini = await stack.fetch('/v1beta/models/claude-first:generateContent', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'busy?' }] }] }) });
    expect(gemini.status).toBe(503);
    expect(await gemini.json()).toMatchObject({ error: { code: 503, status: 'UNAVAILABLE' } });
  });

  it('is a 503 with Retry-After when some said 503', async () => {
    anthropicMock.script({ status: 529, retryAfter: 7 });
    openaiMock.script({ status: 503, retryAfter: 4 });
    const error = await stack.openai().chat.completions.create({ model: 'claude-first', messages: [{ role: 'user', content: 'busy?' }] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503 });
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('4');
  });
});
