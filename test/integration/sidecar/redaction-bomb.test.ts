/**
 * Every log line and every error the sidecar writes goes through the redaction module, whose
 * masked-key pattern (`[^\s…]*\*{3,}[^\s…]*`, for `sk-proj-****abcd`) backtracked over a long
 * token without stars: quadratic, V8's linear fallback not taking over (100,000 letters: 4 s,
 * 1,000,000: 81 s of the sidecar's only thread). Text the sidecar redacts comes from the agent
 * (a model name in the log line of its call, a foreign Host on the loopback port) and from the
 * provider (its error body); either held every call and probe of the pod. Each of those inputs is
 * answered here and the sidecar keeps answering.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, stackDir, startStack, type Stack } from './harness.js';
import { exchange, parseResponses, request } from './raw-http.js';

const LONG = 'a'.repeat(2_000_000);
let stack: Stack;
let upstream: Server;
let port: number;

beforeAll(async () => {
  // A provider whose every answer is a 500 with one long token as its body.
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(500, { 'content-type': 'text/plain' }).end(`upstream failed: ${LONG}`));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  port = await freePort();
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'redaction-bomb' },
    listen: { loopbackPort: port, maxBodyBytes: 8 * 1024 * 1024 },
    providers: [{ name: 'failing', type: 'openai-compatible', baseURL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`, retries: { maxAttempts: 1 }, models: [{ name: 'm' }] }],
  });
});

afterAll(async () => {
  await stack?.close();
  await new Promise((resolve) => upstream?.close(resolve));
});

it('answers a model name of two million letters (404) and keeps answering', async () => {
  const response = await stack.fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: LONG, messages: [{ role: 'user', content: 'hi' }] }) });
  expect(response.status).toBe(404);
  expect(await response.json()).toMatchObject({ error: { code: 'model_not_found' } });
  expect((await stack.fetch('/healthz')).status).toBe(200);
});

it('answers a provider error whose body is one token of two million letters, its message capped', async () => {
  const response = await stack.fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) });
  expect(response.status).toBeGreaterThanOrEqual(500);
  const body = (await response.json()) as { error: { message: string } };
  expect(body.error.message.length).toBeLessThan(4096);
  expect((await stack.fetch('/healthz')).status).toBe(200);
});

it('answers a foreign Host of 16,000 letters on the loopback port (logged) and keeps answering', async () => {
  for (let i = 0; i < 20; i++) {
    const text = await exchange({ port }, request(['GET /v1/models HTTP/1.1', `Host: ${'a'.repeat(16_000)}`, 'Connection: close']));
    expect(parseResponses(text)[0]!.status).toBe(403);
  }
  expect((await stack.fetch('/healthz')).status).toBe(200);
});

it('still redacts masked keys in what it logs and answers', async () => {
  const masked = 'sk-proj-****abcd';
  const response = await stack.fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: `x ${masked} y`, messages: [{ role: 'user', content: 'hi' }] }) });
  expect(response.status).toBe(404);
  expect(stack.logs.join('\n')).not.toContain('****abcd');
});
