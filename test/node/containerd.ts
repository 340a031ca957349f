/**
 * A containerd of the node's own: its config, root, state and socket all under the run's temp
 * dir, so parallel runs never see each other's containers. The CRI settings are the ones this
 * kind of machine needs (shared/REAL-NODE.md in the design notes): `restrict_oom_score_adj`,
 * because root here lacks CAP_SYS_RESOURCE; cgroupfs; a locally built pause image.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SupervisedProcess } from '../controlplane/supervised-process.js';
import { sh } from './network.js';

/** A running containerd and how to reach it. */
export interface Containerd {
  /** Path of its gRPC socket (`unix://` + this is the kubelet's runtime endpoint). */
  socket: string;
  process: SupervisedProcess;
  /** `ctr` against this containerd, in the CRI's namespace `k8s.io`. */
  ctr(args: string[]): Promise<string>;
}

/** Writes the config and starts containerd; resolves once its socket answers. */
export async function startContainerd(dir: string, options: { cniConfDir: string; pauseImage: string }): Promise<Containerd> {
  const socket = join(dir, 'containerd.sock');
  const config = `version = 2
root = "${join(dir, 'containerd-root')}"
state = "${join(dir, 'containerd-state')}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${socket}"

[ttrpc]
  address = "${socket}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, 'containerd-opt')}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${options.pauseImage}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${options.cniConfDir}"
    max_conf_num = 1
`;
  const configPath = join(dir, 'containerd.toml');
  await writeFile(configPath, config);
  const process = await SupervisedProcess.start('containerd', '/usr/bin/containerd', ['--config', configPath, '--log-level', 'warn'], join(dir, 'containerd.log'));
  const ctr = (args: string[]) => sh('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (process.exitStatus !== undefined) throw new Error(`containerd exited (${process.exitStatus}):\n${await process.logTail()}`);
    if (await ctr(['version']).then(() => true, () => false)) break;
    if (Date.now() > deadline) throw new Error(`containerd did not answer on ${socket} within 30 s:\n${await process.logTail()}`);
    await sleep(200);
  }
  return { socket, process, ctr };
}

/** Imports OCI archives (buildah's `oci-archive:` output) into the CRI's image store. */
export async function importImages(containerd: Containerd, archives: string[]): Promise<void> {
  for (const archive of archives) await containerd.ctr(['images', 'import', archive]);
}

/**
 * Kills every container of this containerd and returns the network namespaces its pod sandboxes
 * were given (bind mounts under /var/run/netns, which outlive containerd), for the caller to remove.
 */
export async function killAllTasks(containerd: Containerd): Promise<string[]> {
  const netns: string[] = [];
  const ids = (await containerd.ctr(['containers', 'list', '--quiet']).catch(() => '')).split('\n').filter(Boolean);
  for (const id of ids) {
    const info = await containerd.ctr(['containers', 'info', id]).catch(() => '');
    for (const match of info.matchAll(/"path": "(\/var\/run\/netns\/[^"]+|\/run\/netns\/[^"]+)"/g)) netns.push(match[1]!);
    await containerd.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]).catch(() => undefined);
  }
  for (const id of ids) {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      if (await containerd.ctr(['tasks', 'delete', id]).then(() => true, (error: Error) => /not found/.test(error.message))) break;
      await sleep(100);
    }
  }
  return [...new Set(netns)];
}
