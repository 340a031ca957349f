/**
 * The sidecar's admin port as the operator renders it by default (listen.admin host `pod`, no
 * tool view): it listens on the pod's own address only, never on every interface, and serves
 * metrics and health but no /mcp/tools listing; the tool view comes back only when asked for.
 */
import { networkInterfaces } from 'node:os';
import { afterEach, expect, it } from 'vitest';
import { adminHost } from '../../../sidecar/src/server/admin.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { stackDir, startStack, type Stack } from './harness.js';

let stack: Stack | undefined;
let mock: MockProvider | undefined;

afterEach(async () => {
  await stack?.close();
  await mock?.close();
});

async function start(admin: { host: string; tools: boolean }): Promise<Stack> {
  mock = await startMock('ollama', { models: ['m'] });
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'admin' },
    listen: { admin: { ...admin, port: 0 } },
    providers: [{ name: 'o', type: 'ollama', baseURL: mock.url, models: [{ name: 'm' }] }],
    mcp: { backends: [] },
  });
  return stack;
}

it('binds the pod address only and serves no /mcp/tools by default', async () => {
  const s = await start({ host: 'pod', tools: false });
  const address = s.sidecar.adminAddress;
  const external = Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((a) => !a.internal);
  expect(address).not.toBe('0.0.0.0');
  expect(address).not.toBe('::');
  if (external.length > 0) expect(external.map((a) => a.address)).toContain(address);
  const base = `http://${address.includes(':') ? `[${address}]` : address}:${s.sidecar.adminPort}`;
  expect((await fetch(`${base}/metrics`)).status).toBe(200);
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
  expect((await fetch(`${base}/mcp/tools`)).status).toBe(404);
  if (address !== '127.0.0.1') {
    // Not on loopback either: it listens where it was told, nowhere else.
    await expect(fetch(`http://127.0.0.1:${s.sidecar.adminPort}/metrics`)).rejects.toThrow();
  }
});

it('serves the tool view when the config asks for it', async () => {
  const s = await start({ host: '127.0.0.1', tools: true });
  expect((await fetch(`http://127.0.0.1:${s.sidecar.adminPort}/mcp/tools`)).status).toBe(200);
  expect(adminHost('127.0.0.1')).toBe('127.0.0.1');
});
