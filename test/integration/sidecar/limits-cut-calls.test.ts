/**
 * Calls that end without the provider's usage still count against the daily budget: the agent
 * cannot spend past it by leaving before the answer, or a stream before its usage frame, nor by
 * a call the total deadline ends. They are estimated (docs/sidecar-config.md `limits`): the input
 * the provider had, the output a call held when it was left before any answer (a plain call's,
 * a stream's, which may have been reasoning), what a stream streamed, thinking included; and the
 * next call gets the 429.
 */
import Anthropic from '@anthropic-ai/sdk';
import { getEncoding } from 'js-tiktoken';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { SidecarConfigInput } from '../../../sidecar/src/config/schema.js';
import { MEDIA_TOKENS } from '../../../sidecar/src/ingress/estimate.js';
import { startMock } from '../../mocks/index.js';
import { countTokens } from '../../mocks/turn.js';
import { keyFile, modelUsage, stackDir, stackPerTest, type Stack } from './harness.js';

const KEY = 'sk-ant-api03-cutcalls0123456789abcdef';
const OPENAI_KEY = 'sk-cutcalls-0123456789abcdef';
const file = stackPerTest({ anthropic: () => startMock('anthropic', { keys: [KEY] }), openai: () => startMock('openai', { keys: [OPENAI_KEY] }) });
const { mocks } = file;

type Prices = { inputCostPerMTok: number; outputCostPerMTok: number };

/** A sandbox of one Anthropic model (claude-test) and one OpenAI model (gpt-test) at the given prices, under the given limits. */
async function start(prices: Prices, limits: SidecarConfigInput['limits'], openaiFields: Record<string, unknown> = {}): Promise<Stack> {
  const dir = await stackDir();
  return file.startStack(dir, {
    version: 1,
    sandbox: { name: 'cut' },
    providers: [
      { name: 'an', type: 'anthropic', baseURL: mocks.anthropic.url, apiKeys: [{ file: await keyFile(dir, 'an', KEY) }], models: [{ name: 'claude-test', ...prices }] },
      { name: 'oa', type: 'openai', baseURL: mocks.openai.url, apiKeys: [{ file: await keyFile(dir, 'oa', OPENAI_KEY) }], models: [{ name: 'gpt-test', ...prices }, { name: 'o3-test', ...prices }, { name: 'embed-test', ...prices }], ...openaiFields },
    ],
    limits,
  });
}

// ~40,000 characters: ~10,000 tokens, $1 of input at $100 a million, twice the budget of $0.5.
const PROMPT = 'lorem ipsum dolor sit amet '.repeat(1500);
const INPUT: Prices = { inputCostPerMTok: 100, outputCostPerMTok: 100 };

/** The next call is refused: the budget is spent. */
async function expectBudgetSpent(s: Stack): Promise<void> {
  const refused = await s.openai().chat.completions.create({ model: 'gpt-test', max_tokens: 10, messages: [{ role: 'user', content: 'still within budget?' }] }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
  expect((refused as Error).message).toContain('spent its daily budget of 0.5 USD');
}

describe('a call the agent leaves after the provider has its request, before any answer', () => {
  it.each([
    ['plain', false],
    ['streamed', true],
  ] as const)('%s: counts the input and the output it held (the provider writes the answer anyway)', async (_what, stream) => {
    const s = await start(INPUT, { dailyBudgetUSD: 0.5 });
    mocks.openai.script({ latencyMs: 60_000 });
    const leaving = new AbortController();
    const call = s.openai().chat.completions.create({ model: 'gpt-test', stream, max_tokens: 100, messages: [{ role: 'user', content: PROMPT }] }, { signal: leaving.signal });
    const [received] = await mocks.openai.waitForRequests(1);
    leaving.abort();
    await expect(call).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    // Before: requests 1, 0 tokens, $0: an agent could repeat it without end.
    await expect.poll(() => modelUsage(s, 'gpt-test')).toMatchObject({ requests: 1, inputTokens: expect.toSatisfy((n: number) => n >= (received!.rawBody.length / 4) * 0.9), outputTokens: 100 });
    await expectBudgetSpent(s);
  });

  it("and a reasoning model's stream left after its head, while it reasons before any content, counts the output it held: the reasoning is billed", async () => {
    // Only output is priced: 10,000 tokens held cost $1 against a budget of $0.5.
    const s = await start({ inputCostPerMTok: 0, outputCostPerMTok: 100 }, { dailyBudgetUSD: 0.5 });
    // The role chunk at once, then nothing for a minute: the model reasons, and bills it as output.
    mocks.openai.script({ chunkDelayMs: 60_000 });
    const leaving = new AbortController();
    const call = s.openai().chat.completions.create({ model: 'o3-test', stream: true, reasoning_effort: 'high', max_completion_tokens: 10_000, messages: [{ role: 'user', content: 'think hard' }] }, { signal: leaving.signal });
    await mocks.openai.waitForRequests(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    leaving.abort();
    await expect(call).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    // Before: outputTokens 0, whatever the model had reasoned meanwhile.
    await expect.poll(async () => (await modelUsage(s, 'o3-test')).outputTokens).toBe(10_000);
    await expectBudgetSpent(s);
  });

  it('and a call the total deadline ends (504) is counted the same way', async () => {
    const s = await start(INPUT, { dailyBudgetUSD: 0.5 }, { timeouts: { firstByteMs: 60_000, totalMs: 300 }, retries: { maxAttempts: 1 } });
    mocks.openai.script({ latencyMs: 60_000 });
    const error = await s.openai().chat.completions.create({ model: 'gpt-test', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 504 });
    await expect.poll(async () => (await modelUsage(s, 'gpt-test')).inputTokens).toBeGreaterThan(9_000);
    expect((await modelUsage(s, 'gpt-test')).outputTokens).toBe(100);
    await expectBudgetSpent(s);
  });

  it('but one given up before it went upstream (queued for the provider\'s maxConcurrent) counts nothing', async () => {
    const s = await start(INPUT, {}, { limits: { maxConcurrent: 1 } });
    mocks.openai.script({ latencyMs: 500 });
    const holder = s.openai().chat.completions.create({ model: 'gpt-test', max_tokens: 1, messages: [{ role: 'user', content: 'holds the slot' }] });
    await mocks.openai.waitForRequests(1);
    const leaving = new AbortController();
    setTimeout(() => leaving.abort(), 100);
    await expect(s.openai().chat.completions.create({ model: 'gpt-test', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }] }, { signal: leaving.signal })).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await holder;
    expect(mocks.openai.received).toHaveLength(1);
    expect((await modelUsage(s, 'gpt-test')).inputTokens).toBeLessThan(MEDIA_TOKENS + 100);
  });
});

it('counts the input of a pass-through answer too large to hold (embeddings past 16 MiB) that the agent leaves while it is relayed: the budget is spent', async () => {
  const s = await start(INPUT, { dailyBudgetUSD: 0.5 });
  // 2,048 inputs (OpenAI's largest batch) of ~300 characters, ~150,000 tokens ($15); 1,024
  // dimensions as floats make an answer of ~40 MB, past what the sidecar holds before relaying.
  const input = Array.from({ length: 2048 }, (_, i) => `document ${i} `.repeat(20));
  const leaving = new AbortController();
  const response = await s.openai().embeddings.create({ model: 'embed-test', input, dimensions: 1024, encoding_format: 'float' }, { signal: leaving.signal }).asResponse();
  const reader = response.body!.getReader();
  let read = 0;
  while (read < 1024 * 1024) read += (await reader.read()).value?.length ?? Infinity;
  leaving.abort();
  await reader.cancel().catch(() => undefined);
  const [received] = mocks.openai.received;
  // Before: requests 1, 0 tokens, $0, and the next call admitted.
  await expect.poll(() => modelUsage(s, 'embed-test')).toMatchObject({ requests: 1, inputTokens: expect.toSatisfy((n: number) => n >= (received!.rawBody.length / 4) * 0.9), outputTokens: 0 });
  await expectBudgetSpent(s);
});

it('counts the thinking of a stream the agent leaves at its first answer text, before the usage: the budget is spent', async () => {
  // Only output is priced: ~4,000 tokens of thinking cost $4 against a budget of $1.
  const s = await start({ inputCostPerMTok: 0, outputCostPerMTok: 1_000 }, { dailyBudgetUSD: 1 });
  mocks.anthropic.setDefault({ chunkDelayMs: 1 });
  const words = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(' ');
  const client = s.anthropic();
  const stream = await client.messages.create({ model: 'claude-test', max_tokens: 40_000, thinking: { type: 'enabled', budget_tokens: 32_000 }, stream: true, messages: [{ role: 'user', content: words }] });
  let thinking = 0;
  for await (const event of stream) {
    if (event.type === 'content_block_delta' && event.delta.type === 'thinking_delta') thinking += event.delta.thinking.length;
    // The answer starts: leave before the usage (message_delta).
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') break;
  }
  expect(thinking).toBeGreaterThan(10_000);
  // Before: 3 output tokens counted (message_start's), $0.003.
  await expect.poll(async () => (await modelUsage(s, 'claude-test')).outputTokens).toBeGreaterThanOrEqual(Math.floor(thinking / 4));
  const refused = await client.messages.create({ model: 'claude-test', max_tokens: 16, messages: [{ role: 'user', content: 'one more' }] }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
  expect((refused as Error).message).toContain('spent its daily budget of 1 USD');
});

it('counts the whole conversation as the input of a previous_response_id continuation left at its first text: the budget is spent', async () => {
  // Only input is priced: the first call's ~10,000 tokens cost ~$1, its continuation's ~13,000 as much again.
  const s = await start({ inputCostPerMTok: 100, outputCostPerMTok: 0 }, { dailyBudgetUSD: 2 });
  const client = s.openai();
  const first = await client.responses.create({ model: 'claude-test', input: 'lorem ipsum dolor sit amet '.repeat(2000) });
  const before = await modelUsage(s, 'claude-test');
  mocks.anthropic.script({ chunkDelayMs: 200, reply: 'a long answer '.repeat(20) });
  const stream = await client.responses.create({ model: 'claude-test', previous_response_id: first.id, input: 'go on', stream: true });
  for await (const event of stream) if (event.type === 'response.output_text.delta') break;
  const sent = mocks.anthropic.received.at(-1)!.body as { system?: unknown; messages: unknown };
  // Before: 0 input tokens (the estimate read the continuation's own body, which it does not have).
  // The provider's count of the whole conversation, from its message_start.
  await expect.poll(async () => (await modelUsage(s, 'claude-test')).inputTokens - before.inputTokens).toBe(countTokens([sent.system, sent.messages]));
  const refused = await client.responses.create({ model: 'claude-test', input: 'one more' }).catch((e: unknown) => e);
  expect(refused).toMatchObject({ status: 429, message: expect.stringContaining('spent its daily budget of 2 USD') });
});

describe('an attempt that fails after the provider has its request, then is tried again', () => {
  // Only output is priced: the 10,000 tokens a failed attempt held cost $1 against a budget of $0.5.
  const OUTPUT: Prices = { inputCostPerMTok: 0, outputCostPerMTok: 100 };
  const RETRIED = { timeouts: { firstByteMs: 300, idleMs: 300 }, retries: { maxAttempts: 2, baseDelayMs: 1 } };

  it.each([
    // A reasoning model asked for a long answer outlasts firstByteMs; the provider bills it anyway.
    ['no answer within firstByteMs', { latencyMs: 60_000 }, false],
    // The head and a role chunk, then the model reasons past idleMs before any content.
    ['a stream with no content within idleMs', { chunkDelayMs: 60_000 }, true],
    ['a 2xx answer the sidecar cannot read', { malformedJson: true }, false],
  ] as const)('%s: counts the output the failed attempt held, besides the answer', async (_what, fault, stream) => {
    const s = await start(OUTPUT, { dailyBudgetUSD: 0.5 }, RETRIED);
    mocks.openai.script(fault);
    const answer = await s.openai().chat.completions.create({ model: 'o3-test', stream, reasoning_effort: 'high', max_completion_tokens: 10_000, messages: [{ role: 'user', content: 'think hard' }] });
    if (stream) for await (const _ of answer as AsyncIterable<unknown>) void _;
    expect(mocks.openai.received).toHaveLength(2);
    // Before: only the answer's few tokens, and the agent could have the model think at will.
    await expect.poll(async () => (await modelUsage(s, 'o3-test')).outputTokens).toBeGreaterThanOrEqual(10_000);
    await expectBudgetSpent(s);
  });

  it.each([
    ['refused (500): the provider bills no error', { status: 500 }],
    // A reset before any answer most likely never reached the provider: counted, an outage spent the budget (ver18).
    ['cut off before any answer (a reset)', { resetBeforeHeaders: true }],
  ] as const)('but an attempt %s counts nothing', async (_what, fault) => {
    const s = await start(OUTPUT, { dailyBudgetUSD: 0.5 }, RETRIED);
    mocks.openai.script(fault);
    await s.openai().chat.completions.create({ model: 'o3-test', max_completion_tokens: 10_000, messages: [{ role: 'user', content: 'think hard' }] });
    expect(mocks.openai.received).toHaveLength(2);
    await expect.poll(async () => (await modelUsage(s, 'o3-test')).requests).toBe(1);
    expect((await modelUsage(s, 'o3-test')).outputTokens).toBeLessThan(1_000);
    await expect(s.openai().chat.completions.create({ model: 'gpt-test', max_tokens: 10, messages: [{ role: 'user', content: 'still within budget?' }] })).resolves.toBeDefined();
  });
});

describe('a stream the agent leaves at the end of its text, before the usage frame', () => {
  const o200k = getEncoding('o200k_base');
  /** 6,000 digits with spaces: ~12,000 tokens to a real tokenizer, ~3,000 at four bytes a token. */
  const DIGITS = Array.from({ length: 6000 }, (_, i) => String(i % 10)).join(' ');
  /** The answer: dense text, the marker the agent leaves at, then more the model writes while the agent is gone. */
  const REPLY = `${Array.from({ length: 600 }, (_, i) => `${i % 10} ; ${i % 7}`).join(' ')} END ${'and so on '.repeat(150)}`;
  const ANSWERED = REPLY.slice(0, REPLY.indexOf('END'));

  it('counts dense input and output (digits, symbols) at no less than a real tokenizer makes of them, not at four bytes a token', async () => {
    const s = await start(INPUT, {});
    mocks.openai.script({ reply: REPLY, chunkDelayMs: 2 });
    const stream = await s.openai().chat.completions.create({ model: 'gpt-test', stream: true, max_tokens: 5_000, messages: [{ role: 'user', content: DIGITS }] });
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (text.includes('END')) break;
    }
    expect(text.startsWith(ANSWERED)).toBe(true);
    // Before: input ~3,000 for ~12,000 tokens of digits, output at a quarter of the streamed characters.
    await expect.poll(() => modelUsage(s, 'gpt-test')).toMatchObject({
      requests: 1,
      inputTokens: expect.toSatisfy((n: number) => n >= 0.9 * o200k.encode(DIGITS).length),
      outputTokens: expect.toSatisfy((n: number) => n >= 0.9 * o200k.encode(ANSWERED).length),
    });
  });

  it('counts an inline image as a fixed budget beside its text, not by its base64 (the provider bills an image by its own measure)', async () => {
    const s = await start(INPUT, {});
    mocks.openai.script({ reply: REPLY, chunkDelayMs: 2 });
    const image = `data:image/png;base64,${Buffer.alloc(300_000, 7).toString('base64')}`;
    const content = [{ type: 'text' as const, text: 'what is in this picture?' }, { type: 'image_url' as const, image_url: { url: image } }];
    const stream = await s.openai().chat.completions.create({ model: 'gpt-test', stream: true, max_tokens: 5_000, messages: [{ role: 'user', content }] });
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content?.includes('END')) break;
    // Before: the body's 400,000 bytes at four a token, 100,000 tokens.
    await expect.poll(async () => (await modelUsage(s, 'gpt-test')).requests).toBe(1);
    expect((await modelUsage(s, 'gpt-test')).inputTokens).toBeLessThan(MEDIA_TOKENS + 100);
  });

  it("counts an Anthropic stream's input as the provider's message_start said, not as estimated", async () => {
    const s = await start(INPUT, {});
    mocks.anthropic.script({ reply: REPLY, chunkDelayMs: 2 });
    const stream = await s.anthropic().messages.create({ model: 'claude-test', max_tokens: 5_000, stream: true, messages: [{ role: 'user', content: DIGITS }] });
    let reported = 0;
    let text = '';
    for await (const event of stream) {
      if (event.type === 'message_start') reported = event.message.usage.input_tokens;
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (text.includes('END')) break;
    }
    expect(reported).toBe(6000);
    // Before: the estimate of the body's bytes (~3,000), whatever the provider had said.
    await expect.poll(() => modelUsage(s, 'claude-test')).toMatchObject({ requests: 1, inputTokens: reported, outputTokens: expect.toSatisfy((n: number) => n >= 0.9 * o200k.encode(ANSWERED).length) });
  });

  it("and one left before any content, its message_start held back, counts the input message_start said and the output it held", async () => {
    const s = await start(INPUT, {});
    // message_start at once, then nothing for a minute.
    mocks.anthropic.script({ chunkDelayMs: 60_000 });
    const leaving = new AbortController();
    const call = s.anthropic().messages.create({ model: 'claude-test', max_tokens: 20, stream: true, messages: [{ role: 'user', content: DIGITS }] }, { signal: leaving.signal });
    const [received] = await mocks.anthropic.waitForRequests(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    leaving.abort();
    await expect(call).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
    const body = received!.body as { system?: unknown; messages: unknown };
    await expect.poll(() => modelUsage(s, 'claude-test')).toMatchObject({ requests: 1, inputTokens: countTokens([body.system, body.messages]), outputTokens: 20 });
  });
});

describe("Anthropic's prompt-cache writes", () => {
  // Only input is priced, $100 a million: the prompt's tokens written to the cache cost more than read plainly.
  const PRICES: Prices = { inputCostPerMTok: 100, outputCostPerMTok: 0 };
  const spent = async (s: Stack) => ((await (await s.fetch('/v1/usage')).json()) as { spentUSD: number }).spentUSD;
  const system = (ttl?: '1h') => [{ type: 'text' as const, text: PROMPT, cache_control: { type: 'ephemeral' as const, ...(ttl ? { ttl } : {}) } }];

  it.each([
    ['one hour, at twice the input price', '1h', 2],
    ['five minutes (no ttl), at 1.25 times', undefined, 1.25],
  ] as const)('are priced for %s', async (_what, ttl, multiple) => {
    const s = await start(PRICES, {});
    const message = await s.anthropic().messages.create({ model: 'claude-test', max_tokens: 16, system: system(ttl), messages: [{ role: 'user', content: 'hi' }] });
    const written = message.usage.cache_creation_input_tokens!;
    expect(written).toBeGreaterThan(1000);
    // Before: every written token at the plain input price.
    await expect.poll(() => spent(s)).toBeCloseTo(((message.usage.input_tokens + written * multiple) * 100) / 1e6, 6);
  });

  it('are priced the same through the OpenAI API, streamed (cache_control on a content part, as LiteLLM writes it)', async () => {
    const s = await start(PRICES, {});
    const content = [{ type: 'text', text: PROMPT, cache_control: { type: 'ephemeral', ttl: '1h' } }];
    const stream = await s.openai().chat.completions.create({ model: 'claude-test', max_tokens: 16, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content } as never] });
    let prompt = 0;
    for await (const chunk of stream) if (chunk.usage) prompt = chunk.usage.prompt_tokens;
    expect(prompt).toBeGreaterThan(1000);
    await expect.poll(() => spent(s)).toBeCloseTo((prompt * 2 * 100) / 1e6, 6);
  });
});
