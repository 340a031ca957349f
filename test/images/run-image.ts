/**
 * Runs a mirrored image (see mirror.sh) the way a container runtime would, with the local e2e's
 * container launcher: its own namespaces, the image's user unless the securityContext says
 * otherwise, a read-only root when asked, host folders mounted, host ports published.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Container, V1SecurityContext } from '@kubernetes/client-node';
import { startContainer, type RunningContainer } from '../e2e/kubelet/container.js';
import { startPodNetwork, type PodNetwork } from '../e2e/kubelet/network.js';
import { SYSTEM_PATH, type ImageRuntime } from '../e2e/kubelet/runtime.js';
import type { MaterialisedVolume } from '../e2e/kubelet/volumes.js';

/** The image a mirror in `root` stands for: its /usr/local/bin and the pinned Node first on PATH, like the node image. */
export function mirroredImage(root: string, user: { uid: number; gid: number }, entrypoint: string): ImageRuntime {
  const nodeDir = join(process.execPath, '..');
  return { env: { PATH: `${root}/usr/local/bin:${nodeDir}:${SYSTEM_PATH}`, NODE_ENV: 'production', HOME: '/nonexistent' }, entrypoint: [entrypoint], workingDir: '/', user };
}

export interface ImageRun {
  container: RunningContainer;
  network: PodNetwork;
  stop(): Promise<number | null>;
}

/** Starts one container of `image`; `mounts` maps container paths to host folders. */
export async function runImage(options: {
  name: string;
  image: ImageRuntime;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  securityContext?: V1SecurityContext;
  mounts?: Record<string, string>;
  forwardPorts?: number[];
  dir: string;
}): Promise<ImageRun> {
  const dir = await mkdtemp(join(options.dir, `${options.name}-`));
  const network = await startPodNetwork({ mode: 'pod', forwardPorts: options.forwardPorts ?? [], dir });
  const volumes = new Map<string, MaterialisedVolume>();
  const volumeMounts = Object.entries(options.mounts ?? {}).map(([mountPath, hostPath], i) => {
    volumes.set(`v${i}`, { name: `v${i}`, kind: 'emptyDir', hostPath });
    return { name: `v${i}`, mountPath };
  });
  const container: V1Container = {
    name: options.name,
    image: options.name,
    ...(options.command ? { command: options.command } : {}),
    ...(options.args ? { args: options.args } : {}),
    env: Object.entries(options.env ?? {}).map(([name, value]) => ({ name, value })),
    volumeMounts,
    ...(options.securityContext ? { securityContext: options.securityContext } : {}),
  };
  const running = await startContainer({ pod: { metadata: { name: options.name } }, container, image: options.image, volumes, network, dir });
  return {
    container: running,
    network,
    async stop() {
      const code = await running.stop(10_000);
      await network.close();
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
}
