/**
 * No key value ever reaches a log line, a metric or a client error — even when a provider echoes
 * the key back in its error message, when a key is refused, and when a key file is rotated.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const GOOD = 'sk-proj-4fT9qLm2ZxR8vN1cKp7WbE3hY6sD0gJa5uQi';
const REFUSED = 'sk-proj-Rj2Kd8Vn5Qw1Zx7Lc4Bm9Tf3Hg6Ys0Pa2EuW';
const ROTATED = 'sk-proj-Nw6Ex1Qa9Zs4Rd7Ct2Vf5Bg8Yh3Uj0Ik1OlP';
const ANTHROPIC = 'sk-ant-api03-Qm4Xv8Lp1Zr6Tn3Wb9Kc2Hs7Jd5Fg0Ya-Re8uIoPzXw';
const GEMINI = 'AIzaSyB7n2Kq9Lx4Vm1Zr8Tc5Wp3Hd6Jf0Gs2Yb';
const ALL = [GOOD, REFUSED, ROTATED, ANTHROPIC, GEMINI];

let stack: Stack;
let openai: MockProvider;
let anthropic: MockProvider;
let gemini: MockProvider;
let openaiKeyFile: string;
const clientErrors: string[] = [];

beforeAll(async () => {
  const dir = await stackDir();
  openai = await startMock('openai', { keys: [GOOD, ROTATED] });
  anthropic = await startMock('anthropic', { keys: [ANTHROPIC] });
  gemini = await startMock('gemini', { keys: [GEMINI] });
  openaiKeyFile = await keyFile(dir, 'openai-2', GOOD);
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'secrets' },
    telemetry: { logLevel: 'debug' },
    providers: [
      { name: 'oa', type: 'openai', baseURL: openai.url, apiKeys: [{ file: await keyFile(dir, 'openai-1', REFUSED) }, { file: openaiKeyFile }], models: [{ name: 'm' }], retries: { maxAttempts: 3, baseDelayMs: 1 } },
      { name: 'an', type: 'anthropic', baseURL: anthropic.url, apiKeys: [{ file: await keyFile(dir, 'anthropic', ANTHROPIC) }], priority: 5, models: [{ name: 'm' }, { name: 'c' }] },
      { name: 'ge', type: 'gemini', baseURL: gemini.url, apiKeys: [{ file: await keyFile(dir, 'gemini', GEMINI) }], models: [{ name: 'g' }] },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  await Promise.all([openai?.close(), anthropic?.close(), gemini?.close()]);
});

async function attempt(run: () => Promise<unknown>) {
  try {
    await run();
  } catch (err) {
    clientErrors.push(String(err), JSON.stringify((err as { error?: unknown }).error ?? null));
  }
}

it('keeps every key out of logs, metrics and client errors through a run of failures and rotations', async () => {
  const client = stack.openai();
  const chat = (model: string, content: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content }] });

  // The refused key is tried first (least recently used), refused with 401, and disabled.
  await attempt(() => chat('m', 'first call'));
  // Providers that echo the key in their error messages.
  openai.script({ status: 500, errorMessage: `upstream broke while using ${GOOD}` }, { status: 500, errorMessage: `still broken for key ${GOOD}` });
  anthropic.script({ status: 529, errorMessage: `overloaded; key ${ANTHROPIC} throttled` });
  await attempt(() => chat('m', 'echoed keys'));
  gemini.script({ status: 400, errorMessage: `API key not valid: ${GEMINI}` });
  await attempt(() => chat('g', 'gemini refuses'));
  anthropic.script({ midStreamError: { afterChunks: 1, message: `stream died with ${ANTHROPIC}` } });
  await attempt(async () => {
    const stream = await client.chat.completions.create({ model: 'c', stream: true, messages: [{ role: 'user', content: 'break mid stream' }] });
    for await (const _ of stream);
  });
  // Rotate the good key's file; the new value must be used and never shown either.
  await writeFile(openaiKeyFile, `${ROTATED}\n`);
  await stack.sidecar.live.check();
  await expect.poll(async () => (await chat('m', 'after rotation').then((c) => c.choices[0]!.message.content)), { timeout: 10_000 }).toBe('echo: after rotation');
  expect(openai.received.at(-1)!.headers.authorization).toBe(`Bearer ${ROTATED}`);

  const metrics = await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`).then((r) => r.text());
  const everything = [...stack.logs, ...clientErrors, metrics].join('\n');
  expect(stack.logs.length).toBeGreaterThan(10);
  expect(everything).toMatch(/\[redacted\]/i);
  for (const key of ALL) expect(everything.includes(key), `a key value leaked: ${key.slice(0, 8)}…`).toBe(false);
  // The keys did reach the providers: the test would prove nothing otherwise.
  expect(openai.received.some((r) => r.headers.authorization === `Bearer ${REFUSED}`)).toBe(true);
  expect(anthropic.received.some((r) => r.headers['x-api-key'] === ANTHROPIC)).toBe(true);
});
