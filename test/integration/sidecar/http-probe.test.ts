/**
 * The sidecar's HTTP edge answers every probe of http-probe.ts (odd paths, methods, content types,
 * framing, Host and Origin on the loopback port, the admin port) as recorded in
 * http-probe.expected.json: status (and 100 Continue where sent), the headers a client acts on, and
 * the body in the client's shape. The recording was made against the fastify-based edge; the hand
 * router (ADR 0024) gives the same answers, except where CHANGED says why not.
 * `HTTP_PROBE_RECORD=1` rewrites the recording from the running code instead of checking it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockKind, type MockProvider } from '../../mocks/index.js';
import { freePort, keyFile, stackDir, startStack, type Stack } from './harness.js';
import { probes, send, type Seen } from './http-probe.js';

const MAX_BODY = 64 * 1024;
const EXPECTED = fileURLToPath(new URL('./http-probe.expected.json', import.meta.url));
const RECORD = process.env.HTTP_PROBE_RECORD === '1';

let stack: Stack;
let loopbackPort: number;
const mocks = new Map<MockKind, MockProvider>();
const seen: Record<string, Seen> = {};

beforeAll(async () => {
  const dir = await stackDir();
  const providers = [];
  for (const [kind, model] of [['openai', 'gpt-4o-mini'], ['anthropic', 'claude-sonnet-4-5'], ['gemini', 'gemini-2.5-flash']] as const) {
    const key = `${kind}-probe-key-7f3a9c`;
    const mock = await startMock(kind, { keys: [key] });
    mocks.set(kind, mock);
    providers.push({ name: kind, type: kind, baseURL: mock.url, apiKeys: [{ file: await keyFile(dir, kind, key) }], models: [{ name: model }], retries: { maxAttempts: 1 } });
  }
  loopbackPort = await freePort();
  stack = await startStack(dir, { version: 1, sandbox: { name: 'probe' }, listen: { maxBodyBytes: MAX_BODY, loopbackPort }, providers });
});

afterAll(async () => {
  if (RECORD) await writeFile(EXPECTED, `${JSON.stringify(seen, null, 2)}\n`);
  else {
    // Every recorded probe was sent, and every probe sent is recorded or listed in CHANGED.
    expect(Object.keys(expected).filter((name) => !(name in seen))).toEqual([]);
    expect(Object.keys(seen).filter((name) => !(name in expected) && !(name in CHANGED))).toEqual([]);
  }
  await stack?.close();
  for (const mock of mocks.values()) await mock.close();
});

/** Answers that differ from the recording on purpose: why, and what they are now. */
const CHANGED: Record<string, { why: string; now: Partial<Seen> }> = {
  'loopback absolute-form, foreign host': {
    why: 'an absolute-form target names the host the request is for (RFC 9112 §3.2.2): a foreign one is refused like a foreign Host header; fastify checked the Host header only',
    now: { statuses: [403], body: { error: expect.objectContaining({ type: 'permission_error', message: expect.stringContaining('evil.example') }) } },
  },
  'loopback chat, no host': {
    why: 'node:http answered a request without Host 400 with no body; now the loopback guard refuses it in the client\'s API (requireHostHeader off)',
    now: { statuses: [403], headers: { 'content-type': 'application/json; charset=utf-8' }, body: { error: expect.objectContaining({ type: 'permission_error', message: expect.stringContaining('Invalid Host header') }) } },
  },
  'chat, Expect other': {
    why: 'node:http answered an Expect other than 100-continue with a bodiless 417; the app now answers it in the client\'s API (2bd61f1)',
    now: { statuses: [417], headers: { 'content-type': 'application/json; charset=utf-8' }, body: { error: expect.objectContaining({ type: 'invalid_request_error', message: expect.stringContaining('unsupported Expect') }) } },
  },
  'model, extra segment': {
    why: 'a model name may have a slash (meta-llama/Llama-3.1-8B), which google-genai for Python writes unescaped: the rest of the path is the name, and an unknown one is the model 404',
    now: { statuses: [404], headers: { 'content-type': 'application/json; charset=utf-8' }, body: { error: expect.objectContaining({ message: expect.stringContaining("'gpt-4o-mini/x' does not exist") }) } },
  },
  // Added after the recording (no fastify answer to compare with).
  'chat, no host': {
    why: 'the Unix socket has no use for Host (a browser cannot reach it): a request without one is served like any other',
    now: { statuses: [200], headers: { 'content-type': 'application/json' }, body: expect.objectContaining({ object: 'chat.completion' }) },
  },
};

const expected: Record<string, Seen> = RECORD ? {} : JSON.parse(await readFile(EXPECTED, 'utf8'));

describe('the HTTP edge answers each probe as a client expects', () => {
  it.each(probes(MAX_BODY).map((p) => [p.name, p] as const))('%s', async (name, probe) => {
    const port = probe.listener === 'admin' ? stack.sidecar.adminPort : loopbackPort;
    const connection = probe.listener === 'socket' ? { path: stack.socketPath } : { host: '127.0.0.1', port };
    const answer = await send(probe, connection, port);
    seen[name] = answer;
    if (RECORD) return;
    const changed = CHANGED[name];
    if (changed) expect(answer, changed.why).toMatchObject(changed.now);
    else expect(answer).toEqual(expected[name]);
  });
});
