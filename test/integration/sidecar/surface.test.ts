/**
 * The sidecar's listening surface, as the kernel sees it: the Unix socket gets the configured
 * mode and group, so a process of another UID in that group (the agent) gets model answers
 * while a UID in neither owner nor group is refused by the kernel (EACCES); the loopback port
 * is bound to 127.0.0.1 only; the admin port serves no proxy API and shows no secret; and the
 * sidecar opens no listening socket beyond these three (compared through /proc/net and this
 * process's file descriptors, since the mocks live in this process too).
 *
 * Needs root (to create a socket group and run probes as other UIDs with setpriv), as CI is.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fixtureServer } from '../mcp/harness.js';
import { startHttpBackend, type HttpBackend } from '../mcp/http-backends.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { freePort, keyFile, stackDir, startStack, type Stack } from './harness.js';

/** The agent's UID, the socket's group, and a UID in neither. */
const AGENT_UID = 4242;
const SOCKET_GID = 4343;
const STRANGER_UID = 4444;

const OPENAI_KEY = 'sk-proj-surfK3y8Wq2Er5Ty1Ui7Op4As9Df6Gh3J';
const ANTHROPIC_KEY = 'sk-ant-api03-surfK3y2Zx5Cv8Bn1Mq4Wd7Fg0Hj';
const MCP_TOKEN = 'mcp-surface-token-6Yh2Uj8Ik4Ol1Pz7Xc3V';
const ENV_SECRET = 'env-surface-secret-5Rf9Tg3Yh7Uj1Ik';
const SECRETS = [OPENAI_KEY, ANTHROPIC_KEY, MCP_TOKEN, ENV_SECRET];

let stack: Stack;
let openai: MockProvider;
let anthropic: MockProvider;
let backend: HttpBackend;
let loopbackPort: number;
let before: Listeners;
let after: Listeners;

beforeAll(async () => {
  openai = await startMock('openai', { keys: [OPENAI_KEY] });
  anthropic = await startMock('anthropic', { keys: [ANTHROPIC_KEY] });
  backend = await startHttpBackend({ token: MCP_TOKEN });
  loopbackPort = await freePort();
  const dir = await stackDir();
  const config = {
    version: 1 as const,
    sandbox: { name: 'surface' },
    listen: { socket: { mode: '0660', group: SOCKET_GID }, loopbackPort, admin: { host: '0.0.0.0', port: 0 } },
    telemetry: { logLevel: 'debug' as const },
    providers: [
      { name: 'oa', type: 'openai' as const, baseURL: openai.url, apiKeys: [{ file: await keyFile(dir, 'openai', OPENAI_KEY) }], models: [{ name: 'gpt-4o-mini' }] },
      { name: 'an', type: 'anthropic' as const, baseURL: anthropic.url, apiKeys: [{ file: await keyFile(dir, 'anthropic', ANTHROPIC_KEY) }], models: [{ name: 'claude-sonnet-4-5' }] },
    ],
    mcp: {
      backends: [
        { name: 'http', prefix: 'http', transport: 'streamable-http' as const, url: backend.url, headers: [{ name: 'Authorization', file: await keyFile(dir, 'mcp-token', `Bearer ${MCP_TOKEN}`) }] },
        {
          name: 'env',
          prefix: 'env',
          transport: 'stdio' as const,
          stdio: { ...fixtureServer('env-server.ts'), env: [{ name: 'FIXTURE_TOKEN', file: await keyFile(dir, 'env-secret', ENV_SECRET) }] },
        },
      ],
    },
  };
  // The agent must be able to reach the socket: the dirs above it are traversable, not listable
  // (set explicitly, whatever the umask; the socket dir is what the pod's emptyDir would be).
  await chmod(dir, 0o711);
  await mkdir(join(dir, 'run'));
  await chmod(join(dir, 'run'), 0o711);
  before = await ownListeners();
  stack = await startStack(dir, config);
  await vi.waitFor(async () => expect(await adminJson('/mcp/tools')).toMatchObject({ ready: true, backends: [{ state: 'ready' }, { state: 'ready' }] }), { timeout: 30_000, interval: 100 });
  after = await ownListeners();
});

afterAll(async () => {
  await stack?.close();
  await Promise.all([openai?.close(), anthropic?.close(), backend?.close()]);
});

const admin = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${stack.sidecar.adminPort}${path}`, init);
const adminJson = async (path: string) => (await admin(path)).json() as Promise<unknown>;

describe('the Unix socket', () => {
  it('is created with the configured mode and group', async () => {
    const info = await stat(stack.socketPath);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o660);
    expect(info.gid).toBe(SOCKET_GID);
    expect(info.uid).toBe(process.getuid!());
  });

  it('answers a process of another UID that is in the socket group (supplementary group)', async () => {
    const result = await asUser(['--reuid', String(AGENT_UID), '--regid', String(AGENT_UID), '--groups', String(SOCKET_GID)], stack.socketPath);
    expect(result).toMatchObject({ status: 200 });
    expect(JSON.parse(result.body!)).toMatchObject({ choices: [{ message: { content: 'echo: from the agent' } }] });
  });

  it('answers a process of another UID whose primary group is the socket group', async () => {
    const result = await asUser(['--reuid', String(AGENT_UID), '--regid', String(SOCKET_GID), '--clear-groups'], stack.socketPath);
    expect(result).toMatchObject({ status: 200 });
  });

  it('refuses a UID in neither the owner nor the group: the kernel says EACCES', async () => {
    const result = await asUser(['--reuid', String(STRANGER_UID), '--regid', String(STRANGER_UID), '--clear-groups'], stack.socketPath);
    expect(result).toEqual({ error: 'EACCES' });
  });
});

describe('the loopback port', () => {
  it('is bound to 127.0.0.1 only', () => {
    const bound = after.tcp.filter((l) => l.port === loopbackPort);
    expect(bound.map((l) => l.address)).toEqual(['127.0.0.1']);
  });

  it('serves the agent API on 127.0.0.1 and is unreachable on every other address of the host', async () => {
    const response = await fetch(`http://127.0.0.1:${loopbackPort}/v1/models`);
    expect(response.status).toBe(200);
    const others = Object.values(networkInterfaces()).flatMap((list) => list ?? []).filter((a) => !a.internal).map((a) => a.address);
    for (const address of others) {
      const outcome = await new Promise<string>((resolve) => {
        const socket = connect({ host: address, port: loopbackPort, timeout: 5_000 });
        socket.once('connect', () => (socket.destroy(), resolve('connected')));
        socket.once('timeout', () => (socket.destroy(), resolve('timeout')));
        socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      });
      expect(outcome, `${address}:${loopbackPort}`).not.toBe('connected');
    }
  });
});

describe('the admin port', () => {
  it.each([
    ['POST', '/v1/chat/completions'],
    ['POST', '/v1/completions'],
    ['POST', '/v1/embeddings'],
    ['POST', '/v1/messages'],
    ['GET', '/v1/models'],
    ['POST', '/mcp'],
    ['GET', '/mcp'],
    ['DELETE', '/mcp'],
  ])('serves no proxy API: %s %s is 404', async (method, path) => {
    const body = method === 'POST' ? JSON.stringify(path === '/mcp' ? { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } } : { model: 'gpt-4o-mini', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }], input: 'x', prompt: 'x' }) : undefined;
    const headers: Record<string, string> = { accept: 'application/json, text/event-stream', ...(body ? { 'content-type': 'application/json' } : {}) };
    const response = await admin(path, { method, body, headers });
    expect(response.status).toBe(404);
    await response.arrayBuffer();
  });

  it('shows no secret in /metrics, /mcp/tools, /readyz or /healthz, after traffic that made providers fail', async () => {
    const client = stack.openai();
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ok' }] });
    openai.script({ status: 500, errorMessage: `upstream broke for ${OPENAI_KEY}` });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'fails' }] }).catch(() => undefined);
    anthropic.script({ status: 401, errorMessage: `invalid x-api-key ${ANTHROPIC_KEY}` });
    await stack.anthropic().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'refused' }] }).catch(() => undefined);
    const pages = await Promise.all(['/metrics', '/mcp/tools', '/readyz', '/healthz'].map(async (path) => [path, await (await admin(path)).text()] as const));
    for (const [path, text] of pages) {
      expect(text.length, path).toBeGreaterThan(0);
      for (const secret of SECRETS) expect(text, `${path} shows a secret`).not.toContain(secret);
    }
    expect(pages[0]![1]).toContain('provider="oa"');
    expect(pages[1]![1]).toContain('http__whoami');
  });
});

describe('listening sockets of the sidecar', () => {
  it('are the Unix socket, the loopback port and the admin port, and nothing else', () => {
    const added = {
      tcp: after.tcp.filter((l) => !before.tcp.some((b) => b.inode === l.inode)).map((l) => `${l.address}:${l.port}`).sort(),
      udp: after.udp.filter((l) => !before.udp.some((b) => b.inode === l.inode)).map((l) => `${l.address}:${l.port}`),
      unix: after.unix.filter((l) => !before.unix.some((b) => b.inode === l.inode)).map((l) => l.path),
    };
    expect(added).toEqual({ tcp: [`0.0.0.0:${stack.sidecar.adminPort}`, `127.0.0.1:${loopbackPort}`].sort(), udp: [], unix: [stack.socketPath] });
  });
});

/** Runs a small node client as another user through setpriv; its request through the socket, or the connect error code. */
function asUser(setprivArgs: string[], socketPath: string): Promise<{ status?: number; body?: string; error?: string }> {
  const script = `
    const http = require('node:http');
    const req = http.request({ socketPath: process.argv[1], path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body })));
    });
    req.on('error', (err) => console.log(JSON.stringify({ error: err.code })));
    req.end(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'from the agent' }] }));`;
  return new Promise((resolve, reject) => {
    execFile('setpriv', [...setprivArgs, '--', process.execPath, '-e', script, socketPath], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`setpriv failed: ${error.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim()) as { status?: number; body?: string; error?: string });
    });
  });
}

/** A TCP port free right now on 127.0.0.1. */
interface InetListener {
  inode: string;
  address: string;
  port: number;
}

interface Listeners {
  tcp: InetListener[];
  udp: InetListener[];
  unix: { inode: string; path: string }[];
}

/** Listening TCP, bound UDP and listening Unix sockets whose file descriptors this process holds. */
async function ownListeners(): Promise<Listeners> {
  const fdDir = '/proc/self/fd';
  const links = await Promise.all((await readdir(fdDir)).map((fd) => readlink(join(fdDir, fd)).catch(() => '')));
  const own = new Set(links.flatMap((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1] ?? []));
  const inet = async (file: string, state: string) =>
    (await readFile(`/proc/net/${file}`, 'utf8'))
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f.length > 9 && f[3] === state && own.has(f[9]!))
      .map((f) => ({ inode: f[9]!, ...decodeAddress(f[1]!) }));
  // TCP LISTEN is state 0A; a bound, unconnected UDP socket is state 07 (CLOSE).
  const tcp = [...(await inet('tcp', '0A')), ...(await inet('tcp6', '0A'))];
  const udp = [...(await inet('udp', '07')), ...(await inet('udp6', '07'))];
  const unix = (await readFile('/proc/net/unix', 'utf8'))
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 7 && f[3] === '00010000' && own.has(f[6]!))
    .map((f) => ({ inode: f[6]!, path: f[7] ?? '' }));
  return { tcp, udp, unix };
}

/** `0100007F:1F90` → 127.0.0.1:8080; IPv6 addresses in the kernel's four little-endian words. */
function decodeAddress(text: string): { address: string; port: number } {
  const [hex, port] = text.split(':') as [string, string];
  if (hex.length === 8) return { address: hex.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join('.'), port: parseInt(port, 16) };
  const words = hex.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(''));
  const groups = words.join('').match(/.{4}/g)!.map((g) => parseInt(g, 16).toString(16));
  return { address: groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::'), port: parseInt(port, 16) };
}
