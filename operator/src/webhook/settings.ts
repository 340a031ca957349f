/**
 * The names, paths and operator-wide settings that injection writes into sandbox pods. Other
 * parts of the operator (the config renderer above all) import the paths from here, so the pod
 * spec and the rendered sidecar config cannot disagree about where a file lives.
 */
import type { V1ResourceRequirements } from '@kubernetes/client-node';

/** Pod annotation recording what injection added (JSON, see {@link InjectionRecord}). */
export const INJECTED_ANNOTATION = 'airlock.dev/injected';
/** Version of the injection template; bumped whenever the rendered pod changes shape. */
export const INJECTION_VERSION = 2;

/** Name of the sidecar container (native sidecar or regular container). */
export const SIDECAR_CONTAINER = 'airlock-sidecar';
/** Name of the init container that installs the egress firewall. */
export const FIREWALL_CONTAINER = 'airlock-firewall';
/** Name of the container that runs the sandbox's stdio MCP servers, away from the sidecar's keys. */
export const TOOLS_CONTAINER = 'airlock-tools';
/**
 * Container names injection owns. Whatever a pod already carries under these names is replaced
 * by the rendered container, so a pod cannot smuggle in a privileged "airlock-firewall" of its own.
 */
export const RESERVED_CONTAINERS: ReadonlySet<string> = new Set([SIDECAR_CONTAINER, FIREWALL_CONTAINER, TOOLS_CONTAINER]);

/** emptyDir shared by the sidecar and the app containers; holds the socket. */
export const SOCKET_VOLUME = 'airlock-socket';
/**
 * The name of the ConfigMap volume pods injected before ADR 29 read their config from. Injection
 * no longer makes it (the config is read from the credentials Secret), but the name stays
 * reserved: no app container may take it, and such a pod is shown as outdated (./drift.ts).
 */
export const CONFIG_VOLUME = 'airlock-config';
/** Secret volume with the provider keys and MCP secrets; sidecar only. */
export const CREDENTIALS_VOLUME = 'airlock-credentials';
/** emptyDir holding the stdio host's socket; mounted by the sidecar and airlock-tools only. */
export const TOOLS_VOLUME = 'airlock-tools';
/** emptyDir for the stdio servers' scratch files (/tmp, HOME); airlock-tools only. */
export const TOOLS_TMP_VOLUME = 'airlock-tools-tmp';
/**
 * Memory-backed emptyDir mounted at airlock-tools' `/dev/shm`; airlock-tools only. The runtime
 * mounts one `/dev/shm` of the pod's into every container, so without it a root agent (it keeps
 * the file-permission override) reads the shared memory of a stdio server (a browser's pages)
 * and plants files there for the server to open.
 */
export const TOOLS_SHM_VOLUME = 'airlock-tools-shm';
/**
 * Size of airlock-tools' `/dev/shm`: Docker's default shm size. The pages count against the
 * container's memory limit anyway; this only keeps one server from filling it with shared memory.
 */
export const TOOLS_SHM_SIZE = '64Mi';
/** Volume names injection owns; a pod's own volumes under these names are replaced. */
export const RESERVED_VOLUMES: ReadonlySet<string> = new Set([SOCKET_VOLUME, CONFIG_VOLUME, CREDENTIALS_VOLUME, TOOLS_VOLUME, TOOLS_TMP_VOLUME, TOOLS_SHM_VOLUME]);
/** Volumes no app or debug container may mount: they belong to Airlock's containers. */
export const AIRLOCK_ONLY_VOLUMES: ReadonlySet<string> = new Set([CONFIG_VOLUME, CREDENTIALS_VOLUME, TOOLS_VOLUME, TOOLS_TMP_VOLUME, TOOLS_SHM_VOLUME]);

/** File name of the socket inside the socket dir. */
export const SOCKET_FILE = 'airlock.sock';
/**
 * Where the socket volume is mounted in the sidecar, whatever `spec.socket.dir` says (that is its
 * place in the app containers only). The volume is shared with the agent, which can write to it:
 * a sandbox author's path over the sidecar image's own files (its code, a module imported lazily)
 * would have the sidecar run the agent's files next to every key.
 */
export const SIDECAR_SOCKET_DIR = '/var/run/airlock';
/** Where the credentials Secret is mounted in the sidecar; the rendered config names files here. */
export const CREDENTIALS_DIR = '/etc/airlock/credentials';
/** Key of the rendered sidecar config, in the credentials Secret (and in the ConfigMap people read). */
export const CONFIG_KEY = 'config.yaml';
/**
 * Full path of the config file the sidecar runs with: in the credentials Secret's volume, so
 * whoever may edit ConfigMaps but not Secrets cannot change it, and the config and the keys it
 * names change in one swap of the volume (ADR 29).
 */
export const CONFIG_PATH = `${CREDENTIALS_DIR}/${CONFIG_KEY}`;
/** Where the tools volume is mounted, in the sidecar and in airlock-tools. */
export const TOOLS_DIR = '/var/run/airlock-tools';
/** The stdio host's socket; the sidecar's AIRLOCK_STDIO_HOST. */
export const STDIO_HOST_SOCKET = `${TOOLS_DIR}/stdio.sock`;
/** The sidecar's admin port (metrics, health); must match `listen.admin.port` in the config. */
export const ADMIN_PORT = 9090;
/** Name of the admin container port, used by the probes. */
export const ADMIN_PORT_NAME = 'airlock-admin';

/** The sidecar's environment variable holding the public half of the operator's seal key (ADR 30). */
export const SEAL_KEY_ENV = 'AIRLOCK_CONFIG_KEY';

/** The Airlock sidecar's default UID (the firewall lets only this UID and the tools UID leave the pod). */
export const DEFAULT_SIDECAR_UID = 61337;
/** The airlock-tools container's default UID: stdio MCP servers run as it, never as the sidecar. */
export const DEFAULT_TOOLS_UID = 61338;

/** Capabilities every app container drops, so even a root agent cannot become the sidecar's UID or touch the firewall. */
export const APP_DROPPED_CAPABILITIES = ['NET_ADMIN', 'NET_RAW', 'SETUID', 'SETGID'] as const;

/** Operator-wide settings of injection; per-sandbox settings come from the AgentSandbox. */
export interface InjectionSettings {
  /** Sidecar image used when the sandbox names none; the firewall init container uses the same image. */
  sidecarImage: string;
  /** UID (and default GID) the sidecar runs as; the firewall lets it out (and {@link toolsUID}). */
  sidecarUID: number;
  /** UID (and GID) of the airlock-tools container; the firewall lets it out too, app containers may not run as it. */
  toolsUID: number;
  /**
   * true: the sidecar is a native sidecar (init container with `restartPolicy: Always`), so app
   * containers start only after its startup probe passes. false: a regular container, for
   * clusters older than Kubernetes 1.29.
   */
  nativeSidecars: boolean;
  /** Name of the Secret holding a sandbox's credentials. */
  credentialsSecretName: (sandbox: string) => string;
  /** Whether a Secret name is one {@link credentialsSecretName} gives some sandbox. */
  isCredentialsSecretName: (name: string) => boolean;
  /**
   * Images a sandbox's `spec.sidecar.image` may name. That image runs the firewall as root with
   * NET_ADMIN and holds the keys, so whoever can edit a sandbox must not pick it freely.
   * Default: {@link sidecarImage} only.
   */
  allowedSidecarImages: readonly string[];
  /** Sidecar (and firewall) resources when the sandbox sets none. */
  defaultResources: V1ResourceRequirements;
  /** airlock-tools resources when the sandbox sets none ({@link DEFAULT_TOOLS_RESOURCES}). */
  toolsResources: V1ResourceRequirements;
  /**
   * The public half of the operator's seal key (base64, ADR 30): given to every sidecar, which
   * then uses its config and credentials only as the operator sealed them for its sandbox.
   * Undefined only where no operator renders (tests of injection alone).
   */
  sealKey?: string | undefined;
}

/** Name of the ConfigMap the operator renders for a sandbox. */
export const configMapNameFor = (sandbox: string): string => `airlock-${sandbox}`;
/** Name of the credentials Secret the operator renders for a sandbox. */
export const credentialsSecretNameFor = (sandbox: string): string => `airlock-${sandbox}-credentials`;
/** Whether a Secret name is a credentials Secret of some sandbox ({@link credentialsSecretNameFor}). */
export const isCredentialsSecretNameFor = (name: string): boolean => /^airlock-.+-credentials$/.test(name);

/** Default sidecar resources: enough for the proxy under moderate load, bounded memory. */
export const DEFAULT_SIDECAR_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '50m', memory: '96Mi' },
  limits: { memory: '512Mi' },
};

/**
 * Default airlock-tools resources. The idle stdio host holds ~63 MiB resident (docs/adr/0015),
 * so the request is that and no CPU to speak of: every pod carries it, most sandboxes run no
 * stdio server or one. The limit leaves room for the servers themselves, ~50 MiB each for one
 * from npm under Node (more while npx installs it), so about eight beside the host.
 */
export const DEFAULT_TOOLS_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '10m', memory: '64Mi' },
  limits: { memory: '512Mi' },
};

/** Settings with the defaults filled in; only the image has none, and the allowed images default to it. */
export function injectionSettings(
  overrides: Partial<InjectionSettings> & Pick<InjectionSettings, 'sidecarImage'>,
): InjectionSettings {
  return {
    sidecarUID: DEFAULT_SIDECAR_UID,
    toolsUID: DEFAULT_TOOLS_UID,
    nativeSidecars: true,
    credentialsSecretName: credentialsSecretNameFor,
    isCredentialsSecretName: isCredentialsSecretNameFor,
    defaultResources: DEFAULT_SIDECAR_RESOURCES,
    toolsResources: DEFAULT_TOOLS_RESOURCES,
    ...overrides,
    allowedSidecarImages: overrides.allowedSidecarImages?.length ? overrides.allowedSidecarImages : [overrides.sidecarImage],
  };
}

/** Path of the socket for a socket dir. */
export const socketPath = (dir: string): string => `${dir}/${SOCKET_FILE}`;
