/**
 * Spend per sandbox through a real API server (ADR 0014): two pods of one sandbox, each with a
 * real sidecar (on its own loopback address, as its pod IP), serve calls; the operator collects
 * their usage into AgentSandbox.status and `kubectl get asbx` shows SPEND and BUDGET. A sidecar
 * restart loses nothing, and the budget holds for both pods together.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from '../sidecar/harness.js';
import { freshNamespace, installCrds } from './crds.js';
import { kubectl } from './kubectl.js';
import { freePort, startTestOperator, until, type TestOperator } from './operator-harness.js';

const PRICES = { inputCostPerMTok: 1_000, outputCostPerMTok: 1_000 };
const ADDRESSES = ['127.0.0.2', '127.0.0.3'];

let ns: string;
let test: TestOperator;
let mock: MockProvider;
let adminPort = 0;
const stacks: Stack[] = [];
const kc = new KubeConfig();

const spend = async (sandbox = 'agent') => {
  const out = await kubectl().ok(['get', 'asbx', sandbox, '-n', ns, '-o', 'json']);
  return (JSON.parse(out) as { status?: { usage?: { spentUSD: number; requests: number; retired?: { spentUSD: number; requests: number }; pods?: { pod: string }[]; podCount?: number } } }).status?.usage;
};

/** The usage token the operator rendered into a sandbox's credentials Secret (empty until it did). */
const usageToken = async (sandbox: string) =>
  Buffer.from(await kubectl().ok(['get', 'secret', `airlock-${sandbox}-credentials`, '-n', ns, '-o', 'jsonpath={.data.usage\\.token}']), 'base64').toString();
const usageUrl = (sandbox: string) => `http://127.0.0.1:${test.operator.healthPort}/usage/${ns}/${sandbox}`;
const askUsage = (sandbox: string, token?: string) => fetch(usageUrl(sandbox), token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

async function startSidecar(i: number): Promise<Stack> {
  // The token file as the credentials volume carries it.
  const dir = await stackDir();
  const stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'agent', namespace: ns },
    providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: [{ name: 'm', ...PRICES }] }],
    limits: { dailyBudgetUSD: 0.5, sandboxUsage: { url: usageUrl('agent'), intervalMs: 300, tokenFile: await keyFile(dir, 'usage.token', await usageToken('agent')) } },
    // The pod IP the operator reads: a loopback address of its own, one admin port for all pods.
    listen: { admin: { host: ADDRESSES[i]!, port: adminPort } },
  });
  stacks[i] = stack;
  return stack;
}

const ask = (stack: Stack) => stack.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'what does it cost' }] });

beforeAll(async () => {
  kc.loadFromString(inject('kubeconfig'));
  await installCrds();
  ns = await freshNamespace('usage');
  const opNs = await freshNamespace('airlock-system');
  mock = await startMock('ollama');
  adminPort = await freePort(ADDRESSES[0]!);
  test = await startTestOperator(kc, { watchNamespace: ns, namespace: opNs, webhookConfigName: 'airlock-none', identity: 'operator-usage', usageSyncMs: 300, usageUrl: 'http://airlock-metrics.airlock-system.svc:8081' }, { sidecarAdminPort: adminPort });
  await until(() => test.operator.isLeader, 'the operator to lead', 20_000);
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], `apiVersion: airlock.dev/v1alpha1
kind: ModelProvider
metadata: { name: local }
spec: { type: ollama, baseURL: "${mock.url}", models: [{ name: m }] }
---
apiVersion: airlock.dev/v1alpha1
kind: AgentSandbox
metadata: { name: agent }
spec: { providers: [local], limits: { dailyBudgetUSD: 0.5 } }
---
apiVersion: airlock.dev/v1alpha1
kind: AgentSandbox
metadata: { name: other }
spec: { providers: [local] }
`);
  // The Secrets may not exist yet: until then there is no token.
  const rendered = (sandbox: string) => usageToken(sandbox).catch(() => '');
  await until(async () => (await rendered('agent')).length > 0 && (await rendered('other')).length > 0, 'the usage tokens to be rendered', 20_000);
  // Two pods of the sandbox; no kubelet here, so their status says, as a kubelet's would, where
  // their sidecars listen and that they run (only pods whose sidecar runs share the limits).
  for (const [i, ip] of ADDRESSES.entries()) {
    await kubectl().ok(['apply', '-n', ns, '-f', '-'], `apiVersion: v1
kind: Pod
metadata: { name: agent-${i}, labels: { airlock.dev/sandbox: agent } }
spec: { containers: [{ name: agent, image: agent:1 }] }
`);
    await kubectl().ok(['patch', 'pod', `agent-${i}`, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], containerStatuses: [{ name: 'airlock-sidecar', image: 'sidecar:1', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: new Date().toISOString() } } }] } })]);
  }
  await startSidecar(0);
  await startSidecar(1);
}, 120_000);

afterAll(async () => {
  for (const stack of stacks) await stack?.close();
  await test?.operator.stop();
  await mock?.close();
});

it('sums the spend of both pods into the status, and kubectl get asbx shows SPEND and BUDGET', async () => {
  let expected = 0;
  for (const stack of [stacks[0]!, stacks[1]!, stacks[1]!]) {
    const answer = await ask(stack);
    expected += (answer.usage!.prompt_tokens * PRICES.inputCostPerMTok + answer.usage!.completion_tokens * PRICES.outputCostPerMTok) / 1e6;
  }
  await expect.poll(async () => (await spend())?.spentUSD, { timeout: 15_000 }).toBeCloseTo(expected, 9);
  expect((await spend())?.requests).toBe(3);
  const table = await kubectl().ok(['get', 'asbx', 'agent', '-n', ns]);
  const [header, row] = table.trim().split('\n') as [string, string];
  // Columns by their header's position (an empty cell leaves no token to split on).
  const cell = (name: string) => row.slice(header.indexOf(name)).split(/\s+/)[0];
  expect(header).toMatch(/\bSPEND\b.*\bBUDGET\b/);
  expect(Number(cell('SPEND'))).toBeCloseTo(expected, 6);
  expect(cell('SPEND')!.length).toBeLessThanOrEqual(8);
  expect(cell('BUDGET')).toBe('0.5');
});

it('loses nothing when a sidecar restarts, and holds the budget for both pods together', async () => {
  const before = (await spend())!.spentUSD;
  await stacks[1]!.close();
  await startSidecar(1);
  await expect.poll(async () => (await spend())?.retired?.spentUSD ?? 0, { timeout: 15_000 }).toBeGreaterThan(0);
  expect((await spend())!.spentUSD).toBeCloseTo(before, 9);
  // Spend the rest of the budget through both pods; the refusals say it is the sandbox's budget.
  const refused = async (stack: Stack) => {
    for (let i = 0; i < 200; i++) {
      const error = await ask(stack).then(() => undefined, (e: unknown) => e);
      if (error) return error;
    }
    return undefined;
  };
  const [a, b] = await Promise.all([refused(stacks[0]!), refused(stacks[1]!)]);
  for (const error of [a, b]) {
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as Error).message).toContain('daily budget of 0.5 USD');
  }
  await expect.poll(async () => (await spend())?.spentUSD ?? 0, { timeout: 15_000 }).toBeGreaterThanOrEqual(0.5);
  // Overshoot at most one call in flight per pod (each agent here has one call open at a time).
  const oneCall = (await spend())!.spentUSD / (await spend())!.requests;
  expect((await spend())!.spentUSD).toBeLessThanOrEqual(0.5 + 2 * oneCall * 1.5);
});

it("answers a sandbox's usage only with its token, the same to every caller without it, and keeps the token across renders", async () => {
  const [token, other] = [await usageToken('agent'), await usageToken('other')];
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(other).not.toBe(token);
  const own = await askUsage('agent', token);
  expect(own.status).toBe(200);
  expect(((await own.json()) as { total: { spentUSD: number } }).total.spentUSD).toBeGreaterThan(0);
  // A pod of another sandbox (or anyone who reaches the health port): without the token, with its own.
  const refusals = [await askUsage('agent'), await askUsage('agent', other), await askUsage('nothing', other), await askUsage('nothing')];
  expect(refusals.map((r) => r.status)).toEqual([401, 401, 401, 401]);
  const bodies = await Promise.all(refusals.map((r) => r.text()));
  expect(new Set(bodies.map((b) => b.replace(`${ns}/nothing`, `${ns}/agent`))).size).toBe(1);
  expect(JSON.parse(bodies[0]!)).toEqual({ error: expect.any(String) });

  // A re-render (a new config hash) keeps the token, so running sidecars are still answered.
  const hash = async () => JSON.parse(await kubectl().ok(['get', 'asbx', 'agent', '-n', ns, '-o', 'jsonpath={.status}'])).configHash as string;
  const before = await hash();
  await kubectl().ok(['patch', 'asbx', 'agent', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { sidecar: { logLevel: 'debug' } } })]);
  await until(async () => (await hash()) !== before, 'the sandbox to be rendered again', 20_000);
  expect(await usageToken('agent')).toBe(token);
  expect((await askUsage('agent', token)).status).toBe(200);

  // The token never reaches the status, an Event, the operator's log or its metrics.
  const seen = [
    await kubectl().ok(['get', 'asbx', '-n', ns, '-o', 'json']),
    await kubectl().ok(['get', 'events', '-n', ns, '-o', 'json']),
    test.logs.join('\n'),
    await (await fetch(`http://127.0.0.1:${test.operator.healthPort}/metrics`)).text(),
  ].join('\n');
  for (const value of [token, other]) {
    expect(seen).not.toContain(value);
    expect(seen).not.toContain(Buffer.from(value).toString('base64'));
  }
});

it('keeps no token someone else wrote into the credentials Secret: the route refuses theirs, and the operator seals one of its own', async () => {
  const token = await usageToken('agent');
  // Whoever may patch or create Secrets in the namespace (an owner reference can be forged) sets a token they know.
  const theirs = 'their-own-usage-token-0123456789abcdefghijk';
  await kubectl().ok(['patch', 'secret', 'airlock-agent-credentials', '-n', ns, '--type=merge', '-p', JSON.stringify({ data: { 'usage.token': Buffer.from(theirs).toString('base64') } })]);
  expect((await askUsage('agent', theirs)).status).toBe(401);
  await until(async () => ![theirs, token].includes(await usageToken('agent')), 'the operator to write a token of its own', 20_000);
  expect((await askUsage('agent', theirs)).status).toBe(401);
  expect((await askUsage('agent', await usageToken('agent'))).status).toBe(200);
});

it('removes a key someone else patched into the credentials Secret, so its seal vouches for it again and its sidecars are answered', async () => {
  await until(async () => (await askUsage('agent', await usageToken('agent'))).status === 200, 'the sandbox answered with its token', 20_000);
  await kubectl().ok(['patch', 'secret', 'airlock-agent-credentials', '-n', ns, '--type=merge', '-p', JSON.stringify({ data: { junk: '' } })]);
  const keys = async () => Object.keys(JSON.parse(await kubectl().ok(['get', 'secret', 'airlock-agent-credentials', '-n', ns, '-o', 'json'])).data ?? {});
  await until(async () => !(await keys()).includes('junk'), 'the operator to remove the key it did not write', 20_000);
  await until(async () => (await askUsage('agent', await usageToken('agent'))).status === 200, 'the sandbox answered with its token again', 20_000);
});

it("counts what a pod spent after the operator's last round: its sidecar, sent SIGTERM, keeps its usage readable until the operator read it", async () => {
  const [pod, ip] = ['leaving-0', '127.0.0.4'];
  // A pod with a native sidecar, as injection makes it (no kubelet here: the test writes its status as one would).
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], `apiVersion: v1
kind: Pod
metadata: { name: ${pod}, labels: { airlock.dev/sandbox: other }, finalizers: [airlock.dev/test-holds-the-pod] }
spec:
  restartPolicy: Never
  initContainers: [{ name: airlock-sidecar, image: sidecar:1, restartPolicy: Always }]
  containers: [{ name: agent, image: agent:1 }]
`);
  const running = { running: { startedAt: new Date().toISOString() } };
  const podStatus = (phase: string, sidecar: object, agent: object) =>
    kubectl().ok(['patch', 'pod', pod, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase, podIP: ip, podIPs: [{ ip }], initContainerStatuses: [{ name: 'airlock-sidecar', image: 'sidecar:1', imageID: '', ready: true, started: true, restartCount: 0, state: sidecar }], containerStatuses: [{ name: 'agent', image: 'agent:1', imageID: '', ready: true, restartCount: 0, state: agent }] } })]);
  await podStatus('Running', running, running);

  // The sidecar as the pod runs it (the CLI, in a process of its own), so SIGTERM is the real signal.
  const dir = await stackDir();
  const [socketPath, config] = [join(dir, 'airlock.sock'), join(dir, 'config.yaml')];
  await writeFile(config, stringify({
    version: 1,
    sandbox: { name: 'other', namespace: ns },
    providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: [{ name: 'm', ...PRICES }] }],
    limits: { sandboxUsage: { url: usageUrl('other'), intervalMs: 300, tokenFile: await keyFile(dir, 'usage.token', await usageToken('other')) } },
    listen: { socket: { path: socketPath }, admin: { host: ip, port: adminPort } },
  }));
  const root = join(import.meta.dirname, '../../..');
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'sidecar/src/cli.ts'), 'run', '--config', config], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await expect.poll(() => stdout, { timeout: 30_000, interval: 100 }).toContain('airlock sidecar ready');
    await expect.poll(async () => (await spend('other'))?.pods?.some((p) => p.pod === pod), { timeout: 15_000 }).toBe(true);

    const dispatcher = new Agent({ connect: { socketPath } });
    const fetchThroughSocket = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof globalThis.fetch;
    const openai = new OpenAI({ apiKey: 'unused-by-airlock', baseURL: 'http://airlock/v1', fetch: fetchThroughSocket, maxRetries: 0 });
    const cost = (answer: OpenAI.ChatCompletion) => (answer.usage!.prompt_tokens * PRICES.inputCostPerMTok + answer.usage!.completion_tokens * PRICES.outputCostPerMTok) / 1e6;
    const question = { model: 'm', messages: [{ role: 'user' as const, content: 'the last question' }] };
    const first = await openai.chat.completions.create(question);
    // The pod is deleted while its last call is still answered: it stays, Running, until its containers
    // end; the agent's has, the sidecar gets SIGTERM (the kubelet stops a native sidecar last).
    const served = mock.received.length;
    mock.script({ latencyMs: 1_500 });
    const last = openai.chat.completions.create(question);
    await expect.poll(() => mock.received.length, { timeout: 30_000, interval: 20 }).toBeGreaterThan(served);
    await kubectl().ok(['delete', 'pod', pod, '-n', ns, '--wait=false']);
    await podStatus('Running', running, { terminated: { exitCode: 143, reason: 'Error', startedAt: running.running.startedAt, finishedAt: new Date().toISOString() } });
    child.kill('SIGTERM');

    const answer = await last;
    // No new call is taken once stopping.
    await expect(openai.chat.completions.create(question)).rejects.toThrow();
    expect(await exited).toBe(0);
    await dispatcher.close();
    // A pod deleted takes no share of the sandbox's limits while its sidecar waits: no call comes from it.
    await expect.poll(async () => (await spend('other'))?.podCount, { timeout: 30_000 }).toBe(0);
    // The sidecar has exited: the kubelet ends the pod, and it is gone.
    await podStatus('Failed', { terminated: { exitCode: 0, reason: 'Completed', startedAt: running.running.startedAt, finishedAt: new Date().toISOString() } }, { terminated: { exitCode: 143, reason: 'Error', startedAt: running.running.startedAt, finishedAt: new Date().toISOString() } });
    await kubectl().ok(['patch', 'pod', pod, '-n', ns, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
    await expect.poll(async () => (await spend('other'))?.pods?.length, { timeout: 15_000 }).toBe(0);
    const usage = (await spend('other'))!;
    expect(usage.retired?.requests).toBe(2);
    expect(usage.requests).toBe(2);
    expect(usage.spentUSD).toBeCloseTo(cost(first) + cost(answer), 9);
    expect(stdout).toContain("the operator has read this pod's last usage");
  } finally {
    child.kill('SIGKILL');
  }
}, 90_000);
