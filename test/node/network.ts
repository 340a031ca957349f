/**
 * The node's pod network: a Linux bridge of its own on a private /24 (and a ULA /64 where the
 * kernel has IPv6), the CNI bridge plugin's conflist pointing at it, and the one rule kube-proxy
 * would add for the API server's Service (10.0.0.1:443 -> the API server on the bridge address).
 * Every name carries the run's id, so parallel runs never share a bridge, a range or a rule.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The ClusterIP of the `kubernetes` Service (first address of the control plane's service range). */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';

/** One run's pod network. */
export interface PodNetwork {
  /** Bridge interface name, e.g. `alk3f9a1c`. */
  bridge: string;
  /** The bridge's IPv4 address: the node's InternalIP, the pods' gateway, where host listeners for pods bind. */
  gateway: string;
  /** The pods' IPv4 range, e.g. `10.213.7.0/24`. */
  subnet: string;
  /** The bridge's IPv6 address and the pods' IPv6 range, when the kernel has IPv6. */
  gateway6?: string;
  subnet6?: string;
  /** The CNI config directory (containerd's `conf_dir`) and host-local's state directory. */
  confDir: string;
}

/** Runs a system command; its stderr becomes the error. */
export async function sh(command: string, args: string[]): Promise<string> {
  try {
    return (await run(command, args, { env: { ...process.env, PATH: `${process.env.PATH}:${SYSTEM_PATH}` } })).stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

/** Picks a /24 in 10.200.0.0 - 10.254.255.0 that no route of this machine overlaps, and creates the bridge. */
export async function createPodNetwork(id: string, dir: string): Promise<PodNetwork> {
  const routes = await sh('ip', ['-4', 'route', 'show', 'table', 'all']);
  let subnetPrefix = '';
  for (let attempt = 0; attempt < 50 && !subnetPrefix; attempt += 1) {
    const candidate = `10.${200 + Math.floor(Math.random() * 55)}.${Math.floor(Math.random() * 256)}`;
    if (!routes.includes(`${candidate}.`)) subnetPrefix = candidate;
  }
  if (!subnetPrefix) throw new Error('no free private /24 for the pod network in 10.200.0.0/16 - 10.254.0.0/16');
  const bridge = `alk${id}`;
  const network: PodNetwork = { bridge, gateway: `${subnetPrefix}.1`, subnet: `${subnetPrefix}.0/24`, confDir: join(dir, 'cni') };
  if (existsSync('/proc/net/if_inet6')) {
    const hex = id.slice(0, 4);
    network.subnet6 = `fd00:a1:${hex}::/64`;
    network.gateway6 = `fd00:a1:${hex}::1`;
  }

  // Created here rather than by the plugin, so the node's address exists before the kubelet and
  // the API server start; the bridge plugin adopts an existing bridge of its name.
  await sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await sh('ip', ['addr', 'add', `${network.gateway}/24`, 'dev', bridge]);
  if (network.gateway6) await sh('ip', ['-6', 'addr', 'add', `${network.gateway6}/64`, 'dev', bridge, 'nodad']);
  await sh('ip', ['link', 'set', bridge, 'up']);

  const ranges = [[{ subnet: network.subnet, gateway: network.gateway }], ...(network.subnet6 ? [[{ subnet: network.subnet6, gateway: network.gateway6 }]] : [])];
  const conflist = {
    cniVersion: '1.0.0',
    name: `airlock-${id}`,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        // Pods talk to this machine and to each other only: no masquerading to the outside.
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges, routes: [{ dst: '0.0.0.0/0' }, ...(network.subnet6 ? [{ dst: '::/0' }] : [])], dataDir: join(dir, 'cni-ipam') },
      },
    ],
  };
  await mkdir(network.confDir, { recursive: true });
  await writeFile(join(network.confDir, '10-airlock.conflist'), JSON.stringify(conflist, null, 2));
  return network;
}

/** Lets pods reach the API server at the `kubernetes` Service's address, as kube-proxy would (for pods on this bridge only). */
export async function routeKubernetesService(network: PodNetwork, apiServerPort: number): Promise<void> {
  await sh('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-i', network.bridge, '-d', KUBERNETES_SERVICE_IP, '-p', 'tcp', '--dport', '443', '-m', 'comment', '--comment', `airlock-node ${network.bridge}`, '-j', 'DNAT', '--to-destination', `${network.gateway}:${apiServerPort}`]);
}

/** Removes the bridge (the plugin's veths went with their network namespaces). */
export async function removePodNetwork(network: PodNetwork): Promise<void> {
  await sh('ip', ['link', 'del', network.bridge]).catch(() => undefined);
}
