/**
 * One container of a pod as a process, started the way a container runtime would: in its own
 * mount, PID and UTS namespaces (and the pod's network namespace), with the pod's volumes
 * bind-mounted at their mountPaths, the root filesystem read-only when the securityContext says
 * so, the user, groups and capabilities of the securityContext, and exactly the env of the spec.
 *
 * Mount points that do not exist on this machine (/etc/airlock/config) are made inside the
 * container's mount namespace only: the nearest existing ancestor gets a private overlay there,
 * so nothing is written to the machine's own directories.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { PodNetwork } from './network.js';
import { hostCommand, shellQuote, type ImageRuntime } from './runtime.js';
import type { MaterialisedVolume } from './volumes.js';

/** The capabilities a container runtime grants by default (containerd's and Docker's list). */
const DEFAULT_CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID',
  'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

export interface ContainerSpec {
  pod: V1Pod;
  container: V1Container;
  image: ImageRuntime;
  volumes: ReadonlyMap<string, MaterialisedVolume>;
  network: PodNetwork;
  /** Scratch space for this container (overlay layers). */
  dir: string;
  /** Pipe stdin (the container's `stdin: true`). */
  stdin?: boolean;
  onLog?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** The user, groups and capabilities a container process runs with. */
export interface Identity {
  uid: number;
  gid: number;
  groups: number[];
  capabilities: string[];
  noNewPrivileges: boolean;
}

/** A started container. */
export interface RunningContainer {
  name: string;
  /** PID (in this machine's namespace) of the container's main process, PID 1 inside. */
  pid: number;
  process: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) once the container has stopped. */
  exited: Promise<number | null>;
  readonly exitCode: number | null | undefined;
  /** Every line the container wrote, oldest first, as `kubectl logs` shows them. */
  logs: string[];
  env: Record<string, string>;
  identity: Identity;
  /** SIGTERM, then SIGKILL after the grace period (a PID 1 without a handler ignores SIGTERM, as in a real container). */
  stop(graceMs?: number): Promise<number | null>;
}

/** The environment of a container: the image's, then the spec's (later entries win), with $(VAR) references expanded. */
export function containerEnv(pod: V1Pod, container: V1Container, image: ImageRuntime): Record<string, string> {
  const env: Record<string, string> = { ...image.env, HOSTNAME: pod.metadata?.name ?? 'pod' };
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) env[entry.name] = expand(entry.value, env);
    else if (entry.valueFrom?.fieldRef) env[entry.name] = fieldRef(pod, entry.valueFrom.fieldRef.fieldPath);
    else if (entry.valueFrom) throw new Error(`container ${container.name}: env ${entry.name}: only value and fieldRef are supported here`);
    else env[entry.name] = '';
  }
  return env;
}

/** The argv a container runs: command/args over the image's ENTRYPOINT/CMD, as Kubernetes combines them. */
export function containerArgv(container: V1Container, image: ImageRuntime, env: Record<string, string>): string[] {
  const command = container.command ?? image.entrypoint ?? [];
  const args = container.args ?? (container.command ? [] : (image.cmd ?? []));
  const argv = [...command, ...args].map((word) => expand(word, env));
  if (argv.length === 0) throw new Error(`container ${container.name}: no command and the image has no entrypoint`);
  return argv;
}

/** $(VAR) expansion as the kubelet does it: defined names are replaced, $$ escapes, the rest stays. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string | undefined) => (name === undefined ? '$' : (env[name] ?? match)));
}

function fieldRef(pod: V1Pod, path: string): string {
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? 'default';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    default:
      throw new Error(`fieldRef ${path} is not supported here`);
  }
}

/** The identity the pod's and the container's securityContexts give a container of `image`. */
export function containerIdentity(pod: V1Pod, container: V1Container, image: ImageRuntime): Identity {
  const podContext = pod.spec?.securityContext;
  const own = container.securityContext;
  const uid = own?.runAsUser ?? podContext?.runAsUser ?? image.user?.uid ?? 0;
  const gid = own?.runAsGroup ?? podContext?.runAsGroup ?? image.user?.gid ?? 0;
  if ((own?.runAsNonRoot ?? podContext?.runAsNonRoot) && uid === 0) throw new Error(`container ${container.name}: runAsNonRoot but the user is root`);
  const groups = [...new Set([...(podContext?.supplementalGroups ?? []), ...(podContext?.fsGroup !== undefined ? [podContext.fsGroup] : [])])];
  const drop = new Set((own?.capabilities?.drop ?? []).map(capabilityName));
  const add = (own?.capabilities?.add ?? []).map(capabilityName);
  const base = drop.has('ALL') ? [] : DEFAULT_CAPABILITIES.filter((cap) => !drop.has(cap));
  const capabilities = [...new Set([...base, ...add.filter((cap) => cap !== 'ALL')])];
  return { uid, gid, groups, capabilities, noNewPrivileges: own?.allowPrivilegeEscalation === false };
}

const capabilityName = (cap: string): string => cap.toUpperCase().replace(/^CAP_/, '');

/** setpriv arguments that become `identity` (and keep only its capabilities). */
export function setprivArgs(identity: Identity): string[] {
  const args = [`--reuid=${identity.uid}`, `--regid=${identity.gid}`];
  args.push(identity.groups.length > 0 ? `--groups=${identity.groups.join(',')}` : '--clear-groups');
  args.push(`--bounding-set=-all${identity.capabilities.map((cap) => `,+${cap.toLowerCase()}`).join('')}`);
  if (identity.noNewPrivileges) args.push('--no-new-privs');
  return args;
}

/** The mount-namespace set-up script and the overlays it needs, for the container's volumeMounts. */
async function mountScript(spec: ContainerSpec): Promise<string[]> {
  const lines: string[] = [];
  const mounts = (spec.container.volumeMounts ?? []).map((mount) => {
    const volume = spec.volumes.get(mount.name);
    if (!volume) throw new Error(`container ${spec.container.name}: volumeMount ${mount.name} names no volume of the pod`);
    if (mount.subPath) throw new Error(`container ${spec.container.name}: subPath mounts are not supported here`);
    return { ...mount, hostPath: volume.hostPath };
  });

  // Mount points missing on this machine: overlay their nearest existing ancestor, inside the namespace only.
  const overlays = new Set<string>();
  for (const mount of mounts) {
    if (existsSync(mount.mountPath)) continue;
    let ancestor = dirname(mount.mountPath);
    while (!existsSync(ancestor)) ancestor = dirname(ancestor);
    const real = realpathSync(ancestor);
    if (real === '/') throw new Error(`container ${spec.container.name}: cannot create ${mount.mountPath} without touching / (mount it under an existing directory)`);
    overlays.add(real);
  }
  const topOverlays = [...overlays].filter((dir) => ![...overlays].some((other) => other !== dir && dir.startsWith(`${other}/`)));
  const submounts = mountPoints();
  let index = 0;
  for (const dir of topOverlays) {
    const layer = join(spec.dir, `overlay-${index}`);
    await mkdir(join(layer, 'upper'), { recursive: true });
    await mkdir(join(layer, 'work'), { recursive: true });
    // An overlay hides what is mounted below it: carry those mounts across it.
    const inside = submounts.filter((point) => point.startsWith(`${dir}/`)).filter((point, _, all) => !all.some((other) => other !== point && point.startsWith(`${other}/`)));
    const stashes = inside.map((point, i) => ({ point, stash: join(layer, `stash-${i}`) }));
    for (const { stash } of stashes) await mkdir(stash);
    for (const { point, stash } of stashes) lines.push(`mount --rbind ${shellQuote(point)} ${shellQuote(stash)}`);
    lines.push(`mount -t overlay airlock-e2e -o ${shellQuote(`lowerdir=${dir},upperdir=${layer}/upper,workdir=${layer}/work`)} ${shellQuote(dir)}`);
    for (const { point, stash } of stashes) lines.push(`mount --move ${shellQuote(stash)} ${shellQuote(point)}`);
    index += 1;
  }
  for (const mount of mounts) {
    lines.push(`mkdir -p ${shellQuote(mount.mountPath)}`, `mount --bind ${shellQuote(mount.hostPath)} ${shellQuote(mount.mountPath)}`);
    if (mount.readOnly) lines.push(`mount -o remount,bind,ro ${shellQuote(mount.mountPath)}`);
  }
  if (spec.container.securityContext?.readOnlyRootFilesystem) {
    for (const dir of topOverlays) lines.push(`mount -o remount,bind,ro ${shellQuote(dir)}`);
    lines.push('mount -o remount,bind,ro /');
  }
  return lines;
}

/** Mount points of this machine (from /proc/self/mountinfo), to keep them visible across an overlay. */
function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

/** Starts the container's process and resolves once it runs (not once it is ready). */
export async function startContainer(spec: ContainerSpec): Promise<RunningContainer> {
  const { pod, container, image } = spec;
  const env = containerEnv(pod, container, image);
  const argv = containerArgv(container, image, env);
  const identity = containerIdentity(pod, container, image);
  const workingDir = container.workingDir ?? image.workingDir ?? '/';
  const hostname = pod.metadata?.name ?? 'pod';
  const script = [
    'set -eu',
    ...(await mountScript(spec)),
    `hostname ${shellQuote(hostname)}`,
    `cd ${shellQuote(workingDir)}`,
    `exec ${[hostCommand('setpriv'), ...setprivArgs(identity), '--', hostCommand('env'), '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv].map(shellQuote).join(' ')}`,
  ].join('\n');

  const launch = [
    hostCommand('setpriv'), '--pdeathsig', 'SIGKILL', '--',
    ...spec.network.join,
    hostCommand('unshare'), '--mount', '--uts', '--pid', '--fork', '--kill-child=SIGKILL', '--mount-proc', '--propagation', 'private', '--',
    hostCommand('sh'), '-c', script,
  ];
  const child = spawn(launch[0]!, launch.slice(1), { stdio: [spec.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: {} });
  const logs: string[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        spec.onLog?.(line, stream);
      }
    });
  }
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exitCode = code))));
  await once(child, 'spawn');
  const pid = await mainPid(child.pid!, exited);
  return {
    name: container.name,
    pid,
    process: child,
    exited,
    get exitCode() {
      return exitCode;
    },
    logs,
    env,
    identity,
    async stop(graceMs = 10_000) {
      if (exitCode !== undefined) return exitCode;
      signal(pid, 'SIGTERM');
      const timer = setTimeout(() => signal(pid, 'SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The PID of the process unshare forked: PID 1 of the container's PID namespace. */
async function mainPid(unsharePid: number, exited: Promise<number | null>): Promise<number> {
  let done = false;
  void exited.then(() => (done = true));
  for (let i = 0; i < 400 && !done; i += 1) {
    const children = await readFile(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').catch(() => '');
    const pid = Number(children.trim().split(' ')[0]);
    if (pid > 0) return pid;
    await sleep(10);
  }
  return unsharePid;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** The argv that runs `command` inside a running container (its namespaces, user and env), like `kubectl exec`. */
export function execArgv(running: RunningContainer, command: string[], workingDir = '/'): string[] {
  return [
    hostCommand('nsenter'), `--target=${running.pid}`, '--mount', '--uts', '--net', '--pid', `--wd=${workingDir}`, '--',
    hostCommand('setpriv'), ...setprivArgs(running.identity), '--',
    hostCommand('env'), '-i', ...Object.entries(running.env).map(([k, v]) => `${k}=${v}`),
    ...command,
  ];
}
