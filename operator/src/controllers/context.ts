/** What every reconciler gets: the API, the caches, the settings, and a way to queue more keys. */
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { mayRead, notReadable, type SecretRef } from '../kube/credentials.js';
import type { Kube } from '../kube/client.js';
import type { Caches } from '../runtime/informers.js';
import type { Settings } from '../settings.js';
import type { CredentialRejections } from '../usage/rejections.js';

export interface ControllerContext {
  kube: Kube;
  caches: Caches;
  settings: Settings;
  log: Logger;
  enqueue(key: string): void;
  /**
   * Results of the last provider probe and tool discovery per object, so events between two
   * periodic runs do not call the provider or backend again. Owned by one operator instance.
   */
  memos: Map<string, unknown>;
  /** Which sidecars report a provider's keys all refused (the leader's usage round). */
  rejections: CredentialRejections;
}

export type Kind = 'ModelProvider' | 'MCPBackend' | 'AgentSandbox';

/** The queue key of an object: Kind/namespace/name. */
export const keyOf = (kind: Kind, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

/** The parts of a queue key. */
export function parseKey(key: string): { kind: Kind; namespace: string; name: string } {
  const [kind, namespace, name] = key.split('/') as [Kind, string, string];
  return { kind, namespace, name };
}

/**
 * A Secret the operator may read for a resource in `namespace`: labelled by its owner as a
 * credential (see kube/credentials.ts), else undefined, as if it did not exist.
 */
export function credentialSecret(ctx: ControllerContext, namespace: string, name: string): V1Secret | undefined {
  const secret = ctx.caches.secrets.get(namespace, name);
  return mayRead(secret) ? secret : undefined;
}

/** Decodes one key of a credential Secret, for the operator's own calls (probe, discovery). */
export function secretValue(ctx: ControllerContext, namespace: string, ref: SecretRef): string | undefined {
  const data = credentialSecret(ctx, namespace, ref.name)?.data?.[ref.key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8').trim();
}

/** Which Secret references do not resolve, as human-readable reasons (never a value). */
export function missingSecretRefs(ctx: ControllerContext, namespace: string, refs: readonly SecretRef[]): string[] {
  return refs.flatMap(({ name, key }) => {
    const secret = credentialSecret(ctx, namespace, name);
    if (!secret) return [notReadable(name)];
    return secret.data?.[key] === undefined ? [`Secret ${name} has no key ${key}`] : [];
  });
}

/** Deep equality of JSON values, to skip writes that would change nothing. */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortKeys(v)]));
  return value;
}
