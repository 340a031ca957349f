/**
 * The webhook's body reader from the attacker's side. The webhook Service is reachable from any
 * pod that a NetworkPolicy does not stop, not only from the API server: a body that is too large,
 * chunked without end, cut off, not JSON or nested without bound must get a plain refusal (a non-200
 * makes the API server apply the failure policy, Fail), never a crash, a hang or a 500, and the
 * server must go on answering the API server. Since round 6 the body is read by the sidecar's HTTP
 * layer (ADR 24) instead of fastify's.
 */
import { Writable } from 'node:stream';
import { connect, type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate, type CertificateAndKey } from '../tls/certificates.js';
import { buildWebhookApp, serve, type WebhookServer } from './server.js';
import { testPod, testSandbox, testSettings } from './test-fixtures.js';

const serverName = 'airlock-webhook.airlock-system.svc';
const MIB = 1024 * 1024;

const review = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'c0ffee00-1f7a-4b8e-9f53-0d3c1a2b4e6f', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'agents', operation: 'CREATE', object: testPod() },
});

let ca: CertificateAndKey;
let webhook: WebhookServer;
/** What the webhook logs: no refusal here is an "unhandled error". */
const logged: string[] = [];
const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _encoding, next) => (logged.push(chunk.toString()), next()) }));
const app = buildWebhookApp({ lookupSandbox: async () => testSandbox('research'), settings: testSettings(), logger });

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'airlock-webhook-ca', validityDays: 30 });
  const cert = await issueCertificate(ca, { commonName: serverName, dnsNames: [serverName], usage: 'server', validityDays: 7 });
  webhook = await serve({ app, certPem: cert.certPem, keyPem: cert.keyPem, port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await webhook.close();
  await app.close();
  expect(logged.filter((line) => line.includes('unhandled error'))).toEqual([]);
});

/** A TLS connection to the webhook, trusting only its CA. */
async function open(): Promise<TLSSocket> {
  const socket = connect({ host: '127.0.0.1', port: webhook.port, servername: serverName, ca: ca.certPem });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  return socket;
}

/** Everything the server sends until it closes the connection or `ms` pass; the status of the first answer. */
function answer(socket: TLSSocket, ms = 20_000): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    };
    const timer = setTimeout(done, ms);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      // One answer is all a test waits for: its headers and a body of the length they give.
      const head = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, head))?.[1];
      if (head >= 0 && length !== undefined && Buffer.byteLength(text.slice(head + 4)) >= Number(length)) done();
    });
    socket.on('close', done).on('error', done);
  });
}

const head = (headers: string) => `POST /mutate HTTP/1.1\r\nhost: ${serverName}\r\ncontent-type: application/json\r\n${headers}\r\n`;

/** A well-formed review on a fresh connection: the server still admits pods. */
async function stillServes(): Promise<void> {
  const socket = await open();
  socket.write(`${head(`content-length: ${Buffer.byteLength(review)}\r\n`)}${review}`);
  const { status, text } = await answer(socket);
  expect(status).toBe(200);
  expect(text).toContain('"uid":"c0ffee00-1f7a-4b8e-9f53-0d3c1a2b4e6f"');
}

describe('the webhook body reader, against hostile bodies', () => {
  it('answers a review sent in chunks of a few bytes, as any HTTP/1.1 client may send it', async () => {
    const socket = await open();
    socket.write(head('transfer-encoding: chunked\r\n'));
    const bytes = Buffer.from(review);
    for (let at = 0; at < bytes.length; at += 997) {
      const part = bytes.subarray(at, at + 997);
      socket.write(`${part.length.toString(16)}\r\n`);
      socket.write(part);
      socket.write('\r\n');
    }
    socket.write('0\r\n\r\n');
    const { status, text } = await answer(socket);
    expect(status).toBe(200);
    expect(text).toContain('"uid":"c0ffee00-1f7a-4b8e-9f53-0d3c1a2b4e6f"');
  });

  it('refuses a declared length over 8 MiB with 413 without waiting for the body', async () => {
    const socket = await open();
    socket.write(head(`content-length: ${9 * MIB}\r\n`));
    socket.write('{"apiVersion":"admission.k8s.io/v1",');
    const { status } = await answer(socket);
    expect(status).toBe(413);
    await stillServes();
  });

  it('refuses a chunked body once it passes 8 MiB, however much more the client would send', async () => {
    const socket = await open();
    socket.write(head('transfer-encoding: chunked\r\n'));
    const megabyte = Buffer.alloc(MIB, 0x20);
    const answered = answer(socket);
    let sent = 0;
    // Up to 32 MiB, stopping as soon as the server has answered or closed.
    for (let i = 0; i < 32 && !socket.destroyed && socket.writable; i++) {
      socket.write(`${megabyte.length.toString(16)}\r\n`);
      socket.write(megabyte);
      socket.write('\r\n');
      sent += MIB;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const { status } = await answered;
    expect(status).toBe(413);
    expect(sent).toBeGreaterThan(8 * MIB);
    await stillServes();
  });

  it('refuses a body that is not JSON by its type with 415', async () => {
    const socket = await open();
    socket.write(`POST /mutate HTTP/1.1\r\nhost: ${serverName}\r\ncontent-type: text/html\r\ncontent-length: ${Buffer.byteLength(review)}\r\n\r\n${review}`);
    const { status, text } = await answer(socket);
    expect(status).toBe(415);
    expect(text).toContain('"statusCode":415');
    await stillServes();
  });

  it.each([
    ['not JSON', 'this is not json'],
    ['cut-off JSON', review.slice(0, review.length / 2)],
    ['a JSON array', '[1,2,3]'],
    ['JSON nested 100,000 deep', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['a review without its request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' })],
    ['invalid UTF-8 in a string', Buffer.concat([Buffer.from('{"apiVersion":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]).toString('latin1')],
  ])('refuses %s with a 400 naming the AdmissionReview, and keeps serving', async (_name, body) => {
    const socket = await open();
    const bytes = Buffer.from(body, 'latin1');
    socket.write(head(`content-length: ${bytes.length}\r\n`));
    socket.write(bytes);
    const { status, text } = await answer(socket);
    expect(status).toBe(400);
    expect(text).toContain('not an admission.k8s.io/v1 AdmissionReview');
    await stillServes();
  });

  it('keeps serving after a client that sent half a body and hung up', async () => {
    for (let i = 0; i < 20; i++) {
      const socket = await open();
      socket.write(head(`content-length: ${Buffer.byteLength(review)}\r\n`));
      socket.write(review.slice(0, 100));
      socket.destroy();
    }
    await stillServes();
  });
});
