/**
 * Hot reload the way Kubernetes updates a ConfigMap volume: an atomic swap of the `..data`
 * symlink. A new config applies without dropping requests in flight; an invalid one is refused,
 * reported on /readyz, and the last good config keeps serving.
 */
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { SidecarConfigInput } from '../../../sidecar/src/config/schema.js';
import { startSidecar, type Sidecar } from '../../../sidecar/src/sidecar.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { stackDir } from './harness.js';
import { Agent, fetch } from 'undici';
import OpenAI from 'openai';

let dir: string;
let mock: MockProvider;
let sidecar: Sidecar;
let version = 0;
let client: OpenAI;
let dispatcher: Agent;
const volume = () => join(dir, 'volume');

function config(models: string[], extra: Partial<SidecarConfigInput> = {}): SidecarConfigInput {
  return {
    version: 1,
    sandbox: { name: 'reload' },
    listen: { socket: { path: join(dir, 'airlock.sock') }, admin: { host: '127.0.0.1', port: 0 } },
    providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: models.map((name) => ({ name })) }],
    ...extra,
  };
}

/** Publishes a new config the way the kubelet does: a new timestamped dir, then an atomic rename of ..data. */
async function publish(text: string): Promise<void> {
  version += 1;
  const dataDir = `..2026_11_21_${version}`;
  await mkdir(join(volume(), dataDir), { recursive: true });
  await writeFile(join(volume(), dataDir, 'config.yaml'), text);
  await symlink(dataDir, join(volume(), '..data_tmp'));
  await rename(join(volume(), '..data_tmp'), join(volume(), '..data'));
}

const readyz = async () => (await fetch(`http://127.0.0.1:${sidecar.adminPort}/readyz`)).json() as Promise<Record<string, unknown>>;
const modelIds = async () => (await client.models.list()).data.map((m) => m.id).sort();

beforeAll(async () => {
  dir = await stackDir();
  mock = await startMock('ollama');
  await mkdir(volume());
  await publish(stringify(config(['m1'])));
  await symlink('..data/config.yaml', join(volume(), 'config.yaml'));
  sidecar = await startSidecar({ configPath: join(volume(), 'config.yaml'), logDestination: { write: () => true } });
  dispatcher = new Agent({ connect: { socketPath: join(dir, 'airlock.sock') } });
  client = new OpenAI({ apiKey: 'x', baseURL: 'http://airlock/v1', maxRetries: 0, fetch: ((url: string, init: object) => fetch(url, { ...init, dispatcher })) as unknown as typeof globalThis.fetch });
});

afterAll(async () => {
  await dispatcher?.close();
  await sidecar?.close();
  await mock?.close();
});

describe('config reload', () => {
  it('applies a ConfigMap-style symlink swap by itself', async () => {
    expect(await modelIds()).toEqual(['m1']);
    await publish(stringify(config(['m1', 'm2'])));
    await expect.poll(modelIds, { timeout: 10_000 }).toEqual(['m1', 'm2']);
    expect(await readyz()).toMatchObject({ status: 'ready' });
  });

  it('keeps a stream in flight alive across a reload', async () => {
    mock.script({ chunkDelayMs: 100 });
    const stream = await client.chat.completions.create({ model: 'm1', stream: true, messages: [{ role: 'user', content: 'one two three four five six seven eight' }] });
    let text = '';
    let reloaded = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (!reloaded) {
        reloaded = true;
        // A changed provider: the reload builds a new client and retires the old one.
        await publish(stringify(config(['m1', 'm3'], { providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: [{ name: 'm1' }, { name: 'm3' }], timeouts: { idleMs: 30_000 } }] })));
        await sidecar.live.check();
      }
    }
    expect(text).toBe('echo: one two three four five six seven eight');
    expect(await modelIds()).toEqual(['m1', 'm3']);
  });

  it('refuses an invalid config, reports it on /readyz and keeps serving the last good one', async () => {
    await publish('version: 2\nsandbox: {}\n');
    await expect.poll(async () => (await readyz()).status, { timeout: 10_000 }).toBe('degraded');
    const report = (await readyz()) as { rejectedConfig: { errors: { path: string; message: string }[] } };
    expect(report.rejectedConfig.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['version', 'sandbox.name']));
    expect(await modelIds()).toEqual(['m1', 'm3']);
    const answer = await client.chat.completions.create({ model: 'm3', messages: [{ role: 'user', content: 'still here' }] });
    expect(answer.choices[0]!.message.content).toBe('echo: still here');

    await publish(stringify(config(['m4'])));
    await expect.poll(async () => (await readyz()).status, { timeout: 10_000 }).toBe('ready');
    expect(await modelIds()).toEqual(['m4']);
  });

  it('refuses broken YAML the same way', async () => {
    await publish('version: 1\nproviders: [\n');
    await expect.poll(async () => (await readyz()).status, { timeout: 10_000 }).toBe('degraded');
    expect(await modelIds()).toEqual(['m4']);
  });
});
