/**
 * What a sandbox reports and renders beyond its keys, against a real API server: Ready=False
 * (NothingUsable) when nothing it names can serve an agent, a NetworkPolicy that also denies
 * inbound connections except to the sidecar's admin port from the configured scraper, and a
 * sidecar config whose admin port binds every pod address (host `pod`) and lists no MCP tools.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { agentSandbox, conditionOf, mcpBackend, operatorForNamespace, providerFixture } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { freePort, type TestOperator } from './operator-harness.js';

const SCRAPER = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { app: 'prometheus' } } };

let ns: string;
let opNs: string;
let test: TestOperator;
const getJson = async (kind: string, name: string) => {
  const result = await kubectl().run(['get', kind, name, '-n', ns, '-o', 'json']);
  return result.code === 0 ? JSON.parse(result.stdout) : undefined;
};
const condition = (kind: string, name: string, type: string) => conditionOf(ns, kind, name, type);

beforeAll(async () => {
  ({ ns, opNs, test } = await operatorForNamespace('sandbox', { sidecarMetricsFrom: JSON.stringify([SCRAPER]) }));
});

afterAll(async () => {
  await test?.operator.stop();
});

it('is Ready=False (NothingUsable) while its only provider and its only backend are not Ready', async () => {
  const dead = await freePort();
  await kubectl().ok(
    ['apply', '-n', ns, '-f', '-'],
    providerFixture(
      { name: 'local', type: 'openai-compatible', baseURL: `http://127.0.0.1:${dead}/v1`, models: ['m'], probe: true },
      mcpBackend({ name: 'tools', url: `http://127.0.0.1:${dead}/mcp` }),
      agentSandbox('stranded', ['local'], { mcpBackends: ['tools'] }),
    ),
  );
  await expect.poll(() => condition('mp', 'local', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'Unreachable' });
  await expect.poll(() => condition('mcpb', 'tools', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False' });
  await expect.poll(() => condition('asbx', 'stranded', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'NothingUsable' });
  expect((await condition('asbx', 'stranded', 'Ready'))!.message).toMatch(/^no provider or MCP backend it names is usable: ModelProvider local not Ready: .*connection refused/);
  expect(await condition('asbx', 'stranded', 'ConfigRendered')).toMatchObject({ status: 'True' });
});

it('renders a NetworkPolicy that denies inbound connections but the admin port from the operator (usage) and the scraper', async () => {
  await expect.poll(async () => (await getJson('networkpolicy', 'airlock-stranded'))?.spec?.policyTypes, { timeout: 15_000 }).toEqual(['Ingress', 'Egress']);
  const policy = await getJson('networkpolicy', 'airlock-stranded');
  const operator = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': opNs } } };
  expect(policy.spec.ingress).toEqual([{ from: [operator, SCRAPER], ports: [{ protocol: 'TCP', port: 9090 }] }]);
});

it('renders the sidecar admin port on every pod address, without the MCP tool view', async () => {
  const configMap = await getJson('configmap', 'airlock-stranded');
  expect(parse(configMap.data['config.yaml']).listen.admin).toEqual({ host: 'pod', port: 9090, tools: false });
});
