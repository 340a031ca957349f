/**
 * A real kube-apiserver backed by a real etcd for tests, the way controller-runtime's envtest
 * runs them: built once by build.sh, started on free loopback ports in a fresh temp dir, torn
 * down completely by stop(). See shared/CONTROL-PLANE.md for what a bare apiserver can and cannot do.
 */
import { spawn } from 'node:child_process';
import { generateKeyPair } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CoreV1Api, Health, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { createCertificateAuthority, issueCertificate } from '../../operator/src/tls/certificates.js';
import { SupervisedProcess } from './supervised-process.js';

const here = dirname(fileURLToPath(import.meta.url));
const tempDirPrefix = 'airlock-controlplane-';

/** Starting, building or stopping the control plane failed; the message carries the log tail. */
export class ControlPlaneError extends Error {
  override readonly name = 'ControlPlaneError';
}

/** Where the binaries are and what it took to get them. */
export interface ControlPlaneBinaries {
  /** Directory holding `kube-apiserver`, `etcd` and whatever else build.sh builds (kubectl). */
  dir: string;
  /** Wall-clock seconds build.sh took in this call (near zero when cached). */
  buildSeconds: number;
  /** True when every binary was already built before this call. */
  cached: boolean;
  /** Pinned versions from versions.sh, e.g. `v1.35.4` and `v3.6.16`. */
  kubeVersion: string;
  etcdVersion: string;
}

/** Options for {@link ensureBinaries}. */
export interface EnsureBinariesOptions {
  /** Where build.sh's progress goes; default process.stderr. */
  progress?: NodeJS.WritableStream;
  /** Which binaries, as build.sh names them (`node` for all six); default etcd, kube-apiserver, kubectl. */
  names?: string[];
}

/**
 * Builds the control plane binaries with build.sh unless they are cached, streaming its progress.
 * @throws {ControlPlaneError} when Go is missing or the build fails.
 */
export async function ensureBinaries(options: EnsureBinariesOptions = {}): Promise<ControlPlaneBinaries> {
  const progress = options.progress ?? process.stderr;
  const versions = await readFile(join(here, 'versions.sh'), 'utf8');
  const kubeVersion = /^KUBE_VERSION=(\S+)/m.exec(versions)?.[1];
  const etcdVersion = /^ETCD_VERSION=(\S+)/m.exec(versions)?.[1];
  if (!kubeVersion || !etcdVersion) throw new ControlPlaneError(`cannot read KUBE_VERSION / ETCD_VERSION from ${here}/versions.sh`);

  const started = Date.now();
  const child = spawn('bash', [join(here, 'build.sh'), ...(options.names ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderrTail = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    progress.write(chunk);
    stderrTail = (stderrTail + chunk).slice(-4000);
  });
  const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('close', resolve));
  const buildSeconds = (Date.now() - started) / 1000;
  const dir = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || dir === '') {
    throw new ControlPlaneError(`test/controlplane/build.sh failed (exit ${code}):\n${stderrTail}`);
  }
  // A binary written during this call was built by it; build.sh only moves finished builds into place.
  const entries = await readdir(dir, { withFileTypes: true });
  const mtimes = await Promise.all(entries.filter((entry) => entry.isFile()).map(async (entry) => (await stat(join(dir, entry.name))).mtimeMs));
  return { dir, buildSeconds, cached: mtimes.every((mtime) => mtime < started), kubeVersion, etcdVersion };
}

/** Options for {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Directory with `kube-apiserver` and `etcd`; default: {@link ensureBinaries} quietly. */
  binDir?: string;
  /** How long etcd plus kube-apiserver may take to become ready; default 90 s. */
  startupTimeoutMs?: number;
  /**
   * Extra kube-apiserver flags, appended after the defaults. A repeated scalar flag takes the last
   * value; a repeated list flag (`--disable-admission-plugins`, `--authorization-mode`) accumulates.
   */
  apiServerFlags?: string[];
  /**
   * A kube-controller-manager will run (test/node): keep the ServiceAccount admission plugin, so
   * pods get their ServiceAccount's token. Without one no namespace has a `default`
   * ServiceAccount, and the plugin would refuse every pod.
   */
  serviceAccounts?: boolean;
}

/** A running kube-apiserver + etcd pair. */
export interface ControlPlane {
  /** The temp dir holding certs, etcd data and logs; removed by stop(). */
  dir: string;
  /** An admin kubeconfig file (system:masters client certificate). */
  kubeconfigPath: string;
  /** The same kubeconfig as YAML. */
  kubeconfigYaml: string;
  /** A fresh KubeConfig loaded from it. */
  kubeConfig: KubeConfig;
  /** `https://127.0.0.1:PORT`. */
  server: string;
  /** PEM of the CA that signed the serving and the admin certificate. */
  ca: string;
  /** The admin client certificate and PKCS#8 key, PEM. */
  admin: { certPem: string; keyPem: string };
  /** Log files of both processes. */
  logs: { etcd: string; apiServer: string };
  /** The CA certificate file and the key the API server signs service-account tokens with (what a controller-manager needs). */
  files: { caCert: string; serviceAccountKey: string };
  /** Current process ids; undefined once stopped. The apiserver's changes on restart. */
  pids(): { etcd: number | undefined; apiServer: number | undefined };
  /** Stops kube-apiserver (SIGTERM, SIGKILL after 10 s) and etcd, then removes `dir`. Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts kube-apiserver only (same etcd, port and certs) and waits until ready. */
  restartApiServer(): Promise<void>;
  /** Requests a token for an existing ServiceAccount through the TokenRequest API. */
  tokenFor(namespace: string, serviceAccount: string, options?: { expirationSeconds?: number; audiences?: string[] }): Promise<string>;
  /** A KubeConfig for the same server that authenticates with a bearer token. */
  kubeConfigForToken(token: string): KubeConfig;
}

/**
 * Starts etcd and kube-apiserver in a fresh temp dir on free loopback ports and waits until the
 * apiserver is ready and namespace `default` exists.
 * @throws {ControlPlaneError} on timeout or early exit, with the tail of the process log.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = options.binDir ?? (await ensureBinaries({ progress: devNull })).dir;
  const timeoutMs = options.startupTimeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;
  await removeAbandonedDirs();
  const dir = await mkdtemp(join(tmpdir(), tempDirPrefix));
  liveDirs.add(dir);
  await writeFile(join(dir, 'owner.pid'), String(process.pid));
  const processes: { etcd?: SupervisedProcess; apiServer?: SupervisedProcess } = {};

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await processes.apiServer?.stop();
      await processes.etcd?.stop();
      await rm(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    })());

  try {
    const [etcdClientPort, etcdPeerPort, apiServerPort] = (await freePorts(3)) as [number, number, number];
    const files = await writeCredentials(dir, apiServerPort);
    const logs = { etcd: join(dir, 'etcd.log'), apiServer: join(dir, 'kube-apiserver.log') };
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;

    const etcdArgs = [
      '--name=default',
      `--data-dir=${join(dir, 'etcd-data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ];
    processes.etcd = await SupervisedProcess.start('etcd', join(binDir, 'etcd'), etcdArgs, logs.etcd);
    const etcd = processes.etcd;
    await waitFor('etcd /health', deadline, [etcd], async () => {
      const response = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return response.ok || undefined;
    });

    const apiServerArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--advertise-address=127.0.0.1',
      '--bind-address=127.0.0.1',
      `--secure-port=${apiServerPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${files.servingCert}`,
      `--tls-private-key-file=${files.servingKey}`,
      `--client-ca-file=${files.caFile}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${files.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${files.serviceAccountPrivateKey}`,
      '--authorization-mode=RBAC',
      // No controller-manager creates each namespace's `default` ServiceAccount, so Pods could not be admitted.
      ...(options.serviceAccounts ? [] : ['--disable-admission-plugins=ServiceAccount']),
      '--allow-privileged=true',
      '--service-cluster-ip-range=10.0.0.0/24',
      ...(options.apiServerFlags ?? []),
    ];
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(files.kubeconfigYaml);
    const startApiServer = async (startDeadline: number): Promise<void> => {
      processes.apiServer = await SupervisedProcess.start('kube-apiserver', join(binDir, 'kube-apiserver'), apiServerArgs, logs.apiServer);
      await waitUntilReady(kubeConfig, startDeadline, [etcd, processes.apiServer]);
    };
    await startApiServer(deadline);

    const server = `https://127.0.0.1:${apiServerPort}`;
    return {
      dir,
      kubeconfigPath: files.kubeconfig,
      kubeconfigYaml: files.kubeconfigYaml,
      kubeConfig,
      server,
      ca: files.caPem,
      admin: files.admin,
      logs,
      files: { caCert: files.caFile, serviceAccountKey: files.serviceAccountPrivateKey },
      pids: () => ({ etcd: processes.etcd?.pid, apiServer: processes.apiServer?.pid }),
      stop,
      async restartApiServer() {
        if (stopping) throw new ControlPlaneError('restartApiServer: the control plane is stopped');
        await processes.apiServer?.stop();
        await startApiServer(Date.now() + timeoutMs);
      },
      async tokenFor(namespace, serviceAccount, tokenOptions = {}) {
        const request = await kubeConfig.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
          namespace,
          name: serviceAccount,
          body: { spec: { audiences: tokenOptions.audiences ?? [], expirationSeconds: tokenOptions.expirationSeconds ?? 3600 } },
        });
        const token = request.status?.token;
        if (!token) throw new ControlPlaneError(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
        return token;
      },
      kubeConfigForToken(token) {
        const tokenConfig = new KubeConfig();
        tokenConfig.loadFromOptions({
          clusters: [{ name: 'airlock-test', server, caData: Buffer.from(files.caPem).toString('base64') }],
          users: [{ name: 'token', token }],
          contexts: [{ name: 'token', cluster: 'airlock-test', user: 'token' }],
          currentContext: 'token',
        });
        return tokenConfig;
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface CredentialFiles {
  caFile: string;
  caPem: string;
  servingCert: string;
  servingKey: string;
  serviceAccountPublicKey: string;
  serviceAccountPrivateKey: string;
  admin: { certPem: string; keyPem: string };
  kubeconfig: string;
  kubeconfigYaml: string;
}

/** A fresh CA per control plane, so no test can trust another run's certificates. */
async function writeCredentials(dir: string, apiServerPort: number): Promise<CredentialFiles> {
  const ca = await createCertificateAuthority({ commonName: 'airlock-test-ca', validityDays: 2 });
  const [serving, admin, serviceAccount] = await Promise.all([
    issueCertificate(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ipAddresses: ['127.0.0.1', '10.0.0.1'],
      usage: 'server',
      validityDays: 2,
    }),
    issueCertificate(ca, { commonName: 'airlock-test-admin', organization: 'system:masters', usage: 'client', validityDays: 2 }),
    promisify(generateKeyPair)('ec', {
      namedCurve: 'prime256v1',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }),
  ]);
  const server = `https://127.0.0.1:${apiServerPort}`;
  const base64 = (pem: string): string => Buffer.from(pem).toString('base64');
  const kubeconfigYaml = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'airlock-test', cluster: { server, 'certificate-authority-data': base64(ca.certPem) } }],
    users: [{ name: 'admin', user: { 'client-certificate-data': base64(admin.certPem), 'client-key-data': base64(admin.keyPem) } }],
    contexts: [{ name: 'airlock-test', context: { cluster: 'airlock-test', user: 'admin' } }],
    'current-context': 'airlock-test',
  });
  const files = {
    caFile: join(dir, 'ca.crt'),
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    serviceAccountPublicKey: join(dir, 'service-account.pub'),
    serviceAccountPrivateKey: join(dir, 'service-account.key'),
    kubeconfig: join(dir, 'kubeconfig'),
  };
  await mkdir(join(dir, 'apiserver-certs'));
  await Promise.all([
    writeFile(files.caFile, ca.certPem),
    writeFile(files.servingCert, serving.certPem),
    writeFile(files.servingKey, serving.keyPem, { mode: 0o600 }),
    writeFile(files.serviceAccountPublicKey, serviceAccount.publicKey),
    writeFile(files.serviceAccountPrivateKey, serviceAccount.privateKey, { mode: 0o600 }),
    writeFile(files.kubeconfig, kubeconfigYaml, { mode: 0o600 }),
  ]);
  return { ...files, caPem: ca.certPem, admin: { certPem: admin.certPem, keyPem: admin.keyPem }, kubeconfigYaml };
}

async function waitUntilReady(kubeConfig: KubeConfig, deadline: number, watched: SupervisedProcess[]): Promise<void> {
  const health = new Health(kubeConfig);
  await waitFor('kube-apiserver /readyz', deadline, watched, async () =>
    (await health.readyz({ signal: AbortSignal.timeout(5000) })) || undefined,
  );
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await waitFor('namespace "default"', deadline, watched, async () => (await core.readNamespace({ name: 'default' })).metadata);
}

/** Polls `probe` until it returns a value; fails early if a watched process exits. */
async function waitFor<T>(what: string, deadline: number, watched: SupervisedProcess[], probe: () => Promise<T | undefined>): Promise<T> {
  let lastError: unknown;
  for (;;) {
    const exited = watched.find((child) => child.exitStatus !== undefined);
    if (exited) {
      throw new ControlPlaneError(`${exited.name} exited (${exited.exitStatus}) while waiting for ${what}\n${await exited.logTail()}`);
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const tails = await Promise.all(watched.map((child) => child.logTail()));
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message}${lastError.cause instanceof Error ? `: ${lastError.cause.message}` : ''})` : '';
      throw new ControlPlaneError(`timed out waiting for ${what}${cause}\n${tails.join('\n')}`, { cause: lastError });
    }
    await sleep(250);
  }
}

/** Ports the kernel handed out at once, so they are distinct; another process may still race us. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer().on('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Temp dirs not yet removed, for the last-resort exit handler. */
const liveDirs = new Set<string>();
process.once('exit', () => {
  // supervised-process.ts's handler ran first (imported first) and SIGKILLed etcd; retry while it dies.
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

/**
 * A test run killed with SIGKILL cannot remove its temp dir (etcd preallocates ~120 MB there);
 * its processes died with it (pdeathsig), so the next run removes dirs whose owner is gone.
 */
async function removeAbandonedDirs(): Promise<void> {
  const names = (await readdir(tmpdir())).filter((name) => name.startsWith(tempDirPrefix));
  for (const name of names) {
    const dir = join(tmpdir(), name);
    // No owner file yet: another run is creating it right now.
    const owner = Number(await readFile(join(dir, 'owner.pid'), 'utf8').catch(() => Number.NaN));
    if (Number.isInteger(owner) && !isAlive(owner)) await rm(dir, { recursive: true, force: true });
  }
}

/** Whether process `pid` exists (EPERM: it does, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const devNull = new Writable({ write: (_chunk, _encoding, done) => done() });
