/**
 * One Airlock per cluster: `helm install` of a second release against a real API server stops
 * with a message naming the first, and creates nothing; the first release still upgrades (renamed
 * too), and
 * once it is uninstalled the other installs. Before, the second install went through: its webhook
 * refused the pods the first injected and the two operators rewrote each other's sandboxes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chartDir, helm } from '../../helm/helm.js';
import { SETUP_TIMEOUT_MS, startChartCluster, type ChartCluster } from './install.js';

let cluster: ChartCluster;
const run = (args: string[]) => helm([...args, chartDir], cluster.controlPlane.kubeconfigPath);

beforeAll(async () => {
  cluster = await startChartCluster();
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.controlPlane.stop();
});

it('refuses a second installation, names the first, and lets the first upgrade', async () => {
  const first = await run(['install', 'airlock', '-n', 'airlock-system', '--create-namespace']);
  expect(first.code, first.stderr).toBe(0);

  const second = await run(['install', 'other', '-n', 'other-system', '--create-namespace']);
  expect(second.code).not.toBe(0);
  expect(second.stderr).toContain('another Airlock installation already runs in this cluster: MutatingWebhookConfiguration airlock (release airlock in namespace airlock-system)');
  expect(second.stderr).toContain('helm upgrade airlock -n airlock-system');
  // Nothing of the second was created: no webhook, no policy, no operator.
  const webhooks = await cluster.kubectl.ok(['get', 'mutatingwebhookconfigurations', '-o', 'name']);
  expect(webhooks.trim().split('\n')).toEqual(['mutatingwebhookconfiguration.admissionregistration.k8s.io/airlock']);
  expect(await cluster.kubectl.ok(['get', 'deployments', '-n', 'other-system', '-o', 'name'])).toBe('');
  expect(await cluster.kubectl.ok(['get', 'validatingadmissionpolicies', '-o', 'name'])).not.toContain('other');

  // The same release upgrades as before, renamed too (its webhook configuration then has the old name).
  const upgrade = await run(['upgrade', 'airlock', '-n', 'airlock-system', '--reuse-values']);
  expect(upgrade.code, upgrade.stderr).toBe(0);
  const renamed = await run(['upgrade', 'airlock', '-n', 'airlock-system', '--set', 'fullnameOverride=gate']);
  expect(renamed.code, renamed.stderr).toBe(0);
  expect((await cluster.kubectl.ok(['get', 'mutatingwebhookconfigurations', '-o', 'name'])).trim()).toBe('mutatingwebhookconfiguration.admissionregistration.k8s.io/gate');

  // Gone, the other one installs.
  expect((await helm(['uninstall', 'airlock', '-n', 'airlock-system'], cluster.controlPlane.kubeconfigPath)).code).toBe(0);
  const after = await run(['install', 'other', '-n', 'other-system', '--create-namespace']);
  expect(after.code, after.stderr).toBe(0);
});
