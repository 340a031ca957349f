/**
 * stdio backends started by the stdio host (`airlock-sidecar stdio-host`, the airlock-tools
 * container's process) rather than by the sidecar: real MCP servers from npm and a fixture, the
 * gateway talking to the host over its Unix socket. What a user sees must not differ from a
 * stdio server the sidecar starts itself: tools, calls, env, stderr in the log, restarts.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixtureServer, npmServer, serveGateway, text, until, type McpInput, type ServedGateway } from './harness.js';
import { HostedStdioTransport } from '../../../sidecar/src/stdio-host/transport.js';
import { startHostProcess, type HostProcess } from './stdio-host.js';

const ENV_SECRET = 'fixture-env-secret-7f3a9c1e5b2d4a6f';
let scratch: string;
let files: string;
let host: HostProcess;
const gateways: ServedGateway[] = [];

async function serve(mcp: McpInput, stdioHost = host.socketPath, tuning = {}): Promise<ServedGateway> {
  const served = await serveGateway(mcp, { stdioHost, tuning });
  gateways.push(served);
  await until('gateway ready', () => served.gateway.ready());
  return served;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const everything = { name: 'everything', prefix: 'ev', transport: 'stdio', stdio: npmServer('mcp-server-everything', 'stdio') } as const;
const backendView = (served: ServedGateway, name: string) => served.gateway.view().backends.find((b) => b.name === name);

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'airlock-stdio-host-'));
  files = join(scratch, 'files');
  await mkdir(files);
  await writeFile(join(files, 'note.txt'), 'a note for the filesystem server');
  // Many socket frames for one JSON-RPC message, and multi-byte characters across their cuts.
  await writeFile(join(files, 'large.txt'), 'Grüße aus der Werkzeugkiste. '.repeat(80_000));
  await writeFile(join(scratch, 'env-token'), ENV_SECRET);
  // In the host's own environment too: the host passes on only PATH, HOME and the like.
  host = await startHostProcess(join(scratch, 'stdio.sock'), { env: { AIRLOCK_TEST_SIDECAR_ONLY: 'must-not-reach-tool-servers' } });
});

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

afterAll(async () => {
  await host?.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('stdio servers started by the stdio host', () => {
  it('serves the tools of server-everything and server-filesystem, with calls, progress and file reads', async () => {
    const served = await serve({ backends: [everything, { name: 'files', prefix: 'fs', transport: 'stdio', stdio: npmServer('mcp-server-filesystem', files) }] });
    const agent = await served.connect();
    const names = (await agent.client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['ev__echo', 'fs__read_text_file']));
    expect(text(await agent.client.callTool({ name: 'ev__echo', arguments: { message: 'through the host' } }))).toBe('Echo: through the host');
    expect(text(await agent.client.callTool({ name: 'fs__read_text_file', arguments: { path: join(files, 'note.txt') } }))).toBe('a note for the filesystem server');
    expect(text(await agent.client.callTool({ name: 'fs__read_text_file', arguments: { path: join(files, 'large.txt') } }))).toBe('Grüße aus der Werkzeugkiste. '.repeat(80_000));
    const progress: number[] = [];
    await agent.client.callTool({ name: 'ev__trigger-long-running-operation', arguments: { duration: 1, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(host.logs()).toContain('stdio server started');
  });

  it('gives the server its env from files and values and nothing of the host\'s, and logs its stderr redacted', async () => {
    const served = await serve({
      backends: [{ name: 'envfix', prefix: 'envfix', transport: 'stdio', stdio: { ...fixtureServer('env-server.ts'), env: [{ name: 'FIXTURE_TOKEN', file: join(scratch, 'env-token') }, { name: 'FIXTURE_MODE', value: 'plain' }] } }],
    });
    const agent = await served.connect();
    const env = JSON.parse(text(await agent.client.callTool({ name: 'envfix__env', arguments: {} }))) as Record<string, unknown>;
    // The server got the value; the gateway keeps it from the client.
    expect(env).toEqual({ token: '[REDACTED]', tokenSha256: createHash('sha256').update(ENV_SECRET).digest('hex'), mode: 'plain', leaked: null });
    const logs = await until('the fixture stderr line in the gateway log', () => (served.logs().includes('env-server starting') ? served.logs() : undefined));
    expect(logs).toContain('env-server starting; token=[REDACTED]');
    expect(logs).not.toContain(ENV_SECRET);
    // The host logs commands and exits, never env values.
    expect(host.logs()).not.toContain(ENV_SECRET);
  });

  it("does not take a message past 32 MiB into the sidecar's memory, and fails only that call: server-filesystem asked for a 40 MiB file", async () => {
    // What the agent can arrange (a file written through a tool, a fetched page): a reply line
    // larger than the sidecar can hold a few of. The hosted transport skips the line to its end and
    // answers the call with the reason; the server, shared by every session, keeps running (the SDK's
    // ReadBuffer closed the connection at 10 MiB, and the server with it: red team 21).
    await writeFile(join(files, 'huge.txt'), 'y'.repeat(40 * 1024 * 1024));
    // Health pings as in production (15 s), not the tests' 1 s, which a 40 MiB reply outlasts.
    const served = await serve({ backends: [{ name: 'files', prefix: 'fs', transport: 'stdio', stdio: npmServer('mcp-server-filesystem', files) }] }, host.socketPath, { healthIntervalMs: 15_000 });
    const agent = await served.connect();
    const pid = backendView(served, 'files')?.pid;
    await expect(agent.client.callTool({ name: 'fs__read_text_file', arguments: { path: join(files, 'huge.txt') } })).rejects.toThrow('backend "files": the MCP server sent a message of more than 33554432 bytes; it is not read');
    expect(text(await agent.client.callTool({ name: 'fs__read_text_file', arguments: { path: join(files, 'note.txt') } }))).toBe('a note for the filesystem server');
    expect(backendView(served, 'files')?.pid).toBe(pid);
  }, 180_000);

  it('notices a server that died and starts a new one, with backoff', async () => {
    const served = await serve({ backends: [everything] }, host.socketPath, { backoffBaseMs: 200 });
    const agent = await served.connect();
    const pid = backendView(served, 'everything')?.pid;
    expect(pid).toEqual(expect.any(Number));
    process.kill(pid!, 'SIGKILL');
    await until('a new process', () => {
      const view = backendView(served, 'everything');
      return view?.state === 'ready' && view.pid !== pid;
    });
    expect(backendView(served, 'everything')?.failures).toBe(1);
    expect(text(await agent.client.callTool({ name: 'ev__echo', arguments: { message: 'back' } }))).toBe('Echo: back');
  });

  it('reports a command that cannot start with the system\'s reason', async () => {
    const served = await serve({ backends: [{ name: 'broken', prefix: 'broken', transport: 'stdio', stdio: { command: '/nonexistent/mcp-server' } }] });
    await until('a failed attempt', () => (backendView(served, 'broken')?.failures ?? 0) >= 1);
    expect(backendView(served, 'broken')?.lastError).toBe('stdio server /nonexistent/mcp-server could not start: command or working directory not found (ENOENT)');
  });

  it('says which container is missing when the host does not answer', async () => {
    const served = await serve({ backends: [everything] }, join(scratch, 'no-such-host.sock'));
    await until('a failed attempt', () => (backendView(served, 'everything')?.failures ?? 0) >= 1);
    expect(backendView(served, 'everything')?.lastError).toMatch(/stdio host at .*no-such-host\.sock is not reachable \(ENOENT\); stdio MCP servers run in the pod's airlock-tools container/);
  });

  it('ends per-session processes with their session and every process when the gateway closes', async () => {
    const served = await serve({ backends: [{ ...everything, stdio: { ...everything.stdio, processes: 'per-session' } }] });
    const agent = await served.connect();
    const shared = backendView(served, 'everything')?.pid;
    expect(text(await agent.client.callTool({ name: 'ev__echo', arguments: { message: 'mine' } }))).toBe('Echo: mine');
    const started = () => [...host.logs().matchAll(/"pid":(\d+),"msg":"stdio server started"/g)].map((m) => Number(m[1]));
    const own = started().filter((pid) => pid !== shared && alive(pid));
    expect(own.length).toBeGreaterThanOrEqual(1);
    await agent.end();
    await until('the session process to end', () => own.every((pid) => !alive(pid)));
    await served.close();
    gateways.splice(gateways.indexOf(served), 1);
    await until('the shared process to end', () => !alive(shared!));
  });
});

describe('the transport to the stdio host, below the gateway', () => {
  it('reports the exit code and every stderr byte of a process that ends by itself', async () => {
    const transport = new HostedStdioTransport(host.socketPath, { command: process.execPath, args: ['-e', "console.error('about to leave'); process.exit(3)"], env: {} });
    let stderr = '';
    transport.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
    await transport.start();
    await closed;
    expect(transport.exited).toEqual({ code: 3, signal: null });
    expect(stderr).toBe('about to leave\n');
  });

  it('passes on at most 64 KiB of stderr a second, however fast a process writes it, and its stdout whole', async () => {
    // Two seconds of 8 KiB stderr lines as fast as the process can, then one stdout line: the sidecar's thread spent 5 s of CPU in 8 s on such a flood (red team 21).
    const flood = "const line = 'e'.repeat(8191) + '\\n'; const end = Date.now() + 2000; (function more() { while (Date.now() < end) if (!process.stderr.write(line)) return process.stderr.once('drain', more); process.stdout.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/done' }) + '\\n'); })()";
    const transport = new HostedStdioTransport(host.socketPath, { command: process.execPath, args: ['-e', flood], env: {} });
    let stderrBytes = 0;
    const messages: unknown[] = [];
    transport.stderr.on('data', (chunk: Buffer) => (stderrBytes += chunk.length));
    transport.onmessage = (message) => messages.push(message);
    const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
    const started = Date.now();
    await transport.start();
    await closed;
    const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
    expect(stderrBytes).toBeGreaterThan(0);
    expect(stderrBytes, `${stderrBytes} bytes of stderr in ${seconds} s`).toBeLessThanOrEqual(seconds * 64 * 1024);
    expect(messages).toEqual([{ jsonrpc: '2.0', method: 'notifications/done' }]);
    expect(host.logs()).toContain('stdio server stderr past its rate dropped');
  });

  it('closes a process that ignores the end of its stdin and SIGTERM with SIGKILL, as the SDK does', async () => {
    const stubborn = "process.on('SIGTERM', () => console.error('ignoring SIGTERM')); process.stdin.on('end', () => {}); setInterval(() => {}, 1000)";
    const transport = new HostedStdioTransport(host.socketPath, { command: process.execPath, args: ['-e', stubborn], env: {} });
    let stderr = '';
    transport.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await transport.start();
    const pid = transport.pid!;
    expect(alive(pid)).toBe(true);
    await transport.close();
    expect(transport.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(stderr).toContain('ignoring SIGTERM');
    expect(alive(pid)).toBe(false);
  });
});
