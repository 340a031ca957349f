/** What every reconciler gets: the API, the caches, the settings, and a way to queue more keys. */
import type { KubernetesObject, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { mayRead, notReadable, useRefused, type SecretRef, type SecretUse } from '../kube/credentials.js';
import { findCondition, type ConditionInput, type ConditionValue } from '../kube/conditions.js';
import type { AirlockPlural, Kube } from '../kube/client.js';
import type { Caches } from '../runtime/informers.js';
import { settledWithin, type OutsideCalls } from '../runtime/outside-calls.js';
import type { Settings } from '../settings.js';
import type { MountedSecretHeaders } from '../telemetry/otlp-headers.js';
import type { SealKey } from '../tls/seal-key.js';
import type { CredentialRejections } from '../usage/rejections.js';
import type { SealedTokens } from '../usage/sealed-token.js';
import { secretReferences } from '../webhook/validate.js';

export interface ControllerContext {
  kube: Kube;
  caches: Caches;
  settings: Settings;
  log: Logger;
  enqueue(key: string): void;
  /**
   * Results of the last provider probe and tool discovery per object, so events between two
   * periodic runs do not call the provider or backend again, and usage tokens the cache does not
   * show yet. Owned by one operator instance; each reconciler drops its entries when its object is gone.
   */
  memos: Map<string, unknown>;
  /** Where probes and discoveries run, beside the reconcile queue (runtime/outside-calls.ts). */
  outside: OutsideCalls;
  /** Which sidecars report a provider's keys all refused (the leader's usage round). */
  rejections: CredentialRejections;
  /** The collector's secret headers as mounted (`settings.otlpHeadersDir`), read once per version. */
  collectorHeaders: MountedSecretHeaders;
  /** The key that seals every credentials Secret rendered (ADR 30). */
  seal: SealKey;
  /**
   * The usage tokens of credentials Secrets this operator sealed, each seal judged once per
   * version of its Secret: shared by the AgentSandbox reconciler and the usage route.
   */
  sealedTokens: SealedTokens;
}

export type Kind = 'ModelProvider' | 'MCPBackend' | 'AgentSandbox';

/** The queue key of an object: Kind/namespace/name. */
export const keyOf = (kind: Kind, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

/** How long a reconcile waits for a probe or discovery before going on without it. */
const OUTSIDE_WAIT_MS = 2_000;

/**
 * A memo refreshed by a call to a server the resource author chose (MCP discovery, the provider
 * probe), run beside the reconcile queue (runtime/outside-calls.ts) and waited for a moment: what
 * `compute` resolves to is stored under `memoKey` and `objectKey` is reconciled again, so a server
 * slower than the wait is seen then. Returns the memo as it stands after the wait: the new one, or
 * the last one (or none) while the call goes on.
 */
export async function refreshMemo<M>(ctx: ControllerContext, memoKey: string, namespace: string, objectKey: string, compute: () => Promise<M>): Promise<M | undefined> {
  const finished = ctx.outside.run(memoKey, namespace, async () => {
    ctx.memos.set(memoKey, await compute());
    ctx.enqueue(objectKey);
  });
  await settledWithin(finished, OUTSIDE_WAIT_MS);
  return ctx.memos.get(memoKey) as M | undefined;
}

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

/**
 * Which Secret references do not resolve for this use, as human-readable reasons (never a
 * value): absent or not opted in, no such key, or not for the use's host (kube/credentials.ts).
 */
export function missingSecretRefs(ctx: ControllerContext, namespace: string, refs: readonly SecretRef[], use: SecretUse): string[] {
  const reasons = refs.flatMap(({ name, key }) => {
    const secret = credentialSecret(ctx, namespace, name);
    if (!secret) return [notReadable(name)];
    const refused = useRefused(secret, use, ctx.settings.requireCredentialHosts);
    if (refused) return [refused];
    return secret.data?.[key] === undefined ? [`Secret ${name} has no key ${key}`] : [];
  });
  return [...new Set(reasons)];
}

/** A pod of a sandbox reaching a Secret through one of its fields. */
export interface Exposure {
  pod: string;
  field: string;
}

/**
 * The sandbox pods of `namespace` (running or pending) whose app, init or debug containers or
 * volumes reach Secret `name`: admitted before any resource referenced it (admission refuses such
 * a pod afterwards, P16), e.g. through an `optional: true` reference. While there is one, the
 * operator does not use the Secret: no probe, no discovery, no copy into a sandbox's credentials.
 */
export function exposuresOf(ctx: ControllerContext, namespace: string, name: string): Exposure[] {
  return ctx.caches.pods
    .list(namespace)
    .filter((pod) => !['Succeeded', 'Failed'].includes(pod.status?.phase ?? ''))
    .flatMap((pod) => secretReferences(pod, (n) => (n === name ? name : undefined)).map((r) => ({ pod: pod.metadata!.name!, field: r.path })));
}

/** Every Secret a pod's containers or volumes reach, by name (what a pod change may expose). */
export function secretsReachedBy(pod: V1Pod): Set<string> {
  // The guard's answer is the refusal message; naming the Secret there collects the names.
  return new Set(secretReferences(pod, (n) => n).map((r) => r.message));
}

/** Why the referenced Secrets may not be used while pods reach them (pod and field; never a value). */
export function exposedSecretRefs(ctx: ControllerContext, namespace: string, refs: readonly SecretRef[]): string[] {
  return [...new Set(refs.map((r) => r.name))].flatMap((name) => {
    const exposures = exposuresOf(ctx, namespace, name);
    if (exposures.length === 0) return [];
    return [`Secret ${name} is not used while sandbox pods reach it: ${exposures.map((e) => `pod ${e.pod} (${e.field})`).join(', ')}; delete those pods`];
  });
}

/**
 * The Events of a status change: a Warning for each `alarms` condition type that just turned to
 * its alarming status (e.g. CredentialsExposed=True), and one for Ready when it changed, unless
 * Ready=False only repeats an alarm just announced.
 */
export async function announce(ctx: ControllerContext, object: KubernetesObject, before: readonly ConditionValue[] | undefined, after: readonly ConditionValue[], alarms: Record<string, 'True' | 'False'>): Promise<void> {
  const announced = new Set<string>();
  for (const [type, alarming] of Object.entries(alarms)) {
    const now = findCondition(after, type);
    if (now?.status !== alarming || findCondition(before, type)?.status === alarming) continue;
    await ctx.kube.event(object, 'Warning', now.reason, now.message);
    announced.add(now.reason);
  }
  const ready = findCondition(after, 'Ready');
  if (!ready || findCondition(before, 'Ready')?.status === ready.status) return;
  if (ready.status === 'False' && announced.has(ready.reason)) return;
  await ctx.kube.event(object, ready.status === 'True' ? 'Normal' : 'Warning', ready.reason, ready.message);
}

/** CredentialsExposed from {@link exposedSecretRefs}: True (an alarm) while sandbox pods reach a Secret the resource names. */
export function exposedCondition(exposed: readonly string[]): ConditionInput {
  return exposed.length > 0
    ? { type: 'CredentialsExposed', status: 'True', reason: 'CredentialsExposed', message: exposed.join('; ') }
    : { type: 'CredentialsExposed', status: 'False', reason: 'NotExposed', message: 'no sandbox pod reaches the Secrets it names' };
}

/** A status this operator wrote, and the version of the object it was written over. */
interface WrittenStatus {
  uid: string | undefined;
  over: string | undefined;
  status: unknown;
}

const statusMemo = (kind: Kind, namespace: string, name: string) => `status/${kind}/${namespace}/${name}`;

type WithStatus<S> = KubernetesObject & { metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string }; status?: S };

/**
 * The object's status as it stands: as the cache shows it, unless the cache still shows the
 * version this operator last wrote its status over, then as written. Writing the rendered objects
 * and the status queues the object again before the watch has brought the status back; read from
 * the cache, that reconcile would see the old status and announce the same change twice (two
 * ConfigRendered Events per create).
 */
export function statusNow<S>(ctx: ControllerContext, kind: Kind, object: WithStatus<S>): S | undefined {
  const written = ctx.memos.get(statusMemo(kind, object.metadata.namespace ?? 'default', object.metadata.name)) as WrittenStatus | undefined;
  const stale = written !== undefined && written.uid === object.metadata.uid && written.over === object.metadata.resourceVersion;
  return stale ? (written.status as S) : object.status;
}

/** Writes the object's status (status subresource) and remembers it for {@link statusNow}. */
export async function writeStatus(ctx: ControllerContext, kind: Kind, plural: AirlockPlural, object: WithStatus<unknown>, status: object, sent: object = status): Promise<void> {
  const namespace = object.metadata.namespace ?? 'default';
  await ctx.kube.patchStatus(plural, namespace, object.metadata.name, sent);
  ctx.memos.set(statusMemo(kind, namespace, object.metadata.name), { uid: object.metadata.uid, over: object.metadata.resourceVersion, status } satisfies WrittenStatus);
}

/** Forgets what {@link writeStatus} remembered of an object that is gone. */
export function forgetStatus(ctx: ControllerContext, kind: Kind, namespace: string, name: string): void {
  ctx.memos.delete(statusMemo(kind, namespace, name));
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
