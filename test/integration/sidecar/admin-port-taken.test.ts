/**
 * The agent holding the admin port while the sidecar (re)starts: the restarted sidecar must serve
 * no model call before it holds the port, or the calls it serves in that moment are counted by a
 * process whose /usage nobody can read (the agent holds the port) and that exits right after (ADR
 * 0018: it exits on EADDRINUSE). Its ledger dies with it, so that spend never reaches the
 * sandbox's total: the agent loops the container's restarts to spend outside the daily budget.
 *
 * The agent's side: a listener on the admin port (the kernel refuses the sidecar's bind, as it does
 * for a squatter of another UID on a real pod, test/integration/firewall/admin-port.test.ts), and
 * a model call sent the instant the socket file appears. The window is short (building the admin
 * app), so whether that call lands is a race; what the sidecar listened on, and in which order, is
 * not: every listen is recorded.
 */
import { watch } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, Server as NetServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterEach, expect, it, vi } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { stackDir, startStack } from './harness.js';

let mock: MockProvider | undefined;
let squatter: Server | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  await mock?.close();
  await new Promise((resolve) => (squatter ? squatter.close(resolve) : resolve(undefined)));
});

/** A port the agent holds on `host`, as a squatter of another UID would. */
async function squat(host: string): Promise<number> {
  squatter = createServer();
  await new Promise<void>((resolve) => squatter!.listen({ host, port: 0 }, resolve));
  return (squatter.address() as AddressInfo).port;
}

/** Every listen the sidecar makes from now on, in order: a socket by its path, a port as `port N`. */
function recordListens(): string[] {
  const listens: string[] = [];
  const listen = NetServer.prototype.listen;
  vi.spyOn(NetServer.prototype, 'listen').mockImplementation(function (this: NetServer, ...args: unknown[]) {
    const options = args[0] as { path?: string; port?: number } | undefined;
    listens.push(options?.path ?? `port ${options?.port}`);
    return listen.apply(this, args as Parameters<typeof listen>);
  });
  return listens;
}

it('serves no model call when the agent holds its admin port: the socket never opens', async () => {
  mock = await startMock('ollama', { models: ['m'] });
  const port = await squat('::');

  const dir = await stackDir();
  const run = join(dir, 'run');
  await mkdir(run, { recursive: true });
  const socketPath = join(run, 'airlock.sock');
  const dispatcher = new Agent({ connect: { socketPath } });
  const listens = recordListens();
  const seen: string[] = [];
  const answers: Promise<number | string>[] = [];
  // The agent: the moment the socket appears, a model call.
  const watcher = watch(run, (_event, name) => {
    if (name !== 'airlock.sock') return;
    seen.push(name);
    answers.push(
      undiciFetch('http://sidecar/v1/chat/completions', {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'spend' }] }),
      }).then(
        (r) => r.status,
        (err: Error) => err.message,
      ),
    );
  });
  try {
    const started = startStack(dir, {
      version: 1,
      sandbox: { name: 'taken' },
      listen: { admin: { host: 'pod', port, tools: false } },
      providers: [{ name: 'o', type: 'ollama', baseURL: mock.url, models: [{ name: 'm' }] }],
      mcp: { backends: [] },
    });
    await expect(started).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const statuses = await Promise.all(answers);
    expect(statuses.filter((s) => s === 200)).toEqual([]);
    expect(listens, 'the sidecar opened its socket before it held the admin port').toEqual([`port ${port}`]);
    expect(seen).toEqual([]);
  } finally {
    watcher.close();
    await dispatcher.close();
  }
});

it('nor when the agent holds its loopback model port (red team 18): the socket never opens', async () => {
  mock = await startMock('ollama', { models: ['m'] });
  const port = await squat('127.0.0.1');
  const dir = await stackDir();
  const listens = recordListens();
  const started = startStack(dir, {
    version: 1,
    sandbox: { name: 'taken' },
    listen: { admin: { host: '127.0.0.1', port: 0, tools: false }, loopbackPort: port },
    providers: [{ name: 'o', type: 'ollama', baseURL: mock.url, models: [{ name: 'm' }] }],
    mcp: { backends: [] },
  });
  await expect(started).rejects.toMatchObject({ code: 'EADDRINUSE' });
  // Before: the socket opened (and served) between the admin port and the loopback port.
  expect(listens).toEqual(['port 0', `port ${port}`]);
});
