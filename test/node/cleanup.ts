/**
 * Removing what a node leaves on the machine: mounts under its temp dir (the kubelet's root dir
 * is bind-mounted onto itself and stays mounted; containerd mounts each rootfs and each
 * sandbox's /dev/shm there), and, for runs killed before their stop() ran, their processes, the
 * bridge and the Service rule, found by the run's id recorded in the temp dir.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../controlplane/control-plane.js';
import { sh } from './network.js';

const PREFIX = 'airlock-node-';

/** Records which process owns the node in `dir` and the run's id (the bridge is `alk<id>`). */
export async function writeOwner(dir: string, id: string): Promise<void> {
  await writeFile(join(dir, 'owner'), `${process.pid} ${id}\n`);
}

/** Unmounts every mount point at or below `dir`, deepest first. */
export async function unmountUnder(dir: string): Promise<void> {
  for (let pass = 0; pass < 3; pass += 1) {
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .map((line) => line.split(' ')[4])
      .filter((point): point is string => point !== undefined && (point === dir || point.startsWith(`${dir}/`)))
      // mountinfo escapes spaces and the like as \040; these paths have none.
      .sort((a, b) => b.length - a.length);
    if (mounts.length === 0) return;
    for (const point of mounts) await sh('umount', [point]).catch(() => sh('umount', ['--lazy', point]).catch(() => undefined));
  }
}

/** Kills every process whose command line names `dir` (containerd's shims outlive containerd by design). */
export async function killProcessesOf(dir: string): Promise<void> {
  let killed = false;
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(dir)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed = true;
    } catch {
      // It exited meanwhile.
    }
  }
  if (killed) await sleep(300);
}

/** Removes the Service rule of bridge `bridge` from the nat table, whatever port it pointed to. */
export async function removeServiceRules(bridge: string): Promise<void> {
  const rules = (await sh('iptables', ['-t', 'nat', '-S', 'PREROUTING']).catch(() => '')).split('\n').filter((rule) => rule.includes(`airlock-node ${bridge}`));
  for (const rule of rules) {
    // `-A PREROUTING ...` as iptables -S prints it; the same words after -D delete it.
    const words = rule.replace(/^-A /, '').match(/"[^"]*"|\S+/g)!.map((word) => word.replace(/^"|"$/g, ''));
    await sh('iptables', ['-t', 'nat', '-D', ...words]).catch(() => undefined);
  }
}

/**
 * Cleans up after node runs whose owner process is gone (a run killed with SIGKILL): their
 * processes died with them (pdeathsig) except containerd's shims and containers, which are killed
 * here, then mounts, the bridge, the Service rule and the temp dir go.
 */
export async function removeAbandonedNodes(): Promise<void> {
  for (const name of (await readdir(tmpdir())).filter((entry) => entry.startsWith(PREFIX))) {
    const dir = join(tmpdir(), name);
    const owner = await readFile(join(dir, 'owner'), 'utf8').catch(() => undefined);
    // No owner file yet: another run is creating it right now.
    if (!owner) continue;
    const [pid, id] = owner.trim().split(' ');
    if (isAlive(Number(pid))) continue;
    await killProcessesOf(dir);
    await unmountUnder(dir);
    await removeServiceRules(`alk${id}`);
    await sh('ip', ['link', 'del', `alk${id}`]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
