/**
 * A provider that refused every key shows it on the ModelProvider (issue 12 item 10): a real
 * sidecar of a sandbox pod sees 401 for its only key, the operator learns it in its usage round
 * (ADR 0014) and sets CredentialsAccepted=False naming the sandbox and pod, with a Warning Event;
 * the sandbox is not Ready. The upstream echoes the key in its 401 body: neither the key nor the
 * body reaches status or Events. Rotating the Secret clears it.
 */
import { writeFile } from 'node:fs/promises';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from '../sidecar/harness.js';
import { agentSandbox, conditionOf, operatorForNamespace, providerFixture, sandboxPod } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { freePort, until, type TestOperator } from './operator-harness.js';

const REVOKED = 'sk-revoked-9f8e7d6c5b4a39281706';
const GOOD = 'sk-rotated-0a1b2c3d4e5f60718293';
const ECHO = `Incorrect API key provided: ${REVOKED}`;
const POD_IP = '127.0.0.5';

let ns: string;
let test: TestOperator;
let mock: MockProvider;
let stack: Stack;
let keyPath: string;

const get = async (kind: string, name: string) => JSON.parse(await kubectl().ok(['get', kind, name, '-n', ns, '-o', 'json'])) as object;
const condition = (kind: string, name: string, type: string) => conditionOf(ns, kind, name, type);
const events = async () => kubectl().ok(['get', 'events', '-n', ns, '-o', 'json']);

beforeAll(async () => {
  // No key check of its own: the test scripts a 401 that echoes the key, as some upstreams do.
  mock = await startMock('openai');
  const adminPort = await freePort(POD_IP);
  ({ ns, test } = await operatorForNamespace('rejected', { usageSyncMs: 300 }, { sidecarAdminPort: adminPort }));
  await kubectl().ok(
    ['apply', '-n', ns, '-f', '-'],
    providerFixture(
      { name: 'oa', type: 'openai', baseURL: mock.url, models: ['gpt-test'], key: { secret: 'oa-key', key: 'key', value: REVOKED } },
      agentSandbox('agent', ['oa']),
      sandboxPod('agent-0', 'agent'),
    ),
  );
  // No kubelet here: the pod's status says where its sidecar listens.
  await kubectl().ok(['patch', 'pod', 'agent-0', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Running', podIP: POD_IP, podIPs: [{ ip: POD_IP }] } })]);
  const dir = await stackDir();
  keyPath = await keyFile(dir, 'oa.key', REVOKED);
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'agent', namespace: ns },
    providers: [{ name: 'oa', type: 'openai', baseURL: mock.url, apiKeys: [{ file: keyPath }], models: [{ name: 'gpt-test' }] }],
    listen: { admin: { host: POD_IP, port: adminPort } },
  });
  await until(async () => (await condition('mp', 'oa', 'Ready'))?.status === 'True', 'the provider to be Ready');
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await test?.operator.stop();
  await mock?.close();
});

const ask = () => stack.openai().chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hello' }] });

it('a provider that refused every key says so on its status and in a Warning Event, naming the sandbox and pod, never the key or the answer', async () => {
  expect(await condition('mp', 'oa', 'CredentialsAccepted')).toMatchObject({ status: 'True' });
  mock.script({ status: 401, errorMessage: ECHO });
  await ask().catch(() => undefined);
  const refused = await ask().catch((e: unknown) => e);
  expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(503);

  await expect.poll(() => condition('mp', 'oa', 'CredentialsAccepted'), { timeout: 15_000 }).toMatchObject({
    status: 'False',
    reason: 'CredentialsRejected',
    message: expect.stringContaining('sandbox agent (pods agent-0)'),
  });
  const accepted = (await condition('mp', 'oa', 'CredentialsAccepted'))!;
  expect(accepted.message).toContain('Secret oa-key');
  expect(await condition('mp', 'oa', 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialsRejected' });
  await expect.poll(() => condition('asbx', 'agent', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False', message: expect.stringContaining('refused every API key') });
  await expect
    .poll(async () => (JSON.parse(await events()) as { items: { type: string; reason: string; involvedObject: { kind: string; name: string } }[] }).items.filter((e) => e.involvedObject.kind === 'ModelProvider' && e.involvedObject.name === 'oa' && e.reason === 'CredentialsRejected'), { timeout: 15_000 })
    .toEqual([expect.objectContaining({ type: 'Warning' })]);

  // Neither the key (whole or in part) nor what the upstream answered, anywhere the operator writes.
  const written = JSON.stringify(await get('mp', 'oa')) + JSON.stringify(await get('asbx', 'agent')) + (await events()) + test.logs.join('\n');
  expect(written).not.toContain(REVOKED.slice(-12));
  expect(written).not.toContain('Incorrect API key');
});

it('rotating the Secret clears it once the sidecar has the new key', async () => {
  await kubectl().ok(['patch', 'secret', 'oa-key', '-n', ns, '--type=merge', '-p', JSON.stringify({ stringData: { key: GOOD } })]);
  // What the kubelet does with the credentials volume: the sidecar's key file follows the Secret.
  await expect
    .poll(async () => Buffer.from(JSON.parse(await kubectl().ok(['get', 'secret', 'airlock-agent-credentials', '-n', ns, '-o', 'json'])).data['provider.oa.0'], 'base64').toString(), { timeout: 15_000 })
    .toBe(GOOD);
  await writeFile(keyPath, GOOD);
  await stack.sidecar.live.check();
  expect((await ask()).choices[0]!.message.content).toBe('echo: hello');
  await expect.poll(() => condition('mp', 'oa', 'CredentialsAccepted'), { timeout: 15_000 }).toMatchObject({ status: 'True', reason: 'NotRejected' });
  expect(await condition('mp', 'oa', 'Ready')).toMatchObject({ status: 'True' });
  await expect.poll(() => condition('asbx', 'agent', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
});
