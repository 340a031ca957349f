/**
 * Calls that end without the provider's usage still count against the daily budget: the agent
 * cannot spend past it by leaving a stream before its usage frame. What it streamed, thinking
 * included, is estimated (docs/sidecar-config.md `limits`), and the next call gets the 429.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { SidecarConfigInput } from '../../../sidecar/src/config/schema.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, modelUsage, stackDir, startStack, type Stack } from './harness.js';

const KEY = 'sk-ant-api03-cutcalls0123456789abcdef';
let anthropic: MockProvider;
let stack: Stack | undefined;

beforeAll(async () => {
  anthropic = await startMock('anthropic', { keys: [KEY] });
});

afterEach(async () => {
  await stack?.close();
  stack = undefined;
  anthropic.reset();
});

afterAll(async () => {
  await anthropic?.close();
});

/** A sandbox of one Anthropic model at the given prices, under the given limits. */
async function start(prices: { inputCostPerMTok: number; outputCostPerMTok: number }, limits: SidecarConfigInput['limits']): Promise<Stack> {
  const dir = await stackDir();
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'cut' },
    providers: [{ name: 'an', type: 'anthropic', baseURL: anthropic.url, apiKeys: [{ file: await keyFile(dir, 'an', KEY) }], models: [{ name: 'claude-test', ...prices }] }],
    limits,
  });
  return stack;
}

it('counts the thinking of a stream the agent leaves at its first answer text, before the usage: the budget is spent', async () => {
  // Only output is priced: ~4,000 tokens of thinking cost $4 against a budget of $1.
  const s = await start({ inputCostPerMTok: 0, outputCostPerMTok: 1_000 }, { dailyBudgetUSD: 1 });
  anthropic.setDefault({ chunkDelayMs: 1 });
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
  anthropic.script({ chunkDelayMs: 200, reply: 'a long answer '.repeat(20) });
  const stream = await client.responses.create({ model: 'claude-test', previous_response_id: first.id, input: 'go on', stream: true });
  for await (const event of stream) if (event.type === 'response.output_text.delta') break;
  const sent = anthropic.received.at(-1)!.rawBody.length;
  // Before: 0 input tokens (the estimate read the continuation's own body, which it does not have).
  await expect.poll(async () => (await modelUsage(s, 'claude-test')).inputTokens - before.inputTokens).toBeGreaterThanOrEqual(Math.floor((sent / 4) * 0.8));
  const refused = await client.responses.create({ model: 'claude-test', input: 'one more' }).catch((e: unknown) => e);
  expect(refused).toMatchObject({ status: 429, message: expect.stringContaining('spent its daily budget of 2 USD') });
});
