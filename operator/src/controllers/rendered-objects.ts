/**
 * Writing what an AgentSandbox renders (ConfigMap and NetworkPolicy airlock-<sandbox>, Secret
 * airlock-<sandbox>-credentials) so that the operator changes and deletes only objects this
 * sandbox controls: an owner reference with controller: true and the sandbox's uid.
 *
 * Anyone who may write AgentSandboxes chooses the names. A forced server-side apply over an
 * object of that name made by someone else (an admin's NetworkPolicy airlock-deny-all) would
 * rewrite it, give it the sandbox as owner (so the garbage collector deletes it with the
 * sandbox), and `isolation.network: none` would delete it. The caches list only objects labelled
 * as the operator's, so they cannot tell that a name is free: an object is created (POST), and a
 * 409 is judged on the object the API server holds. Applies carry the uid of the object they are
 * meant for, deletes a uid precondition, so an object made again under the name in between is
 * never touched.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { isConflict, type Kube } from '../kube/client.js';

/** Why a rendered object was not written, as the sandbox's ConfigRendered condition says it. */
export class RenderedObjectRefused extends Error {
  constructor(
    /** `NameConflict`: the name is another object's; `WriteFailed`: the API server refused the write. */
    readonly reason: 'NameConflict' | 'WriteFailed',
    message: string,
  ) {
    super(message);
  }
}

/** Whether `object` is controlled by the sandbox of this uid. */
export function controlledBy(object: KubernetesObject | undefined, uid: string): boolean {
  return object?.metadata?.ownerReferences?.some((o) => o.controller === true && o.uid === uid) ?? false;
}

/** One object a sandbox renders. */
export interface RenderedObject<T extends KubernetesObject> {
  /** As the operator wants it, its owner reference naming the sandbox as controller. */
  desired: T;
  /**
   * What the create writes when the name is free, the rest then applied: a field the create
   * writes belongs to no apply, and a later apply that leaves it out would not remove it (a key
   * a sandbox no longer uses would stay in its Secret). Undefined: `desired` is created whole.
   */
  claim?: T;
  /** As the cache shows it (only objects labelled as the operator's are cached). */
  live: T | undefined;
  /** Whether a live object already says what `desired` says (then nothing is written). */
  current: (live: T) => boolean;
  /**
   * Whether a live object can only be rewritten by deleting it and creating it again: one made
   * immutable, or holding fields another writer owns that clash with the operator's. Then a 422
   * from the apply is answered the same way. Undefined: never deleted to be rewritten.
   */
  stuck?: (live: T) => boolean;
}

/** The sandbox that owns the rendered objects: its name (for messages) and uid. */
export interface Owner {
  name: string;
  uid: string;
}

/**
 * Writes `object` unless its live copy already holds it. Throws {@link RenderedObjectRefused}
 * when the name is another object's or the API server refuses the write; other errors (the API
 * server unreachable) as they come.
 */
export async function writeRendered<T extends KubernetesObject>(kube: Kube, owner: Owner, object: RenderedObject<T>): Promise<void> {
  const { desired } = object;
  let live = object.live;
  if (live === undefined) {
    try {
      live = await kube.create(object.claim ?? desired);
      if (object.claim === undefined) return;
    } catch (err) {
      if (!isConflict(err)) throw refused(desired, err);
      live = await kube.findByName(desired);
      // Gone again between the two calls: the next reconcile creates it.
      if (live === undefined) throw new RenderedObjectRefused('WriteFailed', `${describe(desired)} was deleted while the operator created it; trying again`);
    }
  }
  if (!controlledBy(live, owner.uid)) throw nameConflict(desired, owner);
  if (object.stuck?.(live)) return recreate(kube, object, live);
  if (object.current(live)) return;
  try {
    // Stale keys first: a key of about 1 MiB someone patched in would otherwise have every apply
    // refused as too large, and the key never removed.
    await removeStaleData(kube, desired, live);
    await applyOver(kube, desired, live);
  } catch (err) {
    if (object.stuck && (err as { code?: number }).code === 422) return recreate(kube, object, live);
    // The object was replaced since the cache saw it (the uid did not hold): judged again next time.
    if (isConflict(err)) throw err;
    throw refused(desired, err);
  }
}

/** Applies `desired` over `live` and no other object: the apply names live's uid (a 409 when it is not that one). */
async function applyOver<T extends KubernetesObject>(kube: Kube, desired: T, live: T): Promise<void> {
  await kube.apply({ ...desired, metadata: { ...desired.metadata, uid: live.metadata?.uid } });
}

/**
 * Removes the keys of live's `data` that the rendered object has not. Server-side apply removes
 * only keys it wrote before: a key someone else patched into the credentials Secret stayed for
 * good, and with it a Secret the operator's seal no longer vouches for (ADR 30). By name, on that
 * object only (its uid in the patch).
 */
async function removeStaleData<T extends KubernetesObject>(kube: Kube, desired: T, live: T): Promise<void> {
  const rendered = (desired as { data?: Record<string, string> }).data;
  if (rendered === undefined) return;
  const stale = Object.keys((live as { data?: Record<string, string> }).data ?? {}).filter((key) => !Object.hasOwn(rendered, key));
  if (stale.length === 0) return;
  const { apiVersion, kind, metadata } = desired;
  await kube.mergePatch({ apiVersion, kind, metadata: { name: metadata?.name, namespace: metadata?.namespace, uid: live.metadata?.uid }, data: Object.fromEntries(stale.map((key) => [key, null])) } as KubernetesObject);
}

/**
 * Runs each write in turn, each whatever the ones before came to; throws the refusals together
 * (the first one's reason) once all ran. Any other error stops them at once.
 */
export async function writeAll(writes: (() => Promise<void>)[]): Promise<void> {
  const refusals: RenderedObjectRefused[] = [];
  for (const write of writes) {
    try {
      await write();
    } catch (err) {
      if (!(err instanceof RenderedObjectRefused)) throw err;
      refusals.push(err);
    }
  }
  if (refusals.length > 0) throw new RenderedObjectRefused(refusals[0]!.reason, refusals.map((r) => r.message).join('; '));
}

/** Deletes a live object of the sandbox that it no longer renders; one it does not control is left alone. */
export async function deleteRendered(kube: Kube, owner: Owner, live: KubernetesObject | undefined): Promise<void> {
  if (live === undefined || !controlledBy(live, owner.uid)) return;
  await kube.deleteIfExists(live, live.metadata?.uid);
}

/** Deletes the sandbox's own `live` object (that one only) and writes the rendered one in its place. */
async function recreate<T extends KubernetesObject>(kube: Kube, { desired, claim }: RenderedObject<T>, live: T): Promise<void> {
  try {
    await kube.deleteIfExists({ apiVersion: desired.apiVersion, kind: desired.kind, metadata: { name: desired.metadata?.name, namespace: desired.metadata?.namespace } }, live.metadata?.uid);
    const created = await kube.create(claim ?? desired);
    if (claim !== undefined) await applyOver(kube, desired, created);
  } catch (err) {
    throw refused(desired, err);
  }
}

function describe(object: KubernetesObject): string {
  return `${object.kind} ${object.metadata?.name}`;
}

function nameConflict(desired: KubernetesObject, owner: Owner): RenderedObjectRefused {
  return new RenderedObjectRefused(
    'NameConflict',
    `${describe(desired)} exists and is not this sandbox's (no controller owner reference to AgentSandbox ${owner.name}): the operator leaves it as it is and renders nothing into it. Rename the sandbox, or remove that ${desired.kind} if nobody needs it`,
  );
}

/**
 * The API server's refusal as the sandbox's status says it: code, reason and message, or for an
 * invalid Secret only the fields and their causes (the message would quote an invalid value).
 * Anything that is not an answer of the API server (a network error) is rethrown as it is.
 */
function refused(desired: KubernetesObject, err: unknown): unknown {
  const { code, body } = err as { code?: number; body?: unknown };
  if (typeof code !== 'number') return err;
  const status = statusOf(body);
  const detail =
    desired.kind === 'Secret' && code === 422
      ? (status.details?.causes ?? []).map((c) => `${c.field ?? ''}: ${c.reason ?? ''}`).join('; ')
      : (status.message ?? '');
  return new RenderedObjectRefused('WriteFailed', `${describe(desired)} could not be written: ${code} ${status.reason ?? ''}${detail ? `: ${detail}` : ''}`.trim());
}

interface ApiStatus {
  reason?: string;
  message?: string;
  details?: { causes?: { field?: string; reason?: string }[] };
}

function statusOf(body: unknown): ApiStatus {
  if (typeof body === 'object' && body !== null) return body as ApiStatus;
  if (typeof body !== 'string') return {};
  try {
    return JSON.parse(body) as ApiStatus;
  } catch {
    return {};
  }
}
