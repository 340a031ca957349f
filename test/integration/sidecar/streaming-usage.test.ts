/**
 * Streams cannot dodge the token and budget limits: the sidecar asks OpenAI-format providers for
 * usage on every stream (the SDKs do not by default), counts it, and still gives the client the
 * stream it asked for — no usage chunk and no `usage` field unless it asked.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SidecarConfigInput } from '../../../sidecar/src/config/schema.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const KEY = 'sk-usage-0123456789abcdef';
let mock: MockProvider;
let stack: Stack | undefined;

beforeAll(async () => {
  mock = await startMock('openai', { keys: [KEY] });
});

afterEach(async () => {
  await stack?.close();
  stack = undefined;
  mock.reset();
});

afterAll(async () => {
  await mock?.close();
});

async function start(limits: SidecarConfigInput['limits'], type: 'openai' | 'openai-compatible' = 'openai') {
  const dir = await stackDir();
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'metered' },
    limits,
    providers: [
      { name: 'oa', type, baseURL: mock.url, apiKeys: [{ file: await keyFile(dir, 'oa', KEY) }], models: [{ name: 'gpt-test', inputCostPerMTok: 10_000, outputCostPerMTok: 10_000 }] },
    ],
  });
  return stack;
}

const MESSAGES = [{ role: 'user' as const, content: 'count these tokens please, all of them' }];

async function plain(s: Stack) {
  await s.openai().chat.completions.create({ model: 'gpt-test', messages: MESSAGES });
}

async function streamed(s: Stack) {
  const stream = await s.openai().chat.completions.create({ model: 'gpt-test', stream: true, messages: MESSAGES });
  for await (const _ of stream);
}

/** Calls until the sandbox refuses one; returns how many were served (at most `max`). */
async function servedUntilRefused(call: () => Promise<void>, max: number): Promise<number> {
  for (let n = 0; n < max; n++) {
    const error = await call().catch((e: unknown) => e);
    if (error instanceof OpenAI.RateLimitError) return n;
    if (error) throw error;
  }
  return max;
}

describe.each([
  ['tokens per minute', { tokensPerMinute: 60 }],
  ['daily budget', { dailyBudgetUSD: 0.5 }],
])('the %s limit', (_name, limits) => {
  it.each(['openai', 'openai-compatible'] as const)('refuses streamed calls to an %s provider just as plain ones', async (type) => {
    stack = await start(limits, type);
    const plainServed = await servedUntilRefused(() => plain(stack!), 12);
    await stack?.close();
    stack = await start(limits, type);
    const streamedServed = await servedUntilRefused(() => streamed(stack!), 12);
    expect(plainServed).toBeLessThan(12);
    expect(streamedServed).toBe(plainServed);
  });
});

it('asks upstream for usage but gives the client the stream it asked for', async () => {
  const s = await start({});
  const response = await s.fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-test', stream: true, messages: MESSAGES }),
  });
  const text = await response.text();
  expect(mock.received.at(-1)?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  expect(text).toContain('data: [DONE]');
  expect(text).not.toContain('usage');

  // A client that asks gets the usage chunk.
  const stream = await s.openai().chat.completions.create({ model: 'gpt-test', stream: true, stream_options: { include_usage: true }, messages: MESSAGES });
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  expect(usage?.prompt_tokens).toBeGreaterThan(0);
});
