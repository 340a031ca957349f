/**
 * The operator's seal on the credentials Secret (ADR 30). Someone who may create, replace or patch
 * Secrets in the sandbox's namespace, but not read them, puts a config of their own in the
 * credentials Secret (the provider moved to their server), or patches a key's recorded origin, or
 * a key of their own. A sealed sidecar (injection's AIRLOCK_CONFIG_KEY) uses none of it: it keeps
 * the config and keys the operator sealed, says so, and sends nothing to their server; at start it
 * does not start at all. The credentials are published as the kubelet publishes a Secret volume.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { publicKeyText, requireSeal, sealFiles, SEAL_FILE, stopRequiringSeal, type SealSubject } from '../../../sidecar/src/config/seal.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { secretVolume, stackDir, startStack, type SecretVolume, type Stack } from './harness.js';

const KEY = 'sk-sealed-7d0c4e1a9b';
const ROTATED = 'sk-sealed-rotated-31f8';
const FORGED = 'sk-forged-by-the-patcher-5e2a';
const SUBJECT: SealSubject = { namespace: 'team-a', sandbox: 'sealed' };
const operatorKey = generateKeyPairSync('ed25519').privateKey;

let provider: MockProvider;
let theirs: MockProvider;
let volume: SecretVolume;
let stack: Stack;
/** The config text the operator rendered (the stack fills in listen). */
let rendered = '';

/** The credentials Secret's files, sealed by `key` for `subject` (the operator's, unless a test forges one). */
function sealed(files: Record<string, string>, key: KeyObject = operatorKey, subject: SealSubject = SUBJECT): Record<string, string> {
  const bytes = Object.fromEntries(Object.entries(files).map(([name, text]) => [name, Buffer.from(text)]));
  return { ...files, [SEAL_FILE]: sealFiles(subject, bytes, key) };
}

const keyFiles = (key: string, url: string) => ({ 'provider.oa.0': key, 'provider.oa.0.origin': new URL(url).origin });
const configFor = (url: string) => ({
  version: 1 as const,
  sandbox: { name: 'sealed' },
  providers: [{ name: 'oa', type: 'openai' as const, baseURL: url, apiKeys: [{ file: join(volume.path, 'provider.oa.0'), requireOrigin: true }], models: [{ name: 'gpt-test' }] }],
});
/** The config text as the stack completes it, pointed at `url`. */
const textFor = (url: string) => rendered.replaceAll(provider.url, url);

beforeAll(async () => {
  provider = await startMock('openai', { keys: [KEY, ROTATED] });
  theirs = await startMock('openai', { keys: [KEY, ROTATED, FORGED] });
  const dir = await stackDir();
  volume = await secretVolume(join(dir, 'credentials'));
  requireSeal(publicKeyText(operatorKey), SUBJECT);
  stack = await startStack(dir, configFor(provider.url), async (text) => {
    rendered = text;
    await volume.publish(sealed({ 'config.yaml': text, ...keyFiles(KEY, provider.url) }));
    return join(volume.path, 'config.yaml');
  });
});

afterAll(async () => {
  await stack?.close();
  stopRequiringSeal();
  await provider?.close();
  await theirs?.close();
});

const ask = () => stack.openai().chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hello' }] });
const readyz = async () => (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/readyz`)).json() as Promise<{ status: string; rejectedConfig?: { errors: { message: string }[] } }>;
/** Publishes a new version of the Secret and has the sidecar look (what its watchers do on the swap). */
const publish = async (files: Record<string, string>) => {
  await volume.publish(files);
  await stack.sidecar.live.check();
};

describe('a sealed sidecar', () => {
  it('uses the config and the key the operator sealed', async () => {
    expect((await ask()).choices[0]!.message.content).toBe('echo: hello');
    expect(provider.received.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect((await readyz()).status).toBe('ready');
  });

  it.each([
    ['the old seal kept beside a config of their own', () => sealedAs({ 'config.yaml': textFor(theirs.url), ...keyFiles(KEY, theirs.url) }, operatorSealOfCurrent())],
    ['a seal they signed with a key of their own', () => sealed({ 'config.yaml': textFor(theirs.url), ...keyFiles(KEY, theirs.url) }, generateKeyPairSync('ed25519').privateKey)],
    ['no seal at all', () => ({ 'config.yaml': textFor(theirs.url), ...keyFiles(KEY, theirs.url) })],
    ["the operator's seal of another sandbox", () => sealed({ 'config.yaml': textFor(theirs.url), ...keyFiles(KEY, theirs.url) }, operatorKey, { namespace: 'team-a', sandbox: 'other' })],
  ])('refuses a config put in the Secret by someone else (%s), keeps the sealed one and says why', async (_case, files) => {
    const before = theirs.received.length;
    await publish(files());
    const ready = await readyz();
    expect(ready.status).toBe('degraded');
    expect(ready.rejectedConfig?.errors[0]?.message).toContain('is not sealed by the Airlock operator for this sandbox');
    expect((await ask()).choices[0]!.message.content).toBe('echo: hello');
    expect(provider.received.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(theirs.received).toHaveLength(before);
    // The operator's Secret back: nothing left refused.
    await publish(sealed({ 'config.yaml': rendered, ...keyFiles(KEY, provider.url) }));
    expect((await readyz()).status).toBe('ready');
  });

  it.each([
    ["a key's origin rewritten to their server", () => ({ ...current(), 'provider.oa.0.origin': new URL(theirs.url).origin })],
    ["a key's origin removed", () => withoutOrigin(current())],
    ['a key of their own', () => ({ ...current(), 'provider.oa.0': FORGED })],
  ])('keeps the sealed key when the Secret is patched (%s)', async (_case, files) => {
    await publish(files());
    expect((await ask()).choices[0]!.message.content).toBe('echo: hello');
    expect(provider.received.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(stack.logs.join('\n')).toContain('is not sealed by the Airlock operator for this sandbox');
    await publish(sealed({ 'config.yaml': rendered, ...keyFiles(KEY, provider.url) }));
  });

  it("takes the operator's next seal: a rotated key is used at once", async () => {
    await publish(sealed({ 'config.yaml': rendered, ...keyFiles(ROTATED, provider.url) }));
    expect((await ask()).choices[0]!.message.content).toBe('echo: hello');
    expect(provider.received.at(-1)?.headers.authorization).toBe(`Bearer ${ROTATED}`);
    await publish(sealed({ 'config.yaml': rendered, ...keyFiles(KEY, provider.url) }));
  });

  it('writes no key into its logs', () => {
    const logs = stack.logs.join('\n');
    // The refusals above were logged (so the logs were read), and without a key in them.
    expect(logs).toContain('is not sealed by the Airlock operator for this sandbox');
    for (const key of [KEY, ROTATED, FORGED]) expect(logs).not.toContain(key);
    expect(theirs.received).toEqual([]);
  });
});

/** The files the operator sealed last (the config and the key for the provider), with their seal. */
function current(): Record<string, string> {
  return sealed({ 'config.yaml': rendered, ...keyFiles(KEY, provider.url) });
}
function operatorSealOfCurrent(): string {
  return current()[SEAL_FILE]!;
}
function sealedAs(files: Record<string, string>, seal: string): Record<string, string> {
  return { ...files, [SEAL_FILE]: seal };
}
function withoutOrigin(files: Record<string, string>): Record<string, string> {
  const { 'provider.oa.0.origin': _origin, ...rest } = files;
  return rest;
}

describe('airlock-sidecar run, sealed by injection', () => {
  const root = join(import.meta.dirname, '../../..');
  const run = (config: string, env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'sidecar/src/cli.ts'), 'run', '--config', config], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
  const sealEnv = { AIRLOCK_CONFIG_KEY: publicKeyText(operatorKey), AIRLOCK_SANDBOX: SUBJECT.sandbox, AIRLOCK_POD_NAMESPACE: SUBJECT.namespace };

  it('does not start on a config the operator did not seal, and says why', async () => {
    const dir = await stackDir();
    const forged = await secretVolume(join(dir, 'credentials'));
    const text = stringify({ version: 1, sandbox: { name: 'sealed' }, listen: { socket: { path: join(dir, 'airlock.sock') }, admin: { host: '127.0.0.1', port: 0 } }, providers: [] });
    await forged.publish(sealed({ 'config.yaml': text }, generateKeyPairSync('ed25519').privateKey));
    const result = await run(join(forged.path, 'config.yaml'), sealEnv);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('config.yaml is not sealed by the Airlock operator for this sandbox (the seal is not signed by the operator this pod was injected by)');
  });

  it('does not start when told to check seals without its sandbox', async () => {
    const dir = await stackDir();
    await writeFile(join(dir, 'config.yaml'), stringify({ version: 1, sandbox: { name: 'sealed' }, providers: [] }));
    const result = await run(join(dir, 'config.yaml'), { ...sealEnv, AIRLOCK_SANDBOX: '' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the seal cannot be checked');
  });
});
