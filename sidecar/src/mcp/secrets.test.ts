import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveValues, SecretFileError, SecretValueError, SecretWithheldError } from './secrets.js';

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

  it('refuses an env value with a NUL byte and a header value with a control character or one past U+00FF, naming the entry, never the value', async () => {
    // A binary Secret key (a keystore, a DER key) or a token written with a stray \0: spawn() and
    // undici would refuse it with a message that quotes it.
    const dir = await mkdtemp(join(tmpdir(), 'airlock-secrets-'));
    const secret = 'tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
    await writeFile(join(dir, 'nul'), `${secret}\0binary-tail`);
    await writeFile(join(dir, 'crlf'), `${secret}\r\nX-Injected: 1`);
    await writeFile(join(dir, 'euro'), `${secret}€`);
    await writeFile(join(dir, 'bom'), `\ufeff${secret}`);
    await writeFile(join(dir, 'soh'), `${secret}\x01`);
    const env = await resolveValues('tools', 'env', [{ name: 'API_TOKEN', file: join(dir, 'nul') }]).catch((e: unknown) => e);
    expect(env).toBeInstanceOf(SecretValueError);
    expect((env as Error).message).toBe(`backend "tools": env API_TOKEN from ${join(dir, 'nul')} holds a NUL byte, which a process environment cannot carry`);
    for (const file of ['nul', 'crlf', 'euro', 'bom', 'soh']) {
      const header = await resolveValues('web', 'header', [{ name: 'Authorization', file: join(dir, file) }]).catch((e: unknown) => e);
      expect(header).toBeInstanceOf(SecretValueError);
      expect((header as Error).message).toContain(`header Authorization from ${join(dir, file)} holds a control character or one past U+00FF`);
      expect((header as Error).message).not.toContain(secret.slice(4, 12));
    }
    // A line break in an env value is an ordinary value; a trailing one is still dropped.
    await writeFile(join(dir, 'lines'), 'line-one\nline-two\n');
    expect((await resolveValues('tools', 'env', [{ name: 'MULTI', file: join(dir, 'lines') }])).values).toEqual({ MULTI: 'line-one\nline-two' });
  });
});
