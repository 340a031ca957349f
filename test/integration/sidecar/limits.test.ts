/**
 * Limits as an agent meets them: past the sandbox's requests per minute, requests in flight or
 * daily budget the client gets a 429 in its own API's shape with Retry-After; past a provider's
 * own limit the call fails over to the next provider instead.
 */
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { SidecarConfigInput } from '../../../sidecar/src/config/schema.js';
import { startMock } from '../../mocks/index.js';
import { BURST_LATENCY_MS, genaiClient, keyFile, modelUsage, stackDir, stackPerTest, startStack, type Stack } from './harness.js';

const file = stackPerTest({ first: () => startMock('ollama'), second: () => startMock('ollama') });
const { mocks } = file;

async function start(extra: Partial<SidecarConfigInput>) {
  return file.startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'limited' },
    providers: [
      { name: 'first', type: 'ollama', baseURL: mocks.first.url, priority: 0, models: [{ name: 'm', inputCostPerMTok: 100_000, outputCostPerMTok: 100_000 }], ...extra.providers?.[0] },
      { name: 'second', type: 'ollama', baseURL: mocks.second.url, priority: 1, models: [{ name: 'm' }] },
    ],
    ...(extra.limits ? { limits: extra.limits } : {}),
  });
}

const ask = (s: Stack, text: string) => s.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: text }] });

it('refuses past the sandbox requests per minute, in the OpenAI and the Anthropic shape, with Retry-After', async () => {
  const s = await start({ limits: { requestsPerMinute: 2 } });
  await ask(s, 'one');
  await ask(s, 'two');
  const error = await ask(s, 'three').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.RateLimitError);
  expect((error as InstanceType<typeof OpenAI.RateLimitError>).error).toMatchObject({ type: 'rate_limit_error', message: expect.stringContaining('sandbox limited allows 2 requests per minute') });
  expect(Number((error as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after'))).toBeGreaterThan(0);
  const anthropicError = await s.anthropic().messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'four' }] }).catch((e: unknown) => e);
  expect(anthropicError).toBeInstanceOf(Anthropic.RateLimitError);
  expect(mocks.first.received).toHaveLength(2);
});

it('refuses a request past maxConcurrent while others are in flight', async () => {
  const s = await start({ limits: { maxConcurrent: 1 } });
  mocks.first.script({ latencyMs: 500 });
  const slow = ask(s, 'slow one');
  await mocks.first.waitForRequests(1);
  const error = await ask(s, 'too many').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.RateLimitError);
  expect((await slow).choices[0]!.message.content).toBe('echo: slow one');
  expect((await ask(s, 'after')).choices[0]!.message.content).toBe('echo: after');
});

/** A sandbox in front of one mock of `kind` that checks `key`, with the provider fields and sandbox limits given. */
async function keyedStack(kind: 'openai' | 'gemini' | 'anthropic', key: string, sandbox: string, provider: Record<string, unknown>, limits: SidecarConfigInput['limits']) {
  const mock = await startMock(kind, { keys: [key] });
  const dir = await stackDir();
  const stack = await startStack(dir, {
    version: 1,
    sandbox: { name: sandbox },
    providers: [{ name: 'p', type: kind, baseURL: mock.url, apiKeys: [{ file: await keyFile(dir, 'p', key) }], ...provider } as NonNullable<SidecarConfigInput['providers']>[number]],
    limits,
  });
  return { mock, stack, close: async () => (await stack.close(), await mock.close()) };
}

it('stops at the daily budget, counted from the model prices', async () => {
  const s = await start({ limits: { dailyBudgetUSD: 0.5 } });
  await ask(s, 'an expensive call');
  const error = await ask(s, 'one more').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.RateLimitError);
  expect((error as Error).message).toContain('spent its daily budget of 0.5 USD');
  const metrics = await (await fetch(`http://127.0.0.1:${s.sidecar.adminPort}/metrics`)).text();
  expect(metrics).toMatch(/airlock_cost_usd_total\{provider="first",model="m"\} 0\.[5-9]/);
});

it("counts a Gemini answer at its usageMetadata, not at a usage object the model wrote in a function call's args", async () => {
  const { mock: gemini, stack: budget, close } = await keyedStack('gemini', 'gemini-budget-key-0123456789', 'budget', { models: [{ name: 'gemini-x', inputCostPerMTok: 100_000, outputCostPerMTok: 100_000 }] }, { dailyBudgetUSD: 1 });
  try {
    // The agent has the model call a function whose args look like an OpenAI usage object.
    gemini.script(...Array.from({ length: 3 }, () => ({ toolCalls: [{ name: 'report', arguments: { usage: { prompt_tokens: 0, completion_tokens: 0 } } }] })));
    const fetchThroughSocket = (url: string | URL | Request, init?: RequestInit) => budget.fetch(new URL(String(url)).pathname, init as never) as unknown as Promise<Response>;
    const genai = new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl: 'http://airlock', fetch: fetchThroughSocket as never, retryOptions: { attempts: 1 } } });
    const report = { name: 'report', parametersJsonSchema: { type: 'object', properties: { usage: { type: 'object', properties: { prompt_tokens: { type: 'integer' }, completion_tokens: { type: 'integer' } } } }, required: ['usage'] } };
    const ask = () => genai.models.generateContent({ model: 'gemini-x', contents: 'a long and costly prompt of many words that Gemini counts', config: { tools: [{ functionDeclarations: [report] }] } });
    expect((await ask()).functionCalls?.[0]?.args).toEqual({ usage: { prompt_tokens: 0, completion_tokens: 0 } });
    // About $1.2 at Gemini's count: the budget of $1 is spent (before: $0 was counted, for ever).
    const refused = await ask().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 429, message: expect.stringContaining('spent its daily budget of 1 USD') });
  } finally {
    await close();
  }
});

it('holds what calls in flight may use against tokensPerMinute: many at once cannot run past it', async () => {
  // Each call: ~15 tokens of input and at most 100 of output. Slow, so all 12 are in flight together.
  mocks.first.script(...Array.from({ length: 24 }, () => ({ latencyMs: BURST_LATENCY_MS })));
  const s = await start({ limits: { tokensPerMinute: 300 } });
  const burst = () => Promise.allSettled(Array.from({ length: 12 }, (_, i) => s.openai().chat.completions.create({ model: 'm', max_tokens: 100, messages: [{ role: 'user', content: `call number ${i} of a burst` }] })));
  const results = await burst();
  const passed = results.filter((r) => r.status === 'fulfilled').length;
  // Before: all 12 passed (admitted on what was used so far, 0). Now about 300 / 115.
  expect(passed).toBeGreaterThanOrEqual(1);
  expect(passed).toBeLessThanOrEqual(3);
  expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof OpenAI.RateLimitError)).toBe(true);
});

it('holds the cost of calls in flight against the daily budget', async () => {
  mocks.first.script(...Array.from({ length: 12 }, () => ({ latencyMs: BURST_LATENCY_MS })));
  // $0.1 per token at these prices: one call's ~115 tokens may cost ~$11.5.
  const s = await start({ limits: { dailyBudgetUSD: 20 } });
  const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => s.openai().chat.completions.create({ model: 'm', max_tokens: 100, messages: [{ role: 'user', content: `call number ${i} of a burst` }] })));
  expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(2);
});

it('holds the cost of calls in flight at the dearest model they may fail over to: a free primary that fails does not let them all run on a dear fallback', async () => {
  mocks.first.script(...Array.from({ length: 12 }, () => ({ status: 503 })));
  mocks.second.script(...Array.from({ length: 12 }, () => ({ latencyMs: BURST_LATENCY_MS })));
  const s = await file.startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'limited' },
    providers: [
      { name: 'first', type: 'ollama', baseURL: mocks.first.url, priority: 0, models: [{ name: 'm' }] },
      // $0.1 per token: one call's ~115 tokens may cost ~$11.5 here.
      { name: 'second', type: 'ollama', baseURL: mocks.second.url, priority: 1, models: [{ name: 'm', inputCostPerMTok: 100_000, outputCostPerMTok: 100_000 }] },
    ],
    limits: { dailyBudgetUSD: 20 },
  });
  const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => s.openai({ maxRetries: 0 }).chat.completions.create({ model: 'm', max_tokens: 100, messages: [{ role: 'user', content: `call number ${i} of a burst` }] })));
  // Before: held at the free primary's price ($0), all 12 ran on the fallback (~$138 against $20).
  expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(2);
  expect(mocks.second.received.length).toBeLessThanOrEqual(2);
});

describe('a call that asks for several answers (or answers to several prompts) holds max_tokens for each: calls at once cannot run past tokensPerMinute', () => {
  // Each call may write 8 answers of up to 1,000 tokens: two fit in 20,000 tokens a minute, not three.
  const asks: [string, 'openai' | 'gemini', (s: Stack, i: number) => Promise<unknown>][] = [
    ['chat n', 'openai', (s, i) => s.openai().chat.completions.create({ model: 'm', n: 8, max_tokens: 1_000, messages: [{ role: 'user', content: `call ${i}` }] })],
    ['legacy completions best_of', 'openai', (s, i) => s.openai().completions.create({ model: 'm', best_of: 8, max_tokens: 1_000, prompt: `call ${i}` })],
    ['legacy completions of a batch of 8 prompts', 'openai', (s, i) => s.openai().completions.create({ model: 'm', max_tokens: 1_000, prompt: Array.from({ length: 8 }, (_, j) => `call ${i} prompt ${j}`) })],
    ['Gemini candidateCount', 'gemini', (s, i) => genaiClient(s).models.generateContent({ model: 'm', contents: `call ${i}`, config: { candidateCount: 8, maxOutputTokens: 1_000 } })],
  ];
  it.each(asks)('%s', async (_what, kind, ask) => {
    const { mock, stack: limited, close } = await keyedStack(kind, `${kind}-choices-key-0123456789abcdef`, 'choices', { models: [{ name: 'm' }] }, { tokensPerMinute: 20_000 });
    try {
      mock.setDefault({ latencyMs: BURST_LATENCY_MS });
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => ask(limited, i)));
      const served = results.filter((r) => r.status === 'fulfilled');
      // Before: all 8 ran at once (each held 1,000 tokens of output), 64,000 tokens of answers.
      expect(served.length).toBeGreaterThanOrEqual(1);
      expect(served.length).toBeLessThanOrEqual(2);
      expect(results.filter((r) => r.status === 'rejected').every((r) => (r.reason as { status?: number }).status === 429)).toBe(true);
      // The provider billed all 8 answers of each call, and the ledger counts them.
      expect((await modelUsage(limited, 'm')).outputTokens).toBeGreaterThanOrEqual(8 * served.length);
    } finally {
      await close();
    }
  });
});

describe('embeddings and completions given as token ids hold their input at one token an id: calls at once cannot run past tokensPerMinute', () => {
  // Two lists of 6,000 ids of one digit: 12,000 tokens in ~24 KB, which at four bytes a token held
  // 6,000. Each limit lets 3 calls run as held before, and 1 as held now (the output held too:
  // 4,096 for embeddings, which set no max_tokens, 1 for the completions).
  const ids = Array.from({ length: 6_000 }, () => 1);
  const asks: [string, number, (s: Stack) => Promise<unknown>][] = [
    ['embeddings', 31_000, (s) => s.openai().embeddings.create({ model: 'm', input: [ids, ids], encoding_format: 'float' })],
    ['legacy completions', 20_000, (s) => s.openai().completions.create({ model: 'm', prompt: [...ids, ...ids], max_tokens: 1 })],
  ];
  it.each(asks)('%s', async (what, tokensPerMinute, ask) => {
    const { mock, stack: limited, close } = await keyedStack('openai', 'openai-token-ids-key-0123456789abcdef', `ids-${what.replace(' ', '-')}`, { models: [{ name: 'm' }] }, { tokensPerMinute });
    try {
      mock.setDefault({ latencyMs: BURST_LATENCY_MS });
      const results = await Promise.allSettled(Array.from({ length: 3 }, () => ask(limited)));
      // Before: all 3 ran at once, 36,000 tokens of input.
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected').every((r) => (r.reason as { status?: number }).status === 429)).toBe(true);
      expect((await modelUsage(limited, 'm')).inputTokens).toBe(12_000);
    } finally {
      await close();
    }
  });
});

it('says when calls in flight hold the rest of a limit, with a Retry-After of seconds (not the minute, not midnight)', async () => {
  mocks.first.script({ latencyMs: 800 });
  const s = await start({ limits: { tokensPerMinute: 200, dailyBudgetUSD: 1000 } });
  // No max_tokens: the output held is the sidecar's default (4,096), past the per-minute limit.
  const running = s.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'a long one' }] });
  await mocks.first.waitForRequests(1);
  const refused = await s.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'meanwhile' }] }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
  expect((refused as Error).message).toContain('calls in flight may use the rest (each holds its input and its max_tokens');
  expect(Number((refused as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after'))).toBeLessThanOrEqual(2);
  await running;
  // Ended: what it did not use is given back.
  expect((await ask(s, 'after')).choices[0]!.message.content).toBeTruthy();
});

it('admits a call only while what it holds itself also fits, unless it would run alone: two large calls do not run together', async () => {
  mocks.first.script({ latencyMs: 600 }, {}, {});
  const s = await start({ limits: { tokensPerMinute: 20_000 } });
  const large = () => s.openai().chat.completions.create({ model: 'm', max_tokens: 19_000, messages: [{ role: 'user', content: 'large' }] });
  const running = large();
  await mocks.first.waitForRequests(1);
  // Before: admitted beside the first (19,000 + 19,000 held under 20,000).
  await expect(large()).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  await running;
  expect((await large()).choices[0]!.message.content).toBeTruthy();
});

it("gives back what a call held when its client gives up while it waits for the provider's maxConcurrent slot", async () => {
  mocks.first.script({ latencyMs: 1_000 });
  // The provider alone: a fallback would hide its stuck limit.
  const s = await file.startStack(await stackDir(), { version: 1, sandbox: { name: 'queued' }, providers: [{ name: 'first', type: 'ollama', baseURL: mocks.first.url, limits: { maxConcurrent: 1, tokensPerMinute: 1000 }, models: [{ name: 'm' }] }] });
  const holder = s.openai().chat.completions.create({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'holds the slot' }] });
  await mocks.first.waitForRequests(1);
  for (let i = 0; i < 2; i++) {
    const waiting = new AbortController();
    setTimeout(() => waiting.abort(), 200);
    await s.openai().chat.completions.create({ model: 'm', max_tokens: 495, messages: [{ role: 'user', content: 'gives up' }] }, { signal: waiting.signal }).catch(() => undefined);
  }
  await holder;
  // Before: 990 tokens stayed held and every later call got 429 until a restart.
  const after = await s.openai().chat.completions.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'after' }] });
  expect(after.choices[0]!.message.content).toBeTruthy();
});

it("counts token counting apart: Claude Code's count_tokens calls leave the requests per minute to the calls that generate, and an agent cannot count without bound", async () => {
  const { mock: anthropic, stack: counting, close } = await keyedStack('anthropic', 'sk-ant-count-0123456789abcdef', 'counting', { limits: { requestsPerMinute: 2 }, models: [{ name: 'claude-x' }] }, { requestsPerMinute: 2 });
  try {
    const client = counting.anthropic({ maxRetries: 0 });
    for (let i = 0; i < 2; i++) await client.messages.countTokens({ model: 'claude-x', messages: [{ role: 'user', content: `count ${i}` }] });
    // Counting spends the provider key's counting quota: past the sandbox's requests per minute it
    // is refused as any request is (before, an agent could count without bound on the key).
    const refused = await client.messages.countTokens({ model: 'claude-x', messages: [{ role: 'user', content: 'one too many' }] }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    expect((refused as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: expect.stringContaining('sandbox counting (counting tokens) allows 2 requests per minute') } });
    expect(Number((refused as InstanceType<typeof Anthropic.RateLimitError>).headers?.get('retry-after'))).toBeGreaterThan(0);
    // Generation has its own requests per minute, untouched by counting.
    for (const text of ['now answer', 'and again']) {
      const message = await client.messages.create({ model: 'claude-x', max_tokens: 16, messages: [{ role: 'user', content: text }] });
      expect(message.content).toMatchObject([{ type: 'text', text: `echo: ${text}` }]);
    }
    expect(anthropic.received.filter((r) => r.path.endsWith('/count_tokens'))).toHaveLength(2);
  } finally {
    await close();
  }
});

it('fails over when a provider reaches its own requests per minute', async () => {
  const s = await start({ providers: [{ name: 'first', type: 'ollama', models: [{ name: 'm' }], limits: { requestsPerMinute: 1 } }] });
  await ask(s, 'to the first');
  expect((await ask(s, 'to the second')).choices[0]!.message.content).toBe('echo: to the second');
  expect(mocks.first.received).toHaveLength(1);
  expect(mocks.second.received).toHaveLength(1);
  expect(s.logs.some((l) => l.includes('provider limit reached; failing over'))).toBe(true);
});
