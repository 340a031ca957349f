/**
 * A provider that refused every key (401/403): the agent gets a clear "provider credentials
 * rejected" error (503, no Retry-After, in its own API's shape) instead of a rate limit it would
 * wait out for ever, /readyz names the provider, and rotating the key Secret brings it back.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const GOOD = 'sk-good-0123456789abcdef';
const REVOKED = 'sk-revoked-0123456789abcdef';
let stack: Stack;
let mock: MockProvider;
let keyPath: string;

beforeAll(async () => {
  mock = await startMock('openai', { keys: [GOOD] });
  const dir = await stackDir();
  keyPath = await keyFile(dir, 'oa.key', REVOKED);
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'credentials' },
    providers: [{ name: 'oa', type: 'openai', baseURL: mock.url, apiKeys: [{ file: keyPath }], models: [{ name: 'gpt-test' }] }],
  });
});

afterAll(async () => {
  await stack?.close();
  await mock?.close();
});

const readyz = async () => (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/readyz`)).json() as Promise<Record<string, unknown>>;
const ask = () => stack.openai().chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hello' }] });

it('once every key is refused, says so instead of rate limiting, and shows it on /readyz', async () => {
  await ask().catch(() => undefined);
  expect(mock.received).toHaveLength(1);

  for (const attempt of [1, 2]) {
    const error = await ask().catch((e: unknown) => e);
    expect(error, `call ${attempt}`).toBeInstanceOf(OpenAI.APIError);
    const apiError = error as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(503);
    expect(apiError.message).toContain('credentials rejected');
    expect(apiError.headers?.get('retry-after')).toBeNull();
    // The revoked key is not sent again, and never shown.
    expect(apiError.message).not.toContain(REVOKED.slice(-6));
  }
  expect(mock.received).toHaveLength(1);

  const anthropicError = await stack.anthropic().messages.create({ model: 'gpt-test', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
  expect(anthropicError).toBeInstanceOf(Anthropic.APIError);
  expect((anthropicError as InstanceType<typeof Anthropic.APIError>).status).toBe(503);
  expect((anthropicError as Error).message).toContain('credentials rejected');

  expect(await readyz()).toMatchObject({ status: 'degraded', providers: [{ name: 'oa', problem: expect.stringContaining('credentials rejected') }] });

  await writeFile(keyPath, GOOD);
  await stack.sidecar.live.check();
  expect((await ask()).choices[0]!.message.content).toBe('echo: hello');
  expect(await readyz()).toMatchObject({ status: 'ready' });
  expect(await readyz()).not.toHaveProperty('providers');
});
