/**
 * One Airlock per cluster: `helm install` of a second release against a real API server stops
 * with a message naming the first, and creates nothing; the first release still upgrades (renamed
 * too), and
 * once it is uninstalled the other installs. Before, the second install went through: its webhook
 * refused the pods the first injected and the two operators rewrote each other's sandboxes.
 */
import { expect, it } from 'vitest';
import { helm } from '../../helm/helm.js';
import { chartClusterForFile, helmChart } from './install.js';

const chartCluster = chartClusterForFile();

it('refuses a second installation, names the first, and lets the first upgrade', async () => {
  const cluster = chartCluster();
  const first = await helmChart(cluster, 'install', 'airlock', 'airlock-system');
  expect(first.code, first.stderr).toBe(0);

  const second = await helmChart(cluster, 'install', 'other', 'other-system');
  expect(second.code).not.toBe(0);
  expect(second.stderr).toContain('another Airlock installation already runs in this cluster: MutatingWebhookConfiguration airlock (release airlock in namespace airlock-system)');
  expect(second.stderr).toContain('helm upgrade airlock -n airlock-system');
  // Nothing of the second was created: no webhook, no policy, no operator.
  const webhooks = await cluster.kubectl.ok(['get', 'mutatingwebhookconfigurations', '-o', 'name']);
  expect(webhooks.trim().split('\n')).toEqual(['mutatingwebhookconfiguration.admissionregistration.k8s.io/airlock']);
  expect(await cluster.kubectl.ok(['get', 'deployments', '-n', 'other-system', '-o', 'name'])).toBe('');
  expect(await cluster.kubectl.ok(['get', 'validatingadmissionpolicies', '-o', 'name'])).not.toContain('other');

  // The same release upgrades as before, renamed too (its webhook configuration then has the old name).
  const upgrade = await helmChart(cluster, 'upgrade', 'airlock', 'airlock-system', ['--reuse-values']);
  expect(upgrade.code, upgrade.stderr).toBe(0);
  const renamed = await helmChart(cluster, 'upgrade', 'airlock', 'airlock-system', ['--set', 'fullnameOverride=gate']);
  expect(renamed.code, renamed.stderr).toBe(0);
  expect((await cluster.kubectl.ok(['get', 'mutatingwebhookconfigurations', '-o', 'name'])).trim()).toBe('mutatingwebhookconfiguration.admissionregistration.k8s.io/gate');

  // Gone, the other one installs.
  expect((await helm(['uninstall', 'airlock', '-n', 'airlock-system'], cluster.controlPlane.kubeconfigPath)).code).toBe(0);
  const after = await helmChart(cluster, 'install', 'other', 'other-system');
  expect(after.code, after.stderr).toBe(0);
});
