/**
 * Streams under stress and failure: a stream that breaks after its first chunk ends with an
 * error the SDK raises (never a hang), a client that goes away aborts the upstream request, and
 * 1,000 concurrent streams each get exactly their own content.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

let stack: Stack;
let openaiMock: MockProvider;
let anthropicMock: MockProvider;

beforeAll(async () => {
  const dir = await stackDir();
  openaiMock = await startMock('openai', { keys: ['sk-stream-0123456789abcdef'] });
  anthropicMock = await startMock('anthropic', { keys: ['sk-ant-stream-0123456789abcdef'] });
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'streams' },
    providers: [
      { name: 'oa', type: 'openai', baseURL: openaiMock.url, apiKeys: [{ file: await keyFile(dir, 'oa', 'sk-stream-0123456789abcdef') }], models: [{ name: 'gpt-test' }], timeouts: { idleMs: 1_000 } },
      { name: 'an', type: 'anthropic', baseURL: anthropicMock.url, apiKeys: [{ file: await keyFile(dir, 'an', 'sk-ant-stream-0123456789abcdef') }], models: [{ name: 'claude-test' }], timeouts: { idleMs: 1_000 } },
    ],
  });
});

afterEach(() => {
  openaiMock.reset();
  anthropicMock.reset();
});

afterAll(async () => {
  await stack?.close();
  await openaiMock?.close();
  await anthropicMock?.close();
});

// Frames up to and including the first one with content: OpenAI sends a role-only chunk first;
// Anthropic message_start, content_block_start and ping (held back by the sidecar, see faults).
describe.each([
  ['openai provider', 'gpt-test', () => openaiMock, 2],
  ['anthropic provider', 'claude-test', () => anthropicMock, 4],
])('a stream from an %s that breaks after its first content', (_name, model, mock, firstContent) => {
  it.each([
    ['reset', { resetAfterChunks: 0 }],
    ['stall', { stallAfterChunks: 0 }],
  ])('(%s) ends with an error in the OpenAI SDK', async (_kind, step) => {
    mock().script('resetAfterChunks' in step ? { resetAfterChunks: firstContent } : { stallAfterChunks: firstContent });
    const stream = await stack.openai().chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'a long answer that breaks' }] });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toMatch(/stream from provider (oa|an) broke/);
    expect('echo: a long answer that breaks'.startsWith(text)).toBe(true);
  });

  it.each([
    ['reset', { resetAfterChunks: 1 }],
    ['stall', { stallAfterChunks: 1 }],
  ])('(%s) ends with an error event in the Anthropic SDK', async (_kind, step) => {
    mock().script('resetAfterChunks' in step ? { resetAfterChunks: firstContent + step.resetAfterChunks } : { stallAfterChunks: firstContent + step.stallAfterChunks });
    const stream = stack.anthropic().messages.stream({ model, max_tokens: 64, messages: [{ role: 'user', content: 'a long answer that breaks' }] });
    const error = await stream.finalMessage().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as Error).message).toMatch(/stream from provider (oa|an) broke/);
  });
});

describe('a client that goes away', () => {
  it.each([
    ['OpenAI', 'gpt-test', () => openaiMock],
    ['Anthropic', 'claude-test', () => anthropicMock],
  ])('mid-stream aborts the %s upstream request', async (_name, model, mock) => {
    mock().script({ chunkDelayMs: 200 });
    const controller = new AbortController();
    const stream = await stack.openai().chat.completions.create(
      { model, stream: true, messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }] },
      { signal: controller.signal },
    );
    let chunks = 0;
    await (async () => {
      for await (const _chunk of stream) {
        if (++chunks === 2) controller.abort();
      }
    })().catch(() => undefined);
    const [received] = await mock().waitForRequests(1);
    await received!.settled;
    expect(received!.aborted).toBe(true);
  });
});

describe('1,000 concurrent streams', () => {
  it('each receive exactly their own content', async () => {
    const client = stack.openai({ timeoutMs: 120_000 });
    const results = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const model = i % 2 === 0 ? 'gpt-test' : 'claude-test';
        const stream = await client.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: `request number ${i} says hi` }] });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        return text;
      }),
    );
    const wrong = results.flatMap((text, i) => (text === `echo: request number ${i} says hi` ? [] : [{ i, text }]));
    expect(wrong).toEqual([]);
  }, 180_000);
});
