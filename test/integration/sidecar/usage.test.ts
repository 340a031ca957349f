/**
 * A sandbox's budget held across several pods (ADR 0014): three sidecars of one sandbox, an
 * operator-side usage hub built from the operator's own merge and route code, and agents
 * hammering all three at once until the budget refuses them. The sandbox's spend stays within
 * the stated overshoot bound; a restarted sidecar resets nothing; agents read the sandbox-wide
 * usage on the socket.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { InstanceUsage, utcDay } from '../../../sidecar/src/usage/wire.js';
import type { SandboxUsageView } from '../../../sidecar/src/usage/sync.js';
import type { SandboxUsageStatus } from '../../../operator/src/api/index.js';
import { mergeUsage } from '../../../operator/src/usage/merge.js';
import { newUsageToken } from '../../../operator/src/usage/token.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';
import { startUsageRoute } from './usage-hub.js';

const PODS = 3;
const CONCURRENT = 2;
const SYNC_MS = 200;
/** The sandbox's usage token, as the operator renders it into the credentials Secret. */
const TOKEN = newUsageToken();
/** Prices that make one call cost about a cent (the mock's usage is a few tokens). */
const PRICES = { inputCostPerMTok: 500, outputCostPerMTok: 500 };

let mock: MockProvider;
let hub: { url: string; status: () => SandboxUsageStatus | undefined; round: () => Promise<void>; close(): Promise<void> };
const stacks: (Stack | undefined)[] = [];
let budget: number;
let callCost: number;

/** The operator's part, in process: the same merge and route code, over the pods' admin ports. */
async function startHub(pods: () => { pod: string; adminPort: number | undefined }[], dailyBudgetUSD: () => number): Promise<typeof hub> {
  let status: SandboxUsageStatus | undefined;
  const app = await startUsageRoute(() => status, TOKEN);
  const round = async () => {
    const reports = [];
    for (const { pod, adminPort } of pods()) {
      if (adminPort === undefined) continue;
      const response = await fetch(`http://127.0.0.1:${adminPort}/usage`).catch(() => undefined);
      if (response?.ok) reports.push({ pod, usage: InstanceUsage.parse(await response.json()) });
    }
    status = mergeUsage(status, { day: utcDay(Date.now()), reports, livePods: new Set(pods().map((p) => p.pod)), sharing: pods().length, dailyBudgetUSD: dailyBudgetUSD(), now: new Date() });
  };
  let timer: NodeJS.Timeout | undefined;
  const loop = () => void round().finally(() => (timer = setTimeout(loop, SYNC_MS)));
  await round();
  loop();
  return {
    url: app.url,
    status: () => status,
    round,
    async close() {
      clearTimeout(timer);
      await app.close();
    },
  };
}

async function startPod(i: number, token = TOKEN): Promise<Stack> {
  const dir = await stackDir();
  return startStack(dir, {
    version: 1,
    sandbox: { name: 'shared', namespace: 'agents' },
    providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: [{ name: 'm', ...PRICES }] }],
    limits: { dailyBudgetUSD: budget, sandboxUsage: { url: `${hub.url}/usage/agents/shared`, intervalMs: SYNC_MS, tokenFile: await keyFile(dir, 'usage.token', token) } },
    listen: { admin: { host: '127.0.0.1', port: 0 } },
  }).then((stack) => (stacks[i] = stack));
}

const ask = (stack: Stack) => stack.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'the same question' }] });

beforeAll(async () => {
  mock = await startMock('ollama');
  // Calls take a moment, so several are in flight in every pod at once.
  mock.setDefault({ latencyMs: 20 });
  budget = 1;
  hub = await startHub(() => Array.from({ length: PODS }, (_, i) => ({ pod: `pod-${i}`, adminPort: stacks[i]?.sidecar.adminPort })), () => budget);
  // One call on a throwaway pod prices a call, then the budget is set to about 40 calls.
  const probe = await startPod(0);
  const first = await ask(probe);
  callCost = (first.usage!.prompt_tokens * PRICES.inputCostPerMTok + first.usage!.completion_tokens * PRICES.outputCostPerMTok) / 1e6;
  await probe.close();
  stacks[0] = undefined;
  await hub.close();
  budget = 40 * callCost;
  hub = await startHub(() => Array.from({ length: PODS }, (_, i) => ({ pod: `pod-${i}`, adminPort: stacks[i]?.sidecar.adminPort })), () => budget);
  mock.reset();
  mock.setDefault({ latencyMs: 20 });
  for (let i = 0; i < PODS; i++) await startPod(i);
}, 60_000);

afterAll(async () => {
  for (const stack of stacks) await stack?.close();
  await hub?.close();
  await mock?.close();
});

it('holds the budget for the sandbox as a whole, within the stated overshoot, with every pod in flight', async () => {
  const refusals: string[] = [];
  const agent = async (stack: Stack) => {
    for (;;) {
      try {
        await ask(stack);
      } catch (err) {
        expect(err).toBeInstanceOf(OpenAI.RateLimitError);
        refusals.push((err as Error).message);
        return;
      }
    }
  };
  await Promise.all(stacks.flatMap((stack) => Array.from({ length: CONCURRENT }, () => agent(stack!))));
  await hub.round();
  const spent = hub.status()!.spentUSD;
  const served = mock.received.length;
  expect(spent).toBeCloseTo(served * callCost, 5);
  // ADR 0014: in flight when shares ran out, plus one interval of a stale share.
  const bound = PODS * CONCURRENT * callCost + ((PODS - 1) / PODS ** 2) * budget;
  const overshoot = Math.max(0, spent - budget);
  console.info(`budget ${budget.toFixed(4)} USD (${Math.round(budget / callCost)} calls), spent ${spent.toFixed(4)} USD in ${served} calls over ${PODS} pods; overshoot ${overshoot.toFixed(4)} USD (${(overshoot / callCost).toFixed(1)} calls), bound ${bound.toFixed(4)} USD`);
  expect(overshoot).toBeLessThanOrEqual(bound);
  // Without the sandbox-wide view three pods would have spent three budgets.
  expect(spent).toBeLessThan(2 * budget);
  expect(refusals.every((m) => m.includes('daily budget'))).toBe(true);
  expect(hub.status()!.pods).toHaveLength(PODS);
});

it('answers GET /v1/usage on the socket with the sandbox-wide usage and what is left', async () => {
  await new Promise((resolve) => setTimeout(resolve, 3 * SYNC_MS));
  const view = (await (await stacks[1]!.fetch('/v1/usage')).json()) as SandboxUsageView;
  expect(view).toMatchObject({ sandbox: 'shared', sandboxWide: true, pods: PODS, dailyBudgetUSD: budget, remainingUSD: Math.max(0, budget - hub.status()!.spentUSD) });
  expect(view.spentUSD).toBeCloseTo(hub.status()!.spentUSD, 5);
  expect(view.byModel).toEqual([expect.objectContaining({ model: 'm', requests: view.requests })]);
  expect(view.thisPod.spentUSD).toBeLessThan(view.spentUSD);
});

it('resets nothing when a sidecar restarts: the new one is still refused, and the spend is still counted', async () => {
  const before = hub.status()!.spentUSD;
  await stacks[2]!.close();
  await startPod(2);
  const error = await ask(stacks[2]!).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.RateLimitError);
  expect((error as Error).message).toContain('daily budget');
  await hub.round();
  expect(hub.status()!.spentUSD).toBeCloseTo(before, 5);
  expect(hub.status()!.retired!.spentUSD).toBeGreaterThan(0);
});

it("keeps a sidecar the operator refuses (another sandbox's token, or none) on its own view, warns once, never logs the token, and resumes with the sandbox's", async () => {
  const other = newUsageToken();
  const refused = await startPod(3, other);
  const dir = await stackDir();
  const tokenless = await startStack(dir, {
    version: 1,
    sandbox: { name: 'shared', namespace: 'agents' },
    providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: [{ name: 'm', ...PRICES }] }],
    limits: { dailyBudgetUSD: budget, sandboxUsage: { url: `${hub.url}/usage/agents/shared`, intervalMs: SYNC_MS } },
  });
  stacks[4] = tokenless;
  await new Promise((resolve) => setTimeout(resolve, 6 * SYNC_MS));
  for (const [stack, why] of [
    [refused, "the token it sent is not the sandbox's"],
    [tokenless, 'it has no usage token to send'],
  ] as const) {
    const view = (await (await stack.fetch('/v1/usage')).json()) as SandboxUsageView;
    expect(view).toMatchObject({ sandboxWide: false, pods: 1, syncedAt: null });
    const warnings = stack.logs.filter((line) => line.includes('the operator refused'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(why);
    expect(stack.logs.join('\n')).not.toContain(other);
    expect(stack.logs.join('\n')).not.toContain(TOKEN);
  }
  // The kubelet updates the file when the Secret changes: the next ask carries the right token.
  await keyFile(refused.dir, 'usage.token', TOKEN);
  await expect.poll(async () => ((await (await refused.fetch('/v1/usage')).json()) as SandboxUsageView).sandboxWide, { timeout: 30_000 }).toBe(true);
  expect(refused.logs.filter((line) => line.includes('accepts the usage token again'))).toHaveLength(1);
  expect(refused.logs.join('\n')).not.toContain(TOKEN);
});
