/**
 * The objects kube and chart tests apply again and again, as YAML for `kubectl apply -f -`: a
 * provider's key Secret (labelled so the operator may read it) and the ModelProvider using it,
 * an MCP backend's token Secret and the MCPBackend sending it, the AgentSandbox naming them, a
 * sandbox pod. Built from objects so a test says only what differs. And what kube tests start
 * from and read back: a namespace with an operator that leads, kubectl as the namespace's
 * resource author, a resource's conditions, a sandbox's credentials.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { findCondition } from '../../../operator/src/kube/conditions.js';
import type { Kubectl } from '../../controlplane/kubectl.js';
import { freshNamespace, installCrds } from './crds.js';
import { kubectl } from './kubectl.js';
import { startTestOperator, until, type TestOperator } from './operator-harness.js';

const API = 'airlock.dev/v1alpha1';

/** YAML documents for one `kubectl apply -f -`. */
export function documents(...objects: object[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** A Secret the operator may read (label `airlock.dev/credential: "true"`), with `data` as stringData. */
export function credentialSecret(name: string, data: Record<string, string>): object {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, labels: { 'airlock.dev/credential': 'true' } }, stringData: data };
}

/** What a test says about a ModelProvider. */
export interface ProviderFixture {
  name: string;
  type: string;
  models: string[];
  baseURL?: string;
  /** Its one API key: the Secret and key it is read from, and the value the Secret holds (none: no Secret is made). */
  key?: { secret: string; key: string; value?: string };
  /** Probe the provider's model list every 30 s. */
  probe?: boolean;
}

/** The ModelProvider alone (its key Secret, if any, is the test's business). */
export function modelProvider(p: ProviderFixture): object {
  return {
    apiVersion: API,
    kind: 'ModelProvider',
    metadata: { name: p.name },
    spec: {
      type: p.type,
      ...(p.baseURL ? { baseURL: p.baseURL } : {}),
      ...(p.key ? { apiKeys: [{ secretName: p.key.secret, key: p.key.key }] } : {}),
      models: p.models.map((name) => ({ name })),
      ...(p.probe ? { probe: { enabled: true, intervalSeconds: 30 } } : {}),
    },
  };
}

/** The provider's key Secret (when its key has a value) and the ModelProvider, as YAML; `more` objects follow them. */
export function providerFixture(p: ProviderFixture, ...more: object[]): string {
  const secret = p.key?.value !== undefined ? [credentialSecret(p.key.secret, { [p.key.key]: p.key.value })] : [];
  return documents(...secret, modelProvider(p), ...more);
}

/** An AgentSandbox using `providers` (and `spec` beyond that). */
export function agentSandbox(name: string, providers: string[], spec: Record<string, unknown> = {}): object {
  return { apiVersion: API, kind: 'AgentSandbox', metadata: { name }, spec: { providers, ...spec } };
}

/** What a test says about a Streamable HTTP MCPBackend. */
export interface BackendFixture {
  name: string;
  url: string;
  /** Streamable HTTP unless said. */
  transport?: 'streamable-http' | 'sse';
  /** An Authorization header from a Secret: the Secret and key it is read from, and the value the Secret holds (none: no Secret is made). */
  authorization?: { secret: string; key: string; value?: string };
  /** More of its spec (approval, tools filters ...). */
  spec?: Record<string, unknown>;
}

/** The MCPBackend alone. */
export function mcpBackend(b: BackendFixture): object {
  const headers = b.authorization ? { headers: [{ name: 'Authorization', secretKeyRef: { name: b.authorization.secret, key: b.authorization.key } }] } : {};
  return { apiVersion: API, kind: 'MCPBackend', metadata: { name: b.name }, spec: { transport: b.transport ?? 'streamable-http', url: b.url, ...headers, ...b.spec } };
}

/** The backend's token Secret (when it has one) and the MCPBackend, as YAML; `more` objects follow them. */
export function backendFixture(b: BackendFixture, ...more: object[]): string {
  const secret = b.authorization?.value !== undefined ? [credentialSecret(b.authorization.secret, { [b.authorization.key]: b.authorization.value })] : [];
  return documents(...secret, mcpBackend(b), ...more);
}

/** A pod of `sandbox` (labelled for it) with one container `agent`; `spec` is merged over that. */
export function sandboxPod(name: string, sandbox: string, spec: Record<string, unknown> = {}): object {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { 'airlock.dev/sandbox': sandbox } }, spec: { containers: [{ name: 'agent', image: 'agent:1' }], ...spec } };
}

/**
 * kubectl as the resource author of `namespace` (resourceAuthorYaml: may write ModelProviders,
 * MCPBackends and AgentSandboxes, may not read Secrets), through impersonation.
 */
export function asAuthor(namespace: string): Kubectl {
  const as = ['-n', namespace, `--as=system:serviceaccount:${namespace}:author`];
  return { run: (args, input) => kubectl().run([...args, ...as], input), ok: (args, input) => kubectl().ok([...args, ...as], input) };
}

/** A condition of an Airlock resource's status. */
export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

/** Condition `type` of `kind/name` in `namespace`, read as the admin or, given `reader`, as that (asAuthor). */
export async function conditionOf(namespace: string, kind: string, name: string, type: string, reader: Kubectl = kubectl()): Promise<Condition | undefined> {
  const object = JSON.parse(await reader.ok(['get', kind, name, '-n', namespace, '-o', 'json'])) as { status?: { conditions?: Condition[] } };
  return findCondition(object.status?.conditions, type);
}

/** The decoded values of the operator's credentials Secret of `sandbox` (none while it does not exist). */
export async function credentialValues(namespace: string, sandbox: string): Promise<string[]> {
  const result = await kubectl().run(['get', 'secret', `airlock-${sandbox}-credentials`, '-n', namespace, '-o', 'json']);
  return result.code === 0 ? Object.values((JSON.parse(result.stdout) as { data?: Record<string, string> }).data ?? {}).map((v) => Buffer.from(v, 'base64').toString()) : [];
}

/** What {@link operatorForNamespace} started. */
export interface NamespacedOperator {
  kc: KubeConfig;
  /** The fresh namespace the operator watches. */
  ns: string;
  /** The operator's own namespace (its Lease). */
  opNs: string;
  test: TestOperator;
}

/**
 * The start of most kube tests: the CRDs installed, a fresh namespace `<prefix>-…` and an
 * operator that watches it alone and leads (identity `operator-<prefix>`, no webhook configuration
 * of its own unless `settings` names one). `settings` and `options` go to startTestOperator.
 */
export async function operatorForNamespace(prefix: string, settings: Partial<Parameters<typeof startTestOperator>[1]> = {}, options: Parameters<typeof startTestOperator>[2] = {}): Promise<NamespacedOperator> {
  const kc = new KubeConfig();
  kc.loadFromString(inject('kubeconfig'));
  await installCrds();
  const ns = await freshNamespace(prefix);
  const opNs = await freshNamespace('airlock-system');
  const test = await startTestOperator(kc, { webhookConfigName: `airlock-none-${ns}`, identity: `operator-${prefix}`, ...settings, watchNamespace: ns, namespace: opNs }, options);
  await until(() => test.operator.isLeader, 'the operator to lead', 20_000);
  return { kc, ns, opNs, test };
}
