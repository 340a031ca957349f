/**
 * Rendering of the containers and volumes injection adds. Pure: the same sandbox and settings
 * always give the same objects, which is what keeps injection idempotent and the golden files
 * stable.
 */
import type { V1Container, V1ResourceRequirements, V1SecurityContext, V1Volume } from '@kubernetes/client-node';
import type { AgentSandbox } from '../api/index.js';
import {
  ADMIN_PORT,
  ADMIN_PORT_NAME,
  CONFIG_PATH,
  CREDENTIALS_DIR,
  CREDENTIALS_VOLUME,
  FIREWALL_CONTAINER,
  SEAL_KEY_ENV,
  SIDECAR_CONTAINER,
  SOCKET_VOLUME,
  socketPath,
  STDIO_HOST_SOCKET,
  TOOLS_CONTAINER,
  TOOLS_DIR,
  TOOLS_SHM_SIZE,
  TOOLS_SHM_VOLUME,
  TOOLS_TMP_VOLUME,
  TOOLS_VOLUME,
  type InjectionSettings,
  SIDECAR_SOCKET_DIR,
} from './settings.js';

/** The sandbox's name, as the label and the rendered object names use it. */
export const sandboxName = (sandbox: AgentSandbox): string => sandbox.metadata.name;

/** Sidecar image: the sandbox's own, else the operator's. */
export const sidecarImage = (sandbox: AgentSandbox, settings: Pick<InjectionSettings, 'sidecarImage'>): string =>
  sandbox.spec.sidecar?.image ?? settings.sidecarImage;

/**
 * Sidecar resources. A sandbox's `resources` replace the defaults as a whole rather than key by
 * key: mixing a sandbox's limits with default requests could produce requests above limits,
 * which the API server rejects. `defaults` are what a sandbox without its own gets (the
 * sidecar's, or airlock-tools' in {@link toolsResources}).
 */
export function sidecarResources(sandbox: AgentSandbox, settings: InjectionSettings, defaults = settings.defaultResources): V1ResourceRequirements {
  const own = sandbox.spec.sidecar?.resources;
  if (!own) return structuredClone(defaults);
  const quantities = (record: Record<string, string | number> | undefined) =>
    record && Object.fromEntries(Object.entries(record).map(([k, v]) => [k, String(v)]));
  const resources: V1ResourceRequirements = {};
  if (own.requests) resources.requests = quantities(own.requests);
  if (own.limits) resources.limits = quantities(own.limits);
  return resources;
}

/**
 * airlock-tools resources: the operator's tools defaults, far below the sidecar's (an idle host
 * holds less than the proxy), unless the sandbox sizes its sidecar: then the same, as before,
 * so a sandbox that raised them for heavy stdio servers, or to meet a quota that demands limits,
 * keeps that for this container too.
 */
export const toolsResources = (sandbox: AgentSandbox, settings: InjectionSettings): V1ResourceRequirements =>
  sidecarResources(sandbox, settings, settings.toolsResources);

/**
 * The volumes: the socket is shared with the app containers, the credentials (the config among
 * them, ADR 29) are mounted by the sidecar only, the stdio host's socket by the sidecar and airlock-tools only, and the
 * tools' scratch space by airlock-tools only.
 */
export function renderVolumes(sandbox: AgentSandbox, settings: InjectionSettings): V1Volume[] {
  const name = sandboxName(sandbox);
  return [
    { name: SOCKET_VOLUME, emptyDir: {} },
    { name: CREDENTIALS_VOLUME, secret: { secretName: settings.credentialsSecretName(name) } },
    { name: TOOLS_VOLUME, emptyDir: {} },
    { name: TOOLS_TMP_VOLUME, emptyDir: {} },
    { name: TOOLS_SHM_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: TOOLS_SHM_SIZE } },
  ];
}

/** The security context of Airlock's long-running containers: non-root, no capabilities, read-only root. */
const lockedDown = (uid: number, gid: number): V1SecurityContext => ({
  runAsUser: uid,
  runAsGroup: gid,
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
});

/** Where a service-account token would be mounted; airlock-tools covers it with an empty directory. */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The airlock-tools container: the stdio host, which starts the sandbox's stdio MCP servers for
 * the sidecar under its own UID. It mounts neither the config nor the credentials, and an empty
 * directory where a service-account token would go, so a server whose command someone changed
 * finds nothing to steal here. It keeps the sidecar's egress (the firewall's --tools-uid), which
 * stdio servers had when they ran inside the sidecar. Resources: {@link toolsResources}.
 */
export function renderTools(sandbox: AgentSandbox, settings: InjectionSettings, native: boolean): V1Container {
  const uid = settings.toolsUID;
  const container: V1Container = {
    name: TOOLS_CONTAINER,
    image: sidecarImage(sandbox, settings),
    command: ['airlock-sidecar', 'stdio-host', '--socket', STDIO_HOST_SOCKET],
    // Inherited by every stdio server (with PATH): npx and pip keep their caches under HOME.
    env: [{ name: 'HOME', value: '/tmp' }],
    resources: toolsResources(sandbox, settings),
    securityContext: lockedDown(uid, uid),
    volumeMounts: [
      { name: TOOLS_VOLUME, mountPath: TOOLS_DIR },
      { name: TOOLS_TMP_VOLUME, mountPath: '/tmp' },
      { name: TOOLS_TMP_VOLUME, mountPath: SERVICE_ACCOUNT_DIR, subPath: '.no-service-account-token', readOnly: true },
      // Over the pod's /dev/shm, which every other container, the agent's too, has mounted.
      { name: TOOLS_SHM_VOLUME, mountPath: '/dev/shm' },
    ],
  };
  if (native) container.restartPolicy = 'Always';
  return container;
}

/**
 * The sidecar container. As a native sidecar (`native`) it carries `restartPolicy: Always`, and
 * its startup probe gates the app containers: the kubelet starts them only once the socket answers.
 */
export function renderSidecar(sandbox: AgentSandbox, settings: InjectionSettings, native: boolean): V1Container {
  const dir = SIDECAR_SOCKET_DIR;
  const socket = socketPath(dir);
  const uid = settings.sidecarUID;
  const container: V1Container = {
    name: SIDECAR_CONTAINER,
    image: sidecarImage(sandbox, settings),
    command: ['airlock-sidecar', 'run', '--config', CONFIG_PATH],
    env: [
      { name: 'AIRLOCK_SOCKET', value: socket },
      { name: 'AIRLOCK_STDIO_HOST', value: STDIO_HOST_SOCKET },
      // The agent shares the pod's network: no connection by name to one of the pod's own addresses.
      { name: 'AIRLOCK_REFUSE_POD_ADDRESSES', value: 'true' },
      // The pod on the sidecar's spans (OpenTelemetry's resource from the environment): traces of
      // one pod or namespace can be found, and two sandboxes of one name told apart.
      { name: 'AIRLOCK_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'AIRLOCK_POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'OTEL_RESOURCE_ATTRIBUTES', value: 'k8s.pod.name=$(AIRLOCK_POD_NAME),k8s.namespace.name=$(AIRLOCK_POD_NAMESPACE)' },
      // The config and keys are used only as the operator sealed them for this sandbox (ADR 30):
      // whoever may write Secrets in the namespace cannot put a config or an origin of their own.
      ...(settings.sealKey === undefined
        ? []
        : [
            { name: SEAL_KEY_ENV, value: settings.sealKey },
            { name: 'AIRLOCK_SANDBOX', value: sandboxName(sandbox) },
          ]),
    ],
    ports: [{ name: ADMIN_PORT_NAME, containerPort: ADMIN_PORT, protocol: 'TCP' }],
    startupProbe: {
      exec: { command: ['airlock-sidecar', 'probe', '--socket', socket] },
      periodSeconds: 1,
      failureThreshold: 60,
      // A fresh Node process loading the CLI: about 4 s on a busy 2-core node (seen on the real
      // node of test/node), where the default 1 s timeout failed every probe until the kubelet
      // killed the sidecar. The kubelet waits for each probe, so a fast one costs no more.
      timeoutSeconds: 10,
    },
    readinessProbe: { httpGet: { path: '/readyz', port: ADMIN_PORT_NAME }, periodSeconds: 5 },
    livenessProbe: { httpGet: { path: '/healthz', port: ADMIN_PORT_NAME }, periodSeconds: 10, failureThreshold: 3 },
    resources: sidecarResources(sandbox, settings),
    // The sidecar must belong to the socket's group to chown the socket to it; making that its
    // primary group does so without giving the app containers any extra group.
    securityContext: lockedDown(uid, sandbox.spec.socket.group ?? uid),
    volumeMounts: [
      { name: SOCKET_VOLUME, mountPath: dir },
      { name: CREDENTIALS_VOLUME, mountPath: CREDENTIALS_DIR, readOnly: true },
      // Connecting needs no write access to the directory: the host alone creates its socket.
      { name: TOOLS_VOLUME, mountPath: TOOLS_DIR, readOnly: true },
    ],
  };
  if (native) container.restartPolicy = 'Always';
  return container;
}

/**
 * The `--allow` argument for one allowEgress entry: `<cidr>` or `<cidr>:<port>,<port>`. The
 * ports follow the prefix length, so IPv6 CIDRs stay unambiguous (split at the first `:` after `/`).
 */
export const allowArgument = (entry: { cidr: string; ports?: number[] | undefined }): string =>
  entry.ports && entry.ports.length > 0 ? `${entry.cidr}:${entry.ports.join(',')}` : entry.cidr;

/**
 * The firewall init container. It needs root and NET_ADMIN/NET_RAW for iptables, but only
 * while it runs: it exits before any app container starts, and nothing else in the pod keeps
 * those capabilities.
 */
export function renderFirewall(sandbox: AgentSandbox, settings: InjectionSettings): V1Container {
  const command = ['airlock-sidecar', 'firewall', '--sidecar-uid', String(settings.sidecarUID), '--tools-uid', String(settings.toolsUID), '--admin-port', String(ADMIN_PORT)];
  for (const entry of sandbox.spec.isolation.allowEgress ?? []) command.push('--allow', allowArgument(entry));
  return {
    name: FIREWALL_CONTAINER,
    image: sidecarImage(sandbox, settings),
    command,
    // Same resources as the sidecar: init containers are sized by their maximum, so this costs the
    // pod nothing extra, and it satisfies LimitRanges and quotas that demand limits.
    resources: sidecarResources(sandbox, settings),
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}
