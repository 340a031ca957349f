/**
 * A real single-node Kubernetes cluster on this machine, without Docker: the test control plane
 * (etcd + kube-apiserver), kube-controller-manager and kube-scheduler, and a kubelet on a
 * containerd of its own with runc and the CNI bridge plugin. Built once (test/controlplane/build.sh
 * node), it starts in seconds; stop() leaves no process, mount, bridge, network namespace, rule or
 * containerd state behind, also after a failed test.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import { findCondition } from '../../operator/src/kube/conditions.js';
import { createCertificateAuthority, issueCertificate } from '../../operator/src/tls/certificates.js';
import { ensureBinaries, freePorts, startControlPlane, type ControlPlane } from '../controlplane/control-plane.js';
import { kubectlFor, type Kubectl } from '../controlplane/kubectl.js';
import { SupervisedProcess } from '../controlplane/supervised-process.js';
import { importImages, killAllTasks, startContainerd, type Containerd } from './containerd.js';
import { startKubelet } from './kubelet.js';
import { createPodNetwork, removePodNetwork, routeKubernetesService, sh, type PodNetwork } from './network.js';
import { killProcessesOf, removeAbandonedNodes, removeServiceRules, unmountUnder, writeOwner } from './cleanup.js';

/** What {@link startNodeCluster} needs. */
export interface NodeClusterOptions {
  /** OCI archives to import into the node's containerd before the kubelet starts. */
  images: string[];
  /** Name of the pause image (among `images`), containerd's `sandbox_image`. */
  pauseImage: string;
  /** Where progress lines go (build of the binaries, each start step); default nowhere. */
  progress?: (line: string) => void;
}

/** A running single-node cluster. */
export interface NodeCluster {
  controlPlane: ControlPlane;
  /** Admin kubeconfig file. */
  kubeconfigPath: string;
  /** kubectl at the API server's version, with the admin kubeconfig. */
  kubectl: Kubectl;
  /** Directory of the Kubernetes binaries. */
  binDir: string;
  network: PodNetwork;
  nodeName: string;
  containerd: Containerd;
  /** Creates a namespace and waits for its `default` ServiceAccount (the controller-manager makes it). */
  namespace(name: string): Promise<string>;
  /** Stops everything and removes every trace; idempotent. */
  stop(): Promise<void>;
}

/** A prerequisite is missing; the message says how to get it. */
export class NodePrerequisiteError extends Error {
  override readonly name = 'NodePrerequisiteError';
}

const REQUIRED = ['/usr/bin/containerd', '/usr/bin/ctr', '/usr/sbin/runc', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback', '/usr/sbin/iptables', '/usr/sbin/ip', '/usr/bin/setpriv'];

/** Fails with a clear message when this machine cannot run the node. */
export function checkPrerequisites(): void {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new NodePrerequisiteError('the real-node e2e runs a kubelet, containerd and runc: it needs Linux and root (CI and these machines are)');
  }
  const missing = REQUIRED.filter((path) => !existsSync(path) && !existsSync(path.replace('/usr/sbin/', '/sbin/')));
  if (missing.length > 0) {
    throw new NodePrerequisiteError(`the real-node e2e needs ${missing.join(', ')}: run \`bash test/setup/install-debian-packages.sh\` as root (npm test does), which installs containerd, runc, containernetworking-plugins, iptables and iproute2`);
  }
}

/** Starts the whole node; on any failure it stops what it started and rethrows. */
export async function startNodeCluster(options: NodeClusterOptions): Promise<NodeCluster> {
  checkPrerequisites();
  const progress = options.progress ?? (() => undefined);
  await removeAbandonedNodes();
  const binaries = await ensureBinaries({ names: ['node'], progress: { write: (chunk: string) => (progress(chunk.trimEnd()), true) } as NodeJS.WritableStream });
  const binDir = binaries.dir;
  const id = randomBytes(3).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), 'airlock-node-'));
  const nodeName = `airlock-node-${id}`;
  const processes: SupervisedProcess[] = [];
  let network: PodNetwork | undefined;
  let controlPlane: ControlPlane | undefined;
  let containerd: Containerd | undefined;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // The kubelet first, so it restarts nothing while containers are killed under it.
      for (const child of [...processes].reverse()) await child.stop(5_000);
      let netns: string[] = [];
      if (containerd) {
        netns = await killAllTasks(containerd).catch(() => []);
        await containerd.process.stop(5_000);
      }
      await killProcessesOf(dir);
      await unmountUnder(dir);
      for (const path of netns) {
        await sh('umount', [path]).catch(() => undefined);
        await rm(path, { force: true });
      }
      if (network) {
        await removeServiceRules(network.bridge);
        await removePodNetwork(network);
      }
      await controlPlane?.stop();
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    })());

  try {
    await writeOwner(dir, id);
    progress(`pod network: bridge alk${id}`);
    network = await createPodNetwork(id, dir);
    const kubeletClient = await kubeletClientCertificates(dir);
    const [kubeletPort] = await freePorts(1);

    progress('control plane: etcd + kube-apiserver');
    controlPlane = await startControlPlane({
      binDir,
      serviceAccounts: true,
      apiServerFlags: [
        // Pods reach it through the `kubernetes` Service (routed to the bridge address below).
        '--bind-address=0.0.0.0',
        `--advertise-address=${network.gateway}`,
        // Webhook and aggregated API calls go to a Service's endpoints (the pod IP on the bridge):
        // no kube-proxy is needed for the API server to call the operator's webhook Service.
        '--enable-aggregator-routing=true',
        '--kubelet-preferred-address-types=InternalIP',
        `--kubelet-client-certificate=${kubeletClient.cert}`,
        `--kubelet-client-key=${kubeletClient.key}`,
      ],
    });
    await routeKubernetesService(network, Number(new URL(controlPlane.server).port));

    progress('containerd + images');
    containerd = await startContainerd(dir, { cniConfDir: network.confDir, pauseImage: options.pauseImage });
    await importImages(containerd, options.images);

    progress('kube-controller-manager, kube-scheduler, kubelet');
    const kubeconfig = controlPlane.kubeconfigPath;
    processes.push(
      await SupervisedProcess.start('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
        `--kubeconfig=${kubeconfig}`,
        `--service-account-private-key-file=${controlPlane.files.serviceAccountKey}`,
        `--root-ca-file=${controlPlane.files.caCert}`,
        '--use-service-account-credentials=false',
        '--leader-elect=false',
        '--secure-port=0',
        // No cloud, no node IPAM (the CNI's host-local hands out pod addresses).
        '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
      ], join(dir, 'kube-controller-manager.log')),
      await SupervisedProcess.start('kube-scheduler', join(binDir, 'kube-scheduler'), [`--kubeconfig=${kubeconfig}`, '--leader-elect=false', '--secure-port=0'], join(dir, 'kube-scheduler.log')),
      await startKubelet({ binDir, dir, nodeName, nodeIp: network.gateway, port: kubeletPort!, kubeconfigPath: kubeconfig, runtimeSocket: containerd.socket, clientCaFile: kubeletClient.ca, nameserver: network.gateway }),
    );

    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    await waitFor(`node ${nodeName} to be Ready`, 90_000, processes, async () => {
      const node = await core.readNode({ name: nodeName }).catch(() => undefined);
      return findCondition(node?.status?.conditions, 'Ready')?.status === 'True';
    });
    const kubectl = kubectlFor(binDir, kubeconfig);
    const cluster: NodeCluster = {
      controlPlane,
      kubeconfigPath: kubeconfig,
      kubectl,
      binDir,
      network,
      nodeName,
      containerd,
      async namespace(name) {
        await kubectl.ok(['create', 'namespace', name]);
        await waitFor(`ServiceAccount ${name}/default`, 60_000, processes, async () => (await core.readNamespacedServiceAccount({ namespace: name, name: 'default' }).catch(() => undefined)) !== undefined);
        return name;
      },
      stop,
    };
    return cluster;
  } catch (error) {
    const tails = await Promise.all(processes.map((child) => child.logTail(30)));
    await stop();
    throw new Error(`${(error as Error).message}\n${tails.join('\n')}`, { cause: error });
  }
}

/** A CA the kubelet trusts for client certificates, and the API server's certificate from it. */
async function kubeletClientCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = await createCertificateAuthority({ commonName: 'airlock-kubelet-client-ca', validityDays: 2 });
  const client = await issueCertificate(ca, { commonName: 'kube-apiserver-kubelet-client', organization: 'system:masters', usage: 'client', validityDays: 2 });
  const files = { ca: join(dir, 'kubelet-client-ca.crt'), cert: join(dir, 'kubelet-client.crt'), key: join(dir, 'kubelet-client.key') };
  await Promise.all([writeFile(files.ca, ca.certPem), writeFile(files.cert, client.certPem), writeFile(files.key, client.keyPem, { mode: 0o600 })]);
  return files;
}

async function waitFor(what: string, timeoutMs: number, watched: SupervisedProcess[], probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = watched.find((child) => child.exitStatus !== undefined);
    if (exited) throw new Error(`${exited.name} exited (${exited.exitStatus}) while waiting for ${what}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(500);
  }
}
