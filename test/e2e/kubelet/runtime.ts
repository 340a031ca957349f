/**
 * What stands in for container images on a machine without a container runtime: an image is a
 * PATH (a folder of launchers for the commands the image would carry), environment, a default
 * user and an entrypoint. The Airlock images are launchers for this repository's sources.
 */
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const repoRoot = join(import.meta.dirname, '../../..');

/** Where Debian keeps system binaries (ip, iptables, mount live in the sbin folders). */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What a container image provides to the containers that run it. */
export interface ImageRuntime {
  /** Environment the image sets (its ENV lines), PATH included; the container's env goes on top. */
  env: Record<string, string>;
  /** ENTRYPOINT and CMD, used when the container sets no command or args. */
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  /** The image's USER, used when the securityContext names none. */
  user?: { uid: number; gid: number };
}

/** Maps the image a pod names to what runs it here. */
export type ImageResolver = (image: string) => ImageRuntime;

/** Absolute path of a system binary, so that launching never depends on the caller's PATH. */
export function hostCommand(name: string): string {
  for (const dir of SYSTEM_PATH.split(':')) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new Error(`${name} is not installed: the local e2e needs util-linux (unshare, nsenter, setpriv), mount, iproute2, iptables and curl; see test/setup/install-debian-packages.sh`);
}

const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The pinned Node 24 with TypeScript support, as argv: append a .ts file and its arguments. */
export function nodeWithTsx(): string[] {
  return [process.execPath, '--conditions=airlock-source', '--import', tsxLoader];
}

/** Environment every source-built image sets. tsx's cache would need a writable /tmp, which a read-only root does not have. */
const SOURCE_ENV = { TSX_DISABLE_CACHE: '1', NODE_ENV: 'production' };

/** Writes a launcher script into `bin`. */
async function launcher(bin: string, name: string, argv: string[]): Promise<void> {
  const quoted = argv.map(shellQuote).join(' ');
  await writeFile(join(bin, name), `#!/bin/sh\nexec ${quoted} "$@"\n`);
  await chmod(join(bin, name), 0o755);
}

/** Single-quotes a word for sh. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Images built from this repository's sources, their launchers written under `dir`. */
export interface SourceImages {
  /**
   * The sidecar image as Dockerfile.sidecar's `mcp-examples` target builds it: `airlock-sidecar`
   * (from sidecar/src), the two reference MCP servers, node and the system tools (iptables),
   * user 61337.
   */
  sidecar: ImageRuntime;
  /** An agent image whose entrypoint runs a TypeScript file of this repository. */
  agent(script: string, name?: string): Promise<ImageRuntime>;
  /** An image with the machine's own tools (sh, curl), like curlimages/curl. */
  system: ImageRuntime;
}

export async function sourceImages(dir: string): Promise<SourceImages> {
  // Container users (the sidecar's 61337, the agent's 1000) run the launchers: the folder must be theirs to read.
  await chmod(dir, 0o755);
  const sidecarBin = join(dir, 'image-sidecar');
  await mkdir(sidecarBin, { recursive: true, mode: 0o755 });
  await symlink(process.execPath, join(sidecarBin, 'node'));
  await launcher(sidecarBin, 'airlock-sidecar', [...nodeWithTsx(), join(repoRoot, 'sidecar/src/cli.ts')]);
  for (const server of ['mcp-server-everything', 'mcp-server-filesystem']) {
    await symlink(join(repoRoot, 'node_modules/.bin', server), join(sidecarBin, server));
  }
  const sidecar: ImageRuntime = {
    env: { PATH: `${sidecarBin}:${SYSTEM_PATH}`, HOME: '/nonexistent', ...SOURCE_ENV },
    entrypoint: ['airlock-sidecar'],
    cmd: ['run'],
    workingDir: '/',
    user: { uid: 61337, gid: 61337 },
  };
  let agents = 0;
  return {
    sidecar,
    async agent(script, name = 'agent') {
      const bin = join(dir, `image-${name}-${(agents += 1)}`);
      await mkdir(bin, { recursive: true, mode: 0o755 });
      await symlink(process.execPath, join(bin, 'node'));
      await launcher(bin, name, [...nodeWithTsx(), script]);
      return { env: { PATH: `${bin}:${SYSTEM_PATH}`, HOME: '/tmp', ...SOURCE_ENV }, entrypoint: [name], workingDir: '/' };
    },
    system: { env: { PATH: SYSTEM_PATH, HOME: '/root' }, entrypoint: ['sh'], workingDir: '/' },
  };
}
