/**
 * A sandbox's daily budget across its pods at 00:00 UTC (ADR 0014; rt17 D1): two sidecars of one
 * sandbox, the operator's side in process from its own merge and route code, `Date` faked across
 * midnight. Before, each pod got the whole budget of the new day until the operator had counted
 * it (and for the whole day when it could not reach the operator): two pods, two budgets.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { InstanceUsage, utcDay } from '../../../sidecar/src/usage/wire.js';
import type { SandboxUsageStatus } from '../../../operator/src/api/index.js';
import { mergeUsage } from '../../../operator/src/usage/merge.js';
import { newUsageToken } from '../../../operator/src/usage/token.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';
import { startUsageRoute } from './usage-hub.js';

const TOKEN = newUsageToken();
const PRICES = { inputCostPerMTok: 500, outputCostPerMTok: 500 };
const PODS = ['pod-a', 'pod-b'];
/** The budget in calls: each of the two pods may make half of them. */
const CALLS = 10;

let mock: MockProvider;
let operator: { url: string; close(): Promise<void> };
let status: SandboxUsageStatus | undefined;
/** Answers the operator gave the sidecars. */
let asks = 0;
let budget: number;
let stacks: Record<string, Stack> = {};

/** One operator round over the sandbox's pods (what the collector does), on the faked clock's day. */
async function round(): Promise<void> {
  const reports = [];
  for (const pod of PODS) {
    const port = stacks[pod]?.sidecar.adminPort;
    if (port === undefined) continue;
    const response = await fetch(`http://127.0.0.1:${port}/usage`);
    reports.push({ pod, usage: InstanceUsage.parse(await response.json()) });
  }
  status = mergeUsage(status, { day: utcDay(Date.now()), reports, livePods: new Set(PODS), sharing: PODS.length, dailyBudgetUSD: budget, now: new Date() });
}

async function startPods(intervalMs: number): Promise<Stack[]> {
  for (const pod of PODS) {
    const dir = await stackDir();
    stacks[pod] = await startStack(dir, {
      version: 1,
      sandbox: { name: 'shared', namespace: 'agents' },
      providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: [{ name: 'm', ...PRICES }] }],
      limits: { dailyBudgetUSD: budget, sandboxUsage: { url: `${operator.url}/usage/agents/shared`, intervalMs, tokenFile: await keyFile(dir, 'usage.token', TOKEN) } },
      listen: { admin: { host: '127.0.0.1', port: 0 } },
    });
  }
  return PODS.map((pod) => stacks[pod]!);
}

const ask = (stack: Stack) => stack.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'the same question' }] });

/** Calls one agent makes one after the other until refused, and the refusal's message. */
async function spendAll(stack: Stack): Promise<{ calls: number; refusal: string }> {
  for (let calls = 0; ; calls++) {
    const error = await ask(stack).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (error === undefined) continue;
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    return { calls, refusal: (error as Error).message };
  }
}

beforeAll(async () => {
  mock = await startMock('ollama');
  operator = await startUsageRoute(() => {
    asks += 1;
    return status;
  }, TOKEN);
  // One call on a throwaway pod prices a call.
  const probe = await startStack(await stackDir(), { version: 1, sandbox: { name: 'probe' }, providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: [{ name: 'm', ...PRICES }] }] });
  const first = await ask(probe);
  await probe.close();
  budget = (CALLS * (first.usage!.prompt_tokens + first.usage!.completion_tokens) * PRICES.inputCostPerMTok) / 1e6;
});

afterEach(async () => {
  vi.useRealTimers();
  for (const stack of Object.values(stacks)) await stack.close();
  stacks = {};
  status = undefined;
});

afterAll(async () => {
  await operator?.close();
  await mock?.close();
});

/** 23:59:50 UTC, the operator has counted both pods, and pod-a spends its half of the old day. */
async function beforeMidnight(intervalMs: number): Promise<Stack[]> {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-11-27T23:59:50Z'));
  // The operator knows both pods (its informer) before their sidecars start.
  await round();
  const pods = await startPods(intervalMs);
  await round();
  expect((await spendAll(pods[0]!)).calls).toBe(CALLS / 2);
  return pods;
}

it('holds each pod to its half of the new day until the operator has counted it, when the pods have not asked since midnight', async () => {
  // A sync interval longer than the test: after midnight the pods hold the old day's answer (as when the operator is unreachable).
  const [a, b] = await beforeMidnight(60_000);
  vi.setSystemTime(new Date('2026-11-28T00:00:01Z'));
  mock.reset();
  const [na, nb] = await Promise.all([spendAll(a!), spendAll(b!)]);
  expect([na.calls, nb.calls]).toEqual([CALLS / 2, CALLS / 2]);
  expect(mock.received).toHaveLength(CALLS);
  expect(na.refusal).toContain('daily budget');
  await round();
  expect(status!.spentUSD).toBeLessThanOrEqual(budget * 1.000001);
});

it('holds each pod to its half of the new day when the pods ask after midnight, before the operator has counted it', async () => {
  const [a, b] = await beforeMidnight(200);
  vi.setSystemTime(new Date('2026-11-28T00:00:01Z'));
  // The pods ask every 200 ms: after six asks both have asked since midnight, before the operator counted the new day.
  const before = asks;
  await expect.poll(() => asks, { timeout: 30_000 }).toBeGreaterThanOrEqual(before + 6);
  mock.reset();
  const [na, nb] = await Promise.all([spendAll(a!), spendAll(b!)]);
  expect([na.calls, nb.calls]).toEqual([CALLS / 2, CALLS / 2]);
  expect(mock.received).toHaveLength(CALLS);
  expect(nb.refusal).toContain('daily budget');
});

it('holds a pod started just after midnight, before the operator has counted the new day, to its half', async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-11-27T23:59:50Z'));
  // The operator counted the old day's two pods (its informer), then midnight passes before its next round.
  await round();
  vi.setSystemTime(new Date('2026-11-28T00:00:01Z'));
  const [a, b] = await startPods(60_000);
  mock.reset();
  const [na, nb] = await Promise.all([spendAll(a!), spendAll(b!)]);
  expect([na.calls, nb.calls]).toEqual([CALLS / 2, CALLS / 2]);
  expect(mock.received).toHaveLength(CALLS);
  expect(na.refusal).toContain('daily budget');
});
