/**
 * Two operators on a control plane of their own: only the leader reconciles, stopping it hands
 * leadership to the other well within 20 s and reconciliation goes on, and restarting the API
 * server (every watch broken) loses nothing.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { inject } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../controlplane/control-plane.js';
import { installCrds, kubectlFor, type Kubectl } from '../../controlplane/kubectl.js';
import { repoRoot } from './crds.js';
import { startTestOperator, until, type TestOperator } from './operator-harness.js';

let cp: ControlPlane;
let kubectl: Kubectl;
let a: TestOperator;
let b: TestOperator;
const ns = 'agents';

const sandbox = (name: string) => `apiVersion: airlock.dev/v1alpha1
kind: AgentSandbox
metadata: { name: ${name}, namespace: ${ns} }
spec:
  providers: [local]
`;
const rendered = async (name: string) => (await kubectl.run(['get', 'configmap', `airlock-${name}`, '-n', ns])).code === 0;
const reconciles = async (op: TestOperator) => {
  const text = await (await fetch(`http://127.0.0.1:${op.operator.healthPort}/metrics`)).text();
  return [...text.matchAll(/^airlock_operator_reconciles_total\{[^}]*result="ok"\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
};

beforeAll(async () => {
  cp = await startControlPlane({ binDir: inject('controlPlaneBin') });
  kubectl = kubectlFor(inject('controlPlaneBin'), cp.kubeconfigPath);
  await installCrds(kubectl, join(repoRoot, 'crds'));
  await kubectl.ok(['create', 'namespace', ns]);
  await kubectl.ok(['create', 'namespace', 'airlock-system']);
  await kubectl.ok(['apply', '-f', '-'], `apiVersion: airlock.dev/v1alpha1
kind: ModelProvider
metadata: { name: local, namespace: ${ns} }
spec: { type: ollama, models: [{ name: llama3.2 }] }
`);
  const common = { watchNamespace: ns, namespace: 'airlock-system', webhookConfigName: 'airlock-none' };
  a = await startTestOperator(cp.kubeConfig, { ...common, identity: 'operator-a' });
  b = await startTestOperator(cp.kubeConfig, { ...common, identity: 'operator-b' });
  await until(() => a.operator.isLeader || b.operator.isLeader, 'a leader', 20_000);
}, 120_000);

afterAll(async () => {
  await a?.operator.stop();
  await b?.operator.stop();
  await cp?.stop();
});

it('has exactly one leader, and only the leader reconciles', async () => {
  expect([a.operator.isLeader, b.operator.isLeader].filter(Boolean)).toHaveLength(1);
  await kubectl.ok(['apply', '-f', '-'], sandbox('first'));
  await expect.poll(() => rendered('first'), { timeout: 15_000 }).toBe(true);
  const [leader, follower] = a.operator.isLeader ? [a, b] : [b, a];
  expect(await reconciles(leader)).toBeGreaterThan(0);
  expect(await reconciles(follower)).toBe(0);
  const lease = JSON.parse(await kubectl.ok(['get', 'lease', 'airlock-operator', '-n', 'airlock-system', '-o', 'json']));
  expect(lease.spec.holderIdentity).toBe(leader.settings.identity);
});

it('hands leadership over within 20 s when the leader stops, and reconciliation continues', async () => {
  const [leader, follower] = a.operator.isLeader ? [a, b] : [b, a];
  const stopped = Date.now();
  await leader.operator.stop();
  await expect.poll(() => follower.operator.isLeader, { timeout: 20_000, interval: 100 }).toBe(true);
  const handover = Date.now() - stopped;
  console.log(`leadership handed over in ${handover} ms`);
  await kubectl.ok(['apply', '-f', '-'], sandbox('second'));
  await expect.poll(() => rendered('second'), { timeout: 15_000 }).toBe(true);
});

it('loses nothing when the API server restarts: a change made while the watches reconnect is reconciled', async () => {
  const follower = a.operator.isLeader ? a : b;
  await cp.restartApiServer();
  // Right after the restart the informers are still backing off; this change must not be lost.
  await kubectl.ok(['apply', '-f', '-'], sandbox('third'));
  await kubectl.ok(['patch', 'asbx', 'second', '-n', ns, '--type=merge', '-p', '{"spec":{"models":{"aliases":{"fast":"llama3.2"}}}}']);
  await expect.poll(() => rendered('third'), { timeout: 60_000 }).toBe(true);
  await expect
    .poll(async () => (parse(await kubectl.ok(['get', 'configmap', 'airlock-second', '-n', ns, '-o', 'jsonpath={.data.config\\.yaml}'])) as { models: { aliases: Record<string, string> } }).models.aliases.fast, { timeout: 60_000 })
    .toBe('llama3.2');
  expect(follower.logs.some((l) => l.includes('restarting the informer'))).toBe(true);
});
