/**
 * What a platform team's error-rate alerts see when a call fails: a call that failed at every
 * provider is counted under the provider that last refused it (it was counted as provider "none",
 * with no gen_ai.provider.name on its span), and a stream that breaks after it started, which the
 * agent sees end in an error event, is counted as failed (it was counted as a 200).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { parseExposition, type Sample } from '../../telemetry/exposition.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

let first: MockProvider;
let second: MockProvider;
let stack: Stack;

beforeAll(async () => {
  first = await startMock('openai', { keys: ['sk-first-0123456789abcdef'] });
  second = await startMock('openai', { keys: ['sk-second-0123456789abcdef'] });
  const dir = await stackDir();
  const retries = { maxAttempts: 1, baseDelayMs: 1 };
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'alerts' },
    providers: [
      { name: 'first', type: 'openai', baseURL: first.url, priority: 0, retries, apiKeys: [{ file: await keyFile(dir, 'first', 'sk-first-0123456789abcdef') }], models: [{ name: 'm' }] },
      { name: 'second', type: 'openai', baseURL: second.url, priority: 1, retries, apiKeys: [{ file: await keyFile(dir, 'second', 'sk-second-0123456789abcdef') }], models: [{ name: 'm' }] },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  await first?.close();
  await second?.close();
});

async function requests(): Promise<Sample[]> {
  const text = await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`)).text();
  return parseExposition(text).filter((s) => s.name === 'airlock_model_requests_total' || s.name === 'gen_ai_client_operation_duration_seconds_count');
}

it('counts a call that failed at every provider under the provider that last refused it, not "none"', async () => {
  first.script({ status: 500 });
  second.script({ status: 500 });
  const error = await stack.openai({ maxRetries: 0 }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'fails everywhere' }] }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.APIError);
  const status = String((error as InstanceType<typeof OpenAI.APIError>).status);
  const samples = await requests();
  expect(samples.filter((s) => s.labels.provider === 'none' || s.labels.gen_ai_provider_name === 'none')).toEqual([]);
  expect(samples).toContainEqual(expect.objectContaining({ name: 'airlock_model_requests_total', labels: expect.objectContaining({ provider: 'second', status }), value: 1 }));
  expect(stack.logs.some((l) => l.includes('"msg":"model call"') && l.includes('"provider":"second"') && l.includes(`"status":${status}`))).toBe(true);
});

it('counts a stream that breaks after it started as failed, with the status of the error event the agent got', async () => {
  first.script({ resetAfterChunks: 2 });
  const stream = await stack.openai({ maxRetries: 0 }).chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'a stream that will break in the middle of its answer' }] });
  const broke = await (async () => {
    for await (const _ of stream);
  })().catch((e: unknown) => e);
  expect((broke as Error).message).toContain('the stream from provider first broke');
  const samples = await requests();
  const failed = samples.find((s) => s.name === 'airlock_model_requests_total' && s.labels.provider === 'first');
  expect(failed).toMatchObject({ labels: { status: expect.stringMatching(/^5\d\d$/) }, value: 1 });
  expect(samples.filter((s) => s.name === 'airlock_model_requests_total' && s.labels.provider === 'first' && s.labels.status === '200')).toEqual([]);
});

it('counts the requests refused before any provider (an unknown model, a bad body), by API and status: a misconfigured or probing agent shows', async () => {
  const refusals = async () => parseExposition(await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`)).text()).filter((s) => s.name === 'airlock_model_request_refusals_total');
  const before = await refusals();
  const count = (rows: Sample[], api: string, status: string) => rows.find((s) => s.labels.api === api && s.labels.status === status)?.value ?? 0;
  await stack.openai({ maxRetries: 0 }).chat.completions.create({ model: 'gpt-typo', messages: [{ role: 'user', content: 'x' }] }).catch(() => undefined);
  await stack.openai({ maxRetries: 0 }).chat.completions.create({ model: 'gpt-typo', messages: [{ role: 'user', content: 'x' }] }).catch(() => undefined);
  await stack.fetch('/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: '{"model":' });
  const after = await refusals();
  expect(count(after, 'openai', '404') - count(before, 'openai', '404')).toBe(2);
  expect(count(after, 'anthropic', '400') - count(before, 'anthropic', '400')).toBe(1);
});
