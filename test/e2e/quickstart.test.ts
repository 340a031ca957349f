/**
 * The whole path on one machine: examples/quickstart applied to a real API server, the operator
 * renders the sandbox, the webhook mutates a labelled pod, and that pod runs as the kubelet would
 * run it (its volumes materialised and kept in sync, the firewall init container, the native
 * sidecar gated by its startup probe, then the agent). The agent uses the OpenAI SDK and an MCP
 * client through the socket, against the OpenAI-format mock and the real "everything" MCP server.
 * Then the sandbox and the provider key change, and the running sidecar follows without a restart.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { sharedKubeConfig } from '../controlplane/context.js';
import { freshNamespace, installCrds } from '../integration/kube/crds.js';
import { kubectl } from '../integration/kube/kubectl.js';
import { until } from '../integration/kube/operator-harness.js';
import { startMock, type MockProvider } from '../mocks/index.js';
import { hostCommand, repoRoot, runPod, sourceImages, type RunningPod, type SourceImages } from './kubelet/index.js';
import { AgentSession, agentPod, condition, quickstartManifests, SANDBOX, startOperatorWithWebhook, webhookActive } from './scenario.js';

const KEY = 'sk-e2e-quickstart-key-000000000001';
const ROTATED = 'sk-e2e-quickstart-key-000000000002';
const SIDECAR_IMAGE = 'registry.test/airlock-sidecar:e2e';
const AGENT_IMAGE = 'registry.test/e2e-agent:1';

let kubeConfig: KubeConfig;
let ns: string;
let mock: MockProvider;
let operator: Awaited<ReturnType<typeof startOperatorWithWebhook>>;
let images: SourceImages;
let imagesDir: string;
let stored: V1Pod;
let pod: RunningPod;
let agent: AgentSession;
const events: string[] = [];

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the local e2e runs pods in namespaces of their own and needs root (CI and these machines are)');
  kubeConfig = sharedKubeConfig();
  await installCrds();
  ns = await freshNamespace('e2e');
  const operatorNs = await freshNamespace('airlock-system');
  mock = await startMock('openai', { keys: [KEY, ROTATED] });
  operator = await startOperatorWithWebhook(kubeConfig, ns, operatorNs, SIDECAR_IMAGE);

  await kubectl().ok(['apply', '-n', ns, '-f', '-'], await quickstartManifests({ spec: { baseURL: mock.url }, apiKey: KEY }));
  await until(async () => (await condition(kubeConfig, ns, 'agentsandboxes', SANDBOX, 'Ready'))?.status === 'True', 'AgentSandbox quickstart to be Ready', 30_000);
  await webhookActive(kubeConfig, ns);

  const core = kubeConfig.makeApiClient(CoreV1Api);
  stored = await core.createNamespacedPod({ namespace: ns, body: agentPod(ns, 'sdk-agent', AGENT_IMAGE) });

  imagesDir = await mkdtemp(join(tmpdir(), 'airlock-e2e-images-'));
  images = await sourceImages(imagesDir);
  const agentImage = await images.agent(new URL('./agent.ts', import.meta.url).pathname, 'e2e-agent');
  pod = await runPod(stored, {
    kubeConfig,
    images: (image) => (image === SIDECAR_IMAGE ? images.sidecar : image === AGENT_IMAGE ? agentImage : assertNever(image)),
    network: { forwardPorts: [mock.port] },
    stdin: ['agent'],
    syncIntervalMs: 300,
    onEvent: (event) => events.push(event),
  });
  agent = new AgentSession(pod.container('agent'));
}, 180_000);

afterAll(async () => {
  await pod?.stop();
  await operator?.stop();
  await mock?.close();
  if (imagesDir) await rm(imagesDir, { recursive: true, force: true });
});

function assertNever(image: string): never {
  throw new Error(`no image ${image} here`);
}

describe('the pod as the webhook stored it', () => {
  it('carries the firewall, the native sidecar and the socket, and runs them in that order', () => {
    expect(stored.spec?.initContainers?.map((c) => c.name)).toEqual(['airlock-firewall', 'airlock-sidecar']);
    const sidecar = stored.spec!.initContainers![1]!;
    expect(sidecar).toMatchObject({ image: SIDECAR_IMAGE, restartPolicy: 'Always', command: ['airlock-sidecar', 'run', '--config', '/etc/airlock/config/config.yaml'] });
    expect(stored.spec?.containers[0]?.env).toContainEqual({ name: 'AIRLOCK_SOCKET', value: '/var/run/airlock/airlock.sock' });
    expect(events.filter((e) => e.startsWith('init container') || e.startsWith('container '))).toEqual([
      expect.stringMatching(/^container airlock-firewall: started/),
      'init container airlock-firewall: completed',
      expect.stringMatching(/^container airlock-sidecar: started .* as uid 61337$/),
      'container airlock-sidecar: started (native sidecar), startup probe passed',
      expect.stringMatching(/^container agent: started .* as uid 1000$/),
    ]);
  });

  it('runs the sidecar as its securityContext says, with the kubelet layout of its volumes', async () => {
    const script = 'id -u; touch /probe 2>/dev/null && echo root-writable || echo root-read-only; ls -A /etc/airlock/config /etc/airlock/credentials; readlink /etc/airlock/config/config.yaml';
    const { code, stdout } = await pod.exec('airlock-sidecar', ['sh', '-c', script]);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['61337', 'root-read-only']);
    expect(stdout).toMatch(/\/etc\/airlock\/config:\n\.\.2\d{3}_\d\d_\d\d_[\d_.]+\n\.\.data\nconfig\.yaml\n/);
    expect(stdout).toMatch(/\/etc\/airlock\/credentials:\n\.\.2[\d_.]+\n\.\.data\nprovider\.openai\.0\n/);
    expect(lines.at(-1)).toBe('..data/config.yaml');
  });

  it('admits the pod of examples/quickstart/agent and the kind e2e mock as they are written', async () => {
    const dry = await kubectl().ok(['create', '--dry-run=server', '-n', ns, '-f', join(repoRoot, 'examples/quickstart/agent/agent.yaml'), '-o', 'json']);
    const admitted = JSON.parse(dry) as V1Pod;
    expect(admitted.spec?.initContainers?.map((c) => c.name)).toEqual(['airlock-firewall', 'airlock-sidecar']);
    expect(admitted.spec?.containers[0]?.securityContext).toMatchObject({ allowPrivilegeEscalation: false });
    const mock = (await readFile(join(repoRoot, 'test/e2e/kind/mock.yaml'), 'utf8')).replace('__MOCK_IMAGE__', 'airlock-e2e-mock:e2e').replace('__MOCK_KEYS__', 'sk-kind');
    await kubectl().ok(['apply', '--dry-run=server', '-n', ns, '-f', '-'], mock);
  });

  it('has the firewall in its own network namespace, none on the host', async () => {
    const [nsenter, save] = [hostCommand('nsenter'), hostCommand('iptables-nft-save')];
    const { stdout } = await promisify(execFile)(nsenter, [`--net=/proc/${pod.container('airlock-sidecar').pid}/ns/net`, '--', save, '-t', 'filter']);
    expect(stdout).toContain('-A OUTPUT -j AIRLOCK_OUTPUT');
    expect(stdout).toMatch(/-A AIRLOCK_OUTPUT -m owner --uid-owner 61337 -j ACCEPT/);
    const host = await promisify(execFile)(save, ['-t', 'filter']).catch(() => ({ stdout: '' }));
    expect(host.stdout).not.toContain('AIRLOCK_OUTPUT');
  });
});

describe('the agent through the socket', () => {
  it('lists the sandbox models and chats with the OpenAI SDK; the sidecar adds the key', async () => {
    const models = await agent.send<{ models: string[] }>({ op: 'models' });
    expect(models.models).toEqual(expect.arrayContaining(['gpt-4o-mini', 'gpt-4o', 'fast']));
    const before = mock.received.length;
    const chat = await agent.send<{ content: string }>({ op: 'chat', model: 'fast', content: 'hello from the agent' });
    expect(chat).toMatchObject({ ok: true, content: 'echo: hello from the agent' });
    const upstream = mock.received.slice(before).find((r) => r.path === '/v1/chat/completions');
    expect(upstream?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(upstream?.body).toMatchObject({ model: 'gpt-4o-mini' });
  });

  it('holds no key: no credentials mounted, none in its environment', async () => {
    const look = await agent.send<{ exists: Record<string, boolean>; env: string[] }>({ op: 'look', paths: ['/etc/airlock/credentials', '/etc/airlock/config', '/var/run/airlock/airlock.sock'] });
    expect(look.exists).toEqual({ '/etc/airlock/credentials': false, '/etc/airlock/config': false, '/var/run/airlock/airlock.sock': true });
    expect(look.env).toContain('AIRLOCK_SOCKET');
    expect(JSON.stringify(pod.container('agent').env)).not.toContain(KEY);
    expect(JSON.stringify(pod.container('airlock-sidecar').env)).not.toContain(KEY);
  });

  it('uses the MCP tools the sandbox allows, from the real server behind the sidecar', async () => {
    await expect
      .poll(async () => (await agent.send<{ tools: string[] }>({ op: 'tools' })).tools, { timeout: 30_000 })
      .toEqual(expect.arrayContaining(['everything__echo', 'everything__get-sum']));
    const names = (await agent.send<{ tools: string[] }>({ op: 'tools' })).tools.filter((n) => n.startsWith('everything__'));
    expect(names.sort()).toEqual(['everything__echo', 'everything__get-sum']);
    expect(await agent.send({ op: 'call', name: 'everything__get-sum', arguments: { a: 2, b: 40 } })).toMatchObject({ ok: true, text: expect.stringContaining('42') });
  });

  it('answers curl --unix-socket and a plain-curl MCP session (what the README and the kind e2e run)', async () => {
    hostCommand('curl');
    const socket = '/var/run/airlock/airlock.sock';
    const models = await pod.exec('agent', ['curl', '-sS', '--fail-with-body', '--unix-socket', socket, 'http://airlock/v1/models']);
    expect(models.stdout).toContain('"fast"');
    const chat = await pod.exec('agent', ['curl', '-sS', '--unix-socket', socket, 'http://airlock/v1/chat/completions', '-H', 'content-type: application/json', '-d', '{"model":"fast","messages":[{"role":"user","content":"hello from curl"}]}']);
    expect(chat.stdout).toContain('echo: hello from curl');
    const session = await pod.exec('agent', ['sh', '-s'], { stdin: await readFile(join(repoRoot, 'test/e2e/kind/mcp-session.sh'), 'utf8') });
    expect(session.stderr).toBe('');
    expect(session.stdout).toContain('everything__echo');
    expect(session.stdout).toContain('The sum of 19 and 23 is 42');
  });

  it('runs a tool loop: the model asks for a tool, the agent calls it over MCP, the model answers', async () => {
    mock.script({ toolCalls: [{ name: 'everything__echo', arguments: { message: 'ping through the airlock' } }] });
    const result = await agent.send<{ content: string; steps: { tool: string; result: string }[] }>({ op: 'agent', model: 'fast', prompt: 'echo something', tools: ['everything__echo'] });
    expect(result.steps).toEqual([expect.objectContaining({ tool: 'everything__echo', result: expect.stringContaining('ping through the airlock') })]);
    expect(result.content).toContain('tool result:');
  });
});

describe('changes reach the running sidecar without a restart', () => {
  it('a model taken out of the sandbox disappears for the agent (ConfigMap -> ..data swap -> reload)', async () => {
    const sidecar = pod.container('airlock-sidecar');
    const updatesBefore = pod.volumes.updates;
    await kubectl().ok(['patch', 'agentsandbox', SANDBOX, '-n', ns, '--type', 'json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/models', value: { allow: ['gpt-4o-mini'] } }])]);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await expect.poll(async () => parse((await core.readNamespacedConfigMap({ namespace: ns, name: `airlock-${SANDBOX}` })).data!['config.yaml']!).models, { timeout: 15_000 }).toEqual({ allow: ['gpt-4o-mini'], aliases: {} });

    await expect.poll(async () => (await agent.send<{ models: string[] }>({ op: 'models' })).models, { timeout: 20_000 }).toEqual(['gpt-4o-mini']);
    expect(await agent.send({ op: 'chat', model: 'fast', content: 'still there?' })).toMatchObject({ ok: false, status: 404 });
    expect(await agent.send({ op: 'chat', model: 'gpt-4o', content: 'and you?' })).toMatchObject({ ok: false, status: 404 });
    expect(await agent.send({ op: 'chat', model: 'gpt-4o-mini', content: 'allowed' })).toMatchObject({ ok: true, content: 'echo: allowed' });
    expect(pod.volumes.updates).toBeGreaterThan(updatesBefore);
    expect(sidecar.exitCode).toBeUndefined();
    expect(sidecar.logs.some((line) => line.includes('config reloaded'))).toBe(true);
  });

  it('a rotated provider key reaches the sidecar through the credentials Secret', async () => {
    await kubectl().ok(['apply', '-n', ns, '-f', '-'], `apiVersion: v1\nkind: Secret\nmetadata: { name: openai-key, labels: { airlock.dev/credential: "true" } }\nstringData: { api-key: ${ROTATED} }\n`);
    await expect
      .poll(
        async () => {
          const before = mock.received.length;
          await agent.send({ op: 'chat', model: 'gpt-4o-mini', content: 'which key?' });
          return mock.received.slice(before).find((r) => r.path === '/v1/chat/completions')?.headers.authorization;
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(`Bearer ${ROTATED}`);
    expect(pod.container('airlock-sidecar').exitCode).toBeUndefined();
    expect(pod.container('airlock-sidecar').logs.join('\n')).not.toContain(ROTATED);
  });
});

describe('shutdown', () => {
  it('stops the agent, then the sidecar, which finishes cleanly on SIGTERM', async () => {
    const sidecar = pod.container('airlock-sidecar');
    await pod.stop();
    expect(await sidecar.exited).toBe(0);
  });
});
