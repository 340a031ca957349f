/**
 * The operator against a real API server: providers, backends and sandboxes drive the
 * ConfigMap, credentials Secret, NetworkPolicy and status; Secret rotation propagates; the API
 * server calls the webhook over TLS and stores labelled pods mutated.
 */
import { CoreV1Api, KubeConfig, NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import { createPrivateKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parse } from 'yaml';
import { freshNamespace, installCrds } from './crds.js';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { agentSandbox, backendFixture, credentialSecret, documents, mcpBackend, modelProvider, providerFixture } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { startHttpBackend, type HttpBackend } from '../mcp/http-backends.js';
import { startMock } from '../../mocks/index.js';
import { serveMcp } from '../../mocks/mcp-sessions.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ListResourcesRequestSchema, ListResourceTemplatesRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { registerWebhook, startTestOperator, until, type TestOperator } from './operator-harness.js';
import { publicKeyText, sealFiles } from '../../../sidecar/src/config/seal.js';

let ns: string;
let opNs: string;
let test: TestOperator;
const kc = new KubeConfig();
let core: CoreV1Api;
const webhookName = `airlock-${Math.random().toString(36).slice(2, 8)}`;

const apply = (yaml: string) => kubectl().ok(['apply', '-n', ns, '-f', '-'], yaml);
const getJson = async (kind: string, name: string) => {
  const result = await kubectl().run(['get', kind, name, '-n', ns, '-o', 'json']);
  return result.code === 0 ? JSON.parse(result.stdout) : undefined;
};
const condition = async (kind: string, name: string, type: string) =>
  ((await getJson(kind, name))?.status?.conditions ?? []).find((c: { type: string }) => c.type === type) as { status: string; message: string; reason: string } | undefined;

/** The operator's seal key, from the Secret it made in its namespace at start. */
const sealKey = async () => {
  const secret = await core.readNamespacedSecret({ namespace: opNs, name: 'airlock-config-seal' });
  expect(secret.immutable).toBe(true);
  return createPrivateKey(Buffer.from(secret.data!['seal.key']!, 'base64').toString());
};

beforeAll(async () => {
  kc.loadFromString(inject('kubeconfig'));
  core = kc.makeApiClient(CoreV1Api);
  await installCrds();
  ns = await freshNamespace('op');
  opNs = await freshNamespace('airlock-system');
  test = await startTestOperator(kc, { watchNamespace: ns, namespace: opNs, webhookConfigName: webhookName, identity: 'operator-a' });
  await registerWebhook(kc, webhookName, test.operator.webhookPort, ns);
  await until(() => test.operator.isLeader, 'the operator to lead', 20_000);
});

afterAll(async () => {
  if (process.env.AIRLOCK_TEST_LOGS) (await import('node:fs')).writeFileSync(process.env.AIRLOCK_TEST_LOGS, test?.logs.join('\n') ?? '');
  await test?.operator.stop();
  await kubectl().run(['delete', 'mutatingwebhookconfiguration', webhookName]);
});

describe('ModelProvider', () => {
  it('names the missing Secret, then becomes Ready when it appears', async () => {
    await apply(providerFixture({ name: 'openai', type: 'openai', models: ['gpt-4o-mini', 'gpt-4o'], key: { secret: 'openai-keys', key: 'primary' } }));
    await expect.poll(() => condition('mp', 'openai', 'SecretsResolved'), { timeout: 15_000 }).toMatchObject({ status: 'False', message: expect.stringContaining('Secret openai-keys not found or not labelled airlock.dev/credential') });
    await apply(documents(credentialSecret('openai-keys', { primary: 'sk-test-primary-0000000000000001' })));
    await expect.poll(() => condition('mp', 'openai', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    const mp = await getJson('mp', 'openai');
    expect(mp.status).toMatchObject({ observedGeneration: 1, modelCount: 2 });
    expect(JSON.stringify(mp.status)).not.toContain('sk-test-primary');
    const table = await kubectl().ok(['get', 'mp', 'openai', '-n', ns]);
    expect(table).toMatch(/openai\s+True\s+openai\s+0\s+2\s+/);
  });
});

describe('ModelProvider probe', () => {
  it('lists the models with one key when enabled: Reachable and discoveredModels, never the key', async () => {
    const mock = await startMock('openai', { keys: ['sk-probe-0123456789abcdef'], models: ['gpt-probe-a', 'gpt-probe-b'] });
    try {
      await apply(providerFixture({ name: 'probed', type: 'openai-compatible', baseURL: mock.url, models: ['gpt-probe-a'], key: { secret: 'probe-key', key: 'key', value: 'sk-probe-0123456789abcdef' }, probe: true }));
      await expect.poll(() => condition('mp', 'probed', 'Reachable'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
      const provider = await getJson('mp', 'probed');
      expect(provider.status.discoveredModels).toEqual(['gpt-probe-a', 'gpt-probe-b']);
      expect(mock.received.at(-1)?.headers.authorization).toBe('Bearer sk-probe-0123456789abcdef');
      expect(JSON.stringify(provider)).not.toContain('sk-probe-0123456789abcdef');
    } finally {
      await mock.close();
    }
  });
});

describe('ModelProvider probe of a long list', () => {
  it('shows as many models as the status holds, and says how many more were listed, instead of freezing the whole status', async () => {
    // An OpenAI-compatible gateway can list thousands. Before, the API server refused every status
    // write past 2,048 ids or an id past 256 characters: Reachable, Ready, CredentialsExposed stayed as they were.
    const models = [...Array.from({ length: 2_049 }, (_, i) => `m-${String(i).padStart(4, '0')}`), `x${'y'.repeat(256)}`];
    const mock = await startMock('openai', { keys: ['sk-probe-long-0123456789abcdef'], models });
    try {
      await apply(providerFixture({ name: 'gateway', type: 'openai-compatible', baseURL: mock.url, models: ['m-0000'], key: { secret: 'probe-long-key', key: 'key', value: 'sk-probe-long-0123456789abcdef' }, probe: true }));
      await expect.poll(() => condition('mp', 'gateway', 'Reachable'), { timeout: 20_000 }).toMatchObject({
        status: 'True',
        message: 'listed 2050 models; discoveredModels shows 2048 (at most 2048, of at most 256 characters)',
      });
      const status = (await getJson('mp', 'gateway')).status;
      expect(status.discoveredModels).toHaveLength(2048);
      expect(status.discoveredModels[0]).toBe('m-0000');
      expect(await condition('mp', 'gateway', 'Ready')).toMatchObject({ status: 'True' });
    } finally {
      await mock.close();
    }
  }, 60_000);
});

describe('AgentSandbox', () => {
  beforeAll(async () => {
    await apply(
      documents(
        credentialSecret('other-keys', { key: 'sk-other-unused-00000000000000002', unrelated: 'do-not-copy-me' }),
        modelProvider({ name: 'unused', type: 'anthropic', models: ['claude-x'], key: { secret: 'other-keys', key: 'key' } }),
        agentSandbox('agent', ['openai', 'ghost'], { models: { aliases: { fast: 'gpt-4o-mini' } }, isolation: { allowEgress: [{ cidr: '10.96.0.10/32', ports: [53] }] }, socket: { loopbackPort: 4000 } }),
      ),
    );
  });

  it('names the missing provider and still renders the config for the others', async () => {
    await expect.poll(() => condition('asbx', 'agent', 'ProvidersReady'), { timeout: 15_000 }).toMatchObject({ status: 'False', message: 'ModelProvider ghost not found' });
    expect(await condition('asbx', 'agent', 'ConfigRendered')).toMatchObject({ status: 'True' });
    expect(await condition('asbx', 'agent', 'Ready')).toMatchObject({ status: 'False' });
  });

  it('renders the credentials Secret with the config and only the keys it uses, a copy of the config in the ConfigMap, and the NetworkPolicy', async () => {
    const cm = await core.readNamespacedConfigMap({ namespace: ns, name: 'airlock-agent' });
    const config = parse(cm.data!['config.yaml']!);
    expect(config).toMatchObject({
      version: 1,
      sandbox: { name: 'agent', namespace: ns },
      listen: { socket: { path: '/var/run/airlock/airlock.sock' }, loopbackPort: 4000 },
      providers: [{ name: 'openai', type: 'openai', apiKeys: [{ file: '/etc/airlock/credentials/provider.openai.0' }] }],
      models: { aliases: { fast: 'gpt-4o-mini' } },
    });
    expect(cm.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'AgentSandbox', name: 'agent', controller: true })]);
    const secret = await core.readNamespacedSecret({ namespace: ns, name: 'airlock-agent-credentials' });
    // Each key travels with the origin it was accepted for, so the sidecar never sends it elsewhere (ADR 0016).
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['config.seal', 'config.yaml', 'provider.openai.0', 'provider.openai.0.origin']);
    // Sealed by the key in the operator's own Secret, for this sandbox, over exactly these files (ADR 30).
    const files = Object.fromEntries(Object.entries(secret.data!).map(([name, value]) => [name, Buffer.from(value, 'base64')]));
    expect(files['config.seal']!.toString()).toBe(sealFiles({ namespace: ns, sandbox: 'agent' }, files, await sealKey()));
    // The sidecar reads the config from the Secret (ADR 29); the ConfigMap holds the same text for people.
    expect(Buffer.from(secret.data!['config.yaml']!, 'base64').toString()).toBe(cm.data!['config.yaml']);
    expect(Buffer.from(secret.data!['provider.openai.0']!, 'base64').toString()).toBe('sk-test-primary-0000000000000001');
    expect(Buffer.from(secret.data!['provider.openai.0.origin']!, 'base64').toString()).toBe('https://api.openai.com');
    expect(cm.data!['config.yaml']).not.toContain('sk-test');
    const policy = await kc.makeApiClient(NetworkingV1Api).readNamespacedNetworkPolicy({ namespace: ns, name: 'airlock-agent' });
    expect(policy.spec?.podSelector?.matchLabels).toEqual({ 'airlock.dev/sandbox': 'agent' });
    expect(JSON.stringify(policy.spec?.egress)).toContain('10.96.0.10/32');
    const sandbox = await getJson('asbx', 'agent');
    expect(sandbox.status.configHash).toMatch(/^[a-f0-9]{64}$/);
  });

  it('updates the credentials Secret within seconds when the provider Secret rotates', async () => {
    await apply(documents(credentialSecret('openai-keys', { primary: 'sk-test-rotated-0000000000000003' })));
    await expect
      .poll(async () => Buffer.from((await core.readNamespacedSecret({ namespace: ns, name: 'airlock-agent-credentials' })).data!['provider.openai.0']!, 'base64').toString(), { timeout: 10_000 })
      .toBe('sk-test-rotated-0000000000000003');
  });

  it('re-renders when the sandbox changes, and removes the NetworkPolicy when isolation is none', async () => {
    const before = (await getJson('asbx', 'agent')).status.configHash;
    await apply(`apiVersion: airlock.dev/v1alpha1
kind: AgentSandbox
metadata: { name: agent }
spec:
  providers: [openai, unused]
  isolation: { network: none }
`);
    await expect.poll(async () => (await getJson('asbx', 'agent')).status.configHash, { timeout: 15_000 }).not.toBe(before);
    await expect.poll(() => condition('asbx', 'agent', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    const secret = await core.readNamespacedSecret({ namespace: ns, name: 'airlock-agent-credentials' });
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['config.seal', 'config.yaml', 'provider.openai.0', 'provider.openai.0.origin', 'provider.unused.0', 'provider.unused.0.origin']);
    await expect.poll(async () => (await kubectl().run(['get', 'networkpolicy', 'airlock-agent', '-n', ns])).code, { timeout: 15_000 }).not.toBe(0);
  });

  it('notices a deleted provider: the sandbox names it and its key leaves the credentials Secret', async () => {
    await kubectl().ok(['delete', 'mp', 'unused', '-n', ns]);
    await expect.poll(() => condition('asbx', 'agent', 'ProvidersReady'), { timeout: 15_000 }).toMatchObject({ status: 'False', message: 'ModelProvider unused not found' });
    await expect
      .poll(async () => Object.keys((await core.readNamespacedSecret({ namespace: ns, name: 'airlock-agent-credentials' })).data ?? {}).sort(), { timeout: 15_000 })
      .toEqual(['config.seal', 'config.yaml', 'provider.openai.0', 'provider.openai.0.origin']);
    expect(parse((await core.readNamespacedConfigMap({ namespace: ns, name: 'airlock-agent' })).data!['config.yaml']!).providers.map((p: { name: string }) => p.name)).toEqual(['openai']);
  });

  it('records Events for what it did', async () => {
    const events = await kubectl().ok(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=agent', '-o', 'json']);
    const reasons = (JSON.parse(events).items as { reason: string }[]).map((e) => e.reason);
    expect(reasons).toContain('ConfigRendered');
    expect(events).not.toContain('sk-test');
  });
});

describe('webhook', () => {
  const pod = (name: string, labels: Record<string, string>, securityContext?: object): V1Pod => ({
    metadata: { name, labels },
    spec: { containers: [{ name: 'agent', image: 'agent:1', ...(securityContext ? { securityContext } : {}) }] },
  });

  beforeAll(async () => {
    // A new webhook configuration takes a moment to take effect: probe with a dry-run create.
    await until(async () => {
      const dry = await core.createNamespacedPod({ namespace: ns, body: pod('probe', { 'airlock.dev/sandbox': 'agent' }), dryRun: 'All' }).catch(() => undefined);
      return dry?.metadata?.annotations?.['airlock.dev/injected'] !== undefined;
    }, 'the webhook to mutate a dry-run pod');
  });

  it('is called over TLS with the caBundle the operator patched in', async () => {
    const config = await kubectl().ok(['get', 'mutatingwebhookconfiguration', webhookName, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']);
    expect(Buffer.from(config, 'base64').toString()).toBe(test.operator.caPem);
  });

  it('stores a labelled pod mutated', async () => {
    const created = await core.createNamespacedPod({ namespace: ns, body: pod('agent-1', { 'airlock.dev/sandbox': 'agent' }) });
    const names = (created.spec?.initContainers ?? []).map((c) => c.name);
    expect(names).toEqual(['airlock-tools', 'airlock-sidecar']);
    const sidecar = created.spec!.initContainers![1]!;
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.image).toBe('registry.test/airlock-sidecar:test');
    expect(created.spec?.volumes?.map((v) => v.name).sort()).toEqual(['airlock-credentials', 'airlock-socket', 'airlock-tools', 'airlock-tools-shm', 'airlock-tools-tmp']);
    expect(created.spec?.containers[0]?.env).toEqual(expect.arrayContaining([{ name: 'AIRLOCK_SOCKET', value: '/var/run/airlock/airlock.sock' }]));
    // The sidecar checks the seal with the public half of the operator's key, for its sandbox.
    expect(sidecar.env).toEqual(expect.arrayContaining([{ name: 'AIRLOCK_CONFIG_KEY', value: publicKeyText(await sealKey()) }, { name: 'AIRLOCK_SANDBOX', value: 'agent' }]));
    expect(created.spec?.automountServiceAccountToken).toBe(false);
    expect(JSON.parse(created.metadata!.annotations!['airlock.dev/injected']!)).toMatchObject({ sandbox: 'agent' });
    await expect.poll(async () => (await getJson('asbx', 'agent')).status.injectedPods, { timeout: 15_000 }).toBe(1);
  });

  it('injects the firewall when the sandbox isolates with it', async () => {
    await apply(`apiVersion: airlock.dev/v1alpha1
kind: AgentSandbox
metadata: { name: walled }
spec:
  providers: [openai]
  socket: { loopbackPort: 4000 }
`);
    await expect.poll(async () => (await getJson('asbx', 'walled'))?.status?.configHash, { timeout: 15_000 }).toBeTruthy();
    const created = await core.createNamespacedPod({ namespace: ns, body: pod('walled-1', { 'airlock.dev/sandbox': 'walled' }) });
    expect((created.spec?.initContainers ?? []).map((c) => c.name)).toEqual(['airlock-firewall', 'airlock-tools', 'airlock-sidecar']);
    expect(created.spec?.containers[0]?.env?.map((e) => e.name)).toEqual(expect.arrayContaining(['OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL', 'AIRLOCK_MCP_URL']));
  });

  it('leaves an unlabelled pod untouched', async () => {
    const created = await core.createNamespacedPod({ namespace: ns, body: pod('plain', { app: 'plain' }) });
    expect(created.spec?.initContainers).toBeUndefined();
    expect(created.metadata?.annotations?.['airlock.dev/injected']).toBeUndefined();
  });

  it('refuses a pod whose app container runs as the sidecar UID, naming the field', async () => {
    const error = await core.createNamespacedPod({ namespace: ns, body: pod('sneaky', { 'airlock.dev/sandbox': 'agent' }, { runAsUser: 61337 }) }).catch((e: { body: string }) => e);
    expect((error as { code: number }).code).toBe(403);
    expect((error as { body: string }).body).toContain('spec.containers[0].securityContext.runAsUser');
  });

  it('refuses a pod that names a sandbox that does not exist', async () => {
    const error = await core.createNamespacedPod({ namespace: ns, body: pod('lost', { 'airlock.dev/sandbox': 'nowhere' }) }).catch((e: { body: string }) => e);
    expect((error as { body: string }).body).toContain('nowhere');
  });
});

describe('MCPBackend with more resources and templates than its status holds', () => {
  it('shows the first 4,096 and says how many were listed, instead of freezing the whole status', async () => {
    // Resources and templates share status.resources (at most 4,096); each list may hold 4,096 itself.
    const server = await serveMcp(() => {
      const s = new Server({ name: 'files', version: '1.0.0' }, { capabilities: { resources: {} } });
      const page = <T>(items: T[], cursor: string | undefined) => {
        const start = Number(cursor ?? 0);
        return { items: items.slice(start, start + 1_000), nextCursor: start + 1_000 < items.length ? String(start + 1_000) : undefined };
      };
      const resources = Array.from({ length: 3_000 }, (_, i) => ({ uri: `file:///r/${i}`, name: `r${i}` }));
      const templates = Array.from({ length: 1_500 }, (_, i) => ({ uriTemplate: `file:///t/${i}/{x}`, name: `t${i}` }));
      s.setRequestHandler(ListResourcesRequestSchema, (request) => {
        const { items, nextCursor } = page(resources, request.params?.cursor);
        return { resources: items, ...(nextCursor ? { nextCursor } : {}) };
      });
      s.setRequestHandler(ListResourceTemplatesRequestSchema, (request) => {
        const { items, nextCursor } = page(templates, request.params?.cursor);
        return { resourceTemplates: items, ...(nextCursor ? { nextCursor } : {}) };
      });
      return s;
    });
    try {
      await apply(backendFixture({ name: 'files', url: server.url }));
      await expect.poll(async () => (await condition('mcpb', 'files', 'Discovered'))?.message ?? '', { timeout: 30_000 }).toContain(
        'The backend lists 4500 resources and resource templates; status.resources shows the first 4096.',
      );
      expect((await getJson('mcpb', 'files')).status.resources).toHaveLength(4096);
    } finally {
      await server.close();
    }
  }, 60_000);
});

describe('AgentSandbox naming a sidecar image the installation does not allow', () => {
  it('is not Ready, saying why, before its pods are refused (an upgrade moved the allowed image on)', async () => {
    await apply(documents(agentSandbox('pinned', ['openai'], { sidecar: { image: 'ghcr.io/airlock-dev/airlock-sidecar:0.0.9' } })));
    await expect.poll(() => condition('asbx', 'pinned', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'ImageNotAllowed' });
    expect((await condition('asbx', 'pinned', 'SidecarImageAllowed'))?.message).toContain('spec.sidecar.image ghcr.io/airlock-dev/airlock-sidecar:0.0.9 is not one of the sidecar images this installation allows');
    await kubectl().run(['delete', 'asbx', '-n', ns, 'pinned']);
  });

  it('is Ready again once it names none, the condition gone', async () => {
    await apply(documents(agentSandbox('repinned', ['openai'], { sidecar: { image: 'ghcr.io/airlock-dev/airlock-sidecar:0.0.9' } })));
    await expect.poll(() => condition('asbx', 'repinned', 'SidecarImageAllowed'), { timeout: 15_000 }).toMatchObject({ status: 'False' });
    await apply(documents(agentSandbox('repinned', ['openai'])));
    await expect.poll(() => condition('asbx', 'repinned', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    expect(await condition('asbx', 'repinned', 'SidecarImageAllowed')).toBeUndefined();
    await kubectl().run(['delete', 'asbx', '-n', ns, 'repinned']);
  });
});

describe('MCPBackends whose server never answers', () => {
  it('hold none of the workers every object is reconciled by: a new sandbox is rendered at once, and they say they are being listed', async () => {
    // Before: each discovery ran in a reconcile worker for the author's connectMs (up to 300 s);
    // four of them (--concurrency=4) stopped the operator's reconciling for every namespace.
    const sockets: Socket[] = [];
    const hanging = createNetServer((socket) => void sockets.push(socket.on('error', () => undefined)));
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/mcp`;
    try {
      await apply(documents(...[1, 2, 3, 4, 5].map((i) => mcpBackend({ name: `hanging-${i}`, url, spec: { timeouts: { connectMs: 300_000 } } }))));
      await expect.poll(() => sockets.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
      await apply(documents(agentSandbox('after-hanging', ['openai'])));
      await expect.poll(() => condition('asbx', 'after-hanging', 'ConfigRendered'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
      expect(await condition('mcpb', 'hanging-1', 'Discovered')).toMatchObject({ status: 'Unknown', reason: 'Discovering' });
      expect(await condition('mcpb', 'hanging-1', 'Ready')).toMatchObject({ status: 'Unknown', reason: 'Discovering' });
      // One namespace's discoveries run one at a time: the server never saw five at once.
      expect(sockets.length).toBe(1);
    } finally {
      await kubectl().run(['delete', 'mcpb', '-n', ns, ...[1, 2, 3, 4, 5].map((i) => `hanging-${i}`)]);
      await kubectl().run(['delete', 'asbx', '-n', ns, 'after-hanging']);
      for (const socket of sockets) socket.destroy();
      hanging.close();
    }
  }, 60_000);
});

describe('MCPBackend', () => {
  let backend: HttpBackend;

  beforeAll(async () => {
    backend = await startHttpBackend({ token: 'mcp-token-0123456789abcdef' });
  });

  afterAll(async () => {
    await backend?.close();
  });

  const tools = async () => ((await getJson('mcpb', 'remote'))?.status?.tools ?? []) as { name: string; sha256: string; state: string }[];

  it('lists the tools of an HTTP backend with their hashes, and tells a human how to approve the pending ones', async () => {
    await apply(
      backendFixture({
        name: 'remote',
        url: backend.url,
        authorization: { secret: 'mcp-token', key: 'token', value: 'Bearer mcp-token-0123456789abcdef' },
        spec: { approval: { mode: 'pinned', pinned: [{ name: 'whoami', sha256: 'a'.repeat(64) }] } },
      }),
    );
    await expect.poll(async () => (await tools()).map((t) => t.name), { timeout: 20_000 }).toEqual(['add', 'marker', 'slow', 'whoami']);
    const byName = Object.fromEntries((await tools()).map((t) => [t.name, t]));
    expect(byName.add).toMatchObject({ state: 'pending', sha256: expect.stringMatching(/^[a-f0-9]{64}$/) });
    expect(byName.whoami!.state).toBe('changed');
    const discovered = await condition('mcpb', 'remote', 'Discovered');
    expect(discovered).toMatchObject({ status: 'True', reason: 'ToolsPendingApproval' });
    expect(discovered!.message).toContain('kubectl patch mcpbackends.airlock.dev remote');
    const table = await kubectl().ok(['get', 'mcpb', 'remote', '-n', ns]);
    expect(table).toMatch(/remote\s+True\s+streamable-http\s+4\s+4\s+/);
    expect(JSON.stringify(await getJson('mcpb', 'remote'))).not.toContain('mcp-token-0123456789abcdef');
  });

  it('approves the tools once their hashes are pinned', async () => {
    const pins = (await tools()).map((t) => `{ name: ${t.name}, sha256: ${t.sha256} }`).join(', ');
    await kubectl().ok(['patch', 'mcpb', 'remote', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { approval: { mode: 'pinned', pinned: (await tools()).map((t) => ({ name: t.name, sha256: t.sha256 })) } } })]);
    expect(pins).toContain('whoami');
    await expect.poll(async () => (await tools()).map((t) => t.state), { timeout: 20_000 }).toEqual(['approved', 'approved', 'approved', 'approved']);
    expect((await getJson('mcpb', 'remote')).status.pendingCount).toBe(0);
  });
});
