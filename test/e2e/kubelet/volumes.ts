/**
 * A pod's volumes materialised the way the kubelet does it, in a temp folder per volume:
 * an emptyDir is an empty world-writable directory; a ConfigMap or Secret volume is the
 * kubelet's atomic-writer layout, which is what lets a running container see updates:
 *
 *   <volume>/..2026_11_21_08_53_10.123456789/config.yaml    the files of one version
 *   <volume>/..data -> ..2026_11_21_08_53_10.123456789       swapped by rename(2), atomically
 *   <volume>/config.yaml -> ..data/config.yaml               what the container opens
 *
 * The kubelet keeps these volumes current while the pod runs; {@link PodVolumes.sync} does the
 * same by polling the API server, and writes a new version only when the data changed.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type KubeConfig, type V1KeyToPath, type V1Pod, type V1Volume } from '@kubernetes/client-node';

/** What one volume became on this machine. */
export interface MaterialisedVolume {
  name: string;
  kind: 'emptyDir' | 'configMap' | 'secret';
  /** The temp folder a container's volumeMount binds. */
  hostPath: string;
}

/** The volumes of one pod, kept in sync with their ConfigMaps and Secrets until closed. */
export interface PodVolumes {
  byName: ReadonlyMap<string, MaterialisedVolume>;
  /** How many times a ConfigMap or Secret volume was swapped to a new version since the start. */
  readonly updates: number;
  /** Polls every source once and swaps `..data` where the data changed. */
  sync(): Promise<void>;
  /** Stops syncing (the folders stay until the pod's directory is removed). */
  close(): void;
}

export interface VolumeOptions {
  kubeConfig: KubeConfig;
  /** Directory to create the volume folders in (the pod's directory). */
  dir: string;
  /** How often to look for changed ConfigMaps and Secrets; the kubelet takes up to a minute, tests want less. */
  syncIntervalMs?: number;
  /** How long to wait for a missing ConfigMap or Secret before giving up (the kubelet waits forever). */
  waitForSourcesMs?: number;
  /** Called with a line whenever a volume gets a new version. */
  onUpdate?: (volume: MaterialisedVolume) => void;
}

/** A volume this fake kubelet cannot provide. */
export class UnsupportedVolumeError extends Error {
  override readonly name = 'UnsupportedVolumeError';
}

interface Source {
  volume: MaterialisedVolume;
  read(): Promise<Map<string, Buffer> | undefined>;
  mode: number;
  items: V1KeyToPath[] | undefined;
  fingerprint?: string;
}

/**
 * Creates every volume of `pod` and fills its ConfigMap and Secret volumes, waiting for sources
 * that do not exist yet (as a pod stays in ContainerCreating), then keeps them in sync.
 * @throws {UnsupportedVolumeError} for volume types other than emptyDir, configMap and secret.
 */
export async function materialiseVolumes(pod: V1Pod, options: VolumeOptions): Promise<PodVolumes> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const byName = new Map<string, MaterialisedVolume>();
  const sources: Source[] = [];
  for (const volume of pod.spec?.volumes ?? []) {
    const hostPath = await mkdtemp(join(options.dir, `vol-${volume.name}-`));
    const kind = volumeKind(volume);
    const materialised: MaterialisedVolume = { name: volume.name, kind, hostPath };
    byName.set(volume.name, materialised);
    if (kind === 'emptyDir') {
      // The kubelet creates emptyDirs 0777 so that any container user can write (the socket goes here).
      await chmod(hostPath, 0o777);
      continue;
    }
    await chmod(hostPath, 0o755);
    if (kind === 'configMap') {
      const ref = volume.configMap!;
      const name = ref.name;
      if (!name) throw new UnsupportedVolumeError(`volume ${volume.name}: the configMap volume names no ConfigMap`);
      sources.push({
        volume: materialised,
        mode: ref.defaultMode ?? 0o644,
        items: ref.items,
        read: async () => {
          const cm = await core.readNamespacedConfigMap({ namespace, name }).catch(notFound);
          if (!cm) return undefined;
          const data = new Map<string, Buffer>();
          for (const [key, value] of Object.entries(cm.data ?? {})) data.set(key, Buffer.from(value));
          for (const [key, value] of Object.entries(cm.binaryData ?? {})) data.set(key, Buffer.from(value, 'base64'));
          return data;
        },
      });
    } else {
      const ref = volume.secret!;
      const name = ref.secretName;
      if (!name) throw new UnsupportedVolumeError(`volume ${volume.name}: the secret volume names no Secret`);
      sources.push({
        volume: materialised,
        mode: ref.defaultMode ?? 0o644,
        items: ref.items,
        read: async () => {
          const secret = await core.readNamespacedSecret({ namespace, name }).catch(notFound);
          if (!secret) return undefined;
          return new Map(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]));
        },
      });
    }
  }

  let updates = 0;
  const syncOne = async (source: Source): Promise<boolean> => {
    const data = await source.read();
    if (!data) return false;
    const files = project(data, source.items);
    const fingerprint = hashFiles(files);
    if (fingerprint === source.fingerprint) return true;
    const first = source.fingerprint === undefined;
    await writeAtomically(source.volume.hostPath, files, source.mode);
    source.fingerprint = fingerprint;
    if (!first) {
      updates += 1;
      options.onUpdate?.(source.volume);
    }
    return true;
  };

  const deadline = Date.now() + (options.waitForSourcesMs ?? 60_000);
  for (const source of sources) {
    while (!(await syncOne(source))) {
      if (Date.now() > deadline) throw new Error(`volume ${source.volume.name}: its ${source.volume.kind} does not exist (a kubelet would keep the pod in ContainerCreating)`);
      await sleep(250);
    }
  }

  let closed = false;
  let syncing: Promise<void> = Promise.resolve();
  const sync = (): Promise<void> =>
    (syncing = syncing.then(async () => {
      for (const source of sources) if (!closed) await syncOne(source).catch(() => undefined);
    }));
  const loop = (async () => {
    while (!closed) {
      await sleep(options.syncIntervalMs ?? 500);
      if (!closed) await sync();
    }
  })();
  void loop;

  return {
    byName,
    get updates() {
      return updates;
    },
    sync,
    close() {
      closed = true;
    },
  };
}

function volumeKind(volume: V1Volume): MaterialisedVolume['kind'] {
  if (volume.emptyDir) return 'emptyDir';
  if (volume.configMap) return 'configMap';
  if (volume.secret) return 'secret';
  const type = Object.keys(volume).find((key) => key !== 'name') ?? 'unknown';
  throw new UnsupportedVolumeError(`volume ${volume.name}: ${type} volumes are not supported here (only emptyDir, configMap and secret)`);
}

function notFound(error: unknown): undefined {
  if ((error as { code?: number }).code === 404) return undefined;
  throw error;
}

/** Keys to file paths: every key, or only the listed items under their paths (as the kubelet projects them). */
function project(data: Map<string, Buffer>, items: V1KeyToPath[] | undefined): Map<string, { content: Buffer; mode?: number }> {
  const files = new Map<string, { content: Buffer; mode?: number }>();
  if (!items) {
    for (const [key, content] of data) files.set(key, { content });
    return files;
  }
  for (const item of items) {
    const content = data.get(item.key);
    if (content === undefined) throw new Error(`key ${item.key} is missing (a kubelet would refuse to start the pod)`);
    files.set(item.path, item.mode === undefined ? { content } : { content, mode: item.mode });
  }
  return files;
}

function hashFiles(files: Map<string, { content: Buffer; mode?: number }>): string {
  const hash = createHash('sha256');
  for (const [path, file] of [...files].sort(([a], [b]) => a.localeCompare(b))) hash.update(`${path}\0${file.mode ?? ''}\0`).update(file.content).update('\0');
  return hash.digest('hex');
}

/** The kubelet's AtomicWriter: write a new version directory, swap `..data`, fix the top-level links, drop the old version. */
async function writeAtomically(dir: string, files: Map<string, { content: Buffer; mode?: number }>, defaultMode: number): Promise<void> {
  const version = `..${timestamp()}`;
  const versionDir = join(dir, version);
  await mkdir(versionDir, { mode: 0o755 });
  for (const [path, file] of files) {
    const target = join(versionDir, path);
    await mkdir(join(target, '..'), { recursive: true, mode: 0o755 });
    await writeFile(target, file.content);
    await chmod(target, file.mode ?? defaultMode);
  }
  const previous = await readlink(join(dir, '..data')).catch(() => undefined);
  await rm(join(dir, '..data_tmp'), { force: true });
  await symlink(version, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  // Top-level entries are relative links through ..data, created once per path.
  const topLevel = new Set([...files.keys()].map((path) => path.split('/')[0]!));
  for (const name of topLevel) {
    await symlink(join('..data', name), join(dir, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  if (previous) {
    const entries = await readdir(dir);
    for (const entry of entries) {
      if (entry.startsWith('..') || topLevel.has(entry)) continue;
      await unlink(join(dir, entry)).catch(() => undefined);
    }
    await rm(join(dir, previous), { recursive: true, force: true });
  }
}

function timestamp(): string {
  const now = new Date();
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const nanos = `${pad(now.getUTCMilliseconds(), 3)}${pad(Math.floor(Math.random() * 1e6), 6)}`;
  return `${now.getUTCFullYear()}_${pad(now.getUTCMonth() + 1)}_${pad(now.getUTCDate())}_${pad(now.getUTCHours())}_${pad(now.getUTCMinutes())}_${pad(now.getUTCSeconds())}.${nanos}`;
}
