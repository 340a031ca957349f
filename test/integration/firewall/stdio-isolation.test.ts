/**
 * The attacker's side of stdio MCP backends: whoever may edit an MCPBackend's command runs code
 * in the pod. Here the sidecar runs as its own UID with a provider key in its credentials
 * directory and a secret in its environment, the stdio host as the tools UID, as the two Airlock
 * containers do; a hostile stdio server reads everything it can and returns it as a tool result.
 * Through the host it gets nothing; started by the sidecar itself (the control, how Airlock ran
 * stdio servers before the host) it gets the key, which shows the probe can see a leak.
 * Needs root, to run processes under two UIDs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Agent, fetch as undiciFetch } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startHostProcess, type HostProcess } from '../mcp/stdio-host.js';
import { text, until } from '../mcp/harness.js';
import { untilSidecarReady } from './netns.js';

const root = join(import.meta.dirname, '../../..');
const SIDECAR_UID = 64_541;
const TOOLS_UID = 64_542;
const PROVIDER_KEY = 'sk-proj-stdio-isolation-4f8e2a7c9b1d3e5f';
const SIDECAR_ENV_SECRET = 'sidecar-env-secret-8d2f6a1c3e9b7a5d';

if (process.getuid?.() !== 0) throw new Error('the stdio isolation tests run processes under two UIDs and need root (run them as root, as CI does)');

let scratch: string;
let host: HostProcess;
const sidecars: ChildProcess[] = [];

/** Starts `airlock-sidecar run` as the sidecar UID, with or without the stdio host; resolves to its socket. */
async function startSidecar(name: string, stdioHost: string | undefined): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir);
  await chown(dir, SIDECAR_UID, SIDECAR_UID);
  const socket = join(dir, 'airlock.sock');
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    stringify({
      version: 1,
      sandbox: { name },
      listen: { socket: { path: socket }, admin: { host: '127.0.0.1', port: 0 } },
      providers: [{ name: 'openai', type: 'openai', baseURL: 'http://127.0.0.1:9/v1', apiKeys: [{ file: join(scratch, 'credentials', 'openai-key') }], models: [{ name: 'gpt-test' }] }],
      mcp: {
        backends: [
          {
            name: 'loot',
            prefix: 'loot',
            transport: 'stdio',
            stdio: { command: process.execPath, args: [join(import.meta.dirname, 'fixtures/loot-server.ts')], env: [{ name: 'LOOT_CREDENTIALS_DIR', value: join(scratch, 'credentials') }] },
          },
        ],
      },
    }),
  );
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', TSX_DISABLE_CACHE: '1', AIRLOCK_TEST_SIDECAR_SECRET: SIDECAR_ENV_SECRET };
  if (stdioHost) env.AIRLOCK_STDIO_HOST = stdioHost;
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'sidecar/src/cli.ts'), 'run', '--config', config], { cwd: root, env, uid: SIDECAR_UID, gid: SIDECAR_UID, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  sidecars.push(child);
  await untilSidecarReady(socket, child, () => output);
  return socket;
}

/** Calls the hostile server's tool through the sidecar's socket, as the agent would. */
async function loot(socket: string): Promise<{ uid: number; env: Record<string, string>; found: Record<string, string>; raw: string }> {
  const agent = new Agent({ connect: { socketPath: socket } });
  const socketFetch = (url: string | URL, init?: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
  const client = new Client({ name: 'agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL('http://airlock.local/mcp'), { fetch: socketFetch }));
  try {
    const raw = await until('the loot tool', async () => text(await client.callTool({ name: 'loot__loot', arguments: {} })), 60_000);
    return { ...(JSON.parse(raw) as { uid: number; env: Record<string, string>; found: Record<string, string> }), raw };
  } finally {
    await client.close();
    await agent.close();
  }
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'airlock-stdio-isolation-'));
  await chmod(scratch, 0o755);
  // The credentials Secret: the sidecar's alone (in a pod it is mounted in the sidecar only).
  const credentials = join(scratch, 'credentials');
  await mkdir(credentials, { mode: 0o700 });
  await writeFile(join(credentials, 'openai-key'), PROVIDER_KEY, { mode: 0o600 });
  await chown(join(credentials, 'openai-key'), SIDECAR_UID, SIDECAR_UID);
  await chown(credentials, SIDECAR_UID, SIDECAR_UID);
  // The airlock-tools emptyDir: world-writable as the kubelet makes it.
  const tools = join(scratch, 'tools');
  await mkdir(tools);
  await chmod(tools, 0o777);
  host = await startHostProcess(join(tools, 'stdio.sock'), { uid: TOOLS_UID, gid: TOOLS_UID });
});

afterAll(async () => {
  for (const child of sidecars) child.kill('SIGTERM');
  await host?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('a hostile stdio MCP server', () => {
  it('started by the stdio host under the tools UID, reads no provider key, nothing of the sidecar\'s environment or root', async () => {
    const socket = await startSidecar('hosted', host.socketPath);
    const got = await loot(socket);
    expect(got.uid).toBe(TOOLS_UID);
    expect(got.found[join(scratch, 'credentials')]).toBe('error EACCES');
    expect(got.raw).not.toContain(PROVIDER_KEY);
    expect(got.raw).not.toContain(SIDECAR_ENV_SECRET);
    // Its own environment: the host's minimal one plus the backend's env, nothing of the sidecar's.
    expect(Object.keys(got.env).sort()).toEqual(['HOME', 'LOOT_CREDENTIALS_DIR', 'PATH']);
    // The sidecar's process is visible here (one PID namespace), its files are not.
    const sidecarPid = sidecars.at(-1)!.pid!;
    expect(got.found[`/proc/${sidecarPid}/environ`]).toBe('error EACCES');
    expect(got.found[`/proc/${sidecarPid}/root${join(scratch, 'credentials')}`]).toBe('error EACCES');
  });

  it('started by the sidecar itself (no stdio host: the sidecar outside a pod) reads the key, so the probe above can see a leak', async () => {
    const socket = await startSidecar('local', undefined);
    const got = await loot(socket);
    expect(got.uid).toBe(SIDECAR_UID);
    expect(got.raw).toContain(PROVIDER_KEY);
    expect(got.raw).toContain(SIDECAR_ENV_SECRET);
  });
});
