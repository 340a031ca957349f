/**
 * A call that names input the provider holds (Gemini's cachedContent, a Responses conversation only
 * OpenAI holds) is held against the limits at its model's context window while it runs: its body
 * says nothing of that input's size, so calls at once held by their bytes ran many times past
 * dailyBudgetUSD before the first was counted (red team 17).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { genaiClient, keyFile, stackDir, startStack, type Stack } from './harness.js';

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

/** Ten calls at once, each answered after 300 ms: how many the sidecar let through. */
async function tenAtOnce(mock: MockProvider, call: () => Promise<unknown>): Promise<number> {
  mock.script(...Array.from({ length: 10 }, () => ({ latencyMs: 300 })));
  const settled = await Promise.allSettled(Array.from({ length: 10 }, call));
  for (const s of settled) if (s.status === 'rejected') expect(s.reason).toMatchObject({ status: 429 });
  return settled.filter((s) => s.status === 'fulfilled').length;
}

it("holds a Gemini call naming a cachedContent at the model's context window: one of ten at once runs", async () => {
  const genai = genaiClient(stack);
  const served = await tenAtOnce(gemini, () => genai.models.generateContent({ model: 'gemini-cached', contents: 'go on', config: { cachedContent: 'cachedContents/abc123', maxOutputTokens: 10 } }));
  // Before: all ten (held at a few bytes each), the provider billing ten cached contexts.
  expect(served).toBe(1);
  expect(gemini.received).toHaveLength(1);
});

it('holds a Responses continuation only OpenAI holds at a million tokens where the model names no context window', async () => {
  // Passed through to OpenAI, which keeps it: the sidecar holds none of its conversation.
  const first = await stack.openai().responses.create({ model: 'gpt-continued', input: 'start', max_output_tokens: 10 });
  const served = await tenAtOnce(openai, () => stack.openai().responses.create({ model: 'gpt-continued', previous_response_id: first.id, input: 'go on', max_output_tokens: 10 }));
  expect(served).toBe(1);
});
