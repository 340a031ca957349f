/**
 * The agent OOM-killing its own sidecar at will: every request body is read whole and held with
 * its parsed JSON until the response ends, at a few times its size. Twelve concurrent 30 MiB
 * bodies naming a model that does not exist (nothing spent) took the sidecar from 114 to 781 MiB,
 * past the 512 MiB the injected container may use; the restart loses the spend the operator had
 * not counted yet (ADR 14), so crashing it before each usage round spends beyond the budget.
 * Bodies in flight are bounded (`listen.maxBodyBytesInFlight`); past it a request is refused
 * before its body is read, with 503 and Retry-After in its API's shape.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { expect, it } from 'vitest';
import { providerStackForFile } from './harness.js';

const MiB = 1024 * 1024;
const file = providerStackForFile('bodies', { kinds: ['ollama'], extra: { listen: { maxBodyBytes: MiB, maxBodyBytesInFlight: 2 * MiB } } });

const big = (model: string) => ({ model, max_tokens: 5, messages: [{ role: 'user' as const, content: 'x'.repeat(0.9 * MiB) }] });

it('refuses a body that would take the bodies in flight past the bound, in the client’s shape, and admits it once one has finished', async () => {
  const { stack } = file;
  const mock = file.mocks.get('ollama')!;
  mock.setDefault({ latencyMs: 60_000 });
  const held = new AbortController();
  const calls = [0, 1].map(() => stack.openai().chat.completions.create(big('via-ollama'), { signal: held.signal }).catch(() => undefined));
  const until = async (what: () => boolean) => {
    while (!what()) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  await until(() => mock.received.length === 2);

  const refused = await stack.openai().chat.completions.create(big('via-ollama')).catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(OpenAI.APIError);
  expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
  expect((refused as Error).message).toMatch(/already holding 2097152 bytes of request bodies \(listen\.maxBodyBytesInFlight\)/);
  const raw = await stack.fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(big('via-ollama')) });
  expect(raw.status).toBe(503);
  expect(raw.headers.get('retry-after')).toBe('1');
  expect(await raw.json()).toMatchObject({ error: { type: 'api_error' } });
  const anthropic = await stack.anthropic().messages.create(big('via-ollama')).catch((err: unknown) => err);
  expect(anthropic).toBeInstanceOf(Anthropic.APIError);
  expect((anthropic as InstanceType<typeof Anthropic.APIError>).status).toBe(503);
  expect(mock.received).toHaveLength(2);

  // A small body still fits beside the two; once they end, a large one is admitted again.
  mock.setDefault({});
  expect((await stack.openai().chat.completions.create({ model: 'via-ollama', messages: [{ role: 'user', content: 'small' }] })).choices[0]?.message.content).toContain('small');
  held.abort();
  await Promise.all(calls);
  let admitted: unknown;
  while (admitted === undefined) admitted = await stack.openai().chat.completions.create(big('via-ollama')).catch((err: unknown) => ((err as { status?: number }).status === 503 ? undefined : err));
  expect(admitted).toMatchObject({ object: 'chat.completion' });
});
