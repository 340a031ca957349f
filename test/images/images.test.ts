/**
 * The Dockerfiles, statically: they pin the repository's Node version, run as the UIDs the
 * operator and the firewall expect, and the build context holds every file they copy. The images
 * themselves are built from them with buildah and run on a real node by test/e2e/node.test.ts
 * (production dependencies only, every import resolving, non-root users, read-only roots).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIDECAR_UID } from '../../operator/src/webhook/settings.js';
import { repoRoot } from '../e2e/scenario.js';
import { dockerignore } from './build.js';

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
    const ignored = await dockerignore(repoRoot);
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

async function listFiles(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return [path];
  return (await Promise.all(entries.map((entry) => listFiles(join(path, entry.name))))).flat();
}
