/**
 * Set-up shared by the chart's integration tests: helm, a control plane of the test file's own
 * (the chart's webhook fails closed for every labelled pod outside its namespace and no operator
 * answers its Service here, so it must not meet other test files' pods), and the chart
 * installed into it the way `helm install` would: CRDs first, then the rendered templates.
 */
import { afterAll, beforeAll, inject } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../controlplane/control-plane.js';
import { kubectlFor, type Kubectl } from '../../controlplane/kubectl.js';
import { chartDir, ensureHelm, helm, isOptionalKind, only, renderChart, toYamlStream, type HelmResult, type Manifest, type RenderOptions } from '../../helm/helm.js';

/** A cold helm build takes minutes; it happens once per machine. Use as the beforeAll timeout. */
export const SETUP_TIMEOUT_MS = 20 * 60_000;

export interface ChartCluster {
  controlPlane: ControlPlane;
  /** kubectl with the control plane's admin kubeconfig. */
  kubectl: Kubectl;
}

/** Builds (or finds) helm, then starts a control plane for this test file only. */
export async function startChartCluster(): Promise<ChartCluster> {
  // helm first: without it nothing here can run, and its error says how to get it.
  await ensureHelm();
  const controlPlane = await startControlPlane({ binDir: inject('controlPlaneBin') });
  return { controlPlane, kubectl: kubectlFor(inject('controlPlaneBin'), controlPlane.kubeconfigPath) };
}

/**
 * {@link startChartCluster} in the test file's `beforeAll`, stopped in its `afterAll` (call it at
 * the top of the file). The function returned reads it.
 */
export function chartClusterForFile(): () => ChartCluster {
  let cluster: ChartCluster | undefined;
  beforeAll(async () => {
    cluster = await startChartCluster();
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await cluster?.controlPlane.stop();
  });
  return () => {
    if (!cluster) throw new Error('the chart cluster is not started (chartClusterForFile runs it in beforeAll)');
    return cluster;
  };
}

/**
 * `helm install` (the namespace created) or `helm upgrade` of the chart as `release` in
 * `namespace` on the cluster, with `args` (`--set`, `--reuse-values`...), as an administrator
 * runs it.
 */
export function helmChart(cluster: ChartCluster, verb: 'install' | 'upgrade', release: string, namespace: string, args: string[] = []): Promise<HelmResult> {
  return helm([verb, release, chartDir, '-n', namespace, ...(verb === 'install' ? ['--create-namespace'] : []), ...args], cluster.controlPlane.kubeconfigPath);
}

/**
 * Renders the chart and applies it server-side as `helm install --create-namespace` would, minus
 * the kinds whose CRDs a bare cluster lacks (cert-manager, Prometheus Operator).
 * @returns the objects applied, without the CRDs.
 */
export async function installChart(kubectl: Kubectl, options: RenderOptions & { namespace: string }): Promise<Manifest[]> {
  const rendered = await renderChart({ ...options, includeCrds: true });
  const crds = rendered.filter((o) => o.kind === 'CustomResourceDefinition');
  const objects = rendered.filter((o) => o.kind !== 'CustomResourceDefinition' && !isOptionalKind(o));
  await kubectl.ok(['create', 'namespace', options.namespace]);
  await kubectl.ok(['apply', '--server-side', '--field-manager=helm', '-f', '-'], toYamlStream(crds));
  await kubectl.ok(['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((o) => `crd/${o.metadata.name}`)]);
  await kubectl.ok(['apply', '--server-side', '--field-manager=helm', '-f', '-'], toYamlStream(objects));
  return objects;
}

/**
 * The operator container's args and the env it gets in its pod: the literal values, plus
 * POD_NAMESPACE and POD_NAME as the downward API fills them in.
 */
export function operatorCommandLine(objects: Manifest[], podName: string): { args: string[]; env: Record<string, string> } {
  const deployment = only(objects, 'Deployment');
  type Env = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } };
  const container = (deployment.spec as { template: { spec: { containers: { args: string[]; env: Env[] }[] } } }).template.spec.containers[0]!;
  const downward: Record<string, string> = { 'metadata.namespace': deployment.metadata.namespace!, 'metadata.name': podName };
  const env: Record<string, string> = {};
  for (const entry of container.env) {
    const value = entry.value ?? downward[entry.valueFrom?.fieldRef?.fieldPath ?? ''];
    if (value === undefined) throw new Error(`env ${entry.name} of the operator: no value a test can reproduce`);
    env[entry.name] = value;
  }
  return { args: container.args, env };
}
