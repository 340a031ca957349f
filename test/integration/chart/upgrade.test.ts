/**
 * `helm upgrade` to a new sidecar image against a real API server. The old operator replicas keep
 * answering the webhook until the new ones are ready (maxUnavailable 0), and inject the old image.
 * Before, helm replaced the finished-pod policy at once with one allowing only the new image, so
 * the API server refused every sandbox pod an old replica injected, blaming "another mutating
 * webhook" (the platform outsider's repro). Now the policy keeps taking the image the replaced
 * release's Deployment and any operator pod still running inject; an AgentSandbox still may not
 * name it.
 */
import { expect, it } from 'vitest';
import { until } from '../kube/operator-harness.js';
import { chartClusterForFile, helmChart } from './install.js';

const REPOSITORY = 'registry.local/airlock-sidecar';
const TEAM = 'team-a';
const chartCluster = chartClusterForFile();
/** Installs the release with the sidecar image tagged `tag`, or upgrades it to that tag. */
const upgrade = async (verb: 'install' | 'upgrade', tag: string) => {
  const result = await helmChart(chartCluster(), verb, 'airlock', 'airlock-system', [
    ...(verb === 'install' ? ['--set', `sidecar.image.repository=${REPOSITORY}`] : ['--reuse-values']),
    '--set',
    `sidecar.image.tag=${tag}`,
  ]);
  expect(result.code, result.stderr).toBe(0);
  // No operator runs here, and the webhook would refuse every labelled pod. The pods below stand
  // for what a replica injected; the finished-pod policy is what is tested.
  await chartCluster().kubectl.ok(['delete', 'mutatingwebhookconfiguration', 'airlock', '--ignore-not-found']);
};

/** A sandbox pod as an operator injecting `image` leaves it: the firewall init container, root with NET_ADMIN. */
const injectedBy = (image: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'agent', labels: { 'airlock.dev/sandbox': 'quickstart' } },
  spec: {
    initContainers: [{ name: 'airlock-firewall', image, securityContext: { runAsUser: 0, runAsNonRoot: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } } }],
    containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1' }],
  },
});
const admit = (image: string) => chartCluster().kubectl.run(['create', '-n', TEAM, '--dry-run=server', '-f', '-'], JSON.stringify(injectedBy(image)));

/** Waits until the API server's policy admits the pod `image` injects (it reloads policies in the background). */
async function admitted(image: string): Promise<void> {
  await until(async () => (await admit(image)).code === 0, `a pod injected with ${image} admitted`);
}

it('keeps admitting the pods the replaced release injects, and lets no AgentSandbox name its image', async () => {
  const { kubectl } = chartCluster();
  await upgrade('install', 'old');
  await upgrade('upgrade', 'new');
  await kubectl.ok(['create', 'namespace', TEAM]);

  await admitted(`${REPOSITORY}:new`);
  const old = await admit(`${REPOSITORY}:old`);
  expect(old.code, old.stderr).toBe(0);
  const other = await admit(`${REPOSITORY}:other`);
  expect(other.code).not.toBe(0);
  expect(other.stderr).toContain("ValidatingAdmissionPolicy 'airlock-sandbox-pod'");
  expect(other.stderr).toContain(`airlock-firewall (${REPOSITORY}:other) has Airlock's name but none of the sidecar images this installation allows (${REPOSITORY}:new, ${REPOSITORY}:old)`);

  // What an AgentSandbox may name is the values' list only: the old image is not pinned again.
  const sandbox = { apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'pinned' }, spec: { providers: ['openai'], sidecar: { image: `${REPOSITORY}:old` } } };
  const pinned = await kubectl.run(['create', '-n', TEAM, '--dry-run=server', '-f', '-'], JSON.stringify(sandbox));
  expect(pinned.code).not.toBe(0);
  expect(pinned.stderr).toContain(`spec.sidecar.image: ${REPOSITORY}:old is not one of the sidecar images this installation allows`);
});

it('keeps the image of an operator pod still running from an unfinished rollout, and drops what none runs', async () => {
  const { kubectl } = chartCluster();
  // A replica of `old` still up (the rollout to `new` never finished: `new` did not pull, say).
  const replica = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'airlock-old-aaaaa',
      labels: { 'app.kubernetes.io/name': 'airlock', 'app.kubernetes.io/instance': 'airlock', 'app.kubernetes.io/component': 'operator' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'airlock-6d9f8c7b5', uid: '3f1c2d4e-0000-4000-8000-000000000001', controller: true }],
    },
    spec: { serviceAccountName: 'airlock', containers: [{ name: 'operator', image: 'registry.local/airlock-operator:old', args: [`--sidecar-image=${REPOSITORY}:old`, '--sidecar-uid=61337'] }] },
  };
  await kubectl.ok(['create', '-n', 'airlock-system', '-f', '-'], JSON.stringify(replica));
  // One that only wears the operator's labels (whoever may create a pod in the release namespace): its image is not taken (red team 23).
  const forged = {
    ...replica,
    metadata: { name: 'airlock-forged', labels: replica.metadata.labels },
    spec: { containers: [{ name: 'operator', image: 'registry.local/airlock-operator:old', args: [`--sidecar-image=${REPOSITORY}:forged`] }] },
  };
  await kubectl.ok(['create', '-n', 'airlock-system', '-f', '-'], JSON.stringify(forged));
  await upgrade('upgrade', 'fixed');
  await admitted(`${REPOSITORY}:fixed`);
  for (const image of ['old', 'new']) {
    const result = await admit(`${REPOSITORY}:${image}`);
    expect(result.code, `${image}: ${result.stderr}`).toBe(0);
  }
  expect((await admit(`${REPOSITORY}:forged`)).code).not.toBe(0);
  await kubectl.ok(['delete', 'pod', '-n', 'airlock-system', forged.metadata.name, '--wait=false']);

  // Once that replica is gone and the rollout is done, the next upgrade keeps only what runs.
  await kubectl.ok(['delete', 'pod', '-n', 'airlock-system', replica.metadata.name, '--wait=false']);
  await upgrade('upgrade', 'final');
  await admitted(`${REPOSITORY}:final`);
  await until(async () => (await admit(`${REPOSITORY}:old`)).code !== 0, 'the image no replica injects refused');
  expect((await admit(`${REPOSITORY}:fixed`)).code).toBe(0);
});
