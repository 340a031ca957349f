/**
 * The operator's spans as a collector receives them: a reconcile span naming the object, and an
 * admission span per AdmissionReview with the decision, in the API server's trace when it sent one.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTracing, type Tracing } from '@airlock/sidecar/telemetry';
import { startOtlpCollector, type OtlpCollector } from '../../../test/mocks/otlp-collector.js';
import { buildWebhookApp } from '../webhook/server.js';
import type { AdmissionReviewResponse } from '../webhook/admission.js';
import { postJson, testPod, testSandbox, testSettings } from '../webhook/test-fixtures.js';
import { inSpan, objectAttributes } from './spans.js';
import { OperatorMetrics } from './metrics.js';

let collector: OtlpCollector;
let tracing: Tracing;

beforeAll(async () => {
  collector = await startOtlpCollector();
  tracing = await startTracing({ serviceName: 'airlock-operator', endpoint: collector.url });
});

afterAll(async () => {
  await tracing?.shutdown();
  await collector?.close();
});

const review = (operation: 'CREATE' | 'UPDATE', pod: unknown) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: '0b7c2c1e-6a1b-4a52-9a38-2d8f5a7e9c11', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'agents', name: 'agent-0', operation, object: pod },
});

it('exports a span per reconcile naming the object, with the error type when it fails', async () => {
  await inSpan('reconcile AgentSandbox', objectAttributes('AgentSandbox', 'agents', 'research'), async () => undefined);
  await expect(inSpan('reconcile ModelProvider', objectAttributes('ModelProvider', 'agents', 'openai'), async () => Promise.reject(new TypeError('boom')))).rejects.toThrow('boom');
  await tracing.flush();
  const ok = collector.spans.find((s) => s.name === 'reconcile AgentSandbox');
  expect(ok?.attributes).toMatchObject({ 'k8s.namespace.name': 'agents', 'airlock.kind': 'AgentSandbox', 'airlock.name': 'research' });
  expect(ok?.resource['service.name']).toBe('airlock-operator');
  const failed = collector.spans.find((s) => s.name === 'reconcile ModelProvider');
  expect(failed).toMatchObject({ statusCode: 2, attributes: expect.objectContaining({ 'error.type': 'TypeError' }) });
});

it('exports a span per admission with the decision, joins the API server trace, and counts the decision', async () => {
  const metrics = new OperatorMetrics();
  const app = buildWebhookApp({ lookupSandbox: async () => testSandbox('research'), settings: testSettings(), metrics });
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parent = '00f067aa0ba902b7';
  const patched = await postJson<AdmissionReviewResponse>(app, '/mutate', review('CREATE', testPod()), { traceparent: `00-${traceId}-${parent}-01` });
  expect(patched.body.response.allowed).toBe(true);
  const privileged = testPod('research', { containers: [{ name: 'agent', image: 'agent:1', securityContext: { privileged: true } }] });
  const denied = await postJson<AdmissionReviewResponse>(app, '/mutate', review('CREATE', privileged));
  expect(denied.body.response.allowed).toBe(false);
  await app.close();
  await tracing.flush();
  const spans = collector.spans.filter((s) => s.name === 'admission CREATE');
  expect(spans).toHaveLength(2);
  expect(spans[0]).toMatchObject({ traceId, parentSpanId: parent, kind: 2 });
  expect(spans[0]!.attributes).toMatchObject({ 'airlock.admission.result': 'patched', 'k8s.namespace.name': 'agents', 'k8s.pod.name': 'agent-0' });
  expect(spans[1]!.attributes).toMatchObject({ 'airlock.admission.result': 'denied' });
  const text = await metrics.registry.metrics();
  expect(text).toMatch(/airlock_operator_admission_decisions_total\{operation="CREATE",result="patched",reason="Allowed"\} 1/);
  expect(text).toMatch(/airlock_operator_admission_decisions_total\{operation="CREATE",result="denied",reason="[A-Za-z]+"\} 1/);
});
