/**
 * Namespaces the webhook does not inject, through a real API server with the chart installed for
 * opt-in namespaces (`webhook.namespaceLabels`): a pod labelled for a sandbox there never meets
 * the webhook. Before, it ran without its sidecar and firewall (and the sandbox's NetworkPolicy
 * opened the providers' ports to it) while the sandbox said Ready; the chart's CEL refuses it now.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SETUP_TIMEOUT_MS } from '../chart/install.js';
import { DENIED, podManifest, RELEASE_NAMESPACE, startAdmissionCluster, TEAM, type AdmissionCluster } from './admission-cluster.js';

let env: AdmissionCluster;
const OPT_IN = { 'airlock.dev/enabled': 'true' };

beforeAll(async () => {
  env = await startAdmissionCluster({ webhook: { namespaceLabels: OPT_IN } });
  await env.kubectl.ok(['create', 'namespace', 'team-b']);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await env?.stop();
});

const refusal = (namespace: string) =>
  `ValidatingAdmissionPolicy 'airlock-sandbox-namespace' with binding 'airlock-sandbox-namespace' denied request: metadata.labels[airlock.dev/sandbox]: namespace ${namespace} is not one Airlock injects sandbox pods in`;

it.each(['team-b', 'kube-system', RELEASE_NAMESPACE])('refuses a sandbox pod in %s, where the webhook injects nothing', async (namespace) => {
  const result = await env.kubectl.run(['create', '-n', namespace, '-f', '-'], JSON.stringify(podManifest('agent-x')));
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain(refusal(namespace));
});

it('lets the same pod through to the webhook once the namespace opts in, and pods without the label anywhere', async () => {
  expect((await env.kubectl.run(['create', '-n', 'team-b', '-f', '-'], JSON.stringify(podManifest('plain', {}, { labels: {} })))).code).toBe(0);
  await env.kubectl.ok(['label', 'namespace', 'team-b', 'airlock.dev/enabled=true']);
  // The webhook is asked now: team-b has no such sandbox, and the webhook says so.
  const asked = await env.kubectl.run(['create', '-n', 'team-b', '-f', '-'], JSON.stringify(podManifest('agent-y')));
  expect(asked.stderr).toContain(`${DENIED}metadata.labels[airlock.dev/sandbox]: AgentSandbox "agent" does not exist in namespace team-b`);
  // And in the team's namespace, opted in from the start, it is injected.
  const created = await env.kubectl.run(['create', '-n', TEAM, '-f', '-', '-o', 'json'], JSON.stringify(podManifest('agent-z')));
  expect(created.code, created.stderr).toBe(0);
  expect(created.stdout).toContain('airlock-sidecar');
});
