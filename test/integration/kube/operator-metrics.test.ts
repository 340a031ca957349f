/**
 * The operator's /metrics after real work on a real API server, scraped as Prometheus does:
 * reconciles of every kind (timed), the work queue, admission decisions made for pods the API
 * server sent, the webhook certificate's expiry. Every operator metric the dashboard uses is there.
 */
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { dashboardMetricsOf, missingFrom, parseExposition, total, type Sample } from '../../telemetry/exposition.js';
import { freshNamespace, installCrds } from './crds.js';
import { kubectl } from './kubectl.js';
import { registerWebhook, startTestOperator, until, type TestOperator } from './operator-harness.js';

let ns: string;
let test: TestOperator;
let samples: Sample[];
const kc = new KubeConfig();
const webhookName = `airlock-metrics-${Math.random().toString(36).slice(2, 8)}`;

const pod = (name: string, securityContext?: object): V1Pod => ({
  metadata: { name, labels: { 'airlock.dev/sandbox': 'agent' } },
  spec: { containers: [{ name: 'agent', image: 'agent:1', ...(securityContext ? { securityContext } : {}) }] },
});

beforeAll(async () => {
  kc.loadFromString(inject('kubeconfig'));
  const core = kc.makeApiClient(CoreV1Api);
  await installCrds();
  ns = await freshNamespace('metrics');
  const opNs = await freshNamespace('airlock-system');
  test = await startTestOperator(kc, { watchNamespace: ns, namespace: opNs, webhookConfigName: webhookName, identity: 'operator-metrics', usageSyncMs: 300 });
  await registerWebhook(kc, webhookName, test.operator.webhookPort, ns);
  await until(() => test.operator.isLeader, 'the operator to lead', 20_000);
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], `apiVersion: airlock.dev/v1alpha1
kind: ModelProvider
metadata: { name: local }
spec: { type: ollama, models: [{ name: llama3.2 }] }
---
apiVersion: airlock.dev/v1alpha1
kind: MCPBackend
metadata: { name: tools }
spec: { transport: streamable-http, url: "http://127.0.0.1:9/mcp" }
---
apiVersion: airlock.dev/v1alpha1
kind: AgentSandbox
metadata: { name: agent }
spec: { providers: [local] }
`);
  await until(async () => (await kubectl().run(['get', 'configmap', 'airlock-agent', '-n', ns])).code === 0, 'the sandbox config');
  // The API server calls the webhook: one pod it mutates, one it is told to refuse.
  await until(async () => {
    const dry = await core.createNamespacedPod({ namespace: ns, body: pod('probe'), dryRun: 'All' }).catch(() => undefined);
    return dry?.metadata?.annotations?.['airlock.dev/injected'] !== undefined;
  }, 'the webhook to mutate a dry-run pod');
  await core.createNamespacedPod({ namespace: ns, body: pod('root', { privileged: true }), dryRun: 'All' }).then(
    () => Promise.reject(new Error('a privileged sandbox pod was admitted')),
    () => undefined,
  );
  await test.operator.idle();
  const scrape = async () => parseExposition(await (await fetch(`http://127.0.0.1:${test.operator.healthPort}/metrics`)).text());
  // The usage round runs on its own interval: wait for the one that saw the sandbox.
  await until(async () => (await scrape()).some((s) => s.name === 'airlock_operator_sandbox_spend_usd'), 'a usage round over the sandbox', 10_000);
  samples = await scrape();
}, 120_000);

afterAll(async () => {
  await test?.operator.stop();
  await kubectl().run(['delete', 'mutatingwebhookconfiguration', webhookName]);
});

it('has a sample of every operator metric the dashboard uses', async () => {
  const used = await dashboardMetricsOf('operator');
  expect(used.size).toBeGreaterThan(6);
  expect(missingFrom(samples, used)).toEqual([]);
});

it('counts and times reconciles of every kind', () => {
  for (const kind of ['ModelProvider', 'MCPBackend', 'AgentSandbox']) {
    expect(total(samples, 'airlock_operator_reconciles_total', { kind, result: 'ok' }), kind).toBeGreaterThan(0);
    expect(total(samples, 'airlock_operator_reconcile_duration_seconds_count', { kind }), kind).toBe(total(samples, 'airlock_operator_reconciles_total', { kind }));
    expect(total(samples, 'airlock_operator_reconcile_duration_seconds_sum', { kind }), kind).toBeGreaterThan(0);
  }
  expect(total(samples, 'airlock_operator_queue_depth')).toBe(0);
  expect(total(samples, 'airlock_operator_leader')).toBe(1);
});

it('counts admission decisions by result and reason', () => {
  expect(total(samples, 'airlock_operator_admission_decisions_total', { operation: 'CREATE', result: 'patched', reason: 'Allowed' })).toBeGreaterThan(0);
  expect(total(samples, 'airlock_operator_admission_decisions_total', { operation: 'CREATE', result: 'denied' })).toBeGreaterThan(0);
  expect(total(samples, 'airlock_operator_admission_duration_seconds_count')).toBe(total(samples, 'airlock_operator_admission_decisions_total'));
});

it("shows each sandbox's spend today, 0 before any call", () => {
  expect(samples.filter((s) => s.name === 'airlock_operator_sandbox_spend_usd')).toEqual([{ name: 'airlock_operator_sandbox_spend_usd', labels: { sandbox_namespace: ns, sandbox: 'agent' }, value: 0 }]);
});

it('shows when the webhook certificate expires', () => {
  const expiry = total(samples, 'airlock_operator_webhook_certificate_expiry_timestamp_seconds');
  const days = (expiry - Date.now() / 1000) / 86_400;
  expect(days).toBeGreaterThan(test.settings.certRenewBeforeDays);
  expect(days).toBeLessThanOrEqual(test.settings.certValidityDays + 1);
});
