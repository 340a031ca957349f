/**
 * The agent making its own usage report unreadable to the operator: the report's schema (and the
 * AgentSandbox status it lands in) takes at most 1,000 models, while a sandbox may offer far more
 * (64 providers of 512 models, 256 aliases). An agent that called 1,001 of them, one cheap call
 * each, made the operator refuse every later report of its pod: the pod kept its last counted
 * report, so what it spent after that never reached the sandbox's total, nor the other pods'
 * shares, and was gone for good when the sidecar restarted. The report stays readable: past the
 * bound the models that spent least are summed into one `(other models)` entry (a name with a
 * space, which no model can have), the totals unchanged.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readSidecarReport } from '../../../operator/src/usage/collector.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { stackDir, startStack, type Stack } from './harness.js';

const MODELS = Array.from({ length: 1_050 }, (_, i) => `m-${String(i).padStart(4, '0')}`);
let mock: MockProvider;
let stack: Stack;

beforeAll(async () => {
  mock = await startMock('ollama', { models: MODELS });
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'many-models' },
    providers: [{ name: 'o', type: 'ollama', baseURL: mock.url, models: MODELS.map((name, i) => (i === 0 ? { name, inputCostPerMTok: 100_000 } : { name })) }],
    mcp: { backends: [] },
  });
});

afterAll(async () => {
  await stack?.close();
  await mock?.close();
});

it('keeps the report the operator reads valid after calls to more models than it may list, with every call and dollar in it', async () => {
  const client = stack.openai();
  for (let i = 0; i < MODELS.length; i += 50) {
    await Promise.all(MODELS.slice(i, i + 50).map((model) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] })));
  }
  const report = await readSidecarReport('127.0.0.1', stack.sidecar.adminPort);
  expect(report).toBeDefined();
  expect(report!.requests).toBe(MODELS.length);
  expect(report!.byModel.length).toBeLessThanOrEqual(1_000);
  expect(report!.byModel.reduce((n, m) => n + m.requests, 0)).toBe(MODELS.length);
  // The one that spent is listed by name; the rest that did not fit are summed.
  expect(report!.byModel.find((m) => m.model === 'm-0000')?.spentUSD).toBeGreaterThan(0);
  expect(report!.spentUSD).toBe(report!.byModel.find((m) => m.model === 'm-0000')!.spentUSD);
  expect(report!.byModel.find((m) => m.model === '(other models)')?.requests).toBe(MODELS.length - 999);
});
