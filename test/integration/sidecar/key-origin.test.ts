/**
 * A key travels with its destination (ADR 0016). The kubelet swaps the config volume and the
 * credentials volume at different moments, so for a while the sidecar may see a provider's new
 * baseURL next to the key the operator accepted for the old one. The operator records that
 * origin next to the key, in the same Secret, and marks the key `requireOrigin`; the sidecar
 * withholds the key from any other origin: the provider's calls fail with a clear 503 and the new
 * host never sees the key, until the volumes agree again. The credentials here are published the
 * way the kubelet publishes a Secret volume (timestamped directory, atomic swap of `..data`).
 */
import OpenAI from 'openai';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startMock } from '../../mocks/index.js';
import { originStackForFile } from './harness.js';

const KEY = 'sk-origin-0123456789abcdef';

/** The credentials the operator renders for a key accepted for `url`. */
const keyFor = (url: string) => ({ 'provider.oa.0': KEY, 'provider.oa.0.origin': new URL(url).origin });

// Both hosts would take the key: only the sidecar stands between it and the other host.
const origin = originStackForFile({
  start: () => startMock('openai', { keys: [KEY] }),
  files: keyFor,
  config: (baseURL, credentials) => ({
    version: 1,
    sandbox: { name: 'key-origin' },
    providers: [{ name: 'oa', type: 'openai', baseURL, apiKeys: [{ file: join(credentials, 'provider.oa.0'), requireOrigin: true }], models: [{ name: 'gpt-test' }] }],
  }),
});

const ask = () => origin().stack.openai().chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hello' }] });
const statusOf = async () => ask().then(
  () => 200,
  (e: unknown) => (e as { status?: number }).status,
);

it('sends the key only to the origin it was accepted for, while the config and the credentials disagree', async () => {
  const { stack, volume, accepted, other, pointAt } = origin();
  expect((await ask()).choices[0]!.message.content).toBe('echo: hello');
  expect(accepted.received[0]?.headers.authorization).toBe(`Bearer ${KEY}`);

  // The config volume moved the provider to another host; the credentials volume has not caught up.
  await pointAt(other.url);
  const error = await ask().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.APIError);
  const apiError = error as InstanceType<typeof OpenAI.APIError>;
  expect(apiError.status).toBe(503);
  expect(apiError.message).toContain('no API key for its baseURL');
  expect(apiError.message).not.toContain(KEY.slice(-6));
  expect(other.received.filter((r) => r.headers.authorization !== undefined)).toEqual([]);
  expect(stack.logs.join('\n')).not.toContain(KEY);

  // The credentials catch up: the operator accepted the key for the new host (credential-hosts allows it).
  await volume.publish(keyFor(other.url));
  await stack.sidecar.live.check();
  expect((await ask()).choices[0]!.message.content).toBe('echo: hello');
  expect(other.received.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
});

it('withholds a key whose recorded origin is another, missing, or not a URL, under an unchanged config', async () => {
  const { stack, volume, accepted, other } = origin();
  const before = other.received.length;
  await volume.publish(keyFor(accepted.url));
  await stack.sidecar.live.check();
  expect(await statusOf()).toBe(503);

  await volume.publish({ 'provider.oa.0': KEY, 'provider.oa.0.origin': 'not a url' });
  await stack.sidecar.live.check();
  expect(await statusOf()).toBe(503);

  // A Secret with the key but without its origin (say, a copy edited by hand): not sent either.
  await volume.publish({ 'provider.oa.0': KEY });
  await stack.sidecar.live.check();
  expect(await statusOf()).toBe(503);
  expect(other.received).toHaveLength(before);

  await volume.publish(keyFor(other.url));
  await stack.sidecar.live.check();
  expect(await statusOf()).toBe(200);
  expect(other.received).toHaveLength(before + 1);
});

it('withholds a bound key from another origin also when the config does not ask for the binding (requireOrigin dropped)', async () => {
  const { stack, volume, accepted, other } = origin();
  await volume.publish(keyFor(accepted.url));
  // The config as someone who may edit it but not read the Secret would write it: another host, no requireOrigin.
  await stack.writeConfig({
    version: 1,
    sandbox: { name: 'key-origin' },
    providers: [{ name: 'oa', type: 'openai', baseURL: other.url, apiKeys: [{ file: join(volume.path, 'provider.oa.0') }], models: [{ name: 'gpt-test' }] }],
  });
  await stack.sidecar.live.check();
  const before = other.received.length;
  expect(await statusOf()).toBe(503);
  expect(other.received.slice(before).filter((r) => r.headers.authorization !== undefined)).toEqual([]);
});
