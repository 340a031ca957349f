/**
 * Residual (b) of issue 10 closed: sandbox pods admitted while nothing referenced a Secret
 * (`optional: true`, so it need not even exist) and reaching it by every field that means the
 * same — volume, projected source, env secretKeyRef, envFrom, and an ephemeral container added
 * through the `pods/ephemeralcontainers` subresource — keep it after a ModelProvider and an
 * MCPBackend start referencing it. Admission (P16) cannot see that order of events; the operator
 * does: it does not use the Secret (no probe, no discovery, no copy into the sandbox's
 * credentials), says CredentialsExposed naming each pod and field, with a Warning Event, and the
 * sandbox is not Ready, until the pods are gone.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { conditionOf, credentialValues as credentialsOf, operatorForNamespace, type Condition } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { registerWebhook, until, type TestOperator } from './operator-harness.js';

const KEY = 'sk-late-referenced-5e4d3c2b1a0f9e8d';
const webhookName = `airlock-exposed-${Math.random().toString(36).slice(2, 8)}`;

let ns: string;
let test: TestOperator;
let mock: MockProvider;
let tools: Server;
const toolRequests: string[] = [];

const get = async (kind: string, name: string) => JSON.parse(await kubectl().ok(['get', kind, name, '-n', ns, '-o', 'json'])) as { status?: { conditions?: Condition[]; injectedPods?: number } };
const condition = (kind: string, name: string, type: string) => conditionOf(ns, kind, name, type);
const apply = (yaml: string) => kubectl().run(['apply', '-n', ns, '-f', '-'], yaml);
const credentialValues = () => credentialsOf(ns, 'agent');

/** A sandbox pod reaching Secret late-key through `spec` (container `agent` plus what is given). */
const pod = (name: string, container: string, volumes = '') => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, labels: { airlock.dev/sandbox: agent } }
spec:
  containers: [{ name: agent, image: agent:1${container} }]
${volumes}`;

const PODS: Record<string, { yaml: string; field: string }> = {
  'by-volume': {
    yaml: pod('by-volume', ', volumeMounts: [{ name: k, mountPath: /k }]', '  volumes: [{ name: k, secret: { secretName: late-key, optional: true } }]\n'),
    field: 'spec.volumes[0].secret.secretName',
  },
  'by-projected': {
    yaml: pod('by-projected', ', volumeMounts: [{ name: k, mountPath: /k }]', '  volumes: [{ name: k, projected: { sources: [{ secret: { name: late-key, optional: true } }] } }]\n'),
    field: 'spec.volumes[0].projected.sources[0].secret.name',
  },
  'by-env': { yaml: pod('by-env', ', env: [{ name: K, valueFrom: { secretKeyRef: { name: late-key, key: key, optional: true } } }]'), field: 'spec.containers[0].env[0].valueFrom.secretKeyRef.name' },
  'by-envfrom': { yaml: pod('by-envfrom', ', envFrom: [{ secretRef: { name: late-key, optional: true } }]'), field: 'spec.containers[0].envFrom[0].secretRef.name' },
  'by-debug': { yaml: pod('by-debug', ''), field: 'spec.ephemeralContainers[0].env[0].valueFrom.secretKeyRef.name' },
};

beforeAll(async () => {
  mock = await startMock('openai', { keys: [KEY] });
  tools = createServer((req, res) => {
    toolRequests.push(String(req.headers.authorization));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => tools.listen(0, '127.0.0.1', resolve));
  const started = await operatorForNamespace('exposed', { webhookConfigName: webhookName });
  ({ ns, test } = started);
  // As the chart registers it: pod CREATE and UPDATE, and the ephemeralcontainers subresource.
  await registerWebhook(started.kc, webhookName, test.operator.webhookPort, ns, { operations: ['CREATE', 'UPDATE'], resources: ['pods', 'pods/ephemeralcontainers'] });
  const setup = await apply(`apiVersion: v1
kind: Secret
metadata: { name: late-key, labels: { airlock.dev/credential: "true" } }
stringData: { key: ${KEY} }
---
apiVersion: airlock.dev/v1alpha1
kind: AgentSandbox
metadata: { name: agent }
spec: { providers: [late], mcpBackends: [late-tools] }
`);
  if (setup.code !== 0) throw new Error(setup.stderr);
  await until(async () => (await kubectl().run(['get', 'mutatingwebhookconfiguration', webhookName, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'])).stdout.length > 0, 'the caBundle');
}, 120_000);

afterAll(async () => {
  await test?.operator.stop();
  await kubectl().run(['delete', 'mutatingwebhookconfiguration', webhookName]);
  await mock?.close();
  await new Promise<void>((resolve) => (tools ? tools.close(() => resolve()) : resolve()));
});

describe('a Secret that sandbox pods reached before any resource referenced it', () => {
  it('the pods are admitted while nothing references it (P16 sees no reference yet), the debug container through the subresource', async () => {
    for (const [name, { yaml }] of Object.entries(PODS)) {
      const created = await apply(yaml);
      expect(created.code, `${name}: ${created.stderr}`).toBe(0);
    }
    const debug = JSON.parse(await kubectl().ok(['get', 'pod', 'by-debug', '-n', ns, '-o', 'json'])) as { spec: { ephemeralContainers?: unknown[] } };
    debug.spec.ephemeralContainers = [{ name: 'dbg', image: 'busybox:1', env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 'late-key', key: 'key', optional: true } } }] }];
    const added = await kubectl().run(['replace', '--raw', `/api/v1/namespaces/${ns}/pods/by-debug/ephemeralcontainers`, '-f', '-'], JSON.stringify(debug));
    expect(added.code, added.stderr).toBe(0);
    // The operator's cache has them all (the PODS count is read from it).
    await expect.poll(async () => (await get('asbx', 'agent')).status?.injectedPods, { timeout: 15_000 }).toBe(5);
  });

  it('once a ModelProvider and an MCPBackend reference it, the operator does not use it and names every pod and field', async () => {
    const created = await apply(`apiVersion: airlock.dev/v1alpha1
kind: ModelProvider
metadata: { name: late }
spec:
  type: openai
  baseURL: ${mock.url}
  apiKeys: [{ secretName: late-key, key: key }]
  models: [{ name: gpt-test }]
  probe: { enabled: true, intervalSeconds: 30 }
---
apiVersion: airlock.dev/v1alpha1
kind: MCPBackend
metadata: { name: late-tools }
spec:
  transport: streamable-http
  url: http://127.0.0.1:${(tools.address() as AddressInfo).port}/mcp
  headers: [{ name: Authorization, secretKeyRef: { name: late-key, key: key } }]
`);
    expect(created.code, created.stderr).toBe(0);
    await expect.poll(() => condition('mp', 'late', 'CredentialsExposed'), { timeout: 15_000 }).toMatchObject({ status: 'True', reason: 'CredentialsExposed' });
    const exposed = (await condition('mp', 'late', 'CredentialsExposed'))!.message;
    for (const [name, { field }] of Object.entries(PODS)) expect(exposed).toContain(`pod ${name} (${field})`);
    expect(await condition('mp', 'late', 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialsExposed' });
    await expect.poll(() => condition('mcpb', 'late-tools', 'CredentialsExposed'), { timeout: 15_000 }).toMatchObject({ status: 'True', message: expect.stringContaining('pod by-envfrom') });
    expect(await condition('mcpb', 'late-tools', 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialsExposed' });
    await expect.poll(() => condition('asbx', 'agent', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'CredentialsExposed' });
    const events = JSON.parse(await kubectl().ok(['get', 'events', '-n', ns, '-o', 'json'])) as { items: { type: string; reason: string; message: string; involvedObject: { kind: string; name: string } }[] };
    expect(events.items.filter((e) => e.reason === 'CredentialsExposed').map((e) => [e.involvedObject.kind, e.type])).toEqual(expect.arrayContaining([['ModelProvider', 'Warning'], ['MCPBackend', 'Warning']]));
    expect(events.items.find((e) => e.reason === 'CredentialsExposed')!.message).toContain('pod by-volume');

    // Not used: never probed, never sent to the backend, never copied for the sidecars.
    expect(mock.received).toEqual([]);
    expect(toolRequests).toEqual([]);
    expect(await credentialValues()).not.toContain(KEY);
    expect(JSON.stringify(await get('mp', 'late')) + JSON.stringify(events)).not.toContain(KEY);
  });

  it('a new pod reaching it now is refused at admission (P16)', async () => {
    const again = await apply(PODS['by-volume']!.yaml.replace('name: by-volume', 'name: by-volume-2'));
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('Secret late-key holds keys a ModelProvider or MCPBackend of this namespace uses');
  });

  it('stays unusable while any of the pods is left, and is used once the last is gone', async () => {
    await kubectl().ok(['delete', 'pod', 'by-volume', 'by-projected', 'by-env', 'by-envfrom', '-n', ns]);
    await expect.poll(async () => (await condition('mp', 'late', 'CredentialsExposed'))?.message, { timeout: 15_000 }).not.toContain('by-volume');
    expect(await condition('mp', 'late', 'CredentialsExposed')).toMatchObject({ status: 'True', message: expect.stringContaining('pod by-debug') });
    expect(mock.received).toEqual([]);
    expect(await credentialValues()).not.toContain(KEY);

    await kubectl().ok(['delete', 'pod', 'by-debug', '-n', ns]);
    await expect.poll(() => condition('mp', 'late', 'CredentialsExposed'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'NotExposed' });
    await expect.poll(() => condition('mp', 'late', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    expect(mock.received.some((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);
    await expect.poll(credentialValues, { timeout: 15_000 }).toContain(KEY);
    expect(await condition('mcpb', 'late-tools', 'CredentialsExposed')).toMatchObject({ status: 'False' });
  });
});
