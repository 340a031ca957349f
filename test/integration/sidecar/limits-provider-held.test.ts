/**
 * A call that names input the provider holds (Gemini's cachedContent, a Responses conversation only
 * OpenAI holds) is held against the limits at its model's context window while it runs: its body
 * says nothing of that input's size, so calls at once held by their bytes ran many times past
 * dailyBudgetUSD before the first was counted (red team 17).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import OpenAI from 'openai';
import { BURST_LATENCY_MS, genaiClient, keyFile, modelUsage, stackDir, startStack, type Stack } from './harness.js';

const GEMINI_KEY = 'gemini-held-key-0123456789';
const OPENAI_KEY = 'sk-held-0123456789abcdef';
let gemini: MockProvider;
let openai: MockProvider;
let stack: Stack;

beforeAll(async () => {
  gemini = await startMock('gemini', { keys: [GEMINI_KEY] });
  openai = await startMock('openai', { keys: [OPENAI_KEY] });
  const dir = await stackDir();
  // $2.50 a million input tokens: a context window of 400,000 tokens is $1 of input, against $1.2.
  const prices = { inputCostPerMTok: 2.5, outputCostPerMTok: 10 };
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'held' },
    providers: [
      { name: 'gm', type: 'gemini', baseURL: gemini.url, apiKeys: [{ file: await keyFile(dir, 'gm', GEMINI_KEY) }], models: [{ name: 'gemini-cached', contextWindow: 400_000, ...prices }] },
      { name: 'oa', type: 'openai', baseURL: openai.url, apiKeys: [{ file: await keyFile(dir, 'oa', OPENAI_KEY) }], models: [{ name: 'gpt-continued', ...prices }] },
    ],
    limits: { dailyBudgetUSD: 1.2 },
  });
});

afterAll(async () => {
  await stack?.close();
  await gemini?.close();
  await openai?.close();
});

/** Ten calls at once, each answered after {@link BURST_LATENCY_MS}: how many the sidecar let through. */
async function tenAtOnce(mock: MockProvider, call: () => Promise<unknown>): Promise<number> {
  mock.script(...Array.from({ length: 10 }, () => ({ latencyMs: BURST_LATENCY_MS })));
  const settled = await Promise.allSettled(Array.from({ length: 10 }, call));
  // Each refusal says why such a call holds so much (ver18: it said only to set max_tokens).
  for (const s of settled) if (s.status === 'rejected') expect(s.reason).toMatchObject({ status: 429, message: expect.stringContaining("names input the provider holds") });
  return settled.filter((s) => s.status === 'fulfilled').length;
}

it("holds a Gemini call naming a cachedContent at the model's context window: one of ten at once runs", async () => {
  const genai = genaiClient(stack);
  const served = await tenAtOnce(gemini, () => genai.models.generateContent({ model: 'gemini-cached', contents: 'go on', config: { cachedContent: 'cachedContents/abc123', maxOutputTokens: 10 } }));
  // Before: all ten (held at a few bytes each), the provider billing ten cached contexts.
  expect(served).toBe(1);
  expect(gemini.received).toHaveLength(1);
});

it('holds a Responses continuation only OpenAI holds, made elsewhere (another pod), at a million tokens where the model names no context window', async () => {
  // Made by another client of the account: the sidecar never saw it.
  const first = await new OpenAI({ apiKey: OPENAI_KEY, baseURL: openai.url }).responses.create({ model: 'gpt-continued', input: 'start', max_output_tokens: 10 });
  const served = await tenAtOnce(openai, () => stack.openai().responses.create({ model: 'gpt-continued', previous_response_id: first.id, input: 'go on', max_output_tokens: 10 }));
  expect(served).toBe(1);
});

it('and at its size one the sidecar saw answered: ten at once run', async () => {
  // Passed through to OpenAI, which keeps it; the sidecar counted its tokens.
  const first = await stack.openai().responses.create({ model: 'gpt-continued', input: 'start', max_output_tokens: 10 });
  expect(await tenAtOnce(openai, () => stack.openai().responses.create({ model: 'gpt-continued', previous_response_id: first.id, input: 'go on', max_output_tokens: 10 }))).toBe(10);
});

it.each([
  // ver18: items of OpenAI's responses named by reference, which OpenAI puts in whole.
  ['a Responses input of items OpenAI holds, by item_reference', (): Promise<unknown> => stack.openai().responses.create({ model: 'gpt-continued', input: [{ type: 'item_reference', id: 'msg_held_by_openai' }, { role: 'user', content: 'go on' }], max_output_tokens: 10 })],
  // ver18: the context cache of Gemini's OpenAI-compatible API, as its docs write it.
  ['a chat call naming a Gemini context cache (extra_body.google.cached_content)', (): Promise<unknown> => stack.openai().chat.completions.create({ model: 'gpt-continued', messages: [{ role: 'user', content: 'go on' }], max_tokens: 10, extra_body: { google: { cached_content: 'cachedContents/abc123' } } } as never)],
  // Google's JSON reads either spelling (rt20).
  ['a chat call naming it as google.cachedContent', (): Promise<unknown> => stack.openai().chat.completions.create({ model: 'gpt-continued', messages: [{ role: 'user', content: 'go on' }], max_tokens: 10, google: { cachedContent: 'cachedContents/abc123' } } as never)],
] as const)('holds %s at a million tokens: one of ten at once runs', async (_what, call) => {
  // The mock refuses what it does not hold: the count of admitted calls is what is looked at.
  openai.script(...Array.from({ length: 10 }, () => ({ latencyMs: BURST_LATENCY_MS })));
  const settled = await Promise.allSettled(Array.from({ length: 10 }, call));
  expect(settled.filter((s) => s.status === 'rejected' && (s.reason as { status?: number }).status === 429)).toHaveLength(9);
});

it("counts a Gemini call naming a cachedContent that the agent leaves at the model's context window, not its few bytes", async () => {
  const leaving = new AbortController();
  gemini.script({ latencyMs: 60_000 });
  const call = genaiClient(stack).models.generateContent({ model: 'gemini-cached', contents: 'go on', config: { cachedContent: 'cachedContents/abc123', maxOutputTokens: 10, abortSignal: leaving.signal } });
  await gemini.waitForRequests(gemini.received.length + 1);
  leaving.abort();
  await expect(call).rejects.toThrow();
  // Before (ver18): 16 input tokens for a cached context of 400,000.
  await expect.poll(async () => (await modelUsage(stack, 'gemini-cached')).inputTokens).toBeGreaterThanOrEqual(400_000);
});
