import { describe, expect, it } from 'vitest';
import { connect } from 'node:net';
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
  it('bounds the time a request may take to arrive (headers, then the whole request) and, when asked, the connections held', () => {
    const noop = () => undefined;
    const app = new HttpApp({ bodyLimit: 1, badTarget: noop, notFound: noop, closing: noop, maxConnections: 7 });
    expect(app.server.requestTimeout).toBe(120_000);
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

/** Writes `bytes` to 127.0.0.1:`port` and returns what came back until the server closed; chunked framing removed crudely (sizes dropped). */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text.replace(/\r\n[0-9a-f]+\r\n/g, '')));
  });
}

describe('HttpApp timeouts', () => {
  it('close a connection whose body never ends, and not one whose answer streams longer than they are', async () => {
    const app = new HttpApp({ bodyLimit: 1024, badTarget: () => undefined, notFound: () => undefined, closing: () => undefined });
    app.router.add(
      'POST',
      '/stream',
      async (_request, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < 8; i++) {
          res.write(`${i}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        res.end();
      },
      { onError: () => undefined },
    );
    // The product's values scaled down (the checking interval is read when the server listens).
    Object.assign(app.server, { requestTimeout: 300, headersTimeout: 200, connectionsCheckingInterval: 50 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.address();
    try {
      const head = 'POST /stream HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nConnection: close\r\n';
      const slow = await exchange(port, `${head}Content-Length: 100\r\n\r\n{"a":`);
      expect(slow).not.toContain('01234567');
      const streamed = await exchange(port, `${head}Content-Length: 2\r\n\r\n{}`);
      expect(streamed).toMatch(/^HTTP\/1\.1 200/);
      expect(streamed).toContain('01234567');
    } finally {
      await app.close();
    }
  });
});
