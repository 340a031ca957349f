/**
 * The pod after its CREATE: what injection wrote must stay as written for the pod's whole life.
 * The webhook sees every UPDATE of a pod that carries the sandbox label before or after (the
 * API server matches the objectSelector against the old and the new object), including the
 * `ephemeralcontainers` subresource `kubectl debug` uses.
 */
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node';
import { SANDBOX_LABEL } from '../api/index.js';
import { harden } from './inject.js';
import type { Refusal } from './refusal.js';
import { CREDENTIALS_VOLUME, credentialsSecretNameFor, INJECTED_ANNOTATION, RESERVED_CONTAINERS, RESERVED_VOLUMES, SIDECAR_CONTAINER, type InjectionSettings } from './settings.js';
import { secretGuard, sidecarImageRefusals, userContainers, validateEphemeral, type SecretGuard } from './validate.js';

const LABEL_PATH = `metadata.labels[${SANDBOX_LABEL}]`;

/** What an UPDATE comes to: refusals, or the pod to store (with new ephemeral containers hardened). */
export interface UpdateDecision {
  refusals: Refusal[];
  /** The new object with Airlock's changes; undefined when nothing changes. */
  mutated?: V1Pod;
}

/** JSON with keys sorted, so objects compare by content whatever the order the API server sent. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));

/** The first top-level field of two objects that differs, for a refusal that names it. */
function firstDifference(before: object | undefined, after: object | undefined): string | undefined {
  if (before === undefined || after === undefined) return before === after ? undefined : '';
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.find((key) => canonical((before as Record<string, unknown>)[key]) !== canonical((after as Record<string, unknown>)[key]));
}

/** Injection's containers of one list by name, with their index in the new pod. */
function ownedContainers(list: V1Container[] | undefined): Map<string, { container: V1Container; index: number }> {
  return new Map((list ?? []).flatMap((container, index) => (RESERVED_CONTAINERS.has(container.name) ? [[container.name, { container, index }] as const] : [])));
}

function ownedVolumes(list: V1Volume[] | undefined): Map<string, { volume: V1Volume; index: number }> {
  return new Map((list ?? []).flatMap((volume, index) => (RESERVED_VOLUMES.has(volume.name) ? [[volume.name, { volume, index }] as const] : [])));
}

/** Refusals for every change to a container or volume injection owns, and to its record. */
function ownedFieldChanges(before: V1Pod, after: V1Pod): Refusal[] {
  const refusals: Refusal[] = [];
  for (const field of ['initContainers', 'containers'] as const) {
    const old = ownedContainers(before.spec?.[field]);
    const now = ownedContainers(after.spec?.[field]);
    for (const name of new Set([...old.keys(), ...now.keys()])) {
      const key = firstDifference(old.get(name)?.container, now.get(name)?.container);
      if (key === undefined) continue;
      const at = now.get(name) ?? old.get(name)!;
      refusals.push({ path: `spec.${field}[${at.index}]${key ? `.${key}` : ''}`, message: `${name} is injected by Airlock and cannot be changed after the pod is created` });
    }
  }
  const old = ownedVolumes(before.spec?.volumes);
  const now = ownedVolumes(after.spec?.volumes);
  for (const name of new Set([...old.keys(), ...now.keys()])) {
    if (canonical(old.get(name)?.volume) === canonical(now.get(name)?.volume)) continue;
    const at = now.get(name) ?? old.get(name)!;
    refusals.push({ path: `spec.volumes[${at.index}]`, message: `volume ${name} is injected by Airlock and cannot be changed after the pod is created` });
  }
  if (before.metadata?.annotations?.[INJECTED_ANNOTATION] !== after.metadata?.annotations?.[INJECTED_ANNOTATION]) {
    refusals.push({ path: `metadata.annotations[${INJECTED_ANNOTATION}]`, message: 'is written by Airlock when it injects the pod and cannot be changed' });
  }
  return refusals;
}

/**
 * App and init container images are the one part of a container an UPDATE may change: a new
 * image must pass the image rule a new pod's containers meet (`kubectl set image` to the sidecar's).
 */
function changedImages(before: V1Pod, after: V1Pod, settings: InjectionSettings): Refusal[] {
  const old = new Map(userContainers(before).map((placed) => [placed.path, placed.container.image]));
  return userContainers(after)
    .filter((placed) => !placed.ephemeral && old.get(placed.path) !== placed.container.image)
    .flatMap((placed) => sidecarImageRefusals(after, placed, settings));
}

/**
 * Decides a pod UPDATE (the pod itself, `ephemeralcontainers` or `resize`). The sandbox label
 * can be neither added (containers cannot be added to a running pod, so it would run without the
 * sidecar) nor removed or changed (the webhook, the NetworkPolicy and the count all select on
 * it). Injection's containers, volumes and record stay as injected. Ephemeral containers the
 * update adds must pass the pod policy and are hardened as app containers are.
 */
export function decideUpdate(before: V1Pod, after: V1Pod, settings: InjectionSettings, guard: SecretGuard = secretGuard(settings)): UpdateDecision {
  const was = before.metadata?.labels?.[SANDBOX_LABEL];
  const is = after.metadata?.labels?.[SANDBOX_LABEL];
  if (was === undefined && is === undefined) return { refusals: [] };
  if (was === undefined) {
    return { refusals: [{ path: LABEL_PATH, message: 'can only be set when the pod is created: Airlock injects its sidecar then, and this pod would run without it' }] };
  }
  if (is !== was) {
    const change = is === undefined ? 'removed' : `changed to ${JSON.stringify(is)}`;
    return { refusals: [{ path: LABEL_PATH, message: `cannot be ${change}: the pod was created for AgentSandbox ${JSON.stringify(was)}; delete it and create a new one` }] };
  }

  const existing = new Set((before.spec?.ephemeralContainers ?? []).map((c) => c.name));
  const added = new Set((after.spec?.ephemeralContainers ?? []).map((c) => c.name).filter((name) => !existing.has(name)));
  const refusals = [...ownedFieldChanges(before, after), ...changedImages(before, after, settings), ...validateEphemeral(after, added, settings, guard)];
  if (refusals.length > 0 || added.size === 0) return { refusals };
  const mutated = structuredClone(after);
  for (const container of mutated.spec?.ephemeralContainers ?? []) if (added.has(container.name)) harden(container);
  return { refusals, mutated };
}

/**
 * Whether a pod shares its sandbox's limits (ADR 0014): its sidecar runs, as the kubelet reports
 * it (a native sidecar among the init containers' statuses, else among the containers'), or the
 * pod is on a node and its sidecar has not started yet, so the others' shares are divided before
 * it can spend. Not a pod no node takes (unschedulable, over quota, waiting for an autoscaler):
 * such pods took a share before, and each running pod's limits shrank with every one of them.
 */
export function sharesLimits(pod: V1Pod): boolean {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const sidecar = statuses.find((s) => s.name === SIDECAR_CONTAINER);
  if (sidecar?.state?.running !== undefined) return true;
  return pod.spec?.nodeName !== undefined && pod.status?.phase === 'Pending' && sidecar?.state?.terminated === undefined;
}

/**
 * Whether a pod carries the sidecar of the sandbox its label names, judged from what the API
 * server stored rather than from the `airlock.dev/injected` annotation anyone creating a pod can
 * write: the sidecar container, and the credentials volume of that sandbox mounted in it.
 * Containers and volumes cannot change after creation, and the webhook refuses changing their
 * images, so this holds for the pod's life.
 */
export function carriesSidecar(pod: V1Pod): boolean {
  const sandbox = pod.metadata?.labels?.[SANDBOX_LABEL];
  if (!sandbox) return false;
  const spec = pod.spec;
  const native = (spec?.initContainers ?? []).find((c) => c.name === SIDECAR_CONTAINER && c.restartPolicy === 'Always');
  const sidecar = native ?? (spec?.containers ?? []).find((c) => c.name === SIDECAR_CONTAINER);
  const volume = (spec?.volumes ?? []).find((v) => v.name === CREDENTIALS_VOLUME);
  return (
    sidecar !== undefined &&
    volume?.secret?.secretName === credentialsSecretNameFor(sandbox) &&
    (sidecar.volumeMounts ?? []).some((m) => m.name === CREDENTIALS_VOLUME)
  );
}
