import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { realpathAsync } from '../fs-async.js';
import { resolveValues } from '../mcp/secrets.js';
import { publicKeyText, requireSeal, SealChecker, sealedBy, sealFiles, SEAL_FILE, stopRequiringSeal } from './seal.js';

vi.mock('../fs-async.js', async (original) => {
  const real = await original<typeof import('../fs-async.js')>();
  return { ...real, realpathAsync: vi.fn(real.realpathAsync) };
});

const operator = generateKeyPairSync('ed25519').privateKey;
const subject = { namespace: 'team-a', sandbox: 'box' };
const HEADER = 'Bearer mcp-secret-4f1c9a';

/** A directory of files with `seal` beside them (the operator's for these files by default). */
async function credentials(files: Record<string, string>, seal?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-seal-'));
  const bytes = Object.fromEntries(Object.entries(files).map(([name, text]) => [name, Buffer.from(text)]));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  await writeFile(join(dir, SEAL_FILE), seal ?? sealFiles(subject, bytes, operator));
  return dir;
}

afterEach(() => stopRequiringSeal());

describe('SealChecker', () => {
  const checker = new SealChecker(publicKeyText(operator), subject);

  it('reads a file the seal beside it names with its digest', async () => {
    const dir = await credentials({ 'provider.a.0': 'sk-a' });
    expect((await checker.read(join(dir, 'provider.a.0'))).toString()).toBe('sk-a');
  });

  it('refuses, saying why: a changed file, a file the seal does not name, a seal of another sandbox, or not JSON', async () => {
    const dir = await credentials({ 'provider.a.0': 'sk-a' });
    await writeFile(join(dir, 'provider.a.0'), 'sk-changed');
    await writeFile(join(dir, 'extra'), 'x');
    await expect(checker.read(join(dir, 'provider.a.0'))).rejects.toThrow('its content is not the one sealed');
    await expect(checker.read(join(dir, 'extra'))).rejects.toThrow('the seal does not name it');
    const other = await credentials({ 'provider.a.0': 'sk-a' }, sealFiles({ namespace: 'team-a', sandbox: 'other' }, { 'provider.a.0': Buffer.from('sk-a') }, operator));
    await expect(checker.read(join(other, 'provider.a.0'))).rejects.toThrow('the seal is for sandbox team-a/other, this pod is of team-a/box');
    const garbled = await credentials({ 'provider.a.0': 'sk-a' }, '{"version":1');
    await expect(checker.read(join(garbled, 'provider.a.0'))).rejects.toThrow('config.seal is not JSON');
  });

  it('refuses a seal naming files of a shape no Secret key has: one signed text cannot be read as other files', async () => {
    // The signed message joins names and digests with spaces and newlines: a name holding them
    // could make the operator's own text say that a key has no origin file.
    const files = { 'provider.a.0': Buffer.from('sk-a'), 'provider.a.0.origin': Buffer.from('https://a.example') };
    const seal = JSON.parse(sealFiles(subject, files, operator)) as { files: Record<string, string> };
    const [key, origin] = [seal.files['provider.a.0']!, seal.files['provider.a.0.origin']!];
    const resplit = { ...seal, files: { 'provider.a.0': key, [`provider.a.0.origin ${origin}\nzz`]: origin } };
    const dir = await credentials({ 'provider.a.0': 'sk-a' }, JSON.stringify(resplit));
    await expect(checker.read(join(dir, 'provider.a.0'))).rejects.toThrow('config.seal names a file or digest of another shape');
  });

  it('sealedBy: exactly the files sealed, for this sandbox, by this key', () => {
    const files = { 'config.yaml': Buffer.from('{}'), 'usage.token': Buffer.from('t') };
    const secret = { ...files, [SEAL_FILE]: Buffer.from(sealFiles(subject, files, operator)) };
    expect(sealedBy(subject, secret, operator)).toBe(true);
    expect(sealedBy(subject, { ...secret, 'usage.token': Buffer.from('theirs') }, operator)).toBe(false);
    expect(sealedBy(subject, { ...secret, extra: Buffer.from('x') }, operator)).toBe(false);
    expect(sealedBy({ ...subject, sandbox: 'other' }, secret, operator)).toBe(false);
    expect(sealedBy(subject, secret, generateKeyPairSync('ed25519').privateKey)).toBe(false);
    expect(sealedBy(subject, files, operator)).toBe(false);
  });

  it('reads the next version when the one a path resolved into is removed before the read (the kubelet swapped it out)', async () => {
    const dir = await credentials({ 'config.yaml': '{}' });
    vi.mocked(realpathAsync).mockResolvedValueOnce(join(dir, '..2026_11_28_gone', 'config.yaml'));
    expect((await checker.read(join(dir, 'config.yaml'))).toString()).toBe('{}');
  });

  it('takes only an Ed25519 public key', () => {
    expect(() => new SealChecker('c2hvcnQ=', subject)).toThrow('AIRLOCK_CONFIG_KEY is not an Ed25519 public key');
  });
});

describe('an MCP backend secret header where seals are required', () => {
  it('is sent as sealed, and refused with a message naming no value when its origin was rewritten', async () => {
    const sealed = await credentials({ 'mcp.b.header.0': HEADER, 'mcp.b.header.0.origin': 'https://tools.example' });
    requireSeal(publicKeyText(operator), subject);
    const entry = [{ name: 'authorization', file: join(sealed, 'mcp.b.header.0'), requireOrigin: true }];
    expect((await resolveValues('b', 'header', entry, 'https://tools.example')).values).toEqual({ authorization: HEADER });

    await writeFile(join(sealed, 'mcp.b.header.0.origin'), 'https://theirs.example');
    const error = await resolveValues('b', 'header', entry, 'https://theirs.example').catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('mcp.b.header.0.origin is not sealed by the Airlock operator for this sandbox (its content is not the one sealed)');
    expect((error as Error).message).not.toContain(HEADER);
  });
});
