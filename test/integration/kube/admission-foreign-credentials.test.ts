/**
 * The webhook's credentials check on a real API server (ADR 29: the sidecar reads its config and
 * keys from Secret airlock-<sandbox>-credentials). Someone who may create Secrets makes one under
 * a sandbox's name before the operator has rendered it: while it is there, no pod of the sandbox
 * is admitted, whether it has no owner reference, one naming the sandbox but not as controller, or
 * one naming it as controller with another uid; the refusal names the Secret. Once it is gone and
 * the operator has written its own, the pod is admitted.
 *
 * The operator here does not lead until the test lets it (another identity holds the Lease): every
 * replica serves the webhook, only the leader renders, so this is the window in which the sandbox's
 * ConfigRendered does not yet say NameConflict and the Secret itself is all the webhook can judge.
 * An unlabelled Secret is not in the operator's cache (read by name from the API server); one
 * carrying the operator's label is (read from the cache).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MANAGED_BY } from '../../../operator/src/kube/credentials.js';
import { freshNamespace, installCrds } from './crds.js';
import { agentSandbox, conditionOf, documents, providerFixture, sandboxPod } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { freePort, registerWebhook, startTestOperator, until, type TestOperator } from './operator-harness.js';

const SECRET = 'airlock-x-credentials';
const REFUSED = `Secret ${SECRET} exists and is not AgentSandbox x's`;
const webhookName = `airlock-foreign-${Math.random().toString(36).slice(2, 8)}`;

let ns: string;
let opNs: string;
let test: TestOperator;
let uid: string;
let pods = 0;

const run = (args: string[], input?: string) => kubectl().run(['-n', ns, ...args], input);
/** Creates a fresh pod of sandbox x; the result of kubectl create. */
const createPod = () => run(['create', '-f', '-'], documents(sandboxPod(`agent-${++pods}`, 'x')));
/** Puts Secret airlock-x-credentials in place as an admin would, with `metadata` over its name. */
const foreignSecret = async (metadata: Record<string, unknown>) => {
  const made = await run(['create', '-f', '-'], documents({ apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET, ...metadata }, stringData: { 'config.yaml': 'version: 1\n' } }));
  expect(made.code, made.stderr).toBe(0);
};
const deleteSecret = async () => expect((await run(['delete', 'secret', SECRET, '--wait'])).code).toBe(0);

beforeAll(async () => {
  const kc = new KubeConfig();
  kc.loadFromString(inject('kubeconfig'));
  await installCrds();
  ns = await freshNamespace('foreign');
  opNs = await freshNamespace('airlock-system');
  // Someone else leads for now, so the operator renders nothing until the test says.
  const renewTime = new Date().toISOString().replace('Z', '000Z');
  await kubectl().ok(['apply', '-n', opNs, '-f', '-'], documents({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'airlock-operator' }, spec: { holderIdentity: 'someone-else', leaseDurationSeconds: 3600, acquireTime: renewTime, renewTime } }));
  test = await startTestOperator(kc, { webhookConfigName: webhookName, identity: 'operator-foreign', watchNamespace: ns, namespace: opNs });
  await registerWebhook(kc, webhookName, test.operator.webhookPort, ns);
  await until(async () => (await kubectl().run(['get', 'mutatingwebhookconfiguration', webhookName, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'])).stdout.length > 0, 'the caBundle');
  const dead = await freePort();
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], providerFixture({ name: 'p', type: 'openai-compatible', baseURL: `http://127.0.0.1:${dead}/v1`, models: ['m'], key: { secret: 'p-key', key: 'apiKey', value: 'sk-provider-key-7c1e4a' } }, agentSandbox('x', ['p'])));
  uid = (await run(['get', 'asbx', 'x', '-o', 'jsonpath={.metadata.uid}'])).stdout.trim();
  expect(uid).not.toBe('');
}, 120_000);

afterAll(async () => {
  await test?.operator.stop();
  await kubectl().run(['delete', 'mutatingwebhookconfiguration', webhookName]);
});

describe("a credentials Secret someone else made before the operator rendered the sandbox's", () => {
  const owner = (reference: { uid: string; controller: boolean }) => ({ ownerReferences: [{ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', name: 'x', blockOwnerDeletion: false, ...reference }] });
  const cases: [string, () => Record<string, unknown>][] = [
    ['with no owner reference (read by name)', () => ({})],
    ['with an owner reference naming the sandbox, not as controller', () => owner({ uid, controller: false })],
    ['with a controller owner reference naming the sandbox with another uid', () => owner({ uid: '6f1b2c3d-0000-4000-8000-000000000001', controller: true })],
    ["labelled as the operator's, with no owner reference (read from the cache)", () => ({ labels: { ...MANAGED_BY } })],
  ];

  it.each(cases)('%s: no pod of the sandbox is admitted, and the refusal names the Secret', async (_, metadata) => {
    expect(test.operator.isLeader).toBe(false);
    await foreignSecret(metadata());
    try {
      // The cache may take a moment to see a labelled Secret; until then it is read by name, with the same answer.
      const refused = await createPod();
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('admission webhook "pods.airlock.dev" denied the request');
      expect(refused.stderr).toContain(REFUSED);
    } finally {
      await deleteSecret();
    }
  });

  it('once it is gone and the operator has written its own, the pod is admitted', async () => {
    await foreignSecret({});
    expect((await createPod()).stderr).toContain(REFUSED);
    await deleteSecret();
    await kubectl().ok(['delete', 'lease', 'airlock-operator', '-n', opNs]);
    await until(() => test.operator.isLeader, 'the operator to lead', 20_000);
    await expect.poll(() => conditionOf(ns, 'asbx', 'x', 'ConfigRendered'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    const own = JSON.parse(await run(['get', 'secret', SECRET, '-o', 'json']).then((r) => r.stdout)) as { metadata: { ownerReferences?: { uid: string; controller?: boolean }[] } };
    expect(own.metadata.ownerReferences).toContainEqual(expect.objectContaining({ uid, controller: true }));
    const admitted = await createPod();
    expect(admitted.code, admitted.stderr).toBe(0);
    const pod = JSON.parse((await run(['get', 'pod', `agent-${pods}`, '-o', 'json'])).stdout) as { spec: { volumes?: { secret?: { secretName?: string } }[] } };
    expect(pod.spec.volumes?.map((v) => v.secret?.secretName)).toContain(SECRET);
  });
});
