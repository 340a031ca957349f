/**
 * An operator for integration tests: started in-process against a real API server, scoped to
 * one namespace, with its webhook registered in a MutatingWebhookConfiguration that the API
 * server calls by URL on 127.0.0.1 (the caBundle is the operator's to patch).
 */
import { AdmissionregistrationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { startOperator, type Operator } from '../../../operator/src/operator.js';
import { Settings, type SettingsInput } from '../../../operator/src/settings.js';

export interface TestOperator {
  operator: Operator;
  logs: string[];
  settings: Settings;
}

/** A logger that keeps lines for assertions (and prints nothing). */
export function captureLogger(level = 'debug'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level }, new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).split('\n').filter(Boolean)), done()) }));
  return { log, lines };
}

/** Starts an operator that watches `watchNamespace` and keeps its Lease and TLS Secret in `namespace`. */
export async function startTestOperator(kubeConfig: KubeConfig, { watchNamespace, ...input }: SettingsInput & { watchNamespace: string; namespace: string }, options: { sidecarAdminPort?: number } = {}): Promise<TestOperator> {
  const settings = Settings.parse({
    watchNamespaces: watchNamespace,
    webhookHost: '127.0.0.1',
    webhookPort: 0,
    healthHost: '127.0.0.1',
    healthPort: 0,
    webhookExtraNames: '127.0.0.1',
    leaseDurationSeconds: 4,
    renewDeadlineMs: 3_000,
    retryPeriodMs: 500,
    certCheckIntervalMs: 500,
    sidecarImage: 'registry.test/airlock-sidecar:test',
    ...input,
  });
  const { log, lines } = captureLogger();
  const operator = await startOperator({ kubeConfig, settings, log, ...options });
  return { operator, logs: lines, settings };
}

/**
 * Registers the operator's webhook for pods in `namespace` with the sandbox label, as the chart
 * does but by URL. Without a caBundle until the operator patches it in.
 */
export async function registerWebhook(kubeConfig: KubeConfig, name: string, port: number, namespace: string, scope: { operations?: string[]; resources?: string[] } = {}): Promise<void> {
  const api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  await api.createMutatingWebhookConfiguration({
    body: {
      metadata: { name },
      webhooks: [
        {
          name: 'pods.airlock.dev',
          clientConfig: { url: `https://127.0.0.1:${port}/mutate` },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: scope.operations ?? ['CREATE'], resources: scope.resources ?? ['pods'], scope: 'Namespaced' }],
          objectSelector: { matchExpressions: [{ key: 'airlock.dev/sandbox', operator: 'Exists' }] },
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
          failurePolicy: 'Fail',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 10,
          reinvocationPolicy: 'Never',
        },
      ],
    },
  });
}

/** Polls `probe` until it returns true (for set-up hooks, where expect.poll is not allowed). */
export async function until(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A loopback port free right now on `host`, for a server whose URL must be known before it starts. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A ServiceAccount `author` of `namespace` with a Role of its own: may write ModelProviders,
 * MCPBackends and AgentSandboxes, may not read Secrets (tests act as it through impersonation).
 */
export const resourceAuthorYaml = (namespace: string) => `apiVersion: v1
kind: ServiceAccount
metadata: { name: author }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: airlock-author }
rules:
  - apiGroups: [airlock.dev]
    resources: [modelproviders, mcpbackends, agentsandboxes]
    verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: airlock-author }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: airlock-author }
subjects: [{ kind: ServiceAccount, name: author, namespace: ${namespace} }]
`;
