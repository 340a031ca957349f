/**
 * Pod Security admission and Airlock's injection, through a real API server with the chart
 * installed: what docs/install.md §3 ("Pod Security admission") says a user meets. The default
 * firewall isolation is refused at baseline, not only at restricted (docs/security.md said
 * restricted only); with `isolation.network: networkpolicy` the quickstart agent passes restricted.
 * The sandbox says so too (PodSecurityAllowed False, Ready False), following the namespace's label,
 * read by the operator on the chart's RBAC.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../../helm/helm.js';
import { SETUP_TIMEOUT_MS } from '../chart/install.js';
import { SANDBOX, startAdmissionCluster, TEAM, type AdmissionCluster } from './admission-cluster.js';

let env: AdmissionCluster;
let agent: { metadata: { labels: Record<string, string> } };

beforeAll(async () => {
  env = await startAdmissionCluster();
  const policed = { apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'policed' }, spec: { providers: ['openai'], isolation: { network: 'networkpolicy' } } };
  await env.kubectl.ok(['apply', '-n', TEAM, '-f', '-'], JSON.stringify(policed));
  agent = parse(await readFile(join(repoRoot, 'examples/quickstart/agent/agent.yaml'), 'utf8'));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await env?.stop();
});

/** Condition `type` of sandbox `name` once the operator has seen the namespace's label, or undefined. */
async function sandboxCondition(name: string, type: string) {
  const sandbox = await env.getJson(['agentsandbox', name]);
  return (sandbox?.status?.conditions as { type: string; status: string; reason: string; message: string }[] | undefined)?.find((c) => c.type === type);
}

/** The quickstart's agent pod naming `sandbox`, created (server dry run) in a namespace enforcing `level`. */
async function create(level: string, sandbox: string) {
  await env.kubectl.ok(['label', 'namespace', TEAM, `pod-security.kubernetes.io/enforce=${level}`, '--overwrite']);
  const pod = structuredClone(agent);
  pod.metadata.labels['airlock.dev/sandbox'] = sandbox;
  return env.kubectl.run(['create', '-n', TEAM, '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(pod));
}

it.each(['baseline', 'restricted'])('refuses the firewall isolation where the namespace enforces %s, naming airlock-firewall', async (level) => {
  const result = await create(level, SANDBOX);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain(`violates PodSecurity "${level}:latest"`);
  expect(result.stderr).toMatch(/container "airlock-firewall" must not include "NET_ADMIN"/);
  // What the sandbox says, where its author looks before any pod is refused.
  await expect.poll(() => sandboxCondition(SANDBOX, 'PodSecurityAllowed'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'FirewallRefused' });
  expect((await sandboxCondition(SANDBOX, 'PodSecurityAllowed'))!.message).toContain(`namespace ${TEAM} enforces Pod Security ${level}`);
  expect(await sandboxCondition(SANDBOX, 'Ready')).toMatchObject({ status: 'False', message: expect.stringContaining(`enforces Pod Security ${level}`) });
  expect(await sandboxCondition('policed', 'PodSecurityAllowed')).toBeUndefined();
});

it('admits the firewall isolation where the namespace enforces privileged, and the sandbox stops saying it is refused', async () => {
  await env.kubectl.ok(['label', 'namespace', TEAM, 'pod-security.kubernetes.io/enforce=baseline', '--overwrite']);
  await expect.poll(() => sandboxCondition(SANDBOX, 'PodSecurityAllowed'), { timeout: 15_000 }).toMatchObject({ status: 'False' });
  const result = await create('privileged', SANDBOX);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toContain('airlock-firewall');
  // Relabelled: the condition goes, and Ready no longer names it.
  await expect.poll(() => sandboxCondition(SANDBOX, 'PodSecurityAllowed'), { timeout: 15_000 }).toBeUndefined();
  expect((await sandboxCondition(SANDBOX, 'Ready'))!.message).not.toContain('Pod Security');
});

it('admits the quickstart agent, injected, under restricted with the networkpolicy isolation', async () => {
  const result = await create('restricted', 'policed');
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toContain('airlock-sidecar');
  expect(result.stdout).not.toContain('airlock-firewall');
  await expect.poll(() => sandboxCondition(SANDBOX, 'PodSecurityAllowed'), { timeout: 15_000 }).toMatchObject({ status: 'False' });
  expect(await sandboxCondition('policed', 'PodSecurityAllowed')).toBeUndefined();
});
