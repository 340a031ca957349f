import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { SecretRegistry } from './redact.js';

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
