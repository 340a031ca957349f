/**
 * The kubelet of the node, configured for this kind of machine (cgroup v1 hybrid hierarchy, no
 * CAP_SYS_RESOURCE, a root device cAdvisor cannot read): cgroupfs without per-QoS cgroups, no
 * node-allocatable enforcement, no local-storage isolation and eviction thresholds it can never
 * reach, so nothing is evicted for numbers it cannot measure. It serves on the bridge address
 * only, on a port of its own, and accepts only the API server's client certificate.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { SupervisedProcess } from '../controlplane/supervised-process.js';

/** What the kubelet is started with. */
export interface KubeletOptions {
  binDir: string;
  dir: string;
  nodeName: string;
  /** The node's InternalIP: the bridge address. */
  nodeIp: string;
  port: number;
  kubeconfigPath: string;
  runtimeSocket: string;
  /** CA of the client certificate the API server presents to the kubelet (logs, exec). */
  clientCaFile: string;
  /** The nameserver line pods with `dnsPolicy: Default` get (there is no cluster DNS). */
  nameserver: string;
}

/** Starts the kubelet; the caller waits for its Node to be Ready. */
export async function startKubelet(options: KubeletOptions): Promise<SupervisedProcess> {
  const resolvConf = join(options.dir, 'resolv.conf');
  await writeFile(resolvConf, `nameserver ${options.nameserver}\n`);
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: options.nodeIp,
    port: options.port,
    readOnlyPort: 0,
    healthzPort: 0,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: options.clientCaFile } },
    authorization: { mode: 'AlwaysAllow' },
    containerRuntimeEndpoint: `unix://${options.runtimeSocket}`,
    // cgroup v1 here; the kubelet refuses v1 unless told.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    failSwapOn: false,
    localStorageCapacityIsolation: false,
    evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'nodefs.inodesFree': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    resolvConf,
    // Secret and ConfigMap volumes follow their objects within seconds, as tests of rotation need.
    syncFrequency: '5s',
    nodeStatusUpdateFrequency: '4s',
    fileCheckFrequency: '20s',
    serializeImagePulls: false,
    shutdownGracePeriod: '0s',
    rotateCertificates: false,
    serverTLSBootstrap: false,
    containerLogMaxSize: '10Mi',
    // Containers' logs in the run's own directory, not the machine's /var/log/pods: every
    // kubelet's container GC deletes, about once a minute, each directory there whose pod it does
    // not know (podWorkers.ShouldPodContentBeRemoved is true for unknown UIDs), so two runs at
    // once (two engineers, or an e2e beside `npm run demo`) deleted each other's pod logs, and a
    // finished Job's `kubectl logs` found no file. That is also why /var/log/pods only ever held
    // the latest run's pods.
    podLogsDir: join(options.dir, 'pod-logs'),
    maxPods: 30,
  };
  const configPath = join(options.dir, 'kubelet.yaml');
  await writeFile(configPath, stringify(config));
  const args = [
    `--config=${configPath}`,
    `--kubeconfig=${options.kubeconfigPath}`,
    `--hostname-override=${options.nodeName}`,
    `--node-ip=${options.nodeIp}`,
    `--root-dir=${join(options.dir, 'kubelet')}`,
    `--cert-dir=${join(options.dir, 'kubelet-pki')}`,
    '--v=1',
  ];
  return SupervisedProcess.start('kubelet', join(options.binDir, 'kubelet'), args, join(options.dir, 'kubelet.log'));
}
