/**
 * What the benchmark measures: the provider mock called directly, the sidecar (built as it ships,
 * the esbuild bundle `sidecar/bundle/cli.js` run as the image runs it) over its Unix socket and its loopback port, optionally the sidecar
 * of another checkout (BENCH_BEFORE, for before/after tables), and a peer gateway installed from
 * npm into a throwaway directory outside the repository (Portkey's gateway), and the floor
 * (bench/floor.ts: the thinnest correct Node HTTP hop in front of the same mock).
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dispatcherFor, type Endpoint } from './load.js';
import { cpuMs, firstLine, start } from './procs.js';

export const KEY = 'sk-bench-0123456789abcdef';
const CHAT = '/v1/chat/completions';
const JSON_HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };

/** A measured thing: how to reach it, the process whose CPU and memory count, how fast it was ready. */
export interface Target {
  name: string;
  endpoint: Endpoint;
  process: ChildProcess;
  /** ms from spawn to the first answered request (undefined for the mock). */
  readyMs?: number;
  /** CPU time (user + system) the process spent from spawn to its first answered request, in ms. */
  readyCpuMs?: number;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * What the `#!` line of a checkout's sidecar entrypoint sets (docs/adr/0017): environment
 * assignments before `node` (`MALLOC_ARENA_MAX=2`) and Node flags after it, for processes the
 * benchmark compares with the sidecar (the floor, bench/memory-floor.ts), so they always run alike.
 */
export async function sidecarNodeSettings(tree: string): Promise<{ env: Record<string, string>; flags: string[] }> {
  const first = (await readFile(join(tree, 'sidecar/src/cli.ts'), 'utf8')).split('\n', 1)[0]!;
  const words = first.replace(/^#!\S*\s+(-S\s+)?/, '').split(' ').filter(Boolean);
  const node = words.findIndex((word) => !word.includes('='));
  const env = Object.fromEntries(words.slice(0, node).map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]));
  return { env, flags: words.slice(node + 1) };
}

/** The OpenAI-format provider mock in its own process. */
export async function startMockProvider(root: string): Promise<{ url: string; target: Target }> {
  const child = start(process.execPath, ['--import', 'tsx', 'bench/mock-server.ts', 'openai', KEY], { cwd: root });
  const url = await firstLine(child);
  const origin = new URL(url).origin;
  return { url, target: { name: 'direct', process: child, endpoint: { dispatcher: dispatcherFor(), origin, path: CHAT, headers: JSON_HEADERS } } };
}

/**
 * Builds a checkout's sidecar as the image does: the esbuild bundle (sidecar/bundle.ts,
 * docs/adr/0019), or for a checkout from before the bundle, tsc -b sidecar.
 * @returns the executable the image runs
 */
export async function buildSidecar(tree: string, root: string): Promise<string> {
  const bundler = join(tree, 'sidecar/bundle.ts');
  if (existsSync(bundler)) {
    const bundle = start(process.execPath, [bundler], { cwd: tree, stdio: 'inherit' });
    const [code] = (await once(bundle, 'close')) as [number];
    if (code !== 0) throw new Error(`bundling the sidecar in ${tree} failed`);
    return join(tree, 'sidecar/bundle/cli.js');
  }
  const tsc = start(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', join(tree, 'sidecar')], { cwd: tree, stdio: 'inherit' });
  const [code] = (await once(tsc, 'close')) as [number];
  if (code !== 0) throw new Error(`building the sidecar in ${tree} failed`);
  // As the image did then: cli.js is the executable.
  await chmod(join(tree, 'sidecar/dist/cli.js'), 0o755);
  return join(tree, 'sidecar/dist/cli.js');
}

/** Polls `endpoint` until a chat completion succeeds; returns when it did. */
async function firstAnswer(endpoint: Endpoint, deadlineMs = 30_000): Promise<number> {
  const until = performance.now() + deadlineMs;
  while (performance.now() < until) {
    try {
      const response = await endpoint.dispatcher.request({ origin: endpoint.origin, path: endpoint.path, method: 'POST', headers: endpoint.headers, body: '{"model":"gpt-bench","messages":[{"role":"user","content":"ready?"}]}' });
      await response.body.text();
      if (response.statusCode === 200) return performance.now();
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`${endpoint.origin} never answered`);
}

/**
 * How to start a sidecar other than as its `#!` line says (bench/idle-memory.ts tries flags):
 * `node [...flags] cli.js` with `env` added to the environment.
 */
export interface Launch {
  flags: string[];
  env: Record<string, string>;
  /** Another `node` executable than this one (a copy: its pages are shared with no other process). */
  node?: string;
}

/**
 * A sidecar (`executable`, from buildSidecar) in front of the mock: one target for its socket, one
 * for its loopback port. Started as the image starts it unless `launch` says otherwise.
 */
export async function startSidecar(label: string, executable: string, mockURL: string, tcp: boolean, launch?: Launch): Promise<Target[]> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
  const socketPath = join(dir, 'airlock.sock');
  const port = await freePort();
  await writeFile(join(dir, 'oa.key'), KEY);
  // In the form the operator renders (operator/src/render/sidecar-config.ts): a comment line, then JSON.
  const config = {
    version: 1,
    sandbox: { name: 'bench' },
    listen: { socket: { path: socketPath }, admin: { host: '127.0.0.1', port: 0 }, ...(tcp ? { loopbackPort: port } : {}) },
    telemetry: { logLevel: 'warn' },
    providers: [{ name: 'oa', type: 'openai', baseURL: mockURL, apiKeys: [{ file: join(dir, 'oa.key') }], models: [{ name: 'gpt-bench' }] }],
  };
  await writeFile(join(dir, 'config.yaml'), `# Rendered for the benchmark.\n${JSON.stringify(config, null, 2)}\n`);
  // Run as the image runs it: the executable cli.js, so the Node flags of its `#!` line apply
  // (docs/adr/0015), with NODE_ENV=production; `node` is this Node (the pinned one under npm run).
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
  if (process.env.BENCH_PROFILE) env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${join(process.env.BENCH_PROFILE, label)}`;
  const spawned = performance.now();
  const args = ['run', '--config', join(dir, 'config.yaml')];
  const child = launch ? start(launch.node ?? process.execPath, [...launch.flags, executable, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], env: { ...env, ...launch.env } }) : start(executable, args, { cwd: dir, stdio: 'ignore', env });
  const headers = { 'content-type': 'application/json' };
  const socket: Target = { name: `${label} socket`, process: child, endpoint: { dispatcher: dispatcherFor(socketPath), origin: 'http://airlock', path: CHAT, headers } };
  socket.readyMs = (await firstAnswer(socket.endpoint)) - spawned;
  socket.readyCpuMs = await cpuMs(child.pid!);
  if (!tcp) return [socket];
  return [socket, { name: `${label} tcp`, process: child, endpoint: { dispatcher: dispatcherFor(), origin: `http://127.0.0.1:${port}`, path: CHAT, headers } }];
}

/**
 * The floor (bench/floor.ts) in front of the mock, run with the sidecar's Node flags and
 * allocator setting (read from its `#!` line, so the two always run alike): one target for its
 * socket, one for its loopback port.
 */
export async function startFloor(root: string, mockURL: string): Promise<Target[]> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-floor-'));
  const socketPath = join(dir, 'floor.sock');
  const port = await freePort();
  const settings = await sidecarNodeSettings(root);
  const env: NodeJS.ProcessEnv = { ...process.env, ...settings.env, NODE_ENV: 'production' };
  if (process.env.BENCH_PROFILE) env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${join(process.env.BENCH_PROFILE, 'floor')}`;
  const spawned = performance.now();
  const child = start(process.execPath, [...settings.flags, '--import', 'tsx', 'bench/floor.ts', mockURL, KEY, socketPath, String(port)], { cwd: root, env });
  await firstLine(child);
  const headers = { 'content-type': 'application/json' };
  const socket: Target = { name: 'floor socket', process: child, endpoint: { dispatcher: dispatcherFor(socketPath), origin: 'http://floor', path: CHAT, headers } };
  socket.readyMs = (await firstAnswer(socket.endpoint)) - spawned;
  return [socket, { name: 'floor tcp', process: child, endpoint: { dispatcher: dispatcherFor(), origin: `http://127.0.0.1:${port}`, path: CHAT, headers } }];
}

/**
 * The relay (bench/relay.ts) in front of the mock, with the sidecar's Node flags: one target for
 * its socket, one for its loopback port. The client sends the provider key itself.
 */
export async function startRelay(root: string, mockURL: string): Promise<Target[]> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-relay-'));
  const socketPath = join(dir, 'relay.sock');
  const port = await freePort();
  const settings = await sidecarNodeSettings(root);
  const spawned = performance.now();
  const child = start(process.execPath, [...settings.flags, '--import', 'tsx', 'bench/relay.ts', mockURL, socketPath, String(port)], { cwd: root, env: { ...process.env, ...settings.env, NODE_ENV: 'production' } });
  await firstLine(child);
  const socket: Target = { name: 'relay socket', process: child, endpoint: { dispatcher: dispatcherFor(socketPath), origin: 'http://relay', path: CHAT, headers: JSON_HEADERS } };
  socket.readyMs = (await firstAnswer(socket.endpoint)) - spawned;
  return [socket, { name: 'relay tcp', process: child, endpoint: { dispatcher: dispatcherFor(), origin: `http://127.0.0.1:${port}`, path: CHAT, headers: JSON_HEADERS } }];
}

const PORTKEY = '@portkey-ai/gateway@1.15.2';

/**
 * Portkey's gateway, installed once with npm into ~/.cache/airlock/bench (outside the
 * repository, never in its lock file) and started headless in front of the same mock.
 */
export async function startPortkey(mockURL: string): Promise<Target> {
  const prefix = join(homedir(), '.cache/airlock/bench/portkey');
  const entry = join(prefix, 'node_modules/@portkey-ai/gateway/build/start-server.js');
  if (!existsSync(entry)) {
    await mkdir(prefix, { recursive: true });
    const npm = start('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', PORTKEY], { stdio: 'inherit' });
    const [code] = (await once(npm, 'close')) as [number];
    if (code !== 0) throw new Error(`npm install ${PORTKEY} failed`);
  }
  const port = await freePort();
  const spawned = performance.now();
  const child = start(process.execPath, [entry, `--port=${port}`, '--headless'], { cwd: prefix, stdio: 'ignore', env: { ...process.env, NODE_ENV: 'production' } });
  const target: Target = {
    name: 'portkey',
    process: child,
    endpoint: { dispatcher: dispatcherFor(), origin: `http://127.0.0.1:${port}`, path: CHAT, headers: { ...JSON_HEADERS, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': mockURL } },
  };
  target.readyMs = (await firstAnswer(target.endpoint)) - spawned;
  return target;
}
