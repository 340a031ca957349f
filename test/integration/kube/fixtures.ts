/**
 * The objects kube and chart tests apply again and again, as YAML for `kubectl apply -f -`: a
 * provider's key Secret (labelled so the operator may read it) and the ModelProvider using it,
 * an MCP backend's token Secret and the MCPBackend sending it, the AgentSandbox naming them.
 * Built from objects so a test says only what differs.
 */
import { stringify } from 'yaml';

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
