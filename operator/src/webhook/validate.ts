/**
 * Admission checks for sandbox pods: a pod that could defeat the airlock is refused, with a
 * message naming the field, instead of being injected and quietly left with a hole.
 */
import type { V1Container, V1EphemeralContainer, V1Pod } from '@kubernetes/client-node';
import { SANDBOX_LABEL } from '../api/index.js';
import { CONFIG_VOLUME, CREDENTIALS_VOLUME, RESERVED_CONTAINERS, type InjectionSettings } from './settings.js';

/** Why a pod is refused: the offending field path (as `kubectl explain` spells it) and the reason. */
export interface Refusal {
  /** e.g. `spec.containers[1].securityContext.runAsUser`. */
  path: string;
  message: string;
}

/** `path: message` for one refusal. */
export const formatRefusal = (refusal: Refusal): string => `${refusal.path}: ${refusal.message}`;

/**
 * Capabilities an app container may not add. NET_ADMIN and NET_RAW would let it rewrite or step
 * around the firewall, SYS_ADMIN is nearly root on the node, SETUID and SETGID would let it
 * become the sidecar's UID, and ALL includes every one of them. The rest of the drop list
 * injection applies is enforced by dropping; these are refused so the user learns why.
 */
const FORBIDDEN_ADDS = new Set(['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SETUID', 'SETGID', 'ALL']);

/** Container runtimes accept capability names with or without the `CAP_` prefix, in any case. */
export const normalizeCapability = (name: string): string => name.toUpperCase().replace(/^CAP_/, '');

type AnyContainer = V1Container | V1EphemeralContainer;

/** Every container of the pod with its field path, skipping the ones injection owns (it replaces them). */
function userContainers(pod: V1Pod): { container: AnyContainer; path: string }[] {
  const spec = pod.spec;
  if (!spec) return [];
  const out: { container: AnyContainer; path: string }[] = [];
  const lists: [string, AnyContainer[] | undefined, boolean][] = [
    ['initContainers', spec.initContainers, true],
    ['containers', spec.containers, true],
    // Ephemeral containers are never injected, so a reserved name there is the user's own.
    ['ephemeralContainers', spec.ephemeralContainers, false],
  ];
  for (const [field, list, skipReserved] of lists) {
    (list ?? []).forEach((container, i) => {
      if (skipReserved && RESERVED_CONTAINERS.has(container.name)) return;
      out.push({ container, path: `spec.${field}[${i}]` });
    });
  }
  return out;
}

/**
 * The checks that stop a pod from defeating the airlock. Pure; the caller also checks that the
 * named sandbox exists. Containers named `airlock-sidecar` or `airlock-firewall` are not checked
 * here because injection replaces them with its own rendering.
 */
export function validatePod(pod: V1Pod, settings: InjectionSettings): Refusal[] {
  const refusals: Refusal[] = [];
  const spec = pod.spec;
  if (!spec) return [{ path: 'spec', message: 'a pod needs a spec' }];
  const uid = settings.sidecarUID;

  if (spec.hostNetwork) {
    refusals.push({ path: 'spec.hostNetwork', message: 'a sandbox pod cannot use the node\'s network namespace: the firewall would not apply and the node\'s interfaces would be reachable' });
  }
  if (spec.hostPID) {
    refusals.push({ path: 'spec.hostPID', message: 'a sandbox pod cannot share the node\'s process namespace: it could read the sidecar\'s memory and files' });
  }
  if (spec.shareProcessNamespace) {
    refusals.push({ path: 'spec.shareProcessNamespace', message: 'a sandbox pod cannot share one process namespace: app containers could read the sidecar\'s credentials through /proc' });
  }

  const inheritsPodUID: string[] = [];
  for (const { container, path } of userContainers(pod)) {
    const sc = container.securityContext;
    if (sc?.runAsUser === uid) {
      refusals.push({ path: `${path}.securityContext.runAsUser`, message: `${uid} is the Airlock sidecar's UID; an app container must not run as it` });
    } else if (sc?.runAsUser === undefined && spec.securityContext?.runAsUser === uid) {
      inheritsPodUID.push(container.name);
    }
    if (sc?.privileged) {
      refusals.push({ path: `${path}.securityContext.privileged`, message: 'a privileged container can rewrite the firewall and read the sidecar\'s files; sandbox pods cannot have one' });
    }
    (sc?.capabilities?.add ?? []).forEach((cap, j) => {
      if (FORBIDDEN_ADDS.has(normalizeCapability(cap))) {
        refusals.push({ path: `${path}.securityContext.capabilities.add[${j}]`, message: `${cap} would let an app container bypass the Airlock firewall or become the sidecar's UID` });
      }
    });
    refusals.push(...credentialExposure(pod, container, path, settings));
  }
  if (inheritsPodUID.length > 0) {
    refusals.push({
      path: 'spec.securityContext.runAsUser',
      message: `${uid} is the Airlock sidecar's UID; containers ${inheritsPodUID.join(', ')} would run as it`,
    });
  }

  refusals.push(...credentialVolumes(pod, settings));
  return refusals;
}

/** The sandbox a pod names in its label, if any. */
export const sandboxNameOf = (pod: V1Pod): string | undefined => pod.metadata?.labels?.[SANDBOX_LABEL];

/** App containers may not reach the credentials through the sidecar-only volumes, env or envFrom. */
function credentialExposure(pod: V1Pod, container: AnyContainer, path: string, settings: InjectionSettings): Refusal[] {
  const refusals: Refusal[] = [];
  (container.volumeMounts ?? []).forEach((mount, j) => {
    if (mount.name === CREDENTIALS_VOLUME || mount.name === CONFIG_VOLUME) {
      refusals.push({ path: `${path}.volumeMounts[${j}].name`, message: `${mount.name} is mounted in the Airlock sidecar only` });
    }
  });
  const sandbox = sandboxNameOf(pod);
  if (sandbox === undefined) return refusals;
  const secret = settings.credentialsSecretName(sandbox);
  (container.env ?? []).forEach((env, j) => {
    if (env.valueFrom?.secretKeyRef?.name === secret) {
      refusals.push({ path: `${path}.env[${j}].valueFrom.secretKeyRef.name`, message: `Secret ${secret} holds the sandbox's credentials and is for the Airlock sidecar only` });
    }
  });
  (container.envFrom ?? []).forEach((source, j) => {
    if (source.secretRef?.name === secret) {
      refusals.push({ path: `${path}.envFrom[${j}].secretRef.name`, message: `Secret ${secret} holds the sandbox's credentials and is for the Airlock sidecar only` });
    }
  });
  return refusals;
}

/** Only injection's own volume may reference the credentials Secret. */
function credentialVolumes(pod: V1Pod, settings: InjectionSettings): Refusal[] {
  const sandbox = sandboxNameOf(pod);
  if (sandbox === undefined) return [];
  const secret = settings.credentialsSecretName(sandbox);
  const refusals: Refusal[] = [];
  const message = `Secret ${secret} holds the sandbox's credentials and is mounted by Airlock in its sidecar only`;
  (pod.spec?.volumes ?? []).forEach((volume, i) => {
    // Injection replaces its own volume with the rendered one, so that name is not a leak.
    if (volume.name === CREDENTIALS_VOLUME) return;
    if (volume.secret?.secretName === secret) refusals.push({ path: `spec.volumes[${i}].secret.secretName`, message });
    (volume.projected?.sources ?? []).forEach((source, j) => {
      if (source.secret?.name === secret) refusals.push({ path: `spec.volumes[${i}].projected.sources[${j}].secret.name`, message });
    });
  });
  return refusals;
}
