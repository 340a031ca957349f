/**
 * The container images of the real-node e2e and the demo, built without a Docker daemon: buildah
 * builds the repository's own Dockerfiles unchanged (--pull=never) on the NODE_IMAGE that
 * node-base.sh assembles locally, and pushes each to an OCI archive that containerd imports.
 * Each archive is named by a hash of everything its build reads (the Dockerfile, the files its
 * COPY lines name, the base image), so a second run reuses it and an edited source rebuilds it.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import picomatch from 'picomatch';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '../..');
const cacheDir = join(process.env.AIRLOCK_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'airlock'), 'images');
const storage = { root: join(cacheDir, 'storage'), runroot: join(cacheDir, 'run') };

/** One image: its name in the cluster and its OCI archive. */
export interface BuiltImage {
  name: string;
  archive: string;
  /** Seconds this call spent building it; 0 when the archive was reused. */
  buildSeconds: number;
}

/** Every image the node e2e runs. */
export interface NodeImages {
  /** containerd's sandbox image: the base, sleeping. */
  pause: BuiltImage;
  /** Dockerfile.sidecar's default target (runtime). */
  sidecar: BuiltImage;
  /** Dockerfile.sidecar's `mcp-examples` target: the runtime plus the reference MCP servers. */
  sidecarExamples: BuiltImage;
  operator: BuiltImage;
  /** test/e2e/agent.ts with the OpenAI SDK and the MCP SDK, on the same base. */
  agent: BuiltImage;
  /** Seconds spent assembling the base image (0 when reused). */
  baseSeconds: number;
}

/** A Dockerfile build of a given target, from a given context. */
export interface BuildSpec {
  key: keyof Omit<NodeImages, 'baseSeconds'>;
  repository: string;
  dockerfile: string;
  context: string;
  target?: string;
  buildArgs?: Record<string, string>;
  /** Files besides the Dockerfile and its COPY sources that the build reads. */
  extraInputs?: string[];
}

/**
 * Builds what is not cached yet (the first run: about 17 minutes on 2 busy cores, most of it `npm ci`
 * inside the builds), reporting each step through `progress`.
 * @throws when buildah, mmdebstrap or the network the builds need are missing, with what to do.
 */
export async function ensureNodeImages(progress: (line: string) => void = () => undefined, only?: BuildSpec['key'][]): Promise<NodeImages> {
  for (const tool of ['buildah', 'mmdebstrap']) {
    if (!existsSync(`/usr/bin/${tool}`)) throw new Error(`building the node images needs ${tool}: run \`bash test/setup/install-debian-packages.sh\` as root (npm test does)`);
  }
  await mkdir(cacheDir, { recursive: true });
  const release = await exclusive(join(cacheDir, 'build.lock'), progress);
  try {
    return await buildAll(progress, only);
  } finally {
    // buildah leaves a mounted working container behind for some multi-stage builds (seen for
    // Dockerfile.sidecar's mcp-examples target); under the lock no other build can be using one.
    await buildah(['rm', '--all']).catch(() => undefined);
    release();
  }
}

async function buildAll(progress: (line: string) => void, only?: BuildSpec['key'][]): Promise<NodeImages> {
  const started = Date.now();
  const base = (await script(join(repoRoot, 'test/images/node-base.sh'), [storage.root, storage.runroot], progress)).trim().split('\n').pop()!;
  const baseSeconds = (Date.now() - started) / 1000 > 5 ? (Date.now() - started) / 1000 : 0;
  const baseId = (await buildah(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', base])).trim();

  const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
  const locked = (name: string) => lock.packages[`node_modules/${name}`]!.version;
  const agentContext = await agentBuildContext();
  const specs: BuildSpec[] = [
    { key: 'pause', repository: 'localhost/airlock-pause', dockerfile: join(repoRoot, 'test/images/Dockerfile.pause'), context: agentContext, buildArgs: { NODE_IMAGE: base } },
    { key: 'sidecar', repository: 'localhost/airlock-sidecar', dockerfile: join(repoRoot, 'Dockerfile.sidecar'), context: repoRoot },
    { key: 'sidecarExamples', repository: 'localhost/airlock-sidecar-examples', dockerfile: join(repoRoot, 'Dockerfile.sidecar'), context: repoRoot, target: 'mcp-examples' },
    { key: 'operator', repository: 'localhost/airlock-operator', dockerfile: join(repoRoot, 'Dockerfile.operator'), context: repoRoot },
    {
      key: 'agent',
      repository: 'localhost/airlock-e2e-agent',
      dockerfile: join(repoRoot, 'test/images/Dockerfile.agent'),
      context: agentContext,
      buildArgs: { NODE_IMAGE: base, OPENAI_VERSION: locked('openai'), MCP_SDK_VERSION: locked('@modelcontextprotocol/sdk'), UNDICI_VERSION: locked('undici') },
    },
  ];
  const images: Partial<NodeImages> = { baseSeconds };
  try {
    for (const spec of specs.filter((s) => !only || only.includes(s.key))) images[spec.key] = await ensureImage(spec, baseId, progress);
  } finally {
    await rm(agentContext, { recursive: true, force: true });
  }
  return images as NodeImages;
}

async function ensureImage(spec: BuildSpec, baseId: string, progress: (line: string) => void): Promise<BuiltImage> {
  const hash = await inputHash(spec, baseId);
  const name = `${spec.repository}:${hash}`;
  const archive = join(cacheDir, `${spec.repository.split('/').pop()}-${hash}.oci.tar`);
  if (existsSync(archive)) {
    // Marks it as used, so pruneArchives keeps it.
    const now = new Date();
    await utimes(archive, now, now);
    return { name, archive, buildSeconds: 0 };
  }
  const started = Date.now();
  progress(`building ${name} from ${relative(repoRoot, spec.dockerfile)}${spec.target ? ` --target ${spec.target}` : ''} (first time for these sources)`);
  const args = ['bud', '--pull=never', '--network=host', '--layers', '-f', spec.dockerfile, '-t', name];
  if (spec.target) args.push('--target', spec.target);
  for (const [key, value] of Object.entries(spec.buildArgs ?? {})) args.push('--build-arg', `${key}=${value}`);
  await buildahStreaming([...args, spec.context], progress);
  // Pushed under a temp name and renamed, so a run killed mid-push never leaves a half archive behind.
  const partial = `${archive}.${process.pid}.partial`;
  // Uncompressed: containerd unpacks it at once, and gzip of a few hundred MB costs minutes on 2 cores.
  await buildah(['push', '--quiet', '--disable-compression', name, `oci-archive:${partial}:${name}`]);
  await rename(partial, archive);
  await buildah(['rmi', name]).catch(() => undefined);
  const buildSeconds = (Date.now() - started) / 1000;
  progress(`built ${name} in ${Math.round(buildSeconds)}s`);
  await pruneArchives();
  return { name, archive, buildSeconds };
}

/** Archives of one image kept beyond the one just built or used: a few checkouts' worth. */
const KEPT_PER_IMAGE = 3;

/**
 * Archives unused for two days go, and of each image only the {@link KEPT_PER_IMAGE} most recently
 * used stay: each is a few hundred MB and every source change makes one (a day of commits made
 * forty of the sidecar's and filled the disk under a CI run).
 */
async function pruneArchives(): Promise<void> {
  const cutoff = Date.now() - 2 * 24 * 3600 * 1000;
  const archives = await Promise.all(
    (await readdir(cacheDir))
      .filter((name) => name.endsWith('.oci.tar'))
      .map(async (name) => ({ path: join(cacheDir, name), image: name.replace(/-[0-9a-f]+\.oci\.tar$/, ''), used: (await stat(join(cacheDir, name))).mtimeMs })),
  );
  archives.sort((a, b) => b.used - a.used);
  const seen = new Map<string, number>();
  for (const archive of archives) {
    const rank = (seen.get(archive.image) ?? 0) + 1;
    seen.set(archive.image, rank);
    if (archive.used < cutoff || rank > KEPT_PER_IMAGE) await rm(archive.path, { force: true });
  }
}

/** sha256 over the Dockerfile, the target, build args, the base image and every file the COPY lines take from the context. */
async function inputHash(spec: BuildSpec, baseId: string): Promise<string> {
  const hash = createHash('sha256');
  const dockerfile = await readFile(spec.dockerfile, 'utf8');
  hash.update(dockerfile).update(`\0${spec.target ?? ''}\0${JSON.stringify(spec.buildArgs ?? {})}\0${baseId}\0`);
  const ignored = await dockerignore(spec.context);
  const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((match) => match[1]!.split(/\s+/));
  for (const source of [...sources, ...(spec.extraInputs ?? [])]) {
    for (const file of await listFiles(join(spec.context, source))) {
      const path = relative(spec.context, file);
      if (ignored(path)) continue;
      hash.update(`${path}\0`).update(await readFile(file)).update('\0');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** Docker's .dockerignore rule: the last pattern matching the path or one of its parents decides. */
export async function dockerignore(context: string): Promise<(path: string) => boolean> {
  const text = await readFile(join(context, '.dockerignore'), 'utf8').catch(() => '');
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => ({ negate: line.startsWith('!'), match: picomatch(line.replace(/^!/, ''), { dot: true }) }));
  return (path) => {
    const candidates = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    let result = false;
    for (const rule of rules) if (candidates.some((candidate) => rule.match(candidate))) result = !rule.negate;
    return result;
  };
}

async function listFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return [];
  if (!info.isDirectory()) return [path];
  const entries = (await readdir(path)).sort();
  return (await Promise.all(entries.map((entry) => listFiles(join(path, entry))))).flat();
}

/** A context of its own for the agent image: the repository's .dockerignore keeps test/ out of the main one. */
async function agentBuildContext(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-agent-context-'));
  await writeFile(join(dir, 'agent.mts'), await readFile(join(repoRoot, 'test/e2e/agent.ts')));
  return dir;
}

/**
 * Holds an exclusive flock(1) on `path` until the returned function is called or this process
 * ends (the kernel drops the lock with the holder), so parallel test runs build one at a time.
 */
async function exclusive(path: string, progress: (line: string) => void): Promise<() => void> {
  const holder = spawn('flock', ['--exclusive', path, '--command', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = setTimeout(() => progress('waiting for another run building the images'), 2000);
  try {
    await new Promise<void>((resolve, reject) => {
      holder.on('error', (error) => reject(new Error(`flock (util-linux) is needed to build the images: ${error.message}`)));
      holder.on('exit', (code) => reject(new Error(`flock ${path} exited with ${code}`)));
      holder.stdout.once('data', () => resolve());
    });
  } finally {
    clearTimeout(waiting);
  }
  holder.removeAllListeners('exit');
  return () => holder.stdin.end();
}

function buildah(args: string[]): Promise<string> {
  return run('buildah', ['--storage-driver', 'overlay', '--root', storage.root, '--runroot', storage.runroot, ...args], { maxBuffer: 64 * 1024 * 1024 }).then(
    (result) => result.stdout,
    (error: { stderr?: string; message: string }) => {
      throw new Error(`buildah ${args.join(' ')}: ${error.stderr?.trim() || error.message}`, { cause: error });
    },
  );
}

/** A long buildah command whose output goes to `progress` line by line; the tail becomes the error. */
function buildahStreaming(args: string[], progress: (line: string) => void): Promise<void> {
  return streaming('buildah', ['--storage-driver', 'overlay', '--root', storage.root, '--runroot', storage.runroot, ...args], progress);
}

function script(path: string, args: string[], progress: (line: string) => void): Promise<string> {
  let stdout = '';
  return streaming('bash', [path, ...args], progress, (chunk) => (stdout += chunk)).then(() => stdout);
}

function streaming(command: string, args: string[], progress: (line: string) => void, onStdout?: (chunk: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onLine = (chunk: string) => {
      tail = (tail + chunk).slice(-6000);
      for (const line of chunk.split('\n')) if (line.trim()) progress(line);
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (onStdout ? onStdout(chunk) : onLine(chunk)));
    child.stderr.setEncoding('utf8').on('data', onLine);
    child.on('error', reject).on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${tail}`))));
  });
}
