/**
 * Admission checks for sandbox pods: Kubernetes' baseline Pod Security Standard (baseline.ts)
 * plus Airlock's own rules. A pod that could defeat the airlock is refused, with a message naming
 * the field, instead of being injected and quietly left with a hole. docs/security.md ("Pod
 * policy") lists every rule with its test.
 */
import type { V1Container, V1EphemeralContainer, V1Pod } from '@kubernetes/client-node';
import { SANDBOX_LABEL, type AgentSandbox } from '../api/index.js';
import { baselineContainerRefusals, baselinePodRefusals, normalizeCapability } from './baseline.js';
import { isSidecarImage } from './image.js';
import { isAdmittedToken } from './inject.js';
import { sandboxName } from './render.js';
import type { Refusal } from './refusal.js';
import { AIRLOCK_ONLY_VOLUMES, CREDENTIALS_VOLUME, RESERVED_CONTAINERS, TOOLS_SHM_VOLUME, TOOLS_TMP_VOLUME, TOOLS_VOLUME, type InjectionSettings } from './settings.js';

export { formatRefusal, type Refusal } from './refusal.js';
export { normalizeCapability } from './baseline.js';

/**
 * Capabilities an app container may not add, baseline or not. NET_ADMIN and NET_RAW would let it
 * rewrite or step around the firewall, SYS_ADMIN is nearly root on the node, SETUID and SETGID
 * (which baseline allows) would let it become the sidecar's UID, and ALL includes every one of
 * them. Injection drops them too; they are refused so the user learns why.
 */
const FORBIDDEN_ADDS = new Set(['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SETUID', 'SETGID', 'ALL']);

/** An AgentSandbox name is a DNS subdomain; the label must name one (an empty value names none). */
const SANDBOX_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

type AnyContainer = V1Container | V1EphemeralContainer;

/** Where a container sits in the pod. */
export interface PlacedContainer {
  container: AnyContainer;
  /** e.g. `spec.ephemeralContainers[0]`. */
  path: string;
  ephemeral: boolean;
}

/** Every container of the pod with its field path, skipping the ones injection owns (it replaces them). */
export function userContainers(pod: V1Pod): PlacedContainer[] {
  const spec = pod.spec;
  if (!spec) return [];
  const out: PlacedContainer[] = [];
  const lists: [string, AnyContainer[] | undefined, boolean][] = [
    ['initContainers', spec.initContainers, false],
    ['containers', spec.containers, false],
    // Ephemeral containers are never injected, so a reserved name there is the user's own.
    ['ephemeralContainers', spec.ephemeralContainers, true],
  ];
  for (const [field, list, ephemeral] of lists) {
    (list ?? []).forEach((container, i) => {
      if (!ephemeral && RESERVED_CONTAINERS.has(container.name)) return;
      out.push({ container, path: `spec.${field}[${i}]`, ephemeral });
    });
  }
  return out;
}

/** The sandbox a pod names in its label, if any. */
export const sandboxNameOf = (pod: V1Pod): string | undefined => pod.metadata?.labels?.[SANDBOX_LABEL];

/** Refuses a sandbox label that cannot name an AgentSandbox (an empty value, above all). */
export function sandboxLabelRefusals(name: string): Refusal[] {
  if (SANDBOX_NAME.test(name)) return [];
  return [{ path: `metadata.labels[${SANDBOX_LABEL}]`, message: `${JSON.stringify(name)} is not the name of an AgentSandbox (a lowercase DNS subdomain name)` }];
}

/**
 * Keeps the first refusal of each field: a capability both baseline and Airlock refuse is
 * reported once, with Airlock's reason.
 */
function firstPerPath(refusals: Refusal[]): Refusal[] {
  const seen = new Set<string>();
  return refusals.filter((r) => !seen.has(r.path) && (seen.add(r.path), true));
}

/**
 * The UIDs the firewall lets out, with what each is: the sidecar's holds the keys, the tools
 * container's the stdio servers. No app or debug container may run as either.
 */
function airlockUIDs(settings: InjectionSettings): Map<number, string> {
  return new Map([
    [settings.sidecarUID, "the Airlock sidecar's UID"],
    [settings.toolsUID, "the UID of Airlock's airlock-tools container"],
  ]);
}

/** Airlock's own checks of one container, before the baseline ones. */
function airlockContainerRefusals(pod: V1Pod, placed: PlacedContainer, settings: InjectionSettings, guard: SecretGuard): Refusal[] {
  const { container, path } = placed;
  const refusals: Refusal[] = [];
  const uids = airlockUIDs(settings);
  const sc = container.securityContext;
  const podUID = pod.spec?.securityContext?.runAsUser;
  const own = sc?.runAsUser === undefined ? undefined : uids.get(sc.runAsUser);
  if (own) {
    refusals.push({ path: `${path}.securityContext.runAsUser`, message: `${sc!.runAsUser} is ${own}; an app container must not run as it` });
  } else if (placed.ephemeral && sc?.runAsUser === undefined && podUID !== undefined && uids.has(podUID)) {
    // The pod-level field can no longer change; the debug container must say whom it runs as.
    refusals.push({ path: `${path}.securityContext.runAsUser`, message: `unset, so it would inherit spec.securityContext.runAsUser ${podUID}, ${uids.get(podUID)}; set another UID` });
  }
  const podGroup = pod.spec?.securityContext?.runAsGroup;
  if (sc?.runAsGroup === settings.toolsUID) {
    refusals.push({ path: `${path}.securityContext.runAsGroup`, message: `${sc.runAsGroup} is ${TOOLS_GROUP}; ${TOOLS_GROUP_WHY}` });
  } else if (placed.ephemeral && sc?.runAsGroup === undefined && podGroup === settings.toolsUID) {
    refusals.push({ path: `${path}.securityContext.runAsGroup`, message: `unset, so it would inherit spec.securityContext.runAsGroup ${podGroup}, ${TOOLS_GROUP}; set another group` });
  }
  refusals.push(...sidecarImageRefusals(pod, placed, settings));
  (sc?.capabilities?.add ?? []).forEach((cap, j) => {
    if (FORBIDDEN_ADDS.has(normalizeCapability(cap))) {
      refusals.push({ path: `${path}.securityContext.capabilities.add[${j}]`, message: `${cap} would let an app container bypass the Airlock firewall or become the sidecar's UID` });
    }
  });
  const target = (container as V1EphemeralContainer).targetContainerName;
  if (placed.ephemeral && target !== undefined && RESERVED_CONTAINERS.has(target)) {
    refusals.push({ path: `${path}.targetContainerName`, message: `${target} is Airlock's; a debug container may not join its process namespace, where the sidecar's files are one /proc/<pid>/root away` });
  }
  refusals.push(...credentialExposure(container, path, guard));
  return refusals;
}

/** What the tools group is, and why no app or debug container may have it. */
const TOOLS_GROUP = "the group of Airlock's airlock-tools container";
const TOOLS_GROUP_WHY =
  "stdio servers run in it, and the shared memory and message queues they open to their group would be the agent's (a pod's containers share one IPC namespace)";

/**
 * The tools group given to the pod's containers at the pod level: `runAsGroup` (every container
 * without its own), `supplementalGroups` and `fsGroup` (every container). The sidecar's group is
 * every container's on purpose (it owns the socket); the tools group opens what stdio servers
 * share with their group.
 */
function podGroupRefusals(pod: V1Pod, settings: InjectionSettings): Refusal[] {
  const sc = pod.spec?.securityContext;
  const refusals: Refusal[] = [];
  if (sc?.runAsGroup === settings.toolsUID) refusals.push({ path: 'spec.securityContext.runAsGroup', message: `${sc.runAsGroup} is ${TOOLS_GROUP}; ${TOOLS_GROUP_WHY}` });
  if (sc?.fsGroup === settings.toolsUID) refusals.push({ path: 'spec.securityContext.fsGroup', message: `${sc.fsGroup} is ${TOOLS_GROUP}, which fsGroup gives every container; ${TOOLS_GROUP_WHY}` });
  (sc?.supplementalGroups ?? []).forEach((group, i) => {
    if (group === settings.toolsUID) refusals.push({ path: `spec.securityContext.supplementalGroups[${i}]`, message: `${group} is ${TOOLS_GROUP}, which supplementalGroups gives every container; ${TOOLS_GROUP_WHY}` });
  });
  return refusals;
}

/**
 * The sidecar's own image runs as the sidecar UID (its USER) unless the container says otherwise,
 * and it is on every node that runs a sandbox: an app, init or debug container running it with no
 * runAsUser of its own or the pod's would be let out by the firewall. Any tag or digest of it counts.
 */
export function sidecarImageRefusals(pod: V1Pod, placed: PlacedContainer, settings: InjectionSettings): Refusal[] {
  const { container, path } = placed;
  if (!isSidecarImage(container.image, settings)) return [];
  if ((container.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser) !== undefined) return [];
  return [{ path: `${path}.image`, message: `${container.image} is the Airlock sidecar's image, whose USER is the sidecar's UID ${settings.sidecarUID}; set securityContext.runAsUser to another UID to run it` }];
}

/**
 * The checks that stop a pod from defeating the airlock. Pure; the caller also checks that the
 * named sandbox exists. Containers named `airlock-sidecar` or `airlock-firewall` are not checked
 * here because injection replaces them with its own rendering.
 * @param guard the Secrets no app container may reach (default: every sandbox's credentials Secret).
 */
export function validatePod(pod: V1Pod, settings: InjectionSettings, guard: SecretGuard = secretGuard(settings)): Refusal[] {
  const spec = pod.spec;
  if (!spec) return [{ path: 'spec', message: 'a pod needs a spec' }];
  const refusals: Refusal[] = [];
  const podUID = spec.securityContext?.runAsUser;
  const podUIDIs = podUID === undefined ? undefined : airlockUIDs(settings).get(podUID);

  if (spec.hostNetwork) {
    refusals.push({ path: 'spec.hostNetwork', message: 'a sandbox pod cannot use the node\'s network namespace: the firewall would not apply and the node\'s interfaces would be reachable' });
  }
  if (spec.hostPID) {
    refusals.push({ path: 'spec.hostPID', message: 'a sandbox pod cannot share the node\'s process namespace: it could read the sidecar\'s memory and files' });
  }
  if (spec.shareProcessNamespace) {
    refusals.push({ path: 'spec.shareProcessNamespace', message: 'a sandbox pod cannot share one process namespace: app containers could read the sidecar\'s credentials through /proc' });
  }
  // The sidecar shares the pod's /etc/hosts and resolver: a name mapped to the pod's own loopback
  // (where the agent can listen) would take a plain-http provider's key, an MCP server's headers
  // or the collector's token to the agent. Resolver options alone (ndots, timeout) change no answer.
  if (spec.hostAliases?.length) {
    refusals.push({ path: 'spec.hostAliases', message: "a sandbox pod cannot map host names: the sidecar resolves providers, MCP servers and the collector through the pod's /etc/hosts, and would send their keys to the address mapped" });
  }
  // The cluster's DNS only: `Default` is the node's resolver, which on some nodes is a loopback
  // address (systemd-resolved's 127.0.0.53), in the pod the agent's own.
  const dnsPolicy = spec.dnsPolicy ?? 'ClusterFirst';
  if (spec.dnsConfig?.nameservers?.length || spec.dnsConfig?.searches?.length || dnsPolicy !== 'ClusterFirst') {
    const field = spec.dnsConfig?.nameservers?.length ? 'spec.dnsConfig.nameservers' : spec.dnsConfig?.searches?.length ? 'spec.dnsConfig.searches' : 'spec.dnsPolicy';
    refusals.push({ path: field, message: "a sandbox pod cannot choose its own DNS servers or search domains, nor a dnsPolicy other than ClusterFirst: the sidecar resolves providers, MCP servers and the collector through them (options such as ndots are allowed)" });
  }
  refusals.push(...baselinePodRefusals(pod), ...podGroupRefusals(pod, settings));

  const inheritsPodUID: string[] = [];
  for (const placed of userContainers(pod)) {
    const { container, path } = placed;
    if (!placed.ephemeral && container.securityContext?.runAsUser === undefined && podUIDIs) inheritsPodUID.push(container.name);
    refusals.push(...airlockContainerRefusals(pod, placed, settings, guard), ...baselineContainerRefusals(container, path));
  }
  if (inheritsPodUID.length > 0) {
    refusals.push({ path: 'spec.securityContext.runAsUser', message: `${podUID} is ${podUIDIs}; containers ${inheritsPodUID.join(', ')} would run as it` });
  }
  refusals.push(...credentialVolumes(pod, guard));
  return firstPerPath(refusals);
}

/** The checks an ephemeral container added to a running sandbox pod must pass (`kubectl debug`). */
export function validateEphemeral(pod: V1Pod, added: ReadonlySet<string>, settings: InjectionSettings, guard: SecretGuard = secretGuard(settings)): Refusal[] {
  const refusals = userContainers(pod)
    .filter((placed) => placed.ephemeral && added.has(placed.container.name))
    .flatMap((placed) => [...airlockContainerRefusals(pod, placed, settings, guard), ...baselineContainerRefusals(placed.container, placed.path)]);
  return firstPerPath(refusals);
}

/**
 * A sandbox that gives its pods no service-account token (`spec.isolation.automountServiceAccountToken`,
 * the default) refuses a pod that projects one itself, under any volume name but the one the API
 * server's ServiceAccount admission adds (injection removes that one: inject.ts).
 */
export function tokenRefusals(pod: V1Pod, sandbox: AgentSandbox): Refusal[] {
  if (sandbox.spec.isolation.automountServiceAccountToken) return [];
  const refusals: Refusal[] = [];
  (pod.spec?.volumes ?? []).forEach((volume, i) => {
    if (isAdmittedToken(volume)) return;
    (volume.projected?.sources ?? []).forEach((source, j) => {
      if (source.serviceAccountToken === undefined) return;
      refusals.push({
        path: `spec.volumes[${i}].projected.sources[${j}].serviceAccountToken`,
        message: `AgentSandbox ${sandboxName(sandbox)} gives its pods no service account token (spec.isolation.automountServiceAccountToken is false): a token is a credential the agent could send out`,
      });
    });
  });
  return refusals;
}

/** Why an app container may not reach a Secret by this name; undefined when it may. */
export type SecretGuard = (name: string | undefined) => string | undefined;

/**
 * The Secrets no app container of a sandbox pod may reach, however referenced: every sandbox's
 * credentials Secret, and every Secret the namespace's ModelProviders and MCPBackends reference
 * (`referenced`, from the operator's informers): their keys reach agents only through the sidecar.
 */
export function secretGuard(settings: InjectionSettings, referenced: ReadonlySet<string> = new Set()): SecretGuard {
  return (name) => {
    if (name === undefined) return undefined;
    if (settings.isCredentialsSecretName(name)) return `Secret ${name} holds a sandbox's credentials and is for the Airlock sidecar only`;
    if (referenced.has(name)) return `Secret ${name} holds keys a ModelProvider or MCPBackend of this namespace uses; they reach agents only through the Airlock sidecar`;
    return undefined;
  };
}

/** Why no app or debug container may mount one of Airlock's volumes; undefined for any other volume. */
function airlockVolumeRefusal(name: string): string | undefined {
  // Whoever reaches the stdio host's socket starts processes as the tools UID, which the firewall lets out.
  if (name === TOOLS_VOLUME || name === TOOLS_TMP_VOLUME) return `${name} is mounted in Airlock's sidecar and airlock-tools containers only`;
  if (name === TOOLS_SHM_VOLUME) return `${name} is the /dev/shm of Airlock's airlock-tools container, where stdio servers keep their shared memory, and is mounted there only`;
  return AIRLOCK_ONLY_VOLUMES.has(name) ? `${name} is mounted in the Airlock sidecar only` : undefined;
}

/** App containers may not reach a guarded Secret through env or envFrom, nor mount Airlock's own volumes. */
function credentialExposure(container: AnyContainer, path: string, guard: SecretGuard): Refusal[] {
  const refusals: Refusal[] = [];
  (container.volumeMounts ?? []).forEach((mount, j) => {
    const why = airlockVolumeRefusal(mount.name);
    if (why) refusals.push({ path: `${path}.volumeMounts[${j}].name`, message: why });
  });
  return [...refusals, ...secretEnv(container, path, guard)];
}

/**
 * Where the pod's app, init and debug containers and its volumes (other than injection's own
 * credentials volume) reach a Secret `guard` refuses: volume, projected source, env secretKeyRef,
 * envFrom. The webhook refuses these at admission; the operator uses it for pods admitted before
 * a resource referenced the Secret (an `optional: true` reference needs no Secret to exist).
 */
export function secretReferences(pod: V1Pod, guard: SecretGuard): Refusal[] {
  // Every volume counts here, injection's own too: it names the sandbox's credentials Secret, never a source.
  return firstPerPath([...userContainers(pod).flatMap(({ container, path }) => secretEnv(container, path, guard)), ...credentialVolumes(pod, guard, false)]);
}

function secretEnv(container: AnyContainer, path: string, guard: SecretGuard): Refusal[] {
  const refusals: Refusal[] = [];
  (container.env ?? []).forEach((env, j) => {
    const why = guard(env.valueFrom?.secretKeyRef?.name);
    if (why) refusals.push({ path: `${path}.env[${j}].valueFrom.secretKeyRef.name`, message: why });
  });
  (container.envFrom ?? []).forEach((source, j) => {
    const why = guard(source.secretRef?.name);
    if (why) refusals.push({ path: `${path}.envFrom[${j}].secretRef.name`, message: why });
  });
  return refusals;
}

/** Only injection's own volume may reference a guarded Secret (it replaces that volume with its own). */
function credentialVolumes(pod: V1Pod, guard: SecretGuard, skipInjected = true): Refusal[] {
  const refusals: Refusal[] = [];
  (pod.spec?.volumes ?? []).forEach((volume, i) => {
    if (skipInjected && volume.name === CREDENTIALS_VOLUME) return;
    const why = guard(volume.secret?.secretName);
    if (why) refusals.push({ path: `spec.volumes[${i}].secret.secretName`, message: why });
    (volume.projected?.sources ?? []).forEach((source, j) => {
      const projected = guard(source.secret?.name);
      if (projected) refusals.push({ path: `spec.volumes[${i}].projected.sources[${j}].secret.name`, message: projected });
    });
  });
  return refusals;
}
