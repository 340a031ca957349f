import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { KEY_SHAPE_PATTERN, looksLikeKey, REDACTED, redactor, SecretRegistry } from './redact.js';

describe('SecretRegistry', () => {
  it('replaces every registered value, longest first', () => {
    const secrets = new SecretRegistry();
    secrets.set('openai', ['sk-proj-abcdef123456', 'sk-proj-abcdef']);
    expect(secrets.scrub('key sk-proj-abcdef123456 and sk-proj-abcdef.')).toBe('key [REDACTED] and [REDACTED].');
  });

  it('forgets an owner\'s old values when they are replaced', () => {
    const secrets = new SecretRegistry();
    secrets.set('p', ['old-secret-1']);
    secrets.set('p', ['new-secret-2']);
    expect(secrets.scrub('old-secret-1 new-secret-2')).toBe('old-secret-1 [REDACTED]');
  });

  it('treats regex characters in secrets literally', () => {
    const secrets = new SecretRegistry();
    secrets.set('p', ['a+b*c(d)e$']);
    expect(secrets.scrub('x a+b*c(d)e$ y aabbcde')).toBe('x [REDACTED] y aabbcde');
  });
});

describe('redactor', () => {
  it('removes a secret in the forms servers echo it: as is, percent-encoded, JSON-escaped, the token of a credential', () => {
    const redact = redactor(['Bearer tok/en+"quoted"-12345']);
    const text = `a Bearer tok/en+"quoted"-12345 b ${encodeURIComponent('tok/en+"quoted"-12345')} c ${JSON.stringify('tok/en+"quoted"-12345')} d tok/en+"quoted"-12345`;
    expect(redact(text)).not.toMatch(/tok|quoted|12345/);
  });

  it("removes a secret as Node's errors quote a value they refuse (util.inspect), also inside a JSON log line", () => {
    // spawn() refusing an env value from a Secret that holds a NUL byte.
    const secret = 'tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0\0binary-tail';
    const message = `The property 'options.env['API_TOKEN']' must be a string without null bytes. Received 'tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0\\x00binary-tail'`;
    const redact = redactor([secret]);
    expect(redact(message)).toBe("The property 'options.env['API_TOKEN']' must be a string without null bytes. Received '[REDACTED]'");
    expect(redact(JSON.stringify({ err: message }))).not.toContain('9f8e7d6c5b4a');
    const quoted = "it's a 'quoted' value";
    expect(redactor([quoted])(`Received "it's a 'quoted' value"`)).toBe('Received "[REDACTED]"');
  });

  it('removes a secret echoed in base64, base64url or hex, alone or inside a longer encoded text, at any byte offset', () => {
    const key = 'sk-proj-Zq9/+Encoded0123456789abcdef';
    const redact = redactor([`Bearer ${key}`]);
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const echoes = [
      b64(`Bearer ${key}`),
      b64(key),
      Buffer.from(key).toString('base64url'),
      b64(`{"authorization":"Bearer ${key}","host":"api"}`),
      b64(`x${key}`),
      b64(`xy${key}`),
      Buffer.from(`user:${key}`).toString('base64'),
      Buffer.from(key).toString('hex'),
      Buffer.from(key).toString('hex').toUpperCase(),
    ];
    for (const echo of echoes) {
      const out = redact(`debug=${echo};`);
      expect(out, echo).toContain(REDACTED);
      // What is left around the replacement is a few characters of the encoded neighbours, no run of the key's.
      for (const form of [b64(key).slice(4, 16), Buffer.from(key).toString('hex').slice(8, 24)]) expect(out).not.toContain(form);
    }
    // Encoded text of something else is left alone.
    const other = b64('an ordinary header dump without any key in it');
    expect(redact(other)).toBe(other);
  });

  it('replaces every occurrence, longest secret first, and leaves ordinary text alone', () => {
    expect(redactor(['abc123', 'abc123xyz'])('a abc123xyz b abc123 c')).toBe('a [REDACTED] b [REDACTED] c');
    expect(redactor([])('nothing secret in task-force or masks')).toBe('nothing secret in task-force or masks');
  });

  it('removes key-shaped and masked tokens it was not told about', () => {
    const redact = redactor([]);
    expect(redact('Incorrect API key provided: sk-proj-****abcd. Next')).toBe('Incorrect API key provided: [REDACTED]. Next');
    expect(redact('key AIzaSyB7n2Kq9Lx4Vm1Zr8Tc5Wp3Hd6Jf0Gs2Yb here')).toBe('key [REDACTED] here');
    expect(redact('token ghp_abcdefghijklmnopqrstuvwxyz0123 and abc*****wxyz')).toBe('token [REDACTED] and [REDACTED]');
  });
});

describe('KEY_SHAPE_PATTERN', () => {
  it('tells key-shaped values from ordinary ones (what the CRDs refuse inline)', () => {
    for (const key of ['sk-ant-api03-abcdefghijkl', 'Bearer abcdef123456', 'xoxb-1234567890-abcdef', 'AKIAABCDEFGHIJKLMNOP', '-----BEGIN RSA PRIVATE KEY-----']) expect(looksLikeKey(key), key).toBe(true);
    for (const plain of ['application/json', 'task-force-12345678', 'Bearer', 'info', '/usr/bin/node --max-old-space-size=512']) expect(looksLikeKey(plain), plain).toBe(false);
    // RE2 has no lookaround: the CRDs' CEL rules compile the same pattern.
    expect(KEY_SHAPE_PATTERN).not.toMatch(/\(\?[=!<]/);
  });
});

describe('createLogger', () => {
  it('writes no secret value, whatever field it hides in', async () => {
    const secrets = new SecretRegistry();
    secrets.set('anthropic', ['sk-ant-api03-SECRETVALUE']);
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const logger = createLogger({ level: 'debug', secrets, destination });
    logger.info({ err: new Error('upstream said: bad key sk-ant-api03-SECRETVALUE') }, 'call failed');
    logger.debug({ headers: { 'x-api-key': 'sk-ant-api03-SECRETVALUE' } }, 'sk-ant-api03-SECRETVALUE');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(2);
    expect(lines.join('')).not.toContain('SECRETVALUE');
    expect(lines.join('')).toContain('[REDACTED]');
  });
});

describe('masked tokens', () => {
  // The expression masked tokens were found with (quadratic on a long token without stars).
  const MASKED = /[^\s"'`,;:()[\]{}<>]*\*{3,}[^\s"'`,;:()[\]{}<>.]*/g;
  const redact = redactor([]);

  it('are found as the expression found them, whatever surrounds them', () => {
    const text = fc.string({ unit: fc.constantFrom('*', '*', 'a', 'b', '.', ' ', '"', ':', '[', '\n', '\u00a0', '-') });
    fc.assert(
      fc.property(text, (t) => {
        expect(redact(t)).toBe(t.replace(MASKED, REDACTED));
      }),
      { numRuns: 2000 },
    );
  });

  it('take time in proportion to the text: a token of two million letters, with and without stars', () => {
    const long = 'a'.repeat(2_000_000);
    expect(redact(long)).toBe(long);
    expect(redact(`${long}***b ${long}`)).toBe(`${REDACTED} ${long}`);
  });
});
