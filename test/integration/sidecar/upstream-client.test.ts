/**
 * The sidecar's upstream client (sidecar/src/upstream/client.ts: a pool of kept-alive
 * connections per provider, each answer parsed by Node's own HTTP parser) against real local HTTP(S) servers: what a provider's server can
 * do to a connection — close it when idle, answer 1xx or 3xx, send headers too large, cut the body,
 * mis-state its length, stall — and what the relay must see each time (ADRs 0023, 0028).
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../../operator/src/tls/certificates.js';
import { bodyText, CallAbort, ProviderClient, type ClientOptions } from '../../../sidecar/src/upstream/client.js';
import { Pool } from '../../../sidecar/src/upstream/connection.js';
import { classifyError, UpstreamFailure } from '../../../sidecar/src/upstream/failure.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A Node HTTP server on loopback; every request's body is read before `handler` runs. */
async function serve(handler: Handler, configure?: (server: Server) => void): Promise<{ url: string; server: Server; connections: () => number; requests: string[] }> {
  let connections = 0;
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume().on('end', () => handler(req, res));
  });
  server.on('connection', () => connections++);
  configure?.(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, connections: () => connections, requests };
}

/** A raw TCP server: each connection handed to `onConnection`, for answers Node's server will not write. */
async function raw(onConnection: (socket: Socket, index: number) => void): Promise<{ url: string; server: NetServer }> {
  let index = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket)).on('error', () => undefined);
    onConnection(socket, index++);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Calls back once per complete request head (`\r\n\r\n`) on the socket, bodies ignored. */
function onRequests(socket: Socket, each: (n: number) => void): void {
  let seen = '';
  let n = 0;
  socket.on('data', (data) => {
    seen += data.toString('latin1');
    for (let at = seen.indexOf('\r\n\r\n'); at >= 0; at = seen.indexOf('\r\n\r\n')) {
      seen = seen.slice(at + 4).replace(/^[^\r]*?(?=POST|GET|$)/s, '');
      each(n++);
    }
  });
}

function client(options: Partial<ClientOptions> = {}): ProviderClient {
  const c = new ProviderClient({ name: 'up', timeouts: { connectMs: 5_000, firstByteMs: 5_000, idleMs: 5_000 }, ...options });
  closers.push(() => c.close());
  return c;
}

const post = (url: string, body = '{"q":1}') => ({ method: 'POST' as const, url: `${url}/v1/chat/completions`, headers: { 'content-type': 'application/json' }, body });

/** A whole answer through `json`, or the UpstreamFailure it threw. */
async function json(c: ProviderClient, url: string, abort = new CallAbort()) {
  return c.json(post(url), abort).catch((err: unknown) => err as UpstreamFailure);
}

/** A streamed answer through `send`, read to its end, or the classified failure of the send or of the read. */
async function streamed(c: ProviderClient, url: string, abort = new CallAbort()): Promise<{ status: number; text: string } | UpstreamFailure> {
  let response;
  try {
    response = await c.send(post(url), abort);
  } catch (err) {
    return err as UpstreamFailure;
  }
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
  } catch (err) {
    return classifyError(abort.reason ?? err, 'up', 'body');
  }
  return { status: response.status, text: Buffer.concat(chunks).toString('utf8') };
}

const ok: Handler = (_req, res) => res.end('{"ok":true}');

describe('a kept-alive connection the provider closes when idle', () => {
  it('is not used after the provider closed it: a call 1.2 s after the last, with the server keeping sockets 1 s, succeeds (plain and streamed)', async () => {
    const upstream = await serve(ok, (server) => (server.keepAliveTimeout = 1_000));
    const c = client();
    for (const call of [json, streamed] as const) {
      const first = await call(c, upstream.url);
      expect(first).toMatchObject({ status: 200 });
      await sleep(1_200);
      const second = await call(c, upstream.url);
      expect(second).toMatchObject({ status: 200 });
    }
    expect(upstream.requests).toHaveLength(4);
  });

  it('succeeds when the provider closes idle sockets after 1 s without a Keep-Alive hint (plain and streamed)', async () => {
    // A server (a load balancer, say) that keeps a connection 1 s after each answer and never says so.
    let connections = 0;
    const upstream = await raw((socket) => {
      connections++;
      let idle: NodeJS.Timeout | undefined;
      onRequests(socket, () => {
        clearTimeout(idle);
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}');
        idle = setTimeout(() => socket.end(), 1_000);
      });
      socket.on('close', () => clearTimeout(idle));
    });
    const c = client();
    for (const call of [json, streamed] as const) {
      expect(await call(c, upstream.url)).toMatchObject({ status: 200 });
      await sleep(1_200);
      expect(await call(c, upstream.url)).toMatchObject({ status: 200 });
    }
    // A new connection after each pause; the streamed call right after the second plain one reuses its connection.
    expect(connections).toBe(3);
  });

  it('sends a request again on a new connection when the kept-alive one is reset as it is written (the close-at-write race), plain and streamed', async () => {
    // The server answers the first request on each connection with keep-alive and no hint, and
    // resets the connection when the next request arrives on it: what a client sees when the
    // provider closed the idle socket just as the request was written.
    const heads: number[] = [];
    const upstream = await raw((socket, index) => {
      onRequests(socket, (n) => {
        heads.push(index);
        if (n === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: keep-alive\r\n\r\n{"ok":true}');
        else socket.resetAndDestroy();
      });
    });
    const c = client();
    for (const call of [json, streamed] as const) {
      expect(await call(c, upstream.url)).toMatchObject({ status: 200 });
      expect(await call(c, upstream.url)).toMatchObject({ status: 200 });
    }
    // Every call after the first was written on a kept-alive connection, reset, and sent again on
    // a new one: seven requests seen for four answers.
    expect(heads).toEqual([0, 0, 1, 1, 2, 2, 3]);
  });

  it('does not send again a request whose fresh connection is reset: the provider may have it', async () => {
    let heads = 0;
    const upstream = await raw((socket) => onRequests(socket, () => (heads++, socket.resetAndDestroy())));
    const failure = await json(client(), upstream.url);
    expect(failure).toBeInstanceOf(UpstreamFailure);
    expect(failure).toMatchObject({ kind: 'connect', error: { status: 502, message: 'cannot reach provider up (ECONNRESET)' } });
    expect(heads).toBe(1);
  });
});

describe('what the provider answers', () => {
  it("sends the request's headers with the target's Host and the body's own Content-Length: no configured header says where a request goes or how it is framed", async () => {
    const seen: Record<string, string | undefined>[] = [];
    const upstream = await serve((req, res) => {
      seen.push({ host: req.headers.host, length: req.headers['content-length'], te: req.headers['transfer-encoding'], connection: req.headers.connection, upgrade: req.headers.upgrade, forwarded: req.headers.forwarded ?? (req.headers['x-forwarded-host'] as string | undefined), custom: req.headers['x-custom'] as string | undefined });
      res.end('{}');
    });
    const c = client();
    await c.json({ ...post(upstream.url, '{"é":1}'), headers: { 'x-custom': 'a' } }, new CallAbort());
    // A provider's key is bound to its baseURL's host (ADR 16): a configured Host sent it to
    // another virtual host behind the same front end; Transfer-Encoding beside Content-Length
    // made a request that front ends split differently.
    await c.json({ ...post(upstream.url), headers: { Host: 'attacker.example', 'Content-Length': '999', 'Transfer-Encoding': 'chunked', Connection: 'upgrade', Upgrade: 'websocket', 'X-Forwarded-Host': 'attacker.example', Forwarded: 'host=attacker.example', 'x-custom': 'b' } }, new CallAbort());
    const host = new URL(upstream.url).host;
    expect(seen).toEqual([
      { host, length: '8', te: undefined, connection: 'keep-alive', upgrade: undefined, forwarded: undefined, custom: 'a' },
      { host, length: '7', te: undefined, connection: 'keep-alive', upgrade: undefined, forwarded: undefined, custom: 'b' },
    ]);
  });

  it('skips 1xx answers before the real one (plain and streamed)', async () => {
    const upstream = await serve((_req, res) => {
      res.writeProcessing();
      res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      res.end('{"ok":true}');
    });
    const c = client();
    expect(await json(c, upstream.url)).toMatchObject({ status: 200, body: Buffer.from('{"ok":true}') });
    expect(await streamed(c, upstream.url)).toEqual({ status: 200, text: '{"ok":true}' });
  });

  it('never follows a redirect: the 3xx is the answer, and the target sees nothing', async () => {
    const elsewhere = await serve(ok);
    const upstream = await serve((_req, res) => res.writeHead(307, { location: `${elsewhere.url}/v1/chat/completions` }).end());
    const c = client();
    expect(await json(c, upstream.url)).toMatchObject({ status: 307 });
    expect(await streamed(c, upstream.url)).toMatchObject({ status: 307 });
    expect(elsewhere.requests).toEqual([]);
  });

  it('reads a chunked answer whole (plain) and chunk by chunk (streamed)', async () => {
    const upstream = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      setTimeout(() => res.end('data: 2\n\n'), 20);
    });
    const c = client();
    const answer = await json(c, upstream.url);
    expect(answer).toMatchObject({ status: 200, headers: { 'transfer-encoding': 'chunked' } });
    expect((answer as { body: Buffer }).body.toString()).toBe('data: 1\n\ndata: 2\n\n');
    expect(await streamed(c, upstream.url)).toEqual({ status: 200, text: 'data: 1\n\ndata: 2\n\n' });
  });

  it('refuses response headers over Node\'s 16 KiB limit with a clear 502', async () => {
    const upstream = await serve((_req, res) => res.writeHead(200, { 'x-big': 'a'.repeat(20_000) }).end('{}'));
    const c = client();
    for (const failure of [await json(c, upstream.url), await streamed(c, upstream.url)]) {
      expect(failure).toBeInstanceOf(UpstreamFailure);
      expect(failure).toMatchObject({ kind: 'connect', error: { status: 502, message: 'provider up sent response headers larger than 16384 bytes' } });
    }
  });

  it('an answer closed mid-body is a failure of the body (plain and streamed)', async () => {
    const upstream = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"choices":[');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const c = client();
    for (const failure of [await json(c, upstream.url), await streamed(c, upstream.url)]) {
      expect(failure).toBeInstanceOf(UpstreamFailure);
      expect(failure).toMatchObject({ kind: 'connect', error: { status: 502, message: 'provider up closed the connection (ECONNRESET)' } });
    }
  });

  it('an answer shorter than its content-length is a failure of the body; one longer is cut at it and its connection not reused', async () => {
    // The first connection states 100 bytes, sends 9 and closes; the others send 11 and then more.
    const upstream = await raw((socket, index) =>
      onRequests(socket, () => {
        if (index === 0) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"short":');
        else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{"ok":true}EXTRA BYTES NOT PART OF IT\r\n');
      }),
    );
    const c = client();
    expect(await json(c, upstream.url)).toMatchObject({ kind: 'connect', error: { message: 'provider up closed the connection (ECONNRESET)' } });
    const answer = await json(c, upstream.url);
    expect((answer as { body: Buffer }).body.toString()).toBe('{"ok":true}');
    // The bytes after the stated length are not taken for the next answer.
    expect(await json(c, upstream.url)).toMatchObject({ status: 200, body: Buffer.from('{"ok":true}') });
  });
});

describe('answers larger than the client holds', () => {
  /** `size` bytes of JSON-ish text in 64 KiB writes, with `status`. */
  const large = (size: number, status = 200): Handler => (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    const piece = 'x'.repeat(64 * 1024);
    let sent = 0;
    const more = () => {
      while (sent < size) {
        const chunk = piece.slice(0, Math.min(piece.length, size - sent));
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  };

  it('fails past maxResponseBytes as too large: not worth another attempt, and nothing against the provider', async () => {
    const upstream = await serve(large(256 * 1024));
    const failure = await json(client({ maxResponseBytes: 64 * 1024 }), upstream.url);
    expect(failure).toBeInstanceOf(UpstreamFailure);
    expect(failure).toMatchObject({ kind: 'too_large', retryable: false, countsAgainstProvider: false, error: { status: 502 } });
    expect((failure as UpstreamFailure).error.message).toMatch(/^provider up sent a response larger than 65536 bytes, .*ask for less in one call$/);
  });

  it('spills a 2xx answer past spillAbove: its start, then the rest as a stream, unbounded by maxResponseBytes', async () => {
    const size = 3 * 1024 * 1024 + 17;
    const upstream = await serve(large(size));
    const c = client({ maxResponseBytes: 64 * 1024 });
    const answer = await c.json(post(upstream.url), new CallAbort(), 256 * 1024);
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBeGreaterThan(256 * 1024);
    expect(answer.body.length).toBeLessThan(size);
    const rest: Buffer[] = [];
    for await (const chunk of answer.rest!) rest.push(chunk as Buffer);
    expect(answer.body.length + Buffer.concat(rest).length).toBe(size);
    // An answer within spillAbove is read whole as before.
    const small = await c.json(post(upstream.url), new CallAbort(), 8 * 1024 * 1024);
    expect(small.rest).toBeUndefined();
  });

  it('never spills an error answer: it stays bounded', async () => {
    const upstream = await serve(large(1024 * 1024, 500));
    const failure = await client({ maxResponseBytes: 64 * 1024 }).json(post(upstream.url), new CallAbort(), 16 * 1024).catch((err: unknown) => err);
    expect(failure).toMatchObject({ kind: 'too_large' });
  });

  it("the call's abort reaches the rest of a spilled answer, and the provider sees the connection close", async () => {
    let closed = false;
    const upstream = await serve((_req, res) => {
      res.on('close', () => (closed = true));
      res.writeHead(200).write('x'.repeat(128 * 1024));
    });
    const abort = new CallAbort();
    const answer = await client().json(post(upstream.url), abort, 64 * 1024);
    const reading = (async () => {
      for await (const _ of answer.rest!);
    })().catch((err: unknown) => classifyError(abort.reason ?? err, 'up', 'body'));
    abort.abort(new DOMException('the total timeout passed', 'TimeoutError'));
    expect(await reading).toMatchObject({ kind: 'timeout', error: { status: 504 } });
    await until(() => closed);
  });
});

describe('timeouts and aborts', () => {
  it('no response headers within firstByteMs is a timeout (plain and streamed)', async () => {
    const upstream = await serve(() => undefined);
    const c = client({ timeouts: { connectMs: 5_000, firstByteMs: 200, idleMs: 5_000 } });
    for (const failure of [await json(c, upstream.url), await streamed(c, upstream.url)]) {
      expect(failure).toMatchObject({ kind: 'timeout', error: { status: 504, message: 'provider up sent no response headers in time' } });
    }
  });

  it('firstByteMs bounds the whole wait for the answer\'s head: 1xx answers or header bytes dripped faster than it do not hold a call (plain and streamed)', async () => {
    // A provider (or whatever a baseURL names) that keeps the connection busy but never answers:
    // a 100 Continue every 50 ms, or the head a byte every 50 ms, for 10 s.
    const drips = { informational: () => 'HTTP/1.1 100 Continue\r\n\r\n', head: (i: number) => 'HTTP/1.1 200 OK\r\nx-filler: '.padEnd(4000, 'x')[i % 4000]! };
    for (const [what, drip] of Object.entries(drips)) {
      // How far each connection's drip had got when the client closed it.
      const dripped: number[] = [];
      const upstream = await raw((socket) =>
        onRequests(socket, () => {
          let i = 0;
          const timer = setInterval(() => (i < 200 ? socket.write(drip(i++)) : clearInterval(timer)), 50);
          socket.once('close', () => (clearInterval(timer), dripped.push(i)));
        }),
      );
      const c = client({ timeouts: { connectMs: 5_000, firstByteMs: 300, idleMs: 5_000 } });
      for (const failure of [await json(c, upstream.url), await streamed(c, upstream.url)]) {
        expect(failure, what).toMatchObject({ kind: 'timeout', error: { status: 504, message: 'provider up sent no response headers in time' } });
      }
      await expect.poll(() => dripped.length).toBe(2);
      // Given up while the provider was still dripping, not once it stopped.
      for (const n of dripped) expect(n, what).toBeLessThan(200);
    }
  });

  it('a pause in the body longer than idleMs is a timeout (plain and streamed)', async () => {
    const upstream = await serve((_req, res) => res.writeHead(200).write('data: 1\n\n'));
    const c = client({ timeouts: { connectMs: 5_000, firstByteMs: 5_000, idleMs: 200 } });
    for (const failure of [await json(c, upstream.url), await streamed(c, upstream.url)]) {
      expect(failure).toMatchObject({ kind: 'timeout', error: { status: 504, message: 'provider up sent no data in time' } });
    }
  });

  it('aborting the call ends the request in flight, before and after the headers, and the provider sees it close', async () => {
    const closed: string[] = [];
    const upstream = await serve((req, res) => {
      res.on('close', () => closed.push(req.url!));
      if (req.headers['x-phase'] === 'body') res.writeHead(200).write('data: 1\n\n');
    });
    const c = client();
    const abort = new CallAbort();
    const plain = c.json(post(upstream.url), abort).catch((err: unknown) => err);
    await until(() => upstream.requests.length === 1);
    abort.abort(new DOMException('client disconnected', 'AbortError'));
    expect(await plain).toMatchObject({ kind: 'aborted', error: { status: 499 } });

    const streamAbort = new CallAbort();
    const response = await c.send({ ...post(upstream.url), headers: { 'x-phase': 'body' } }, streamAbort);
    const reading = bodyText(response.body);
    streamAbort.abort(new DOMException('the total timeout passed', 'TimeoutError'));
    expect(await reading).toBe('');
    await until(() => closed.length === 2);
  });

  it('a call already aborted sends nothing', async () => {
    const upstream = await serve(ok);
    const abort = new CallAbort();
    abort.abort(new DOMException('client disconnected', 'AbortError'));
    expect(await json(client(), upstream.url, abort)).toMatchObject({ kind: 'aborted' });
    expect(upstream.requests).toEqual([]);
  });
});

describe('TLS and the pool', () => {
  it('speaks https to a provider whose CA Node trusts, and refuses one it does not trust with a TLS reason', async () => {
    const ca = await createCertificateAuthority({ commonName: 'upstream-test-ca', validityDays: 1 });
    const leaf = await issueCertificate(ca, { commonName: 'localhost', ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: 1 });
    const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => req.resume().on('end', () => res.end('{"tls":true}')));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    });
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const untrusted = await json(client(), url);
    expect(untrusted).toMatchObject({ kind: 'connect', error: { status: 502, message: 'the TLS connection to provider up failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE)' } });

    // Node's default CAs are what the sidecar trusts (the system's, NODE_EXTRA_CA_CERTS): the
    // test adds its CA there, as NODE_EXTRA_CA_CERTS would.
    const defaults = getCACertificates('default');
    setDefaultCACertificates([...defaults, ca.certPem]);
    closers.push(() => setDefaultCACertificates(defaults));
    const c = client();
    expect(await json(c, url)).toMatchObject({ status: 200, body: Buffer.from('{"tls":true}') });
    expect(await streamed(c, url)).toEqual({ status: 200, text: '{"tls":true}' });
  });

  it('keeps one connection for consecutive calls, and close() drains the pool: idle sockets at once, busy ones after their answer', async () => {
    let release: (() => void) | undefined;
    const upstream = await serve((req, res) => {
      if (req.headers['x-slow']) release = () => res.end('{"slow":true}');
      else res.end('{"ok":true}');
    });
    const disconnects: number[] = [];
    upstream.server.on('connection', (socket: Socket) => socket.on('close', () => disconnects.push(Date.now())));
    const c = client();
    for (let i = 0; i < 3; i++) expect(await json(c, upstream.url)).toMatchObject({ status: 200 });
    expect(upstream.connections()).toBe(1);
    // Two at once: a second connection, so that one is idle while the slow call holds the other.
    expect(await Promise.all([json(c, upstream.url), json(c, upstream.url)])).toMatchObject([{ status: 200 }, { status: 200 }]);
    expect(upstream.connections()).toBe(2);

    const slow = c.json({ ...post(upstream.url), headers: { 'x-slow': '1' } }, new CallAbort());
    await until(() => release !== undefined);
    let closed = false;
    const closing = c.close().then(() => (closed = true));
    await until(() => disconnects.length === 1);
    expect(closed).toBe(false);
    release!();
    expect(await slow).toMatchObject({ status: 200, body: Buffer.from('{"slow":true}') });
    await closing;
    await until(() => disconnects.length === 2);
    expect(upstream.connections()).toBe(2);
  });
});

describe('the hand-made parts around the parser (ADR 0028)', () => {
  it('opens at most 256 connections to a provider: the calls beyond wait for a free one, in order, and an aborted one leaves the queue', async () => {
    const held: (() => void)[] = [];
    const upstream = await serve((req, res) => held.push(() => res.end(JSON.stringify({ n: req.headers['x-n'] }))));
    const c = client();
    const call = (n: number, abort = new CallAbort()) => c.json({ ...post(upstream.url), headers: { 'x-n': String(n) } }, abort).catch((err: unknown) => err as UpstreamFailure);
    const first = Array.from({ length: 256 }, (_, n) => call(n));
    await until(() => held.length === 256);
    const gone = new CallAbort();
    const waiting = [call(256), call(257, gone), call(258)];
    gone.abort(new DOMException('client gone', 'AbortError'));
    await sleep(50);
    // No connection beyond 256, no request beyond them sent.
    expect(upstream.connections()).toBe(256);
    expect(held).toHaveLength(256);
    for (const release of held.splice(0, 2)) release();
    await until(() => held.length === 256);
    expect(upstream.connections()).toBe(256);
    for (const release of held.splice(0)) release();
    const answers = await Promise.all([...first, ...waiting]);
    expect(answers.slice(0, 256).map((a) => JSON.parse((a as { body: Buffer }).body.toString()).n)).toEqual(Array.from({ length: 256 }, (_, n) => String(n)));
    expect(answers[256]).toMatchObject({ status: 200, body: Buffer.from('{"n":"256"}') });
    expect(answers[257]).toMatchObject({ kind: 'aborted' });
    expect(answers[258]).toMatchObject({ status: 200, body: Buffer.from('{"n":"258"}') });
    expect(upstream.requests).toHaveLength(258);
  });

  it('refuses a header name or value that would split the request (CR, LF), as Node\'s client does, and sends nothing', async () => {
    const upstream = await serve(ok);
    const c = client();
    for (const headers of [{ 'x-a': 'v\r\nx-injected: 1' } as Record<string, string>, { 'x-a': 'v\nGET /other HTTP/1.1' }, { 'x a': 'v' }, { 'x-a\r\nx-b': 'v' }]) {
      const failure = await c.json({ ...post(upstream.url), headers }, new CallAbort()).catch((err: unknown) => err as UpstreamFailure);
      expect(failure).toBeInstanceOf(UpstreamFailure);
      expect((failure as UpstreamFailure).cause).toMatchObject({ code: expect.stringMatching(/^ERR_INVALID_(CHAR|HTTP_TOKEN)$/) });
    }
    expect(upstream.requests).toEqual([]);
  });

  it('a 101 the client never asked for is a malformed answer, not a connection handed over', async () => {
    const upstream = await raw((socket) => onRequests(socket, () => socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\nraw bytes')));
    const c = client();
    for (const failure of [await json(c, upstream.url), await streamed(c, upstream.url)]) {
      expect(failure).toMatchObject({ kind: 'connect', error: { status: 502, message: expect.stringContaining('provider up sent a malformed HTTP response') } });
    }
  });

  it('a kept connection does not keep the process alive', async () => {
    // The provider keeps idle connections two minutes: only the client can let go of the process.
    const upstream = await serve(ok, (server) => (server.keepAliveTimeout = 120_000));
    // A child process that calls once and then has nothing else to do: it must exit on its own.
    const script = `import { CallAbort, ProviderClient } from ${JSON.stringify(new URL('../../../sidecar/src/upstream/client.ts', import.meta.url).pathname)};
      const c = new ProviderClient({ name: 'up', timeouts: { connectMs: 5000, firstByteMs: 5000, idleMs: 5000 } });
      const a = await c.json({ method: 'POST', url: ${JSON.stringify(upstream.url + '/v1/x')}, headers: {}, body: '{}' }, new CallAbort());
      console.log(a.status);`;
    const { execFile } = await import('node:child_process');
    // Killed if still running after 15 s, well before the 30 s a free connection is kept.
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 15_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(out.trim()).toBe('200');
    expect(upstream.connections()).toBe(1);
  });
});

describe('what an outsider found in the first version of the pool (ADR 0028)', () => {
  it("a chunked answer's trailers do not become the next answer's headers on the same connection", async () => {
    const upstream = await raw((socket) =>
      onRequests(socket, (n) => {
        if (n === 0) socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: retry-after\r\n\r\n2\r\n{}\r\n0\r\nretry-after: 3600\r\ncontent-type: text/evil\r\n\r\n');
        else socket.write('HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 1\r\ncontent-length: 2\r\n\r\n{}');
      }),
    );
    const c = client();
    expect(await streamed(c, upstream.url)).toEqual({ status: 200, text: '{}' });
    const second = await json(c, upstream.url);
    expect(second).toMatchObject({ status: 429, headers: { 'retry-after': '1', 'content-type': 'application/json' } });
  });

  it('a call waiting for a connection of a full pool gets one that reads its answer, even when a slow reader had paused it', async () => {
    // 256 answers of 66,000 bytes whose last bytes come while their readers have not read yet
    // (their sockets paused), then a 257th call waiting for one of those connections.
    let requests = 0;
    const upstream = await raw((socket) =>
      onRequests(socket, () => {
        if (++requests > 256) {
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nlast!');
          return;
        }
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 66000\r\n\r\n${'a'.repeat(60_000)}`);
        setTimeout(() => socket.write('b'.repeat(6_000)), 300);
      }),
    );
    const c = client({ timeouts: { connectMs: 5_000, firstByteMs: 5_000, idleMs: 5_000 } });
    const held = await Promise.all(Array.from({ length: 256 }, () => c.send(post(upstream.url), new CallAbort())));
    const last = json(c, upstream.url);
    await sleep(600);
    let total = 0;
    await Promise.all(held.map(async (r) => {
      for await (const chunk of r.body) total += (chunk as Buffer).length;
    }));
    expect(total).toBe(256 * 66_000);
    expect(await last).toMatchObject({ status: 200, body: Buffer.from('last!') });
  });

  it('calls waiting for a connection when a reload closes the client are still answered, and close() waits for them', async () => {
    const upstream = await raw((socket) => onRequests(socket, () => setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}'), 300)));
    const c = client();
    const calls = Array.from({ length: 258 }, () => json(c, upstream.url));
    await sleep(100);
    let closed = false;
    const closing = c.close().then(() => (closed = true));
    const answers = await Promise.all(calls);
    expect(answers.filter((a) => (a as { status?: number }).status === 200)).toHaveLength(258);
    await closing;
    expect(closed).toBe(true);
  });

  it("sends TCP keepalive probes after a second of silence on a provider connection, as Node's keep-alive Agent did: a long silent call outlives idle-flow timeouts", async () => {
    // The provider thinks before it answers; meanwhile the kernel's timer on the client's socket.
    let clientPort: number | undefined;
    let answer = () => {};
    const upstream = await raw((socket) =>
      onRequests(socket, () => {
        clientPort = socket.remotePort;
        answer = () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}');
      }),
    );
    const call = json(client(), upstream.url);
    await until(() => clientPort !== undefined);
    await sleep(200);
    const timer = socketTimer(clientPort!, Number(new URL(upstream.url).port));
    answer();
    expect(await call).toMatchObject({ status: 200 });
    // Without keepalive no timer runs on an idle connection; at the kernel's default (net.ipv4.tcp_keepalive_time) the first probe is minutes or hours away.
    expect(timer).toMatchObject({ keepalive: true });
    expect(timer.inMs).toBeLessThanOrEqual(1_000);
  });

  it('forgets the pool of an origin whose connections have all closed (the operator calls each pod by its address)', async () => {
    const upstream = await serve(ok, (server) => (server.keepAliveTimeout = 500));
    const c = client();
    const before = await settledPools();
    expect(await json(c, upstream.url)).toMatchObject({ status: 200 });
    expect(await livePools()).toBe(before + 1);
    // The provider closes the idle connection: nothing of the origin stays in memory.
    const deadline = Date.now() + 5_000;
    while ((await livePools()) > before && Date.now() < deadline) await sleep(100);
    expect(await livePools()).toBe(before);
    // And the next call to it connects again.
    expect(await json(c, upstream.url)).toMatchObject({ status: 200 });
    expect(upstream.connections()).toBe(2);
  });

  it('sends a configured header value as UTF-8, as the previous client did with a JSON body', async () => {
    let seen: string | undefined;
    const upstream = await serve((req, res) => {
      seen = Buffer.from(req.headers['x-name'] as string, 'latin1').toString('utf8');
      res.end('{}');
    });
    await client().json({ ...post(upstream.url), headers: { 'x-name': 'Zoë' } }, new CallAbort());
    expect(seen).toBe('Zoë');
  });

  it("a malformed answer's failure keeps the parser's reason, as Node's client gives it", async () => {
    const upstream = await raw((socket) => onRequests(socket, () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n')));
    const failure = (await json(client(), upstream.url)) as UpstreamFailure;
    expect(failure.error.message).toMatch(/malformed HTTP response \(HPE_/);
    expect((failure.cause as Error).message).toMatch(/^Parse Error: ./);
  });
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(10);
}

/**
 * The kernel's timer on the loopback TCP socket from `localPort` to `remotePort`, from
 * /proc/net/tcp: on an established socket the `tr` column is 2 only while its keepalive timer
 * runs, and `tm->when` is the time to its next expiry, in USER_HZ (100) ticks.
 */
function socketTimer(localPort: number, remotePort: number): { keepalive: boolean; inMs: number } {
  const address = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const row = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1] === address(localPort) && fields[2] === address(remotePort));
  if (!row) throw new Error(`no TCP socket 127.0.0.1:${localPort} -> ${remotePort} in /proc/net/tcp`);
  const [active, when] = row[5]!.split(':');
  return { keepalive: row[3] === '01' && active === '02', inMs: parseInt(when!, 16) * 10 };
}

/** {@link livePools} once two counts 50 ms apart agree: the pools of clients earlier tests closed have gone. */
async function settledPools(): Promise<number> {
  for (let last = await livePools(); ; ) {
    await sleep(50);
    const now = await livePools();
    if (now === last) return now;
    last = now;
  }
}

/**
 * How many upstream pools this process holds, counted in V8's heap after a full collection (the
 * inspector's queryObjects, as DevTools' memory panel does): what stays in memory, whoever holds it.
 */
async function livePools(): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    const key = '__airlockPoolPrototype';
    (globalThis as Record<string, unknown>)[key] = Pool.prototype;
    const { result: prototype } = await session.post('Runtime.evaluate', { expression: `globalThis.${key}` });
    delete (globalThis as Record<string, unknown>)[key];
    const { objects } = await session.post('Runtime.queryObjects', { prototypeObjectId: prototype.objectId! });
    const { result } = await session.post('Runtime.callFunctionOn', { objectId: objects.objectId!, functionDeclaration: 'function () { return this.length; }', returnByValue: true });
    return result.value as number;
  } finally {
    session.disconnect();
  }
}
