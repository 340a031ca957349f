/**
 * The fault matrix: for each provider failure, with a healthy second provider the client gets a
 * correct answer and the failover shows in the logs; with none healthy the client gets a clear
 * error in its own API's shape, long before its own timeout.
 */
import { createServer } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SidecarConfigInput } from '../../../sidecar/src/config/schema.js';
import { startMock, type MockProvider, type MockStep } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

// Four attempts time out at firstByteMs each; Node's socket timeouts fire on a coarse clock, so
// the total leaves room for it to be late.
const TOTAL_MS = 8_000;
const FIRST_BYTE_MS = 500;

type Fault = { name: string; step?: MockStep; dead?: true; status: number };
const FAULTS: Fault[] = [
  { name: '500', step: { status: 500 }, status: 503 },
  { name: '503', step: { status: 503 }, status: 503 },
  { name: '429 without Retry-After', step: { status: 429 }, status: 429 },
  { name: '429 with Retry-After', step: { status: 429, retryAfter: 7 }, status: 429 },
  { name: 'connection refused', dead: true, status: 503 },
  { name: 'reset before headers', step: { resetBeforeHeaders: true }, status: 503 },
  { name: 'first-byte timeout', step: { latencyMs: FIRST_BYTE_MS * 4 }, status: 503 },
];

let stack: Stack;
let primary: MockProvider;
let secondary: MockProvider;
let config: (dir: string) => Promise<SidecarConfigInput>;

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  primary = await startMock('openai', { keys: ['sk-primary-0123456789abcdef'] });
  secondary = await startMock('anthropic', { keys: ['sk-ant-secondary-0123456789abcdef'] });
  const dead = `http://127.0.0.1:${await deadPort()}/v1`;
  const common = { timeouts: { firstByteMs: FIRST_BYTE_MS, totalMs: TOTAL_MS }, retries: { maxAttempts: 2, baseDelayMs: 20 } };
  config = async (dir) => {
    const primaryKey = [{ file: await keyFile(dir, 'primary.key', 'sk-primary-0123456789abcdef') }];
    const secondaryKey = [{ file: await keyFile(dir, 'secondary.key', 'sk-ant-secondary-0123456789abcdef') }];
    return {
    version: 1,
    sandbox: { name: 'faults' },
    providers: [
      { name: 'primary', type: 'openai', baseURL: primary.url, apiKeys: primaryKey, priority: 0, models: [{ name: 'm' }], ...common },
      { name: 'secondary', type: 'anthropic', baseURL: secondary.url, apiKeys: secondaryKey, priority: 10, models: [{ name: 'm' }, { name: 'm-dead' }], ...common },
      { name: 'dead', type: 'openai', baseURL: dead, apiKeys: primaryKey, priority: 0, models: [{ name: 'm-dead' }, { name: 'm-all-dead' }], ...common },
      { name: 'dead-too', type: 'openai-compatible', baseURL: dead, priority: 10, models: [{ name: 'm-all-dead' }], ...common },
    ],
    };
  };
});

// A fresh sidecar per test: rested keys and open circuits must not leak from one fault into the next.
beforeEach(async () => {
  const dir = await stackDir();
  stack = await startStack(dir, await config(dir));
});

afterEach(async () => {
  await stack.close();
  primary.reset();
  secondary.reset();
  primary.setDefault({});
  secondary.setDefault({});
});

afterAll(async () => {
  await primary?.close();
  await secondary?.close();
});

const clients = {
  openai: async (model: string, text: string) => {
    const completion = await stack.openai({ timeoutMs: TOTAL_MS * 4 }).chat.completions.create({ model, messages: [{ role: 'user', content: text }] });
    return completion.choices[0]!.message.content;
  },
  anthropic: async (model: string, text: string) => {
    const message = await stack.anthropic({ timeoutMs: TOTAL_MS * 4 }).messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: text }] });
    return message.content[0]?.type === 'text' ? message.content[0].text : undefined;
  },
};

const failoverLogged = (from: string) =>
  stack.logs.some((line) => {
    const entry = JSON.parse(line) as { provider?: string; msg?: string };
    return entry.provider === from && entry.msg === 'provider attempt failed; failing over';
  });

describe.each(FAULTS)('$name', (fault) => {
  const model = fault.dead ? 'm-dead' : 'm';
  const from = fault.dead ? 'dead' : 'primary';

  it.each(['openai', 'anthropic'] as const)('with a healthy second provider, the %s client gets its answer and the logs show the failover', async (client) => {
    if (fault.step) primary.setDefault(fault.step);
    expect(await clients[client](model, `failover ${fault.name}`)).toBe(`echo: failover ${fault.name}`);
    expect(secondary.received.at(-1)?.body).toMatchObject({ messages: [{ role: 'user' }] });
    expect(failoverLogged(from)).toBe(true);
  });

  it('with none healthy, the OpenAI client gets an OpenAI-shaped error', async () => {
    if (fault.step) {
      primary.setDefault(fault.step);
      secondary.setDefault(fault.step);
    }
    const error = await clients.openai(fault.dead ? 'm-all-dead' : 'm', 'nobody home').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    const apiError = error as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(fault.status);
    expect(apiError.error).toMatchObject({ message: expect.stringMatching(/provider|rate limited|total timeout/), type: expect.any(String) });
    if (fault.step?.retryAfter) expect(apiError.headers?.get('retry-after')).toBe(String(fault.step.retryAfter));
  });

  it('with none healthy, the Anthropic client gets an Anthropic-shaped error', async () => {
    if (fault.step) {
      primary.setDefault(fault.step);
      secondary.setDefault(fault.step);
    }
    const error = await clients.anthropic(fault.dead ? 'm-all-dead' : 'm', 'nobody home').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    const apiError = error as InstanceType<typeof Anthropic.APIError>;
    expect(apiError.status).toBe(fault.status);
    expect(apiError.error).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
  });
});
