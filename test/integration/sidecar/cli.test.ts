/** The airlock-sidecar command as the pod spec runs it: run, probe, check-config, stdio-host, SIGTERM. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startMock } from '../../mocks/index.js';
import { stackDir } from './harness.js';

const root = join(import.meta.dirname, '../../..');
const cli = join(root, 'sidecar/src/cli.ts');

function sidecar(args: string[], nodeArgs: string[] = []): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

// Prints every module file the process resolves, as `LOADED <url>` on stderr.
const trace = `data:text/javascript,${encodeURIComponent(
  "import { registerHooks } from 'node:module'; registerHooks({ resolve(s, c, next) { const r = next(s, c); if (r.url.startsWith('file:')) process.stderr.write('LOADED ' + r.url + '\\n'); return r; } });",
)}`;
const loadedFiles = (stderr: string) => [...stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!);

describe('airlock-sidecar check-config', () => {
  it('accepts the documented example', async () => {
    const { done } = sidecar(['check-config', join(root, 'docs/sidecar-config.example.yaml')]);
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('valid (2 providers, 2 MCP backends)');
  });

  it('exits 1 naming the path of each error', async () => {
    const dir = await stackDir();
    const file = join(dir, 'bad.yaml');
    await writeFile(file, stringify({ version: 1, sandbox: { name: 's' }, providers: [{ name: 'p', type: 'openai', models: [] }], listen: { socket: { mode: 'rw' } } }));
    const result = await sidecar(['check-config', file]).done;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}: providers.0.models:`);
    expect(result.stderr).toContain(`${file}: listen.socket.mode: must be an octal file mode`);
  });
});

/** A mock Ollama and a config for it in a fresh directory (the socket under run/), as the `run` tests start the sidecar. */
async function runSetup(extra: object = {}): Promise<{ mock: Awaited<ReturnType<typeof startMock>>; socket: string; config: string }> {
  const mock = await startMock('ollama');
  const dir = await stackDir();
  const socket = join(dir, 'run', 'airlock.sock');
  const config = join(dir, 'config.yaml');
  await writeFile(config, stringify({ version: 1, sandbox: { name: 'cli' }, listen: { socket: { path: socket }, admin: { host: '127.0.0.1', port: 0 } }, ...extra, providers: [{ name: 'o', type: 'ollama', baseURL: mock.url, models: [{ name: 'm' }] }] }));
  return { mock, socket, config };
}

describe('airlock-sidecar run and probe', () => {
  it('serves on the socket, answers the probe, and exits cleanly on SIGTERM', async () => {
    const { mock, socket, config } = await runSetup();

    expect((await sidecar(['probe', '--socket', socket]).done).code).toBe(1);
    const run = sidecar(['run', '--config', config]);
    children.push(run.child);
    await expect.poll(async () => (await sidecar(['probe', '--socket', socket]).done).code, { timeout: 30_000, interval: 200 }).toBe(0);

    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('airlock sidecar ready');
    expect(result.stdout).toContain('shutting down');
    await mock.close();
  });

  it("waits on SIGTERM for the operator's last read of its usage at most two usage intervals and 5 s, then exits saying it did not come", async () => {
    // No operator: the usage URL leads nowhere, and nothing reads the admin port.
    const { mock, socket, config } = await runSetup({ limits: { sandboxUsage: { url: 'http://127.0.0.1:9/usage/agents/cli', intervalMs: 200 } } });
    const run = sidecar(['run', '--config', config]);
    children.push(run.child);
    await expect.poll(async () => (await sidecar(['probe', '--socket', socket]).done).code, { timeout: 30_000, interval: 200 }).toBe(0);
    const signalled = Date.now();
    run.child.kill('SIGTERM');
    const result = await run.done;
    const waited = Date.now() - signalled;
    expect(result.code).toBe(0);
    expect(waited).toBeGreaterThanOrEqual(2 * 200 + 5_000);
    expect(waited).toBeLessThan(15_000);
    expect(result.stdout).toContain("the operator did not read this pod's usage before shutdown");
    await mock.close();
  }, 60_000);

  it('writes the shutdown\'s log lines in order before it exits on SIGTERM, also when the thread pool is busy', async () => {
    const { mock, socket: socketPath, config } = await runSetup();
    // libuv's thread pool, where the logger's asynchronous writes run, cut to one thread and kept
    // busy from the signal on (~2 s here), as other work can keep it (file reads, DNS lookups): the
    // "shutting down" line waits in its queue. Before, the exit wrote the lines after it first.
    const busyPool = `data:text/javascript,${encodeURIComponent("import { pbkdf2 } from 'node:crypto'; process.once('SIGTERM', () => pbkdf2('p', 's', 4e6, 32, 'sha256', () => {}));")}`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', busyPool, cli, 'run', '--config', config], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
    children.push(child);
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    await expect.poll(() => stdout, { timeout: 30_000, interval: 100 }).toContain('airlock sidecar ready');
    // The MCP gateway, loaded on the first call, logs last as the sidecar closes.
    const dispatcher = new Agent({ connect: { socketPath } });
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cli-test', version: '1' } } };
    const answer = await undiciFetch('http://airlock/mcp', { method: 'POST', dispatcher, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(initialize) });
    expect(answer.status).toBe(200);
    await answer.text();
    await dispatcher.close();
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    expect(await closed).toBe(0);
    const messages = stdout.trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages.slice(-3)).toEqual(['shutting down: finishing requests in flight', 'MCP session closed', 'MCP gateway closed']);
    await mock.close();
  });

  it('gives the young generation back to the kernel once idle, and says so at debug level', async () => {
    const { mock, config } = await runSetup({ telemetry: { logLevel: 'debug' } });
    const run = sidecar(['run', '--config', config]);
    children.push(run.child);
    let stdout = '';
    run.child.stdout!.on('data', (d) => (stdout += d));
    // Nothing calls it: after start the event loop idles, and loading the sidecar grew the young generation.
    // After 30 s of idleness (the product's setting, ADR 0017).
    await expect.poll(() => stdout.includes('idle: memory-reducing garbage collection'), { timeout: 60_000, interval: 500 }).toBe(true);
    const line = JSON.parse(stdout.split('\n').find((l) => l.includes('idle: memory-reducing garbage collection'))!) as { youngBytesBefore: number; youngBytesAfter: number };
    expect(line.youngBytesBefore).toBeGreaterThan(4 * 1024 * 1024);
    expect(line.youngBytesAfter).toBeLessThan(line.youngBytesBefore / 4);
    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);
    await mock.close();
  }, 90_000);

  it('answers and refuses chat calls with zod/mini alone: classic zod (~5 MiB resident) waits for the MCP gateway', async () => {
    const { mock, socket: socketPath, config } = await runSetup();
    const run = sidecar(['run', '--config', config], ['--import', trace]);
    children.push(run.child);
    const dispatcher = new Agent({ connect: { socketPath } });
    const fetch = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof globalThis.fetch;
    await expect.poll(() => fetch('http://airlock/readyz').then((r) => r.status, () => 0), { timeout: 30_000, interval: 200 }).toBe(200);
    const openai = new OpenAI({ apiKey: 'unused', baseURL: 'http://airlock/v1', fetch, maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hello' }] });
    expect(completion.choices[0]?.message.content).toBeTruthy();
    // A request its schema refuses: the English message comes from mini's locale.
    const refused = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 'hot' as unknown as number }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('expected number, received string');
    await dispatcher.close();
    run.child.kill('SIGTERM');
    const { code, stderr } = await run.done;
    expect(code).toBe(0);
    const loaded = loadedFiles(stderr);
    // The probe works: the schemas' zod is in the list.
    expect(loaded.some((url) => url.includes('/node_modules/zod/v4/mini/'))).toBe(true);
    expect(loaded.filter((url) => /\/node_modules\/zod\/(v4\/classic\/|v3\/|index\.js)/.test(url))).toEqual([]);
    await mock.close();
  });

  it('exits 1 with the errors when the config is invalid', async () => {
    const dir = await stackDir();
    const config = join(dir, 'config.yaml');
    await writeFile(config, 'version: 1\n');
    const result = await sidecar(['run', '--config', config]).done;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('sandbox');
  });
});

describe('airlock-sidecar stdio-host', () => {
  it("loads the host and the logger, none of the sidecar's server, schemas or SDKs (it idles in every pod)", async () => {
    const dir = await stackDir();
    const host = sidecar(['stdio-host', '--socket', join(dir, 'stdio.sock')], ['--import', trace]);
    children.push(host.child);
    let stdout = '';
    host.child.stdout!.on('data', (d) => (stdout += d));
    await expect.poll(() => stdout, { timeout: 30_000, interval: 100 }).toContain('stdio host listening');
    host.child.kill('SIGTERM');
    const { code, stderr } = await host.done;
    expect(code).toBe(0);
    const loaded = loadedFiles(stderr);
    // The probe works: the host itself is in the list.
    expect(loaded.some((url) => url.endsWith('/sidecar/src/stdio-host/host.ts'))).toBe(true);
    const packages = new Set(loaded.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));
    for (const heavy of ['zod', '@modelcontextprotocol/sdk', 'fastify', 'undici', 'yaml', '@opentelemetry/api']) expect(packages).not.toContain(heavy);
    expect(loaded.filter((url) => /\/sidecar\/src\/(config|mcp|providers|firewall|env)/.test(url))).toEqual([]);
  });
});
