/**
 * A key an upstream echoes inside a streamed error event is redacted like one in a plain error:
 * on the native pass-through path (the client speaks the provider's API, so frames go through as
 * they are) and on the translated path, for keys that are not key-shaped (a gateway's own token),
 * which only value-based redaction can catch.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

// Not key-shaped: only the sidecar's knowledge of its own key values can hide them.
const GATEWAY_KEY = 'internal-gateway-credential-7Hq2Xw9Lm4';
const ANTHROPIC_KEY = 'corp-proxy-credential-Zr6Tn3Wb9Kc2';

let stack: Stack;
let openai: MockProvider;
let anthropic: MockProvider;

beforeAll(async () => {
  const dir = await stackDir();
  openai = await startMock('openai', { keys: [GATEWAY_KEY] });
  anthropic = await startMock('anthropic', { keys: [ANTHROPIC_KEY] });
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'stream-redaction' },
    providers: [
      { name: 'gateway', type: 'openai-compatible', baseURL: openai.url, apiKeys: [{ file: await keyFile(dir, 'gateway', GATEWAY_KEY) }], models: [{ name: 'm' }] },
      { name: 'an', type: 'anthropic', baseURL: anthropic.url, apiKeys: [{ file: await keyFile(dir, 'anthropic', ANTHROPIC_KEY) }], models: [{ name: 'c' }] },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  await Promise.all([openai?.close(), anthropic?.close()]);
});

/** Everything a client sees of a stream that ends in an error event: chunks and the error. */
async function seen(run: () => Promise<AsyncIterable<unknown>>): Promise<string> {
  const parts: string[] = [];
  try {
    for await (const chunk of await run()) parts.push(JSON.stringify(chunk));
  } catch (err) {
    parts.push(String(err), JSON.stringify((err as { error?: unknown }).error ?? null));
  }
  return parts.join('\n');
}

it('native pass-through (OpenAI client, OpenAI-format provider): the echoed key is redacted from the error event', async () => {
  openai.script({ midStreamError: { afterChunks: 3, message: `upstream quota exceeded for credential ${GATEWAY_KEY}` } });
  const text = await seen(() => stack.openai({ maxRetries: 0 }).chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  expect(openai.received.at(-1)!.headers.authorization).toBe(`Bearer ${GATEWAY_KEY}`);
  expect(text).toContain('upstream quota exceeded for credential [REDACTED]');
  expect(text).not.toContain(GATEWAY_KEY);
});

it('native pass-through (Anthropic client, Anthropic provider): the echoed key is redacted from the error event', async () => {
  anthropic.script({ midStreamError: { afterChunks: 5, message: `overloaded while serving ${ANTHROPIC_KEY}` } });
  const text = await seen(() => stack.anthropic({ maxRetries: 0 }).messages.create({ model: 'c', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  expect(text).toContain('[REDACTED]');
  expect(text).not.toContain(ANTHROPIC_KEY);
});

it('translated (OpenAI client, Anthropic provider): the echoed key is redacted from the error event', async () => {
  anthropic.script({ midStreamError: { afterChunks: 5, message: `overloaded while serving ${ANTHROPIC_KEY}` } });
  const text = await seen(() => stack.openai({ maxRetries: 0 }).chat.completions.create({ model: 'c', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  expect(text).toContain('[REDACTED]');
  expect(text).not.toContain(ANTHROPIC_KEY);
  expect(stack.logs.join('\n')).not.toContain(ANTHROPIC_KEY);
});

it('an upstream that echoes the Authorization header encoded (base64 of the whole header, hex of the key) shows the client neither, plain or streamed', async () => {
  const b64 = Buffer.from(`Bearer ${GATEWAY_KEY}`).toString('base64');
  const hex = Buffer.from(GATEWAY_KEY).toString('hex');
  const message = `debug: authorization=${b64} token=${hex}`;
  openai.script({ midStreamError: { afterChunks: 2, message } });
  const streamed = await seen(() => stack.openai({ maxRetries: 0 }).chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  openai.script({ status: 400, errorMessage: message });
  const plain = await stack
    .openai({ maxRetries: 0 })
    .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    .catch((err: unknown) => `${String(err)} ${JSON.stringify((err as { error?: unknown }).error ?? null)}`);
  for (const text of [streamed, String(plain)]) {
    expect(text).toContain('debug: authorization=');
    expect(text).not.toContain(b64.slice(8, 40));
    expect(text).not.toContain(hex.slice(0, 40));
  }
  expect(stack.logs.join('\n')).not.toContain(hex.slice(0, 40));
});
