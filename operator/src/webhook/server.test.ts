import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate, type CertificateAndKey } from '../tls/certificates.js';
import { buildWebhookApp, serve, type WebhookServer } from './server.js';
import { testPod, testSandbox, testSettings } from './test-fixtures.js';

const serverName = 'airlock-webhook.airlock-system.svc';

interface Answer {
  status: number;
  body: string;
  /** Serial number of the certificate the server presented. */
  serial: string;
}

/** One request on a fresh connection, trusting only `ca`, as the API server does with caBundle. */
function call(port: number, ca: string, body: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      { host: '127.0.0.1', port, servername: serverName, path: '/mutate', method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber ?? '';
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, serial }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const review = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'b5d0c2e4-1f7a-4b8e-9f53-0d3c1a2b4e6f',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'agents',
    operation: 'CREATE',
    object: testPod(),
  },
};

describe('serve', () => {
  let ca: CertificateAndKey;
  let first: CertificateAndKey;
  let webhook: WebhookServer;
  const app = buildWebhookApp({ lookupSandbox: async () => testSandbox('research'), settings: testSettings() });

  beforeAll(async () => {
    ca = await createCertificateAuthority({ commonName: 'airlock-webhook-ca', validityDays: 30 });
    first = await issueCertificate(ca, { commonName: serverName, dnsNames: [serverName], usage: 'server', validityDays: 7 });
    webhook = await serve({ app, certPem: first.certPem, keyPem: first.keyPem, port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await webhook.close();
    await app.close();
  });

  it('answers AdmissionReviews over TLS with the served certificate', async () => {
    const answer = await call(webhook.port, ca.certPem, review);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch' } });
    expect(answer.serial).toBe(new X509Certificate(first.certPem).serialNumber);
  });

  it('serves a rotated certificate to new connections without restarting', async () => {
    const second = await issueCertificate(ca, { commonName: serverName, dnsNames: [serverName], usage: 'server', validityDays: 7 });
    webhook.setCertificate(second.certPem, second.keyPem);
    const answer = await call(webhook.port, ca.certPem, review);
    expect(answer.status).toBe(200);
    expect(answer.serial).toBe(new X509Certificate(second.certPem).serialNumber);
  });

  it('keeps the current certificate when the new pair is unusable', async () => {
    const current = (await call(webhook.port, ca.certPem, review)).serial;
    const other = await issueCertificate(ca, { commonName: serverName, dnsNames: [serverName], usage: 'server', validityDays: 7 });
    expect(() => webhook.setCertificate(other.certPem, first.keyPem)).toThrow();
    expect((await call(webhook.port, ca.certPem, review)).serial).toBe(current);
  });
});
