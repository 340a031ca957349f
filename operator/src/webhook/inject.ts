/**
 * Sidecar injection: a pure function from (pod, sandbox, settings) to the mutated pod. The
 * webhook diffs the two into a JSON patch (see patch.ts), as the Istio and Linkerd injectors do.
 *
 * Injection is a projection, not an append: whatever a pod already carries under Airlock's
 * reserved container and volume names is dropped and rendered afresh, and Airlock's env vars and
 * mounts are set by name. So injecting an injected pod changes nothing, and a pod cannot ship its
 * own "airlock-firewall" to be waved through.
 */
import type { V1Container, V1EnvVar, V1EphemeralContainer, V1Pod, V1Volume } from '@kubernetes/client-node';
import type { AgentSandbox } from '../api/index.js';
import { renderFirewall, renderSidecar, renderTools, renderVolumes, sandboxName, sidecarImage } from './render.js';
import {
  APP_DROPPED_CAPABILITIES,
  INJECTED_ANNOTATION,
  INJECTION_VERSION,
  RESERVED_CONTAINERS,
  RESERVED_VOLUMES,
  SOCKET_VOLUME,
  socketPath,
  type InjectionSettings,
} from './settings.js';
import { normalizeCapability } from './baseline.js';

/** What injection added, as recorded (JSON) in the `airlock.dev/injected` annotation. */
export interface InjectionRecord {
  /** Version of the injection template ({@link INJECTION_VERSION}). */
  version: number;
  /** The AgentSandbox the pod belongs to. */
  sandbox: string;
  /** Image of the sidecar (and of the firewall init container). */
  image: string;
  /** Whether the `airlock-firewall` init container was added. */
  firewall: boolean;
  /** `native`: init container with `restartPolicy: Always`; `fallback`: a regular container. */
  sidecar: 'native' | 'fallback';
  /** Containers given the socket mount and the Airlock env vars. */
  containers: string[];
  /** Containers whose securityContext was hardened (every container the pod brought). */
  hardened: string[];
}

/** The mutated pod and what was added to it. */
export interface InjectionResult {
  pod: V1Pod;
  annotation: InjectionRecord;
}

/**
 * Injects the Airlock sidecar into a pod. Pure: `pod` is not modified. The pod should have
 * passed {@link validatePod} first; injection hardens containers but does not refuse anything.
 *
 * Which containers get the socket: every regular container, and with native sidecars also the
 * pod's own init containers, which then run after the sidecar is up. Without native sidecars the
 * sidecar starts only after every init container has finished, so they get no socket (it would
 * never answer) but are hardened all the same, because they run after the firewall is in place.
 *
 * @param sandbox the parsed AgentSandbox, defaults applied.
 */
export function injectPod(pod: V1Pod, sandbox: AgentSandbox, settings: InjectionSettings): InjectionResult {
  const out = structuredClone(pod);
  const spec = out.spec;
  if (!spec) throw new Error(`pod ${podName(pod)} has no spec; validatePod refuses it before injection`);

  const native = settings.nativeSidecars;
  const firewall = sandbox.spec.isolation.network === 'firewall';
  const hadInitContainers = spec.initContainers !== undefined;
  const initContainers = (spec.initContainers ?? []).filter((c) => !RESERVED_CONTAINERS.has(c.name));
  const containers = spec.containers.filter((c) => !RESERVED_CONTAINERS.has(c.name));

  const withSocket = native ? [...initContainers, ...containers] : containers;
  for (const container of withSocket) giveSocket(container, sandbox);
  for (const container of [...initContainers, ...containers]) harden(container);

  // airlock-tools before the sidecar, so its stdio host is usually listening when the sidecar
  // first starts a stdio server (the sidecar retries with backoff when it is not).
  const airlock = [renderTools(sandbox, settings, native), renderSidecar(sandbox, settings, native)];
  const newInit = [...(firewall ? [renderFirewall(sandbox, settings)] : []), ...(native ? airlock : []), ...initContainers];
  if (newInit.length > 0 || hadInitContainers) spec.initContainers = newInit;
  else delete spec.initContainers;
  spec.containers = native ? containers : [...containers, ...airlock];

  spec.volumes = [...(spec.volumes ?? []).filter((v) => !RESERVED_VOLUMES.has(v.name)), ...renderVolumes(sandbox, settings)];

  // The socket is mode 0660 and owned by the sidecar's group (socket.group, else the sidecar's
  // own): every container gets that group, so a non-root agent can connect without running as
  // a special UID. The group opens nothing else: the sidecar's config and keys are mounted in the
  // sidecar only.
  const socketGroup = sandbox.spec.socket?.group ?? settings.sidecarUID;
  const podSecurity = (spec.securityContext ??= {});
  if (!(podSecurity.supplementalGroups ?? []).includes(socketGroup)) podSecurity.supplementalGroups = [...(podSecurity.supplementalGroups ?? []), socketGroup];

  // The agent needs no Kubernetes API access unless the sandbox grants it; a token it does not
  // need is a credential it could leak. When the sandbox allows it, the pod's own choice stands.
  // The API server's ServiceAccount admission runs before any webhook and has already added its
  // token volume and mounted it in every container: the flag alone leaves the token there.
  if (!sandbox.spec.isolation.automountServiceAccountToken) {
    spec.automountServiceAccountToken = false;
    withoutAdmittedToken(spec);
  }

  const annotation: InjectionRecord = {
    version: INJECTION_VERSION,
    sandbox: sandboxName(sandbox),
    image: sidecarImage(sandbox, settings),
    firewall,
    sidecar: native ? 'native' : 'fallback',
    containers: withSocket.map((c) => c.name),
    hardened: [...initContainers, ...containers].map((c) => c.name),
  };
  // Stamped last, so the record describes the finished pod.
  out.metadata ??= {};
  out.metadata.annotations = { ...out.metadata.annotations, [INJECTED_ANNOTATION]: JSON.stringify(annotation) };
  return { pod: out, annotation };
}

/**
 * Removes the service-account token the API server's ServiceAccount admission added (its
 * `kube-api-access-<suffix>` projected volume, which holds the token, and that volume's mounts in
 * every container). A token volume the pod declares itself is refused instead
 * ({@link tokenRefusals} in validate.ts): there the author asked for one.
 */
function withoutAdmittedToken(spec: NonNullable<V1Pod['spec']>): void {
  const admitted = new Set((spec.volumes ?? []).filter(isAdmittedToken).map((v) => v.name));
  if (admitted.size === 0) return;
  spec.volumes = spec.volumes!.filter((v) => !admitted.has(v.name));
  for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
    if (container.volumeMounts?.some((m) => admitted.has(m.name))) container.volumeMounts = container.volumeMounts.filter((m) => !admitted.has(m.name));
  }
}

/** The volume the ServiceAccount admission plugin adds: `kube-api-access-*`, projecting a token. */
export function isAdmittedToken(volume: V1Volume): boolean {
  return volume.name.startsWith('kube-api-access-') && (volume.projected?.sources ?? []).some((source) => source.serviceAccountToken !== undefined);
}

/**
 * Reads the injection record of a pod, if it has a well-formed one. Informational only: anyone
 * who creates a pod can write this annotation, so injection never trusts it to skip work.
 */
export function injectionRecordOf(pod: V1Pod): InjectionRecord | undefined {
  const raw = pod.metadata?.annotations?.[INJECTED_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && 'sandbox' in parsed ? (parsed as InjectionRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** The Airlock env vars of an app container; with a loopback port also the SDKs' base URLs. */
export function appEnv(sandbox: AgentSandbox): V1EnvVar[] {
  const env: V1EnvVar[] = [{ name: 'AIRLOCK_SOCKET', value: socketPath(sandbox.spec.socket.dir) }];
  const port = sandbox.spec.socket.loopbackPort;
  if (port !== undefined) {
    const base = `http://127.0.0.1:${port}`;
    env.push(
      { name: 'OPENAI_BASE_URL', value: `${base}/v1` },
      { name: 'ANTHROPIC_BASE_URL', value: base },
      { name: 'AIRLOCK_MCP_URL', value: `${base}/mcp` },
    );
  }
  return env;
}

/** Mounts the socket dir and sets the Airlock env vars, replacing same-named entries in place. */
function giveSocket(container: V1Container, sandbox: AgentSandbox): void {
  const mount = { name: SOCKET_VOLUME, mountPath: sandbox.spec.socket.dir };
  const mounts = container.volumeMounts ?? [];
  const at = mounts.findIndex((m) => m.name === SOCKET_VOLUME);
  if (at >= 0) mounts[at] = mount;
  else mounts.push(mount);
  container.volumeMounts = mounts;

  // Airlock owns these names: a user's own OPENAI_BASE_URL would point the agent at a network it
  // cannot reach. Replacing in place keeps the order, which matters for $(VAR) references.
  const env = container.env ?? [];
  for (const value of appEnv(sandbox)) {
    const i = env.findIndex((e) => e.name === value.name);
    if (i >= 0) env[i] = value;
    else env.push(value);
  }
  container.env = env;
}

/**
 * No privilege escalation and no capability that could touch the firewall or change UID, so even
 * a root agent cannot become the sidecar. The user's own drops are kept. Also applied to the
 * ephemeral containers `kubectl debug` adds to a running sandbox pod.
 */
export function harden(container: V1Container | V1EphemeralContainer): void {
  const sc = (container.securityContext ??= {});
  sc.allowPrivilegeEscalation = false;
  const capabilities = (sc.capabilities ??= {});
  const drop = capabilities.drop ?? [];
  const dropped = new Set(drop.map(normalizeCapability));
  for (const cap of APP_DROPPED_CAPABILITIES) if (!dropped.has(cap)) drop.push(cap);
  capabilities.drop = drop;
}

/** A pod's name for messages; pods created with generateName have none yet. */
export function podName(pod: V1Pod): string {
  const meta = pod.metadata;
  if (meta?.name) return meta.name;
  if (meta?.generateName) return `${meta.generateName}<generated>`;
  return '<unnamed>';
}
