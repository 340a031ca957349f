/**
 * Runs a pod as the API server stored it, the way a kubelet would on a node: its volumes
 * materialised and kept in sync, its network namespace, then its init containers in order (a
 * native sidecar, `restartPolicy: Always`, is started and must pass its startup probe before the
 * next one starts), then its containers. What this cannot do (images, cgroups, restarts) is
 * stood in for or left out, and says so.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig, V1Container, V1Pod, V1Probe } from '@kubernetes/client-node';
import { execArgv, startContainer, type RunningContainer } from './container.js';
import { startPodNetwork, type PodNetwork } from './network.js';
import type { ImageResolver } from './runtime.js';
import { materialiseVolumes, type PodVolumes } from './volumes.js';

export interface RunPodOptions {
  kubeConfig: KubeConfig;
  /** What runs each image the pod names. */
  images: ImageResolver;
  /** `pod` (default): a network namespace of its own, with `forwardPorts` of the host's loopback published in it. */
  network?: { mode?: 'pod' | 'host'; forwardPorts?: readonly number[] };
  /** Init containers not to run, each with the reason (reported through onEvent). */
  skipInitContainers?: Record<string, string>;
  /** Containers that get a stdin pipe (as `stdin: true` would). */
  stdin?: readonly string[];
  /** How often ConfigMap and Secret volumes are refreshed; default 500 ms. */
  syncIntervalMs?: number;
  onLog?: (container: string, line: string) => void;
  /** Human-readable progress: volumes written, containers started, probes passed, volumes updated. */
  onEvent?: (message: string) => void;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running pod. */
export interface RunningPod {
  name: string;
  namespace: string;
  /** The pod's folder: volumes, sockets, overlay layers. Removed by stop(). */
  dir: string;
  volumes: PodVolumes;
  network: PodNetwork;
  containers: ReadonlyMap<string, RunningContainer>;
  /** A running container by name; throws when there is none. */
  container(name: string): RunningContainer;
  /** Runs a command in a running container, like `kubectl exec`. */
  exec(container: string, command: string[], options?: { stdin?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Stops the containers (app containers first, sidecars last, as the kubelet does) and removes the pod's folder. */
  stop(): Promise<void>;
}

/** Starts `pod` and resolves once its containers run (native sidecars past their startup probes). */
export async function runPod(pod: V1Pod, options: RunPodOptions): Promise<RunningPod> {
  const name = pod.metadata?.name ?? 'pod';
  const namespace = pod.metadata?.namespace ?? 'default';
  const event = options.onEvent ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), `airlock-pod-${name}-`));
  const containers = new Map<string, RunningContainer>();
  const order: RunningContainer[] = [];
  let volumes: PodVolumes | undefined;
  let network: PodNetwork | undefined;

  const stop = async () => {
    volumes?.close();
    // App containers first, then the sidecars in reverse start order, as the kubelet stops a pod with native sidecars.
    for (const running of [...order].reverse()) await running.stop(graceMs(pod));
    await network?.close();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    network = await startPodNetwork({ mode: options.network?.mode ?? 'pod', forwardPorts: options.network?.forwardPorts ?? [], dir });
    event(network.mode === 'pod' ? `network: a namespace of its own; host ports ${(options.network?.forwardPorts ?? []).join(', ') || 'none'} published on its 127.0.0.1` : "network: the host's");
    volumes = await materialiseVolumes(pod, {
      kubeConfig: options.kubeConfig,
      dir,
      ...(options.syncIntervalMs !== undefined ? { syncIntervalMs: options.syncIntervalMs } : {}),
      onUpdate: (volume) => event(`volume ${volume.name}: ${volume.kind} changed, swapped ..data to the new version`),
    });
    for (const volume of volumes.byName.values()) event(`volume ${volume.name}: ${volume.kind} at ${volume.hostPath}`);

    const start = async (container: V1Container) => {
      const running = await startContainer({
        pod,
        container,
        image: options.images(container.image ?? ''),
        volumes: volumes!.byName,
        network: network!,
        dir: await mkdtemp(join(dir, `ctr-${container.name}-`)),
        stdin: options.stdin?.includes(container.name) ?? false,
        onLog: (line) => options.onLog?.(container.name, line),
      });
      containers.set(container.name, running);
      order.push(running);
      event(`container ${container.name}: started (${container.image}) as uid ${running.identity.uid}`);
      return running;
    };

    for (const container of pod.spec?.initContainers ?? []) {
      const skip = options.skipInitContainers?.[container.name];
      if (skip !== undefined) {
        event(`init container ${container.name}: not run here: ${skip}`);
        continue;
      }
      const running = await start(container);
      if (container.restartPolicy === 'Always') {
        if (container.startupProbe) await probeUntilReady(running, container.startupProbe, (command) => execIn(running, command));
        event(`container ${container.name}: started (native sidecar)${container.startupProbe ? ', startup probe passed' : ''}`);
      } else {
        const code = await Promise.race([running.exited, sleep(120_000).then(() => 'timeout' as const)]);
        if (code !== 0) throw new Error(`init container ${container.name} ${code === 'timeout' ? 'did not finish' : `exited ${code}`}:\n${tail(running)}`);
        event(`init container ${container.name}: completed`);
      }
    }
    for (const container of pod.spec?.containers ?? []) {
      const running = await start(container);
      if (container.startupProbe) await probeUntilReady(running, container.startupProbe, (command) => execIn(running, command));
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    name,
    namespace,
    dir,
    volumes,
    network,
    containers,
    container(containerName) {
      const running = containers.get(containerName);
      if (!running) throw new Error(`pod ${name} runs no container ${containerName}`);
      return running;
    },
    exec(containerName, command, execOptions) {
      const running = containers.get(containerName);
      if (!running) throw new Error(`pod ${name} runs no container ${containerName}`);
      return execIn(running, command, execOptions);
    },
    stop,
  };
}

function graceMs(pod: V1Pod): number {
  return Math.min((pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000, 15_000);
}

function tail(running: RunningContainer, lines = 30): string {
  return running.logs.slice(-lines).join('\n');
}

/** Runs a command inside a running container and collects its output. */
export function execIn(running: RunningContainer, command: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const argv = execArgv(running, command);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: {}, timeout: options.timeoutMs ?? 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/**
 * A startup probe as the kubelet runs it: every periodSeconds until it succeeds, failing the pod
 * after failureThreshold failures. Only exec probes: that is what the Airlock sidecar declares.
 */
async function probeUntilReady(running: RunningContainer, probe: V1Probe, exec: (command: string[]) => Promise<ExecResult>): Promise<void> {
  if (!probe.exec?.command) throw new Error(`container ${running.name}: only exec startup probes are supported here`);
  await sleep((probe.initialDelaySeconds ?? 0) * 1000);
  const period = (probe.periodSeconds ?? 10) * 1000;
  const threshold = probe.failureThreshold ?? 3;
  let last: ExecResult | undefined;
  for (let attempt = 1; attempt <= threshold; attempt += 1) {
    if (running.exitCode !== undefined) throw new Error(`container ${running.name} exited (${running.exitCode}) before its startup probe passed:\n${tail(running)}`);
    last = await exec(probe.exec.command);
    if (last.code === 0) return;
    await sleep(period);
  }
  throw new Error(`container ${running.name}: startup probe failed ${threshold} times (last: ${last?.stderr.trim()}):\n${tail(running)}`);
}
