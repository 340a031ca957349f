import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { useRefused } from './credentials.js';

const secret = (hosts?: string): V1Secret => ({ metadata: { name: 's', labels: { 'airlock.dev/credential': 'true' }, ...(hosts === undefined ? {} : { annotations: { 'airlock.dev/credential-hosts': hosts } }) } });
const provider = (url: string | undefined) => ({ kind: 'ModelProvider' as const, url });

describe('useRefused (consent per use)', () => {
  it('without the annotation: allowed, unless hosts are required', () => {
    expect(useRefused(secret(), provider('https://evil.test'), false)).toBeUndefined();
    expect(useRefused(secret(), provider('https://api.openai.com/v1'), true)).toContain('has no airlock.dev/credential-hosts annotation');
  });

  it('matches a host over https on any port, host:port on that port only (default ports included), *.domain below it, case-insensitively', () => {
    const s = secret(' API.openai.com , *.openai.azure.com,10.0.0.5:8000,[fd00::1]:443 ');
    for (const url of ['https://api.openai.com/v1', 'https://api.openai.com:8443', 'https://team.openai.azure.com/openai', 'http://10.0.0.5:8000/v1', 'https://[fd00::1]/v1']) {
      expect(useRefused(s, provider(url), true), url).toBeUndefined();
    }
    for (const url of ['https://openai.azure.com', 'https://api.openai.com.evil.test', 'https://evilopenai.azure.com', 'http://10.0.0.5:8001', 'http://10.0.0.5', 'http://[fd00::1]:80', 'https://user@evil.test']) {
      expect(useRefused(s, provider(url), false), url).toMatch(/^Secret s is not for /);
    }
  });

  it('a host or *.domain without a port is for https only: a downgrade to plain http is refused, however the URL is spelt', () => {
    const s = secret('api.openai.com,*.openai.azure.com,[fd00::1],10.0.0.5:8000');
    for (const url of ['http://api.openai.com/v1', 'HTTP://API.OPENAI.COM:443/v1', 'http://api.openai.com:8080', 'http://team.openai.azure.com', 'http://[fd00::1]:443', 'http://user:pw@api.openai.com']) {
      expect(useRefused(s, provider(url), false), url).toMatch(/over https only; the ModelProvider would send it in the clear to http:\/\//);
    }
    // The owner who names a port allows that port whatever the scheme (an in-cluster server on plain http).
    expect(useRefused(s, provider('http://10.0.0.5:8000'), true)).toBeUndefined();
    expect(useRefused(s, provider('http://api.openai.com'), false)).toBe('Secret s is for api.openai.com over https only; the ModelProvider would send it in the clear to http://api.openai.com (its owner may name api.openai.com:80 in airlock.dev/credential-hosts to allow that)');
  });

  it('compares the host the request would really go to, however the URL is spelt', () => {
    const s = secret('api.openai.com,*.openai.azure.com,[fd00::1]');
    // Userinfo, a backslash (a path separator in https URLs), a percent-encoded dot, a homoglyph
    // (punycode), a trailing dot, a wildcard's own domain under another: all another host.
    for (const url of ['https://api.openai.com:443@evil.test/v1', 'https://api.openai.com@evil.test', 'https://evil.test\\@api.openai.com/v1', 'https://api.openai.com%2eevil.test', 'https://\u0430pi.openai.com', 'https://api.openai.com./v1', 'https://x.openai.azure.com.evil.test', 'https://[fd00::1%25eth0]', 'https://[fd00::10]']) {
      expect(useRefused(s, provider(url), false), url).toMatch(/^Secret s is not for |not a valid URL/);
    }
    // Spellings of the same host are that host.
    for (const url of ['https://API.OpenAI.com/v1', 'https://user:pw@api.openai.com/v1', 'https://[FD00:0:0:0:0:0:0:1]:8443']) {
      expect(useRefused(s, provider(url), false), url).toBeUndefined();
    }
  });

  it('refuses a stdio process (no host) and an invalid URL', () => {
    expect(useRefused(secret('api.openai.com'), { kind: 'MCPBackend', url: undefined }, false)).toContain('a stdio MCPBackend has no host');
    expect(useRefused(secret('api.openai.com'), provider('not a url'), false)).toContain('not a valid URL');
  });
});
