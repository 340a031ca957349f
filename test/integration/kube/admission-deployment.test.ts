/**
 * Sandbox pods made by a Deployment, with the real Deployment and ReplicaSet controllers of
 * kube-controller-manager against the same API server, the chart's webhook configuration and
 * RBAC: pods created with generateName (no name yet at admission) are injected, a template
 * change rolls out injected pods of a new ReplicaSet, and the controllers' own pod UPDATEs
 * (releasing a pod from its ReplicaSet) pass the webhook that now sees every UPDATE.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBinaries } from '../../controlplane/control-plane.js';
import { SupervisedProcess } from '../../controlplane/supervised-process.js';
import { SETUP_TIMEOUT_MS } from '../chart/install.js';
import { SANDBOX, startAdmissionCluster, TEAM, type AdmissionCluster } from './admission-cluster.js';

let env: AdmissionCluster;
let controllerManager: SupervisedProcess | undefined;

interface Pod {
  metadata: { name: string; generateName?: string; labels: Record<string, string>; ownerReferences?: { kind: string; name: string }[] };
  spec: { initContainers?: { name: string }[]; containers: { name: string; env?: { name: string; value?: string }[] }[] };
}

const podsOf = async (selector: string): Promise<Pod[]> => (await env.getJson(['pods', '-l', selector])).items;
const injected = (pod: Pod) => (pod.spec.initContainers ?? []).map((c) => c.name).join(',') === 'airlock-firewall,airlock-tools,airlock-sidecar';

beforeAll(async () => {
  env = await startAdmissionCluster();
  // Built once per machine by build.sh at the API server's version (minutes when not cached; a
  // failure names what is missing, e.g. Go).
  const binary = join((await ensureBinaries({ names: ['kube-controller-manager'] })).dir, 'kube-controller-manager');
  // Only the two controllers under test: no scheduler, so the pods stay Pending, which is all
  // admission needs.
  controllerManager = await SupervisedProcess.start('kube-controller-manager', binary, [
    `--kubeconfig=${env.cluster.controlPlane.kubeconfigPath}`,
    '--controllers=deployment-controller,replicaset-controller',
    '--use-service-account-credentials=false',
    '--leader-elect=false',
    '--secure-port=0',
  ], join(env.cluster.controlPlane.dir, 'kube-controller-manager.log'));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await controllerManager?.stop();
  await env?.stop();
});

describe('a Deployment of sandbox pods', () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'agents' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'agents' } },
      template: {
        metadata: { labels: { app: 'agents', 'airlock.dev/sandbox': SANDBOX } },
        spec: { containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1' }] },
      },
    },
  };

  it('gets its generateName pods injected by the ReplicaSet controller', async () => {
    const created = await env.kubectl.run(['create', '-n', TEAM, '-f', '-'], JSON.stringify(deployment));
    expect(created.code, created.stderr).toBe(0);
    await expect.poll(async () => (await podsOf('app=agents')).length, { timeout: 30_000 }).toBe(2);
    for (const pod of await podsOf('app=agents')) {
      expect(pod.metadata.generateName).toMatch(/^agents-[a-z0-9]+-$/);
      expect(pod.metadata.name.startsWith(pod.metadata.generateName!)).toBe(true);
      expect(injected(pod), pod.metadata.name).toBe(true);
    }
  });

  it('rolls a template change out as injected pods of a new ReplicaSet', async () => {
    const before = new Set((await podsOf('app=agents')).map((p) => p.metadata.labels['pod-template-hash']));
    const changed = await env.kubectl.run(['set', 'env', '-n', TEAM, 'deployment/agents', 'MODEL=gpt-4o-mini']);
    expect(changed.code, changed.stderr).toBe(0);
    // No scheduler: the new pods never become available, so the rollout stops at the surge pod.
    const fresh = async () => (await podsOf('app=agents')).filter((p) => !before.has(p.metadata.labels['pod-template-hash']!));
    await expect.poll(async () => (await fresh()).length, { timeout: 30_000 }).toBeGreaterThan(0);
    for (const pod of await fresh()) {
      expect(injected(pod), pod.metadata.name).toBe(true);
      expect(pod.spec.containers.find((c) => c.name === 'agent')?.env).toContainEqual({ name: 'MODEL', value: 'gpt-4o-mini' });
    }
  });

  it("admits the ReplicaSet controller's own UPDATE when it releases a pod, and injects the replacement", async () => {
    const [victim] = await podsOf('app=agents');
    const owner = victim!.metadata.ownerReferences?.find((o) => o.kind === 'ReplicaSet')?.name;
    expect(owner).toBeDefined();
    const countOf = async () => (await podsOf(`app=agents,pod-template-hash=${victim!.metadata.labels['pod-template-hash']}`)).length;
    const replicas = await countOf();
    // Out of the selector: the controller removes its ownerReference (a pod UPDATE through the webhook).
    expect((await env.kubectl.run(['label', 'pod', '-n', TEAM, victim!.metadata.name, 'app=detached', '--overwrite'])).code).toBe(0);
    await expect.poll(async () => ((await env.getJson(['pod', victim!.metadata.name])).metadata.ownerReferences ?? []).length, { timeout: 30_000 }).toBe(0);
    await expect.poll(countOf, { timeout: 30_000 }).toBe(replicas);
    for (const pod of await podsOf(`app=agents,pod-template-hash=${victim!.metadata.labels['pod-template-hash']}`)) expect(injected(pod), pod.metadata.name).toBe(true);
    // The released pod keeps its sandbox label: it is still a sandbox pod, guarded as one.
    expect((await env.getJson(['pod', victim!.metadata.name])).metadata.labels['airlock.dev/sandbox']).toBe(SANDBOX);
  });
});
