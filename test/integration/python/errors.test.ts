/**
 * What the Python SDKs raise when the sidecar refuses: the sandbox's limit (429 with Retry-After),
 * a provider that refused every key (503 provider_credentials_rejected, nothing to retry), in the
 * openai, anthropic and google-genai Python SDKs' own exception classes, carrying the status and
 * the sidecar's message; and that no provider key reaches any of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { startPython, type PythonDriver } from '../../python/driver.js';
import { keyFile, stackDir, startStack, type Stack } from '../sidecar/harness.js';
import { VENV_BUILD_TIMEOUT_MS } from './stack.js';

const WRONG_KEY = 'sk-proj-Wr0ngKeyWr0ngKeyWr0ngKeyWr0ngKey12345';

let ollama: MockProvider;
let openai: MockProvider;
let limited: Stack;
let refused: Stack;
let python: PythonDriver;

beforeAll(async () => {
  ollama = await startMock('ollama');
  openai = await startMock('openai', { keys: ['sk-proj-TheRightOneTheRightOneTheRightOne0000'] });
  limited = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'py-limited' },
    limits: { requestsPerMinute: 1 },
    providers: [{ name: 'ollama', type: 'ollama', baseURL: ollama.url, models: [{ name: 'm' }] }],
  });
  const dir = await stackDir();
  refused = await startStack(dir, {
    version: 1,
    sandbox: { name: 'py-refused' },
    providers: [{ name: 'openai', type: 'openai', baseURL: openai.url, apiKeys: [{ file: await keyFile(dir, 'openai', WRONG_KEY) }], models: [{ name: 'gpt-4o' }] }],
  });
  python = await startPython(limited.socketPath, ['cases_openai', 'cases_anthropic', 'cases_genai']);
}, VENV_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await python?.close();
  await limited?.close();
  await refused?.close();
  await ollama?.close();
  await openai?.close();
});

describe('past the sandbox limit', () => {
  beforeAll(async () => {
    await python.value('openai.chat_plain', { model: 'm', text: 'the one allowed request' }, { socket: limited.socketPath });
  });

  it('openai raises RateLimitError 429 with Retry-After', async () => {
    const error = await python.error('openai.chat_plain', { model: 'm', text: 'two' });
    expect(error).toMatchObject({ class: 'RateLimitError', status_code: 429, type: 'rate_limit_error' });
    expect(error.str).toContain('sandbox py-limited allows 1 requests per minute');
    expect(Number(error.retry_after)).toBeGreaterThan(0);
  });

  it('anthropic raises RateLimitError 429 in Anthropic shape', async () => {
    const error = await python.error('anthropic.create', { model: 'm', text: 'three' });
    expect(error).toMatchObject({ class: 'RateLimitError', status_code: 429, body: { type: 'error', error: { type: 'rate_limit_error' } } });
    expect(Number(error.retry_after)).toBeGreaterThan(0);
  });

  it('google-genai raises ClientError 429 RESOURCE_EXHAUSTED', async () => {
    const error = await python.error('genai.generate', { model: 'm', text: 'four' });
    expect(error).toMatchObject({ class: 'ClientError', code: 429, status: 'RESOURCE_EXHAUSTED' });
    expect(error.str).toContain('sandbox py-limited allows 1 requests per minute');
  });

  it('let only the allowed request reach the provider', () => {
    expect(ollama.received).toHaveLength(1);
  });
});

describe('a provider that refused every key', () => {
  const everything: string[] = [];

  it('openai raises InternalServerError 503 provider_credentials_rejected', async () => {
    const error = await python.error('openai.chat_plain', { model: 'gpt-4o', text: 'hi' }, { socket: refused.socketPath });
    everything.push(JSON.stringify(error));
    expect(error).toMatchObject({ class: 'InternalServerError', status_code: 503, code: 'provider_credentials_rejected' });
  });

  it('anthropic raises ServiceUnavailableError 503', async () => {
    const error = await python.error('anthropic.create', { model: 'gpt-4o', text: 'hi' });
    everything.push(JSON.stringify(error));
    expect(error).toMatchObject({ class: 'ServiceUnavailableError', bases: expect.arrayContaining(['InternalServerError', 'APIStatusError']), status_code: 503, body: { type: 'error' } });
  });

  it('google-genai raises ServerError 503 UNAVAILABLE', async () => {
    const error = await python.error('genai.generate', { model: 'gpt-4o', text: 'hi' });
    everything.push(JSON.stringify(error));
    expect(error).toMatchObject({ class: 'ServerError', code: 503, status: 'UNAVAILABLE' });
  });

  it('never shows the key to the client', () => {
    expect(everything).toHaveLength(3);
    for (const text of everything) {
      expect(text).not.toContain(WRONG_KEY);
      expect(text).not.toContain(WRONG_KEY.slice(-12));
    }
  });
});
