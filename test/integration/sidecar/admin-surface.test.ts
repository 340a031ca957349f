/**
 * The sidecar's admin port as the operator renders it by default (listen.admin host `pod`, no
 * tool view): it holds the port on every address of the pod, both families, and serves metrics
 * and health but no /mcp/tools listing; the tool view comes back only when asked for.
 *
 * Every address, loopback included, on purpose (ADR 0018): the operator and the kubelet dial
 * `status.podIP`, the IPv6 address on an IPv6-first cluster, and any address the sidecar leaves
 * free the agent could listen on and answer the usage round there. Loopback gives the agent
 * nothing it lacks: it reaches the pod's own address through the same loopback route.
 * test/integration/firewall/admin-port.test.ts takes the agent's side on a real kernel.
 */
import { existsSync } from 'node:fs';
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

it('answers on every address of the pod, IPv4 and IPv6, and serves no /mcp/tools by default', async () => {
  const s = await start({ host: 'pod', tools: false });
  expect(s.sidecar.adminAddress).toBe(existsSync('/proc/net/if_inet6') ? '::' : '0.0.0.0');
  // Link-local IPv6 addresses need a zone to be dialled; the kubelet and the operator never use them.
  const addresses = Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .filter((a) => !a.address.startsWith('fe80:'))
    .map((a) => a.address);
  expect(addresses).toContain('127.0.0.1');
  for (const address of addresses) {
    const base = `http://${address.includes(':') ? `[${address}]` : address}:${s.sidecar.adminPort}`;
    expect((await fetch(`${base}/metrics`)).status, address).toBe(200);
    expect((await fetch(`${base}/readyz`)).status, address).toBe(200);
    expect((await fetch(`${base}/mcp/tools`)).status, address).toBe(404);
  }
});

it('serves the tool view when the config asks for it', async () => {
  const s = await start({ host: '127.0.0.1', tools: true });
  expect((await fetch(`http://127.0.0.1:${s.sidecar.adminPort}/mcp/tools`)).status).toBe(200);
  expect(adminHost('127.0.0.1')).toBe('127.0.0.1');
});
