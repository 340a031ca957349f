/**
 * What the chart ships for monitoring: the Grafana dashboard names only metrics the code exports,
 * and is rendered into a ConfigMap on request; the opt-in PodMonitors and ServiceMonitor scrape
 * ports that exist; telemetry.otlp reaches the operator's settings.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PORT_NAME } from '../../operator/src/webhook/settings.js';
import { readSettings } from '../../operator/src/settings.js';
import { dashboardPath, dashboardQueries, exportedSeries, metricNames } from '../telemetry/exposition.js';
import { ensureHelm, only, renderChart, type Manifest } from './helm.js';

interface PodSpec {
  containers: { args: string[]; env?: unknown[]; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] }[];
  volumes: { name: string; secret?: { secretName: string; optional?: boolean } }[];
}

beforeAll(async () => {
  await ensureHelm();
}, 20 * 60_000);

describe('the Grafana dashboard', () => {
  it('queries only metrics the sidecar or the operator exports, and every exported model-call metric has a panel', async () => {
    const { sidecar, operator } = await exportedSeries();
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(15);
    const used = new Set<string>();
    for (const { panel, expr } of queries) {
      const names = metricNames(expr);
      expect(names.length, `panel "${panel}" names a metric`).toBeGreaterThan(0);
      for (const name of names) {
        expect(sidecar.has(name) || operator.has(name), `panel "${panel}" uses ${name}, which nothing exports`).toBe(true);
        used.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    for (const name of ['gen_ai_client_token_usage', 'gen_ai_client_operation_duration_seconds', 'gen_ai_client_operation_time_to_first_chunk_seconds', 'airlock_cost_usd_total', 'airlock_failovers_total', 'airlock_provider_circuit_state', 'airlock_provider_keys', 'airlock_mcp_tool_calls_total', 'airlock_operator_reconcile_duration_seconds', 'airlock_operator_admission_decisions_total', 'airlock_operator_webhook_certificate_expiry_timestamp_seconds', 'airlock_operator_queue_depth']) {
      expect(used, `the dashboard shows ${name}`).toContain(name);
    }
  });
});

describe('monitoring objects in the chart', () => {
  let objects: Manifest[];
  beforeAll(async () => {
    objects = await renderChart({
      values: {
        metrics: { podMonitor: { enabled: true }, serviceMonitor: { enabled: true, labels: { release: 'prometheus' } }, sidecarPodMonitor: { enabled: true }, dashboard: { enabled: true } },
        telemetry: { otlp: { endpoint: 'http://otel-collector.observability:4318', headers: { 'x-tenant': 'platform', 'x-env': 'prod' }, headersSecret: { name: 'collector-auth' } }, captureMessageContent: true },
      },
    });
  });

  it('are all off by default', async () => {
    const defaults = await renderChart();
    expect(defaults.filter((o) => ['PodMonitor', 'ServiceMonitor'].includes(o.kind) || o.metadata.name.endsWith('-dashboard'))).toEqual([]);
  });

  it('ship the dashboard JSON unchanged in a ConfigMap labelled for the Grafana sidecar', async () => {
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airlock-dashboard')!;
    expect(configMap.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(JSON.parse((configMap.data as Record<string, string>)['airlock.json']!)).toEqual(JSON.parse(await readFile(dashboardPath, 'utf8')));
  });

  it('scrape every sidecar on the admin port injection names, and the operator through its metrics Service', () => {
    const sidecars = objects.find((o) => o.kind === 'PodMonitor' && o.metadata.name === 'airlock-sidecars')!;
    expect(sidecars.spec).toMatchObject({ selector: { matchExpressions: [{ key: 'airlock.dev/sandbox', operator: 'Exists' }] }, namespaceSelector: { any: true }, podTargetLabels: ['airlock.dev/sandbox'], podMetricsEndpoints: [{ port: ADMIN_PORT_NAME, path: '/metrics' }] });
    const monitor = only(objects, 'ServiceMonitor');
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'airlock-metrics')!;
    const selector = (monitor.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    expect(Object.entries(selector).every(([k, v]) => service.metadata.labels?.[k] === v)).toBe(true);
    const port = (monitor.spec as { endpoints: { port: string }[] }).endpoints[0]!.port;
    expect((service.spec as { ports: { name: string }[] }).ports.map((p) => p.name)).toContain(port);
    expect(monitor.metadata.labels).toMatchObject({ release: 'prometheus' });
  });

  it("give the operator the collector's endpoint and headers, and the content capture default", () => {
    const deployment = only(objects, 'Deployment');
    const container = (deployment.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0]!;
    const settings = readSettings(container.args, { POD_NAMESPACE: 'airlock-system', POD_NAME: 'airlock-0' });
    expect(settings.otlpEndpoint).toBe('http://otel-collector.observability:4318');
    expect(settings.otlpHeaders).toEqual({ 'x-env': 'prod', 'x-tenant': 'platform' });
    expect(settings.captureMessageContent).toBe(true);
  });

  it("mount the collector's headers Secret for the operator and name the mount in its settings, not the values in its args or env", () => {
    const deployment = only(objects, 'Deployment');
    const pod = (deployment.spec as { template: { spec: PodSpec } }).template.spec;
    const container = pod.containers[0]!;
    const settings = readSettings(container.args, { POD_NAMESPACE: 'airlock-system', POD_NAME: 'airlock-0' });
    const volume = pod.volumes.find((v) => v.secret?.secretName === 'collector-auth');
    expect(volume).toBeDefined();
    expect(container.volumeMounts).toContainEqual({ name: volume!.name, mountPath: settings.otlpHeadersDir, readOnly: true });
    expect(JSON.stringify(container.env)).not.toContain('collector-auth');
  });

  it('mount the headers Secret as optional (a missing Secret must not keep the operator, and with it every sandbox pod, from starting), and not at all without an endpoint', async () => {
    const pod = (only(objects, 'Deployment').spec as { template: { spec: PodSpec } }).template.spec;
    expect(pod.volumes.find((v) => v.secret?.secretName === 'collector-auth')?.secret).toMatchObject({ optional: true });
    const withoutEndpoint = (only(await renderChart({ values: { telemetry: { otlp: { headersSecret: { name: 'collector-auth' } } } } }), 'Deployment').spec as { template: { spec: PodSpec } }).template.spec;
    expect(withoutEndpoint.volumes.filter((v) => v.secret)).toEqual([]);
    expect(readSettings(withoutEndpoint.containers[0]!.args, { POD_NAMESPACE: 'airlock-system', POD_NAME: 'airlock-0' }).otlpHeadersDir).toBeUndefined();
    await expect(renderChart({ values: { telemetry: { otlp: { endpoint: 'http://c:4318', headersSecret: { name: 'Not_A_Name' } } } } })).rejects.toThrow(/headersSecret/);
  });

  it('mount no headers Secret by default', async () => {
    const deployment = only(await renderChart(), 'Deployment');
    const pod = (deployment.spec as { template: { spec: PodSpec } }).template.spec;
    expect(readSettings(pod.containers[0]!.args, { POD_NAMESPACE: 'airlock-system', POD_NAME: 'airlock-0' }).otlpHeadersDir).toBeUndefined();
    expect(pod.volumes.filter((v) => v.secret)).toEqual([]);
  });

  it('leave message content capture off by default', async () => {
    const deployment = only(await renderChart(), 'Deployment');
    const container = (deployment.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0]!;
    expect(readSettings(container.args, { POD_NAMESPACE: 'airlock-system', POD_NAME: 'airlock-0' }).captureMessageContent).toBe(false);
  });
});
