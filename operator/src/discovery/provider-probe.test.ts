import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderType } from '@airlock/sidecar/config';
import { startMock, type MockProvider } from '../../../test/mocks/index.js';
import { probeProvider } from './provider-probe.js';

// Not key-shaped (no sk-/AIza prefix), so only the probe's own redaction can hide it: the
// adapters' cleanMessage would not.
const KEY = 'airlock-probe-key-7f3a91c2';
const WRONG_KEY = 'airlock-wrong-key-0b84d6e1';
const MODELS = ['zeta-large', 'alpha-small', 'mid-1'];

const running: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function mock(kind: ProviderType, keyed = true): Promise<MockProvider> {
  const provider = await startMock(kind, { ...(keyed ? { keys: [KEY] } : {}), models: MODELS });
  running.push(provider);
  return provider;
}

/** A port nothing listens on: bind one, then free it. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A provider that answers every request with the given status and body, and records the request headers. */
async function echoServer(status: number, body: (key: string) => string): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    const header = req.headers['x-api-key'] ?? req.headers['x-goog-api-key'] ?? req.headers.authorization ?? '';
    const key = String(header).replace(/^Bearer\s+/i, '');
    seen.push(key);
    res.writeHead(status, { 'content-type': 'application/json' }).end(body(key));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const KEYED: ProviderType[] = ['openai', 'anthropic', 'gemini', 'openai-compatible'];
const sorted = [...MODELS].sort();

describe('probeProvider against the provider mocks', () => {
  it.each(KEYED)('%s: lists the models with a valid key', async (type) => {
    const provider = await mock(type);
    const result = await probeProvider({ type, baseURL: provider.url, apiKey: KEY, headers: { 'x-team': 'agents' }, timeoutMs: 5_000 });
    expect(result).toEqual({ ok: true, models: sorted });
    expect(provider.received[0]?.headers['x-team']).toBe('agents');
  });

  it('ollama: lists the models without a key', async () => {
    const provider = await mock('ollama', false);
    const result = await probeProvider({ type: 'ollama', baseURL: provider.url, headers: {}, timeoutMs: 5_000 });
    expect(result).toEqual({ ok: true, models: sorted });
  });

  it.each(KEYED)('%s: a wrong key is reported as 401 Unauthorized, without the key', async (type) => {
    const provider = await mock(type);
    const result = await probeProvider({ type, baseURL: provider.url, apiKey: WRONG_KEY, headers: {}, timeoutMs: 5_000 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toMatch(/401 Unauthorized/);
    expect(result.reason).not.toContain(WRONG_KEY);
    expect(result.reason).not.toContain(WRONG_KEY.slice(-4));
  });

  it('gemini: names the real status when the adapter reads a 400 as an invalid key', async () => {
    const provider = await mock('gemini');
    const result = await probeProvider({ type: 'gemini', baseURL: provider.url, apiKey: WRONG_KEY, headers: {}, timeoutMs: 5_000 });
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/^GET http:\/\/127\.0\.0\.1:\d+\/v1beta\/models: 401 Unauthorized: the server refused the credentials \(HTTP 400\)$/) });
  });

  it.each([...KEYED, 'ollama' as const])('%s: a dead port is "connection refused"', async (type) => {
    const port = await deadPort();
    const result = await probeProvider({ type, baseURL: `http://127.0.0.1:${port}`, apiKey: KEY, headers: {}, timeoutMs: 5_000 });
    expect(result).toEqual({ ok: false, reason: expect.stringContaining('connection refused (ECONNREFUSED)') });
  });

  it.each([...KEYED, 'ollama' as const])('%s: a provider slower than the budget is a timeout', async (type) => {
    const provider = await mock(type, type !== 'ollama');
    provider.setDefault({ latencyMs: 10_000 });
    const started = Date.now();
    const result = await probeProvider({ type, baseURL: provider.url, apiKey: KEY, headers: {}, timeoutMs: 300 });
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/time(d)? ?out/i) });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('reports other errors by status and a fixed reason, e.g. a 529 overload', async () => {
    const provider = await mock('anthropic');
    provider.script({ status: 529 });
    const result = await probeProvider({ type: 'anthropic', baseURL: provider.url, apiKey: KEY, headers: {}, timeoutMs: 5_000 });
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/: HTTP 529: the server failed$/) });
  });

  it('reports a 200 whose body is not JSON', async () => {
    const provider = await mock('openai');
    provider.script({ malformedJson: true });
    const result = await probeProvider({ type: 'openai', baseURL: provider.url, apiKey: KEY, headers: {}, timeoutMs: 5_000 });
    expect(result).toEqual({ ok: false, reason: expect.stringContaining('200 with a body that is not JSON') });
  });
});

describe('probeProvider follows no redirect (ADR 0016: the key goes to its bound host only)', () => {
  it.each(KEYED)('%s: a 307 to another host is reported, and that host sees no request', async (type) => {
    const target = await echoServer(200, () => '{"data":[]}');
    const server: Server = createServer((req, res) => res.writeHead(307, { location: `${target.url}${req.url ?? '/'}` }).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    running.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const result = await probeProvider({ type, baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: KEY, headers: {}, timeoutMs: 5_000 });
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/: 307 Temporary Redirect: redirected \(not followed\)$/) });
    expect(target.seen).toEqual([]);
  });
});

describe('probeProvider never reveals the key', () => {
  it.each(KEYED)('%s: a provider that echoes the key in a JSON error', async (type) => {
    const server = await echoServer(401, (key) => JSON.stringify({ error: { message: `Incorrect API key provided: ${key}`, type: 'invalid_request_error', code: 401, status: 'UNAUTHENTICATED' } }));
    const result = await probeProvider({ type, baseURL: server.url, apiKey: KEY, headers: {}, timeoutMs: 5_000 });
    expect(server.seen).toEqual([KEY]);
    expect(result).toMatchObject({ ok: false, reason: expect.stringContaining('401 Unauthorized') });
    if (!result.ok) expect(result.reason).not.toContain(KEY);
  });

  it.each(KEYED)('%s: a provider that echoes the key, percent-encoded and as a bearer token, in plain text', async (type) => {
    const server = await echoServer(403, (key) => `forbidden: ${key} / ${encodeURIComponent(key)} / Bearer ${key}`);
    const result = await probeProvider({ type, baseURL: server.url, apiKey: KEY, headers: {}, timeoutMs: 5_000 });
    expect(result).toMatchObject({ ok: false, reason: expect.stringContaining('403 Forbidden: the credentials lack permission') });
    if (!result.ok) {
      expect(result.reason).not.toContain(KEY);
      expect(result.reason).not.toContain('forbidden:');
    }
  });
});

describe('probeProvider never copies what a URL answers into its reason', () => {
  // The baseURL is the resource author's choice: an internal service's error page must not
  // become readable through the ModelProvider's status.
  it.each(KEYED)('%s: an error body is left out, status and a fixed reason only', async (type) => {
    const server = await echoServer(500, () => 'internal-admin-page: db_password=hunter2-internal');
    const result = await probeProvider({ type, baseURL: server.url, apiKey: KEY, headers: {}, timeoutMs: 5_000 });
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/: 500 Internal Server Error: the server failed$/) });
    if (!result.ok) expect(result.reason).not.toMatch(/hunter2|internal-admin/);
  });
});

describe('probeProvider without a base URL', () => {
  it('needs one for openai-compatible', async () => {
    expect(await probeProvider({ type: 'openai-compatible', headers: {}, timeoutMs: 1_000 })).toEqual({ ok: false, reason: 'type openai-compatible needs a baseURL' });
  });
});
