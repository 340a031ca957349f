/**
 * A cluster for the admission tests: a control plane of the test file's own (the chart's webhook
 * and policies guard every namespace but the release's, so they must not meet other files'
 * pods), the chart installed as `helm install` would (CRDs, RBAC, MutatingWebhookConfiguration,
 * ValidatingAdmissionPolicies), and one operator replica running in-process on a token of the
 * chart's ServiceAccount with the Deployment's own flags. The only change to what the chart
 * renders: the API server calls the webhook at the replica's URL on 127.0.0.1 instead of through
 * the Service, which a bare API server cannot route to.
 */
import { readSettings } from '../../../operator/src/settings.js';
import { startOperator, type Operator } from '../../../operator/src/operator.js';
import type { Kubectl } from '../../controlplane/kubectl.js';
import { only, type Manifest } from '../../helm/helm.js';
import { installChart, operatorCommandLine, startChartCluster, type ChartCluster } from '../chart/install.js';
import { captureLogger, until } from './operator-harness.js';

/** Where the tests put their sandboxes and pods: a namespace the chart knows nothing about. */
export const TEAM = 'team-a';
export const RELEASE = 'airlock';
export const RELEASE_NAMESPACE = 'airlock-system';
/** The sandbox every test pod names; its provider's key is {@link PROVIDER_KEY}. */
export const SANDBOX = 'agent';
export const PROVIDER_KEY = 'sk-admission-test-0000000000000001';

export interface AdmissionCluster {
  cluster: ChartCluster;
  kubectl: Kubectl;
  objects: Manifest[];
  /** The sidecar image the chart's Deployment passes to the operator (`--sidecar-image`). */
  sidecarImage: string;
  operator: Operator;
  logs: string[];
  /** `kubectl get -o json` in {@link TEAM} (or any namespace); undefined when absent. */
  getJson(args: string[], namespace?: string): Promise<ReturnType<typeof JSON.parse> | undefined>;
  stop(): Promise<void>;
}

/**
 * Starts the control plane, installs the chart with `values`, starts the operator replica and
 * waits until the API server injects a labelled pod through the chart's webhook configuration.
 */
export async function startAdmissionCluster(values: Record<string, unknown> = {}): Promise<AdmissionCluster> {
  const cluster = await startChartCluster();
  const { kubectl } = cluster;
  let operator: Operator | undefined;
  try {
    const objects = await installChart(kubectl, { release: RELEASE, namespace: RELEASE_NAMESPACE, values });
    await kubectl.ok(['create', 'namespace', TEAM]);
    // The team's namespace opts in as the values ask (webhook.namespaceLabels).
    const optIn = ((values.webhook as { namespaceLabels?: Record<string, string> } | undefined)?.namespaceLabels ?? {}) as Record<string, string>;
    for (const [key, value] of Object.entries(optIn)) await kubectl.ok(['label', 'namespace', TEAM, `${key}=${value}`]);

    const serviceAccount = only(objects, 'ServiceAccount').metadata;
    const token = await cluster.controlPlane.tokenFor(serviceAccount.namespace!, serviceAccount.name);
    const pod = operatorCommandLine(objects, 'airlock-5d8f7c9b6-aaaaa');
    // Only where a test process differs from a pod: loopback, free ports, a certificate for the
    // URL the API server calls, seconds instead of minutes.
    const testArgs = ['--webhook-host=127.0.0.1', '--webhook-port=0', '--health-host=127.0.0.1', '--health-port=0', '--webhook-extra-names=127.0.0.1', '--lease-duration-seconds=4', '--renew-deadline-ms=3000', '--retry-period-ms=500', '--cert-check-interval-ms=500'];
    const settings = readSettings([...pod.args, ...testArgs], pod.env);
    const { log, lines } = captureLogger();
    operator = await startOperator({ kubeConfig: cluster.controlPlane.kubeConfigForToken(token), settings, log });
    const started = operator;
    await until(() => started.isLeader, 'the operator to lead', 20_000);

    const webhookConfig = only(objects, 'MutatingWebhookConfiguration').metadata.name;
    const clientConfig = { url: `https://127.0.0.1:${operator.webhookPort}/mutate`, caBundle: Buffer.from(operator.caPem).toString('base64') };
    const webhooks = (only(objects, 'MutatingWebhookConfiguration').webhooks as unknown[]).map((_, i) => ({ op: 'replace', path: `/webhooks/${i}/clientConfig`, value: clientConfig }));
    await kubectl.ok(['patch', 'mutatingwebhookconfiguration', webhookConfig, '--type=json', '-p', JSON.stringify(webhooks)]);

    const getJson = async (args: string[], namespace = TEAM) => {
      const result = await kubectl.run(['get', ...args, '-n', namespace, '-o', 'json']);
      return result.code === 0 ? JSON.parse(result.stdout) : undefined;
    };
    await kubectl.ok(['create', 'secret', 'generic', 'openai-keys', '-n', TEAM, `--from-literal=primary=${PROVIDER_KEY}`]);
    const provider = { apiVersion: 'airlock.dev/v1alpha1', kind: 'ModelProvider', metadata: { name: 'openai' }, spec: { type: 'openai', apiKeys: [{ secretName: 'openai-keys', key: 'primary' }], models: [{ name: 'gpt-4o-mini' }] } };
    const sandbox = { apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: SANDBOX }, spec: { providers: ['openai'] } };
    await kubectl.ok(['create', '-n', TEAM, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [provider, sandbox] }));
    // A new webhook configuration takes a moment to reach the API server's admission chain.
    await until(async () => {
      const dryRun = await kubectl.run(['run', 'probe', '-n', TEAM, '--image=busybox', `--labels=airlock.dev/sandbox=${SANDBOX}`, '--dry-run=server', '-o', 'json']);
      return dryRun.code === 0 && dryRun.stdout.includes('airlock-sidecar');
    }, 'the API server to call the webhook', 30_000);

    return {
      cluster,
      kubectl,
      objects,
      sidecarImage: settings.sidecarImage,
      operator: started,
      logs: lines,
      getJson,
      async stop() {
        await started.stop();
        await cluster.controlPlane.stop();
      },
    };
  } catch (error) {
    await operator?.stop();
    await cluster.controlPlane.stop();
    throw error;
  }
}

/** A pod manifest in {@link TEAM}, labelled for {@link SANDBOX} unless `labels` says otherwise. */
export function podManifest(name: string, spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'airlock.dev/sandbox': SANDBOX }, ...metadata },
    spec: { containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1' }], ...spec },
  };
}

/** What kubectl prints when the webhook refuses a pod; the refusals follow. */
export const DENIED = 'admission webhook "pods.airlock.dev" denied the request: airlock: pod refused: ';

/** {@link startAdmissionCluster}, then one injected sandbox pod named `pod` in {@link TEAM} to attack. */
export async function startAdmissionClusterWithPod(pod: string): Promise<AdmissionCluster> {
  const env = await startAdmissionCluster();
  const created = await env.kubectl.run(['create', '-n', TEAM, '-f', '-'], JSON.stringify(podManifest(pod)));
  if (created.code !== 0) {
    await env.stop();
    throw new Error(`creating sandbox pod ${pod} failed: ${created.stderr}`);
  }
  return env;
}
