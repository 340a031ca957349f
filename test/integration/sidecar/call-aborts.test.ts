/**
 * A plain (non-streamed) call ends upstream when it ends for the client: the client going away
 * aborts the upstream request, and the call's total deadline answers 504 and aborts it too. The
 * plain path reads the whole answer without a stream or a listener on the call's signal
 * (upstream/client.ts), so these are its own checks, next to the streamed ones in streams.test.ts.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const KEY = 'sk-aborts-0123456789abcdef';
let stack: Stack;
let mock: MockProvider;

beforeAll(async () => {
  const dir = await stackDir();
  mock = await startMock('openai', { keys: [KEY] });
  const apiKeys = [{ file: await keyFile(dir, 'oa', KEY) }];
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'aborts' },
    providers: [
      { name: 'oa', type: 'openai', baseURL: mock.url, apiKeys, models: [{ name: 'gpt-test' }] },
      // The total deadline passes long before the first byte is due.
      { name: 'short', type: 'openai', baseURL: mock.url, apiKeys, models: [{ name: 'gpt-short' }], timeouts: { firstByteMs: 60_000, totalMs: 300 }, retries: { maxAttempts: 1 } },
    ],
  });
});

afterEach(() => mock.reset());

afterAll(async () => {
  await stack?.close();
  await mock?.close();
});

describe('a plain call', () => {
  it('whose client goes away before the answer aborts the upstream request', async () => {
    mock.script({ latencyMs: 60_000 });
    const controller = new AbortController();
    const call = stack.openai().chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'never mind' }] }, { signal: controller.signal });
    const [received] = await mock.waitForRequests(1);
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await received!.settled;
    expect(received!.aborted).toBe(true);
  });

  it('past its total deadline gets a 504 and the upstream request is aborted', async () => {
    mock.script({ latencyMs: 60_000 });
    const error = await stack
      .openai({ maxRetries: 0 })
      .chat.completions.create({ model: 'gpt-short', messages: [{ role: 'user', content: 'too slow' }] })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect((error as Error).message).toMatch(/total timeout/);
    const [received] = await mock.waitForRequests(1);
    await received!.settled;
    expect(received!.aborted).toBe(true);
  });

  it('answers as before once the upstream answers', async () => {
    const completion = await stack.openai().chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'still here' }] });
    expect(completion.choices[0]?.message.content).toBe('echo: still here');
  });
});
