/**
 * The chart's rendered manifests against a real API server: they pass server-side validation
 * (`kubectl apply --server-side --dry-run=server`) and are stored when applied for real, with
 * default and non-default values. Only the cert-manager and Prometheus Operator kinds are left
 * out, as a cluster without those operators has no CRDs for them.
 *
 * On a control plane of its own (see install.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kubectl } from '../../controlplane/kubectl.js';
import { customValuesFile, isOptionalKind, renderChart, toYamlStream, type Manifest, type RenderOptions } from '../../helm/helm.js';
import { SETUP_TIMEOUT_MS, startChartCluster, type ChartCluster } from './install.js';

let cluster: ChartCluster;
let kubectl: Kubectl;

beforeAll(async () => {
  cluster = await startChartCluster();
  kubectl = cluster.kubectl;
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.controlPlane.stop();
});

/** `Kind.version.group` as kubectl takes it, so a kind name can never resolve to another group's. */
const qualifiedKind = (object: Manifest): string => {
  const [group, version] = object.apiVersion!.includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion!];
  return group ? `${object.kind}.${version}.${group}` : object.kind;
};

const installs: { title: string; options: RenderOptions; optional: string[] }[] = [
  { title: 'default values', options: { release: 'airlock', namespace: 'airlock-system' }, optional: [] },
  {
    title: 'non-default values (cert-manager, PodMonitor)',
    options: { release: 'gate', namespace: 'gate-system', valuesFiles: [customValuesFile] },
    optional: ['Certificate/gate-webhook', 'Certificate/gate-webhook-ca', 'Issuer/gate-selfsigned', 'Issuer/gate-webhook-ca', 'PodMonitor/gate'],
  },
];

describe.each(installs)('the chart with $title', ({ options, optional }) => {
  let crds: Manifest[];
  let objects: Manifest[];

  beforeAll(async () => {
    const rendered = await renderChart({ ...options, includeCrds: true });
    expect(rendered.filter(isOptionalKind).map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(optional);
    crds = rendered.filter((o) => o.kind === 'CustomResourceDefinition');
    objects = rendered.filter((o) => o.kind !== 'CustomResourceDefinition' && !isOptionalKind(o));
    expect(crds.map((o) => o.metadata.name).sort()).toEqual(['agentsandboxes.airlock.dev', 'mcpbackends.airlock.dev', 'modelproviders.airlock.dev']);
    // helm install creates the release namespace (--create-namespace) before anything else.
    await kubectl.ok(['create', 'namespace', options.namespace!]);
  });

  it('passes server-side validation (apply --server-side --dry-run=server)', async () => {
    const out = await kubectl.ok(['apply', '--server-side', '--field-manager=helm', '--dry-run=server', '-f', '-'], toYamlStream([...crds, ...objects]));
    for (const object of [...crds, ...objects]) expect(out).toContain(`/${object.metadata.name} serverside-applied (server dry run)`);
  });

  it('is stored as rendered when applied for real', async () => {
    await kubectl.ok(['apply', '--server-side', '--field-manager=helm', '-f', '-'], toYamlStream(crds));
    await kubectl.ok(['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((o) => `crd/${o.metadata.name}`)]);
    await kubectl.ok(['apply', '--server-side', '--field-manager=helm', '-f', '-'], toYamlStream(objects));
    for (const object of objects) {
      const args = ['get', qualifiedKind(object), object.metadata.name, '-o', 'json'];
      const stored = JSON.parse(await kubectl.ok(object.metadata.namespace ? [...args, '-n', object.metadata.namespace] : args)) as Manifest;
      expect(stored.metadata.labels, `${object.kind}/${object.metadata.name}`).toEqual(object.metadata.labels);
    }
    // What matters most survives the API server's defaulting unchanged.
    const webhook = objects.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    const stored = JSON.parse(await kubectl.ok(['get', 'mutatingwebhookconfiguration', webhook.metadata.name, '-o', 'json']));
    expect(stored.webhooks).toMatchObject(webhook.webhooks as object[]);
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    const storedDeployment = JSON.parse(await kubectl.ok(['get', 'deployment', deployment.metadata.name, '-n', options.namespace!, '-o', 'json']));
    expect(storedDeployment.spec.template.spec.containers[0].args).toEqual((deployment.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0]!.args);
  });
});
