/**
 * An HTTP MCP backend's secret header travels with its destination, as a provider key does
 * (ADR 0016, key-origin.test.ts). The kubelet swaps the config volume and the credentials volume
 * at different moments, so for a while the sidecar may see a backend's new url next to the header
 * the operator accepted for the old one. The operator records that origin next to the header, in
 * the same Secret, and marks it `requireOrigin`; the sidecar withholds the header from any other
 * origin: the backend is unavailable with a clear reason and the new host never sees the header,
 * until the volumes agree again. The credentials are published as the kubelet publishes a Secret
 * volume (timestamped directory, atomic swap of `..data`).
 */
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { startHttpBackend, type HttpBackend } from '../mcp/http-backends.js';
import { originStackForFile } from './harness.js';

const TOKEN = 'mcp-origin-0123456789abcdef';
const FILE = 'mcp.gh.header.0';

/** The credentials the operator renders for a header accepted for `url`. */
const headerFor = (url: string) => ({ [FILE]: `Bearer ${TOKEN}`, [`${FILE}.origin`]: new URL(url).origin });

// Both hosts would take the header: only the sidecar stands between it and the other host.
const origin = originStackForFile({
  start: (role) => startHttpBackend(role === 'accepted' ? { token: TOKEN } : {}),
  files: headerFor,
  config: (url, credentials) => ({
    version: 1,
    sandbox: { name: 'mcp-header-origin' },
    mcp: {
      health: { backoffBaseMs: 100, backoffMaxMs: 5_000 },
      backends: [{ name: 'gh', prefix: 'gh', transport: 'streamable-http', url, headers: [{ name: 'Authorization', file: join(credentials, FILE), requireOrigin: true }] }],
    },
  }),
});

interface BackendView {
  state: string;
  lastError?: string;
}
const backendView = async (): Promise<BackendView> => {
  const view = (await (await fetch(`http://127.0.0.1:${origin().stack.sidecar.adminPort}/mcp/tools`)).json()) as { backends: BackendView[] };
  return view.backends[0]!;
};
const sawToken = (backend: HttpBackend) => backend.authorizations.has(`Bearer ${TOKEN}`);

it('sends the header only to the origin it was accepted for, while the config and the credentials disagree', async () => {
  const { stack, volume, accepted, other, pointAt } = origin();
  await vi.waitFor(async () => expect((await backendView()).state).toBe('ready'), { timeout: 30_000, interval: 100 });
  expect(sawToken(accepted)).toBe(true);

  // The config volume moved the backend to another host; the credentials volume has not caught up.
  await pointAt(other.url);
  await vi.waitFor(async () => expect((await backendView()).lastError).toContain('withheld'), { timeout: 30_000, interval: 100 });
  const view = await backendView();
  expect(view.state).not.toBe('ready');
  expect(view.lastError).toContain(`accepted for another origin than ${new URL(other.url).origin}`);
  expect(view.lastError).not.toContain(TOKEN);
  expect(sawToken(other)).toBe(false);
  expect(stack.logs.join('\n')).not.toContain(TOKEN);

  // The credentials catch up: the operator accepted the header for the new host.
  await volume.publish(headerFor(other.url));
  await vi.waitFor(async () => expect((await backendView()).state).toBe('ready'), { timeout: 30_000, interval: 100 });
  expect(sawToken(other)).toBe(true);
});

it('withholds a header whose recorded origin is missing or not a URL', async () => {
  const { volume, accepted, other, pointAt } = origin();
  const broken: Record<string, string>[] = [{ [FILE]: `Bearer ${TOKEN}`, [`${FILE}.origin`]: 'not a url' }, { [FILE]: `Bearer ${TOKEN}` }];
  for (const files of broken) {
    await volume.publish(headerFor(accepted.url));
    await pointAt(accepted.url);
    await vi.waitFor(async () => expect((await backendView()).state).toBe('ready'), { timeout: 30_000, interval: 100 });
    await volume.publish(files);
    other.authorizations.clear();
    // A new url is a new connection: it reads the header file (and its origin) afresh.
    await pointAt(other.url);
    await vi.waitFor(async () => expect(await backendView()).toMatchObject({ state: expect.not.stringMatching(/^ready$/), lastError: expect.stringContaining('withheld') }), { timeout: 30_000, interval: 100 });
    expect(sawToken(other)).toBe(false);
  }
});
