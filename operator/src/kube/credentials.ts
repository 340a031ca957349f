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
 *
 * Consent per use (ADR 0016): the owner may also bind the Secret to the hosts its keys are for,
 * annotation `airlock.dev/credential-hosts: "api.openai.com,*.openai.azure.com,10.0.0.5:8000"`.
 * Then only a ModelProvider or MCPBackend whose URL names one of them may use it (a stdio backend
 * has no host, so none may), whoever wrote the resource and however it is edited later. With
 * `--require-credential-hosts` a Secret without the annotation is not used at all.
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

/** The annotation by which a Secret's owner names the hosts its keys may be sent to. */
export const CREDENTIAL_HOSTS_ANNOTATION = 'airlock.dev/credential-hosts';

/** Where a resource would send a Secret's values: its URL, or undefined for a stdio process. */
export interface SecretUse {
  kind: 'ModelProvider' | 'MCPBackend';
  url: string | undefined;
}

/**
 * Why this use of a readable Secret lacks its owner's consent, or undefined when it has it.
 * An entry is a host or `*.domain` (any host below it), over https on any port, or `host:port`
 * (that port, http or https); hosts compare case-insensitively. The reason names the Secret
 * and the host, never a value.
 */
export function useRefused(secret: V1Secret, use: SecretUse, requireHosts: boolean): string | undefined {
  const name = secret.metadata?.name ?? '';
  const annotation = secret.metadata?.annotations?.[CREDENTIAL_HOSTS_ANNOTATION];
  if (annotation === undefined) {
    return requireHosts ? `Secret ${name} has no ${CREDENTIAL_HOSTS_ANNOTATION} annotation; this operator uses a Secret only for the hosts its owner names there` : undefined;
  }
  const entries = annotation.split(',').map((e) => e.trim().toLowerCase()).filter((e) => e !== '');
  if (use.url === undefined) return `Secret ${name} is for the hosts in its ${CREDENTIAL_HOSTS_ANNOTATION} annotation; a stdio ${use.kind} has no host`;
  let url: URL;
  try {
    url = new URL(use.url);
  } catch {
    return `Secret ${name}: the ${use.kind}'s URL is not a valid URL`;
  }
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const parsed = entries.map(parseEntry);
  const hostMatches = parsed.filter((e) => (e.host.startsWith('*.') ? host.endsWith(e.host.slice(1)) && host.length > e.host.length - 1 : host === e.host));
  // An entry without a port is for TLS: whoever may edit the resource must not be able to keep
  // the host and drop the scheme, sending the key across the network in the clear.
  if (hostMatches.some((e) => (e.port === undefined ? url.protocol === 'https:' : e.port === port))) return undefined;
  if (url.protocol !== 'https:' && hostMatches.some((e) => e.port === undefined)) {
    const named = url.hostname.toLowerCase();
    return `Secret ${name} is for ${named} over https only; the ${use.kind} would send it in the clear to ${url.origin} (its owner may name ${named}:${port} in ${CREDENTIAL_HOSTS_ANNOTATION} to allow that)`;
  }
  return `Secret ${name} is not for ${host}:${port} (its owner names ${entries.join(', ') || 'no host'} in ${CREDENTIAL_HOSTS_ANNOTATION})`;
}

/** One annotation entry: `host`, `host:port`, `[v6]`, `[v6]:port` or `*.domain`; no port means https on any port. */
function parseEntry(entry: string): { host: string; port: string | undefined } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] };
  const colon = entry.indexOf(':');
  // Two or more colons: an IPv6 literal without brackets, so without a port.
  if (colon === -1 || colon !== entry.lastIndexOf(':')) return { host: entry, port: undefined };
  return { host: entry.slice(0, colon), port: entry.slice(colon + 1) };
}

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
