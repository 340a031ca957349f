import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveValues, SecretFileError, SecretWithheldError } from './secrets.js';

describe('resolveValues', () => {
  it('reads file values (dropping one trailing newline) and reports them as secrets', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-secrets-'));
    await writeFile(join(dir, 'token'), 'tok-123456\n');
    const resolved = await resolveValues('gh', 'header', [
      { name: 'Authorization', file: join(dir, 'token') },
      { name: 'X-Plain', value: 'visible' },
    ]);
    expect(resolved.values).toEqual({ Authorization: 'tok-123456', 'X-Plain': 'visible' });
    expect(resolved.secrets).toEqual(['tok-123456']);
  });

  it('names the backend, entry and path of an unreadable file, never a value', async () => {
    const err = await resolveValues('gh', 'env', [{ name: 'TOKEN', file: '/nonexistent/airlock/token' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretFileError);
    expect((err as Error).message).toBe('backend "gh": cannot read env TOKEN from /nonexistent/airlock/token: ENOENT');
  });

  it('sends a requireOrigin file only to the origin recorded next to it, and names origins, never the value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-secrets-'));
    await writeFile(join(dir, 'token'), 'tok-654321\n');
    const entry = [{ name: 'Authorization', file: join(dir, 'token'), requireOrigin: true }];
    const withheld = () => resolveValues('gh', 'header', entry, 'https://b.example').catch((e: unknown) => e);
    expect(await withheld()).toBeInstanceOf(SecretWithheldError); // no origin file
    await writeFile(join(dir, 'token.origin'), 'https://a.example\n');
    const err = await withheld();
    expect(err).toBeInstanceOf(SecretWithheldError);
    expect((err as Error).message).toContain('accepted for another origin than https://b.example');
    expect((err as Error).message).not.toContain('tok-654321');
    expect((await resolveValues('gh', 'header', entry, 'https://a.example')).values).toEqual({ Authorization: 'tok-654321' });
    await expect(resolveValues('gh', 'header', entry)).rejects.toBeInstanceOf(SecretWithheldError);
  });
});
