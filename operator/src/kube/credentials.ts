/**
 * The one place that decides whether a Secret is the operator's to read, and which Secrets the
 * Airlock resources of a namespace reference.
 *
 * Secrets are read by consent: the Secret's owner labels it `airlock.dev/credential: "true"`
 * (the pattern external-secrets and cert-manager users know). Without the label, a resource
 * author who may create ModelProviders or MCPBackends but not read Secrets could otherwise make
 * the operator read any Secret of the namespace and send it to a URL of their choosing. The
 * operator's own output (`airlock-<sandbox>-credentials`, labelled managed-by) is never a source.
 * The informer lists only labelled Secrets, so memory does not grow with unrelated ones.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { MCPBackend, ModelProvider } from '../api/index.js';

/** The label a Secret's owner sets to let the operator read it. */
export const CREDENTIAL_LABEL = 'airlock.dev/credential';
/** The label selector of the operator's Secret informer. */
export const CREDENTIAL_SELECTOR = `${CREDENTIAL_LABEL}=true`;
/** Label on everything the operator creates. */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'airlock-operator' } as const;
/** The label selector of what the operator created. */
export const MANAGED_SELECTOR = Object.entries(MANAGED_BY).map(([k, v]) => `${k}=${v}`).join(',');

/** A reference to one key of a Secret in the same namespace. */
export interface SecretRef {
  name: string;
  key: string;
}

/** What a condition says about a Secret the operator may not or cannot read (never a value). */
export const notReadable = (name: string) => `Secret ${name} not found or not labelled ${CREDENTIAL_LABEL}: "true" (its owner must opt in)`;

/** Whether the operator may read this Secret's data on behalf of a resource. */
export function mayRead(secret: V1Secret | undefined): secret is V1Secret {
  const labels = secret?.metadata?.labels ?? {};
  return labels[CREDENTIAL_LABEL] === 'true' && labels['app.kubernetes.io/managed-by'] !== MANAGED_BY['app.kubernetes.io/managed-by'];
}

/** Every Secret key a ModelProvider reads (its API keys). */
export function providerSecretRefs(provider: ModelProvider): SecretRef[] {
  return (provider.spec.apiKeys ?? []).map((k) => ({ name: k.secretName, key: k.key }));
}

/** Every Secret key an MCPBackend reads (header and stdio env values). */
export function backendSecretRefs(backend: MCPBackend): SecretRef[] {
  return [...(backend.spec.headers ?? []), ...(backend.spec.stdio?.env ?? [])].flatMap((e) => (e.secretKeyRef ? [e.secretKeyRef] : []));
}

/**
 * The names of every Secret the given resources reference: what no app container of a sandbox
 * pod may mount or read, however it is referenced.
 */
export function referencedSecretNames(providers: readonly ModelProvider[], backends: readonly MCPBackend[]): Set<string> {
  return new Set([...providers.flatMap(providerSecretRefs), ...backends.flatMap(backendSecretRefs)].map((r) => r.name));
}
