/**
 * Narrowing a sandbox's isolation reaches only pods started after: the firewall, its allowed
 * destinations and the service-account token are set when a pod starts. On a real API server
 * with the chart's webhook and the operator: the sandbox says which running pods still hold
 * what it no longer grants (status, a printer column, a Warning Event), until they are gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETUP_TIMEOUT_MS } from '../chart/install.js';
import { podManifest, SANDBOX, startAdmissionCluster, TEAM, type AdmissionCluster } from './admission-cluster.js';

let env: AdmissionCluster;
const kubectl = (args: string[], input?: string) => env.kubectl.run(['-n', TEAM, ...args], input);
const tokenVolume = { name: 'token', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] } };

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
const status = async () => (await env.getJson(['agentsandbox', SANDBOX])).status as { injectedPods?: number; outdatedPods?: number; conditions: Condition[] };
const podsUpToDate = async () => (await status()).conditions.find((c) => c.type === 'PodsUpToDate');
const events = async () =>
  ((await env.getJson(['events', '--field-selector', `involvedObject.name=${SANDBOX}`])).items as { type: string; reason: string; message: string }[]).map((e) => `${e.type} ${e.reason}`);
const patchIsolation = async (isolation: Record<string, unknown>) => {
  const result = await kubectl(['patch', 'agentsandbox', SANDBOX, '--type=merge', '-p', JSON.stringify({ spec: { isolation } })]);
  expect(result.code, result.stderr).toBe(0);
};

beforeAll(async () => {
  env = await startAdmissionCluster();
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await env?.stop();
});

describe('pods started before the sandbox narrowed their isolation', () => {
  it('are named until restarted; pods started after get the narrower isolation', async () => {
    await patchIsolation({ allowEgress: [{ cidr: '10.0.0.0/8', ports: [5432] }], automountServiceAccountToken: true });
    // The webhook reads the sandbox from the operator's cache: wait for it to see the change.
    await expect.poll(async () => { const s = await env.getJson(['agentsandbox', SANDBOX]); return s.status?.observedGeneration === s.metadata.generation; }, { timeout: 15_000 }).toBe(true);
    let created = await kubectl(['create', '-f', '-'], JSON.stringify(podManifest('early', { serviceAccountName: 'default', volumes: [tokenVolume] })));
    for (let i = 0; created.code !== 0 && i < 20; i++) {
      // A cache older than the patch refuses the token volume: try again.
      await new Promise((r) => setTimeout(r, 500));
      created = await kubectl(['create', '-f', '-'], JSON.stringify(podManifest('early', { serviceAccountName: 'default', volumes: [tokenVolume] })));
    }
    expect(created.code, created.stderr).toBe(0);
    const early = await env.getJson(['pod', 'early']);
    expect(early.spec.initContainers.find((c: { name: string }) => c.name === 'airlock-firewall').command.join(' ')).toContain('--allow 10.0.0.0/8:5432');
    await expect.poll(async () => [(await status()).outdatedPods, (await podsUpToDate())?.status], { timeout: 15_000 }).toEqual([0, 'True']);

    await patchIsolation({ allowEgress: null, automountServiceAccountToken: false });
    await expect.poll(async () => (await podsUpToDate())?.reason, { timeout: 15_000 }).toBe('IsolationWider');
    const condition = (await podsUpToDate())!;
    expect(condition.status).toBe('False');
    expect(condition.message).toContain('1 pods still hold isolation the sandbox no longer grants (a service account token, egress to 10.0.0.0/8:5432): early');
    expect(condition.message).toContain('restart these pods');
    expect((await status()).outdatedPods).toBe(1);
    await expect.poll(events, { timeout: 10_000 }).toContain('Warning IsolationWider');
    // kubectl get shows it in a column.
    const table = await kubectl(['get', 'agentsandbox', SANDBOX]);
    expect(table.stdout.split('\n')[0]).toMatch(/PODS\s+OUTDATED/);
    expect(table.stdout.split('\n')[1]).toMatch(/\s1\s+1\s/);

    // A pod started now gets the sandbox's isolation and is not counted.
    const late = await kubectl(['create', '-f', '-'], JSON.stringify(podManifest('late')));
    expect(late.code, late.stderr).toBe(0);
    const latePod = await env.getJson(['pod', 'late']);
    expect(latePod.spec.initContainers.find((c: { name: string }) => c.name === 'airlock-firewall').command).not.toContain('--allow');
    await expect.poll(async () => [(await status()).injectedPods, (await status()).outdatedPods], { timeout: 15_000 }).toEqual([2, 1]);
    expect((await podsUpToDate())!.message).not.toContain('late');

    // Restarted (here: deleted), nothing is left behind.
    expect((await kubectl(['delete', 'pod', 'early', '--wait=false'])).code).toBe(0);
    await expect.poll(async () => [(await status()).outdatedPods, (await podsUpToDate())?.status], { timeout: 15_000 }).toEqual([0, 'True']);
    await expect.poll(events, { timeout: 10_000 }).toContain('Normal UpToDate');
  });
});
