/**
 * A provider that refused every key (401/403): the agent gets a clear "provider credentials
 * rejected" error (503, no Retry-After, in its own API's shape) instead of a rate limit it would
 * wait out for ever, /readyz names the provider, and rotating the key Secret brings it back.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    // The SDKs do not retry it: it stays so until the Secret changes.
    expect(apiError.headers?.get('x-should-retry')).toBe('false');
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

describe('a 403 about one model (a project without access to it)', () => {
  let mock2: MockProvider;
  let stack2: Stack;
  beforeAll(async () => {
    mock2 = await startMock('openai', { keys: [GOOD], models: ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1'] });
    const dir = await stackDir();
    stack2 = await startStack(dir, {
      version: 1,
      sandbox: { name: 'per-model' },
      providers: [{ name: 'oa', type: 'openai', baseURL: mock2.url, apiKeys: [{ file: await keyFile(dir, 'oa.key', GOOD) }], retries: { maxAttempts: 1 }, models: [{ name: 'gpt-4o' }, { name: 'gpt-4o-mini' }, { name: 'gpt-4.1' }] }],
    });
  });
  afterAll(async () => {
    await stack2?.close();
    await mock2?.close();
  });

  it("is the provider's 403 for that request only: the key stays, for that model and the others (an expired file, a beta, a model the project may not use)", async () => {
    mock2.script({ status: 403, errorMessage: 'Project `proj_abc` does not have access to model `gpt-4o`' });
    const refused = await stack2.openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((refused as Error).message).toContain('does not have access to model');
    // Before: the key was taken from gpt-4o (round 1: from every model) until its Secret changed.
    const again = await stack2.openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'again' }] });
    expect(again.choices[0]!.message.content).toBe('echo: again');
    const other = await stack2.openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'still here?' }] });
    expect(other.choices[0]!.message.content).toBe('echo: still here?');
    const ready = (await (await fetch(`http://127.0.0.1:${stack2.sidecar.adminPort}/readyz`)).json()) as Record<string, unknown>;
    expect(ready.status).toBe('ready');
  });

  it("does not rest the key for a 429 about one request's size (OpenAI's 'Request too large')", async () => {
    mock2.script({ status: 429, errorMessage: 'Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Requested 45000.' });
    const big = await stack2.openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'huge' }] }).catch((e: unknown) => e);
    expect(big).toMatchObject({ status: 429 });
    // The provider's words, not "every provider is rate limited": it is the request's size.
    expect((big as Error).message).toContain('Request too large for gpt-4o');
    expect((big as Error).message).not.toContain('every provider is rate limited');
    const next = await stack2.openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'small' }] });
    expect(next.choices[0]!.message.content).toBe('echo: small');
  });

  it('rests a rate-limited key for that model only (providers limit rates per model)', async () => {
    mock2.script({ status: 429, retryAfter: 30 });
    const limited = await stack2.openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'busy' }] }).catch((e: unknown) => e);
    expect(limited).toMatchObject({ status: 429 });
    // Resting there: the next call to it waits out the Retry-After instead of going upstream.
    const before = mock2.received.length;
    const again = await stack2.openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'busy' }] }).catch((e: unknown) => e);
    expect(again).toMatchObject({ status: 429 });
    expect(mock2.received.length).toBe(before);
    const other = await stack2.openai().chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'free?' }] });
    expect(other.choices[0]!.message.content).toBe('echo: free?');
  });
});

describe('a key the provider refuses (403) where its other key is accepted', () => {
  const SECOND = 'sk-second-0123456789abcdef';
  let mock3: MockProvider;
  let stack3: Stack;
  beforeAll(async () => {
    mock3 = await startMock('openai', { keys: [GOOD, SECOND], models: ['gpt-4o'] });
    const dir = await stackDir();
    stack3 = await startStack(dir, {
      version: 1,
      sandbox: { name: 'two-keys' },
      providers: [{ name: 'oa', type: 'openai', baseURL: mock3.url, apiKeys: [{ file: await keyFile(dir, 'a.key', GOOD) }, { file: await keyFile(dir, 'b.key', SECOND) }], retries: { maxAttempts: 1 }, models: [{ name: 'gpt-4o' }] }],
    });
  });
  afterAll(async () => {
    await stack3?.close();
    await mock3?.close();
  });

  it('answers from the other key, and rests the refused one for the model (a key reported leaked, a project without the model)', async () => {
    mock3.script({ status: 403, errorMessage: 'Your API key was reported as leaked.' });
    const first = await stack3.openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'one' }] });
    expect(first.choices[0]!.message.content).toBe('echo: one');
    const [refused, accepted] = mock3.received.slice(-2).map((r) => r.headers.authorization);
    expect(refused).not.toBe(accepted);
    // The refused key rests: every later call goes with the accepted one, and the metrics show it.
    for (const text of ['two', 'three']) await stack3.openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] });
    expect(mock3.received.slice(-2).map((r) => r.headers.authorization)).toEqual([accepted, accepted]);
    const metrics = await (await fetch(`http://127.0.0.1:${stack3.sidecar.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/airlock_provider_keys\{provider="oa",state="resting"\} 1/);
  });
});
