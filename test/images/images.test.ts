/**
 * What can be checked of the container images without a Docker engine. Statically: the
 * Dockerfiles pin the repository's Node version, run as the UIDs the operator and the firewall
 * expect, and the build context holds every file they copy. Dynamically, on a mirror of each
 * image built the Dockerfile's way (mirror.sh: the production `npm ci` of one workspace, the
 * compiled dist, the linked entrypoint): no development dependency is present, every import of
 * dist resolves, and the entrypoints work as the cluster runs them: as their non-root users, on
 * a read-only root, the sidecar serving a chat through its socket, the firewall applying its
 * rules as root with NET_ADMIN only, the operator leading and reconciling against the API server.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import picomatch from 'picomatch';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { DEFAULT_SIDECAR_UID } from '../../operator/src/webhook/settings.js';
import { hostCommand, repoRoot, SYSTEM_PATH } from '../e2e/kubelet/runtime.js';
import { freshNamespace, installCrds } from '../integration/kube/crds.js';
import { kubectl } from '../integration/kube/kubectl.js';
import { until } from '../integration/kube/operator-harness.js';
import { startMock } from '../mocks/index.js';
import { mirroredImage, runImage } from './run-image.js';

const run = promisify(execFile);
const DEV_ONLY = ['typescript', 'tsx', 'vitest', 'eslint', 'openai', '@anthropic-ai/sdk', '@google/genai', 'node', 'fast-check', '@modelcontextprotocol/server-everything'];

let work: string;
const mirrors: Record<'sidecar' | 'operator', string> = { sidecar: '', operator: '' };

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the image checks run the entrypoints in namespaces of their own and need root (CI and these machines are)');
  work = await mkdtemp(join(tmpdir(), 'airlock-images-'));
  // The images' users read the mirrors: world-readable, as an image's /app is.
  await chmod(work, 0o755);
  // One after the other: both run the TypeScript build of the sidecar workspace.
  for (const image of ['sidecar', 'operator'] as const) {
    const out = join(work, image);
    await run('bash', [join(repoRoot, 'test/images/mirror.sh'), image, out], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
    mirrors[image] = out;
  }
}, 240_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const dockerfile = (image: string) => readFile(join(repoRoot, `Dockerfile.${image}`), 'utf8');

describe('the Dockerfiles', () => {
  it('build on the Node version the repository pins, as the non-root users the operator expects', async () => {
    const pinned = JSON.parse(await readFile(join(repoRoot, 'node_modules/node/package.json'), 'utf8')).version as string;
    for (const [image, user] of [['sidecar', `${DEFAULT_SIDECAR_UID}:${DEFAULT_SIDECAR_UID}`], ['operator', '65532:65532']] as const) {
      const text = await dockerfile(image);
      expect(text).toContain(`ARG NODE_IMAGE=node:${pinned}-bookworm-slim`);
      expect(text.match(/^FROM .*/gm)?.every((line) => line.startsWith('FROM ${NODE_IMAGE}') || /^FROM (runtime|build|deps)\b/.test(line))).toBe(true);
      expect(text.match(/^USER .*/gm)?.at(-1)).toBe(`USER ${user}`);
      expect(text).toContain(`ENTRYPOINT ["airlock-${image}"]`);
    }
    expect(await dockerfile('sidecar')).toMatch(/apt-get install -y --no-install-recommends iptables/);
  });

  it('pin the example MCP servers at the versions of the lockfile', async () => {
    const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
    const text = await dockerfile('sidecar');
    expect(text).toContain(`ARG MCP_SERVER_EVERYTHING_VERSION=${lock.packages['node_modules/@modelcontextprotocol/server-everything']!.version}`);
    expect(text).toContain(`ARG MCP_SERVER_FILESYSTEM_VERSION=${lock.packages['node_modules/@modelcontextprotocol/server-filesystem']!.version}`);
  });

  it('copy only what .dockerignore lets into the build context, and every source file gets there', async () => {
    const rules = (await readFile(join(repoRoot, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => ({ negate: line.startsWith('!'), match: picomatch(line.replace(/^!/, ''), { dot: true }) }));
    // Docker's rule: the last pattern matching the path or one of its parents decides.
    const ignored = (path: string) => {
      const candidates = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
      let result = false;
      for (const rule of rules) if (candidates.some((candidate) => rule.match(candidate))) result = !rule.negate;
      return result;
    };
    for (const image of ['sidecar', 'operator']) {
      const sources = [...(await dockerfile(image)).matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
      expect(sources.length).toBeGreaterThan(5);
      for (const source of sources) {
        const files = await listFiles(join(repoRoot, source));
        expect(files.length, source).toBeGreaterThan(0);
        for (const file of files.filter((f) => !/\.test\.ts$|\/golden\//.test(f))) expect(ignored(relative(repoRoot, file)), relative(repoRoot, file)).toBe(false);
      }
    }
    for (const path of ['node_modules/fastify/package.json', 'sidecar/dist/cli.js', 'sidecar/src/config/load.test.ts', 'test/run.sh', '.git/HEAD', 'charts/airlock/values.yaml']) {
      expect(ignored(path), path).toBe(true);
    }
  });
});

describe.each(['sidecar', 'operator'] as const)('the %s image, mirrored', (image) => {
  it('holds production dependencies only', async () => {
    const modules = join(mirrors[image], 'app/node_modules');
    for (const name of DEV_ONLY) expect(await readdir(join(modules, name)).then(() => true, () => false), name).toBe(false);
  });

  it('resolves every import of its compiled code from them', async () => {
    // Written into the mirror, so that resolution starts where dist's own imports start.
    const checker = join(mirrors[image], `app/${image}/dist/.resolve-imports.mjs`);
    await writeFile(checker, RESOLVE_IMPORTS);
    const roots = image === 'operator' ? ['operator/dist', 'sidecar/dist'] : ['sidecar/dist'];
    const { stdout } = await run(process.execPath, [checker, ...roots.map((root) => join(mirrors[image], 'app', root))]);
    const result = JSON.parse(stdout) as { count: number; failures: string[] };
    expect(result.failures).toEqual([]);
    expect(result.count).toBeGreaterThan(20);
  });
});

describe('the sidecar entrypoint', () => {
  const env = () => ({ PATH: `${mirrors.sidecar}/usr/local/bin:${join(process.execPath, '..')}:${SYSTEM_PATH}` });

  it('answers --help and check-config', async () => {
    expect((await run('airlock-sidecar', ['--help'], { env: env() })).stdout).toContain('airlock-sidecar run');
    const config = join(work, 'check.yaml');
    await writeFile(config, stringify({ version: 1, sandbox: { name: 'images' } }));
    expect((await run('airlock-sidecar', ['check-config', config], { env: env() })).stdout).toContain('valid');
  });

  it('serves a chat through its socket as UID 61337 on a read-only root', async () => {
    const mock = await startMock('openai', { keys: ['sk-images-test'] });
    const configDir = await mkdtemp(join(work, 'config-'));
    const credentialsDir = await mkdtemp(join(work, 'credentials-'));
    const socketDir = await mkdtemp(join(work, 'socket-'));
    await Promise.all([chmod(configDir, 0o755), chmod(credentialsDir, 0o755), chmod(socketDir, 0o777)]);
    await writeFile(join(credentialsDir, 'key'), 'sk-images-test');
    await writeFile(join(configDir, 'config.yaml'), stringify({
      version: 1,
      sandbox: { name: 'images' },
      listen: { socket: { path: '/var/run/airlock/airlock.sock', mode: '0660' }, admin: { host: '0.0.0.0', port: 9090 } },
      providers: [{ name: 'mock', type: 'openai', baseURL: mock.url, apiKeys: [{ file: '/etc/airlock/credentials/key' }], models: [{ name: 'gpt-4o-mini' }] }],
    }));
    const sidecar = await runImage({
      name: 'sidecar',
      image: mirroredImage(mirrors.sidecar, { uid: 61337, gid: 61337 }, 'airlock-sidecar'),
      args: ['run', '--config', '/etc/airlock/config/config.yaml'],
      securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      mounts: { '/etc/airlock/config': configDir, '/etc/airlock/credentials': credentialsDir, '/var/run/airlock': socketDir },
      forwardPorts: [mock.port],
      dir: work,
    });
    const dispatcher = new Agent({ connect: { socketPath: join(socketDir, 'airlock.sock') } });
    try {
      await until(async () => (await undiciFetch('http://airlock/readyz', { dispatcher }).catch(() => undefined))?.status === 200, 'the sidecar to answer on its socket', 30_000);
      const response = await undiciFetch('http://airlock/v1/chat/completions', {
        dispatcher,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'from the image' }] }),
      });
      expect(await response.json()).toMatchObject({ choices: [{ message: { content: 'echo: from the image' } }] });
      expect(sidecar.container.identity.uid).toBe(61337);
    } finally {
      await dispatcher.close();
      expect(await sidecar.stop()).toBe(0);
      await mock.close();
    }
    expect(sidecar.container.logs.join('\n')).not.toMatch(/EROFS|read-only file system/i);
  });

  it('applies the firewall as the init container runs it: root with NET_ADMIN and NET_RAW only, read-only root', async () => {
    const firewall = await runImage({
      name: 'firewall',
      image: mirroredImage(mirrors.sidecar, { uid: 61337, gid: 61337 }, 'airlock-sidecar'),
      command: ['airlock-sidecar', 'firewall', '--sidecar-uid', String(DEFAULT_SIDECAR_UID)],
      securityContext: { runAsUser: 0, runAsNonRoot: false, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] } },
      dir: work,
    });
    const code = await firewall.container.exited;
    expect(code, firewall.container.logs.join('\n')).toBe(0);
    const saved = await run(firewall.network.join[0]!, [...firewall.network.join.slice(1), hostCommand('iptables-nft-save'), '-t', 'filter']);
    expect(saved.stdout).toContain(`-A AIRLOCK_OUTPUT -m owner --uid-owner ${DEFAULT_SIDECAR_UID} -j ACCEPT`);
    await firewall.stop();
  });
});

describe('the operator entrypoint', () => {
  it('refuses an unknown flag, naming it', async () => {
    const env = { PATH: `${mirrors.operator}/usr/local/bin:${join(process.execPath, '..')}:${SYSTEM_PATH}` };
    const failed = await run('airlock-operator', ['--bogus'], { env }).then(() => undefined, (error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--bogus'") });
  });

  it('leads and reconciles against the API server as UID 65532 on a read-only root', async () => {
    await installCrds();
    const ns = await freshNamespace('images');
    const kubeconfig = inject('kubeconfig');
    const apiPort = Number(/server: https:\/\/127\.0\.0\.1:(\d+)/.exec(kubeconfig)?.[1]);
    const kubeDir = await mkdtemp(join(work, 'kube-'));
    await chmod(kubeDir, 0o755);
    await writeFile(join(kubeDir, 'config'), kubeconfig, { mode: 0o644 });
    const operator = await runImage({
      name: 'operator',
      image: mirroredImage(mirrors.operator, { uid: 65532, gid: 65532 }, 'airlock-operator'),
      args: ['--namespace', ns, '--watch-namespaces', ns, '--webhook-config-name', `airlock-images-${ns}`, '--identity', 'images-test', '--lease-duration-seconds', '4'],
      env: { KUBECONFIG: '/var/run/kube/config' },
      securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true },
      mounts: { '/var/run/kube': kubeDir },
      forwardPorts: [apiPort],
      dir: work,
    });
    try {
      await until(() => operator.container.logs.some((line) => line.includes('became leader')), 'the operator to lead', 60_000);
      await kubectl().ok(['apply', '-n', ns, '-f', '-'], `apiVersion: v1
kind: Secret
metadata: { name: keys, labels: { airlock.dev/credential: "true" } }
stringData: { key: sk-images-operator }
---
apiVersion: airlock.dev/v1alpha1
kind: ModelProvider
metadata: { name: images }
spec:
  type: openai
  apiKeys: [{ secretName: keys, key: key }]
  models: [{ name: gpt-4o-mini }]
`);
      await until(async () => (await kubectl().run(['get', 'mp', 'images', '-n', ns, '-o', 'jsonpath={.status.conditions[?(@.type=="SecretsResolved")].status}'])).stdout === 'True', 'the ModelProvider to be reconciled', 30_000);
    } finally {
      expect(await operator.stop(), operator.container.logs.slice(-20).join('\n')).toBe(0);
    }
    expect(operator.container.logs.join('\n')).not.toMatch(/EROFS|read-only file system/i);
  });
});

async function listFiles(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return [path];
  return (await Promise.all(entries.map((entry) => listFiles(join(path, entry.name))))).flat();
}

/** Checks that every bare import specifier in the .js files under argv's folders resolves to a file. */
const RESOLVE_IMPORTS = `
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []);
let count = 0;
const failures = [];
for (const root of process.argv.slice(2)) {
  for (const file of walk(root)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:(?<![.\\w$'"])from\\s*|\\bimport\\s*\\(\\s*|^import\\s+)['"]([^'"]+)['"]/gm)) {
      const specifier = match[1];
      if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
      count += 1;
      try {
        const url = import.meta.resolve(specifier);
        if (url.startsWith('file:') && !existsSync(fileURLToPath(url))) failures.push(file + ': ' + specifier + ': no such file');
      } catch (error) {
        failures.push(file + ': ' + specifier + ': ' + error.code);
      }
    }
  }
}
console.log(JSON.stringify({ count, failures }));
`;
