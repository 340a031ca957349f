/**
 * The agent writing its own strings into the sidecar's metrics: model names that do not exist,
 * in the body and in a Gemini path, names carrying the provider's key, unknown paths, every
 * ingress. Labels come from the config (served names, aliases, provider names) and fixed sets;
 * a name that resolves to nothing is answered 404 before a model call (and its metric cells)
 * starts, so the series do not grow with how many names the agent makes up, and nothing the agent
 * wrote, a key included, shows in /metrics. Pinned for the per-label-set cells of e7b0459.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const KEY = 'sk-cardinality-0123456789abcdefghijklmnop';
let mock: MockProvider;
let stack: Stack;

beforeAll(async () => {
  mock = await startMock('openai', { models: ['m'], keys: [KEY] });
  const dir = await stackDir();
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'labels' },
    models: { aliases: { fast: 'm' } },
    providers: [{ name: 'o', type: 'openai', baseURL: mock.url, apiKeys: [{ file: await keyFile(dir, 'key', KEY) }], models: [{ name: 'm' }] }],
    mcp: { backends: [] },
  });
});

afterAll(async () => {
  await stack?.close();
  await mock?.close();
});

const metricsText = async () => (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`)).text();
const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });

/** One round of made-up names on every ingress; `n` makes each name new. */
async function madeUp(n: number): Promise<number[]> {
  const name = `agent-${n}-${KEY}`;
  const calls = [
    stack.fetch('/v1/chat/completions', json({ model: name, messages: [{ role: 'user', content: 'hi' }] })),
    stack.fetch('/v1/completions', json({ model: name, prompt: 'hi' })),
    stack.fetch('/v1/embeddings', json({ model: name, input: 'hi' })),
    stack.fetch('/v1/messages', json({ model: name, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })),
    stack.fetch('/v1/responses', json({ model: name, input: 'hi' })),
    stack.fetch(`/v1beta/models/${encodeURIComponent(name)}:generateContent`, json({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] })),
    stack.fetch(`/v1/${name}/chat/completions`, json({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })),
  ];
  return Promise.all(calls.map(async (c) => (await c).status));
}

it('takes no label from a model name or path the agent makes up, and /metrics does not grow with them', async () => {
  // Calls that are counted: the served name and the alias.
  for (const model of ['m', 'fast']) expect((await stack.fetch('/v1/chat/completions', json({ model, messages: [{ role: 'user', content: 'hi' }] }))).status).toBe(200);
  await madeUp(0);
  const before = await metricsText();

  for (let n = 1; n <= 200; n++) expect((await madeUp(n)).every((s) => s >= 400 && s < 500)).toBe(true);
  const after = await metricsText();

  // Series (lines without their values) are the same set: 1,400 made-up names added none.
  const series = (text: string) => new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' '))));
  expect([...series(after)].filter((s) => !series(before).has(s))).toEqual([]);
  const models = new Set([...after.matchAll(/(?:gen_ai_request_model|model)="([^"]*)"/g)].map((m) => m[1]));
  expect([...models].sort()).toEqual(['fast', 'm']);
  expect(after).not.toContain('agent-');
  expect(after).not.toContain(KEY);
  expect(after).not.toContain(KEY.slice(3, 20));
});
