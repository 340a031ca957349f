import { request as httpRequest, Agent } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpApp } from './app.js';
import { writeJson } from './reply.js';

const apps: HttpApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** An app on a free loopback port whose refusals say what happened in a small JSON body. */
async function start(setup: (app: HttpApp) => void, bodyLimit = 1024): Promise<{ app: HttpApp; port: number }> {
  const app = new HttpApp({
    bodyLimit,
    badTarget: (_r, res) => writeJson(res, 400, { refused: 'bad target' }),
    notFound: (r, res) => writeJson(res, 404, { refused: `no route ${r.method} ${r.rawPath}` }),
    closing: (_r, res) => writeJson(res, 503, { refused: 'closing' }),
  });
  setup(app);
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: app.address().port };
}

const onError = (err: unknown, _request: unknown, res: import('node:http').ServerResponse) => writeJson(res, (err as { status?: number }).status ?? 500, { refused: (err as Error).message });

/** One raw exchange: the bytes written, what came back until the server closed the connection. */
function raw(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(text) : reject(err)));
    socket.on('close', () => resolve(text));
    socket.write(bytes);
  });
}

describe('HttpApp', () => {
  it('reads a JSON body as bytes, and answers with what the handler returns', async () => {
    const { port } = await start((app) => app.router.add('POST', '/echo', (r) => ({ got: (r.body as Buffer).toString() }), { onError }));
    const answer = await raw(port, 'POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: 7\r\nconnection: close\r\n\r\n{"a":1}');
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    expect(answer).toContain('{"got":"{\\"a\\":1}"}');
  });

  it('refuses a declared length over the limit with 413 before reading a byte of the body, and closes the connection', async () => {
    let handled = false;
    const { port } = await start((app) => app.router.add('POST', '/x', () => (handled = true), { onError }), 10);
    // The body is never sent: an answer that waited for it would never come.
    const answer = await raw(port, 'POST /x HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 413/);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer).toContain('Request body is too large');
    expect(handled).toBe(false);
  });

  it('refuses a chunked body with 413 once it passes the limit, without waiting for its end', async () => {
    const { port } = await start((app) => app.router.add('POST', '/x', () => ({}), { onError }), 10);
    const answer = await raw(port, 'POST /x HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n20\r\n' + 'x'.repeat(32) + '\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 413/);
  });

  it('answers 415 for a body of another type or of none, and reads no body for GET', async () => {
    const { port } = await start((app) => {
      app.router.add('POST', '/x', () => ({}), { onError });
      app.router.add('GET', '/y', (r) => ({ body: r.body ?? null }), { onError });
    });
    for (const type of ['content-type: text/xml\r\n', 'content-type: nonsense\r\n', '']) {
      expect(await raw(port, `POST /x HTTP/1.1\r\nhost: x\r\n${type}content-length: 2\r\nconnection: close\r\n\r\n{}`)).toMatch(/^HTTP\/1.1 415/);
    }
    expect(await raw(port, 'POST /x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 200/);
    expect(await raw(port, 'GET /y HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).toContain('{"body":null}');
  });

  it('sends what a handler throws, sync or async, through the route\'s error handler', async () => {
    const { port } = await start((app) => {
      app.router.add('GET', '/sync', () => {
        throw Object.assign(new Error('sync'), { status: 418 });
      }, { onError });
      app.router.add('GET', '/async', async () => {
        throw Object.assign(new Error('async'), { status: 409 });
      }, { onError });
    });
    expect(await raw(port, 'GET /sync HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 418[^]*"sync"/);
    expect(await raw(port, 'GET /async HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 409[^]*"async"/);
    expect(await raw(port, 'GET /v1/x%zz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 400[^]*bad target/);
    expect(await raw(port, 'GET /nope?x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).toContain('no route GET /nope');
  });

  it('while closing: a stream in flight finishes, a new request on an open connection gets the closing answer, and close() waits for both', async () => {
    let finishStream!: () => void;
    const { app, port } = await start((a) => {
      a.router.add('GET', '/stream', (_r, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        finishStream = () => res.end('data: 2\n\n');
      }, { onError });
      a.router.add('GET', '/ok', () => ({ ok: true }), { onError });
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
        httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body, connection: res.headers.connection }));
        }).on('error', reject).end();
      });
    // An idle keep-alive connection, then the stream on a second one.
    expect((await get('/ok')).status).toBe(200);
    const second = new Agent({ keepAlive: true, maxSockets: 1 });
    const stream = new Promise<string>((resolve) => {
      httpRequest({ host: '127.0.0.1', port, path: '/stream', agent: second }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      }).end();
    });
    await expect.poll(() => finishStream).toBeDefined();
    let closed = false;
    const closing = app.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false);
    finishStream();
    expect(await stream).toBe('data: 1\n\ndata: 2\n\n');
    await closing;
    expect(closed).toBe(true);
    agent.destroy();
    second.destroy();
  });

  it('while closing: a connection that sent nothing, half its headers or half its body does not hold close() (Node stops its header and request timeouts then)', async () => {
    const { app, port } = await start((a) => a.router.add('POST', '/echo', (r) => ({ body: String(r.body) }), { onError }));
    // Node's own bound on a body, shortened: the half-sent body is cut when it passes it.
    app.server.requestTimeout = 300;
    const open = (bytes: string) =>
      new Promise<{ closed: Promise<unknown> }>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port }, () => {
          if (bytes) socket.write(bytes);
          resolve({ closed: new Promise((closed) => socket.on('close', closed)) });
        });
        socket.on('error', () => undefined);
      });
    const silent = await open('');
    const halfHeaders = await open('POST /echo HTTP/1.1\r\nhost: x\r\n');
    // The last one's request reaches the app (its body is being read) before the server closes.
    const arrived = new Promise((resolve) => app.server.once('request', resolve));
    const halfBody = await open('POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{"a"');
    await arrived;
    await app.close();
    await Promise.all([silent.closed, halfHeaders.closed, halfBody.closed]);
  });

  it('answers a request that arrives on an open connection while closing with the closing answer, and closes that connection', async () => {
    let release!: () => void;
    const { app, port } = await start((a) => {
      a.router.add('GET', '/slow', (_r, res) => void (release = () => writeJson(res, 200, { slow: true })), { onError });
      a.router.add('GET', '/ok', () => ({ ok: true }), { onError });
    });
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    const ended = new Promise((resolve) => socket.on('close', resolve));
    socket.write('GET /slow HTTP/1.1\r\nhost: x\r\n\r\n');
    await expect.poll(() => release).toBeDefined();
    // The connection is busy, so closing leaves it open; the next request on it arrives after.
    const closing = app.close();
    socket.write('GET /ok HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await ended;
    await closing;
    expect(answer).toMatch(/^HTTP\/1.1 200[^]*"slow":true[^]*HTTP\/1.1 503[^]*connection: close[^]*"refused":"closing"/i);
  });
});
