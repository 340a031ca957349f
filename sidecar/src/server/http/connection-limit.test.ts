import { describe, expect, it } from 'vitest';
import { HttpApp } from './app.js';
import { agentConnectionLimit, isLocalPeer, MAX_AGENT_CONNECTIONS, softFileLimit } from './connection-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             63304                63304                processes
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('agentConnectionLimit', () => {
  it('reads the soft file limit', () => {
    expect(softFileLimit(LIMITS)).toBe(1024);
    expect(softFileLimit(LIMITS.replace('1024   ', 'unlimited'))).toBe(Infinity);
    expect(softFileLimit('nothing here')).toBe(Infinity);
  });

  it('gives a listener an eighth of the file limit, at most 1,024 and at least 16', () => {
    expect(agentConnectionLimit(1024)).toBe(128);
    expect(agentConnectionLimit(1_048_576)).toBe(MAX_AGENT_CONNECTIONS);
    expect(agentConnectionLimit(Infinity)).toBe(MAX_AGENT_CONNECTIONS);
    expect(agentConnectionLimit(64)).toBe(16);
  });
});

describe('HttpApp', () => {
  it('bounds the time headers may take (Node turns it off with requestTimeout 0) and, when asked, the connections held', () => {
    const noop = () => undefined;
    const app = new HttpApp({ bodyLimit: 1, badTarget: noop, notFound: noop, closing: noop, maxConnections: 7 });
    expect(app.server.requestTimeout).toBe(0);
    expect(app.server.headersTimeout).toBe(60_000);
    expect(app.server.maxConnections).toBe(7);
  });
});

describe('isLocalPeer', () => {
  const own = new Set(['10.1.2.3', 'fd00::5']);
  it.each([
    ['127.0.0.1', '10.1.2.3', true],
    ['::ffff:127.0.0.5', '::ffff:10.1.2.3', true],
    ['::1', '::1', true],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3', true],
    ['fd00::5', 'fd00::9', true],
    ['10.1.2.3', '10.1.2.4', true],
    ['10.9.9.9', '10.1.2.3', false],
    ['::ffff:10.9.9.9', '::ffff:10.1.2.3', false],
    ['fd00::7', 'fd00::5', false],
  ])('%s connecting to %s: %s', (remoteAddress, localAddress, local) => {
    expect(isLocalPeer({ remoteAddress, localAddress }, own)).toBe(local);
  });
});
