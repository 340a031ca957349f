/**
 * The pieces the local e2e test and `npm run demo` share: the quickstart manifests with the
 * provider pointed where the run wants it, the agent pod, a driver for the agent process, and
 * the operator with its webhook registered against the local control plane.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { registerWebhook, startTestOperator, until, type TestOperator } from '../integration/kube/operator-harness.js';
import { repoRoot, type RunningContainer } from './kubelet/index.js';

export const QUICKSTART_DIR = join(repoRoot, 'examples/quickstart');
export const SANDBOX = 'quickstart';
export const SANDBOX_LABEL = 'airlock.dev/sandbox';

/** What the quickstart's ModelProvider and its Secret become for one run. */
export interface ProviderChoice {
  /** Name of the ModelProvider (and `<name>-key` of its Secret) instead of the quickstart's `openai`. */
  name?: string;
  /** ModelProvider spec fields to set (type, baseURL, models, ...). */
  spec?: Record<string, unknown>;
  /** The API key the Secret carries, when there is one. */
  apiKey?: string;
  /** Sandbox model settings to use instead of the quickstart's (a real provider has other models). */
  models?: { allow?: string[]; aliases?: Record<string, string> };
}

/**
 * The YAML of examples/quickstart/*.yaml (not the agent pod) with the provider adjusted, as one
 * multi-document string for `kubectl apply -f -`.
 */
export async function quickstartManifests(choice: ProviderChoice = {}): Promise<string> {
  const files = (await readdir(QUICKSTART_DIR)).filter((f) => f.endsWith('.yaml')).sort();
  const docs: unknown[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(QUICKSTART_DIR, file), 'utf8'))) {
      const object = doc.toJS() as { kind?: string; metadata?: { name?: string }; spec?: Record<string, unknown>; stringData?: Record<string, string> } | null;
      if (!object) continue;
      // A keyless provider (Ollama) needs no Secret.
      if (object.kind === 'Secret' && Array.isArray(choice.spec?.apiKeys) && choice.spec.apiKeys.length === 0) continue;
      const name = choice.name;
      if (object.kind === 'Secret') {
        if (choice.apiKey !== undefined) object.stringData = { 'api-key': choice.apiKey };
        if (name) object.metadata = { ...object.metadata, name: `${name}-key` };
      }
      if (object.kind === 'ModelProvider') {
        if (name) object.metadata = { ...object.metadata, name };
        object.spec = { ...object.spec, ...(name ? { apiKeys: [{ secretName: `${name}-key`, key: 'api-key' }] } : {}), ...choice.spec };
      }
      if (object.kind === 'AgentSandbox') {
        object.spec = { ...object.spec, ...(name ? { providers: [name] } : {}), ...(choice.models ? { models: choice.models } : {}) };
      }
      docs.push(object);
    }
  }
  return docs.map((doc) => stringify(doc)).join('---\n');
}

/** The agent pod: one container running `image`, in the sandbox, as a non-root user in the socket's group. */
export function agentPod(namespace: string, name: string, image: string): V1Pod {
  return {
    metadata: { name, namespace, labels: { [SANDBOX_LABEL]: SANDBOX } },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, supplementalGroups: [61337] },
      containers: [{ name: 'agent', image, stdin: true }],
      terminationGracePeriodSeconds: 5,
    },
  };
}

/** Drives the agent process: one JSON command per line in, one JSON answer per line out. */
export class AgentSession {
  private readonly waiting: ((line: string) => void)[] = [];

  constructor(private readonly container: RunningContainer) {
    createInterface({ input: container.process.stdout! }).on('line', (line) => this.waiting.shift()?.(line));
  }

  /** Sends a command and resolves with the agent's answer. */
  send<T extends Record<string, unknown> = Record<string, unknown>>(command: Record<string, unknown>, timeoutMs = 60_000): Promise<{ ok: boolean; status?: number; error?: string } & T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the agent did not answer ${JSON.stringify(command)} within ${timeoutMs} ms:\n${this.container.logs.slice(-20).join('\n')}`)), timeoutMs);
      this.waiting.push((line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      });
      this.container.process.stdin!.write(`${JSON.stringify(command)}\n`);
    });
  }
}

/** The operator in this process, watching `namespace`, with its webhook registered by URL. */
export async function startOperatorWithWebhook(kubeConfig: KubeConfig, namespace: string, operatorNamespace: string, sidecarImage: string): Promise<{ test: TestOperator; webhookName: string; stop(): Promise<void> }> {
  const webhookName = `airlock-${Math.random().toString(36).slice(2, 8)}`;
  const test = await startTestOperator(kubeConfig, { watchNamespace: namespace, namespace: operatorNamespace, webhookConfigName: webhookName, identity: 'e2e-operator', sidecarImage });
  await registerWebhook(kubeConfig, webhookName, test.operator.webhookPort, namespace);
  await until(() => test.operator.isLeader, 'the operator to lead', 30_000);
  return {
    test,
    webhookName,
    async stop() {
      await test.operator.stop();
      await kubeConfig.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: webhookName }).catch(() => undefined);
    },
  };
}

/** Waits until the webhook mutates a dry-run pod of the sandbox (a new webhook configuration takes a moment). */
export async function webhookActive(kubeConfig: KubeConfig, namespace: string, timeoutMs = 30_000): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const probe: V1Pod = { metadata: { name: 'webhook-probe', labels: { [SANDBOX_LABEL]: SANDBOX } }, spec: { containers: [{ name: 'probe', image: 'probe' }] } };
  await until(async () => {
    const dry = await core.createNamespacedPod({ namespace, body: probe, dryRun: 'All' }).catch(() => undefined);
    return dry?.metadata?.annotations?.['airlock.dev/injected'] !== undefined;
  }, 'the webhook to mutate a dry-run pod', timeoutMs);
}

/** The status condition `type` of an Airlock object, via the custom objects API. */
export async function condition(kubeConfig: KubeConfig, namespace: string, plural: string, name: string, type: string): Promise<{ status: string; reason?: string; message?: string } | undefined> {
  const object = (await kubeConfig
    .makeApiClient(CustomObjectsApi)
    .getNamespacedCustomObject({ group: 'airlock.dev', version: 'v1alpha1', namespace, plural, name })
    .catch(() => undefined)) as { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } } | undefined;
  return object?.status?.conditions?.find((c) => c.type === type);
}
