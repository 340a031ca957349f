/** What every reconciler gets: the API, the caches, the settings, and a way to queue more keys. */
import type { Logger } from 'pino';
import type { Kube } from '../kube/client.js';
import type { Caches } from '../runtime/informers.js';
import type { Settings } from '../settings.js';

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
}

export type Kind = 'ModelProvider' | 'MCPBackend' | 'AgentSandbox';

/** The queue key of an object: Kind/namespace/name. */
export const keyOf = (kind: Kind, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

/** The parts of a queue key. */
export function parseKey(key: string): { kind: Kind; namespace: string; name: string } {
  const [kind, namespace, name] = key.split('/') as [Kind, string, string];
  return { kind, namespace, name };
}

/** Decodes one key of a Secret's data, for the operator's own calls (probe, discovery). */
export function secretValue(ctx: ControllerContext, namespace: string, name: string, key: string): string | undefined {
  const data = ctx.caches.secrets.get(namespace, name)?.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8').trim();
}

/** Which Secret references do not resolve, as human-readable reasons (never a value). */
export function missingSecretRefs(ctx: ControllerContext, namespace: string, refs: readonly { name: string; key: string }[]): string[] {
  return refs.flatMap(({ name, key }) => {
    const secret = ctx.caches.secrets.get(namespace, name);
    if (!secret) return [`Secret ${name} not found`];
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
