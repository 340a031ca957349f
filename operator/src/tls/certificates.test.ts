import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  CertificateError,
  createCertificateAuthority,
  issueCertificate,
  parseCertificate,
} from './certificates.js';

const dayMs = 24 * 60 * 60 * 1000;

describe('createCertificateAuthority', () => {
  it('creates a self-signed CA with the requested name and lifetime', async () => {
    const ca = await createCertificateAuthority({ commonName: 'airlock-webhook-ca', validityDays: 365 });
    const cert = new X509Certificate(ca.certPem);

    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=airlock-webhook-ca');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(createPrivateKey(ca.keyPem).asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(ca.notAfter.getTime()).toBe(new Date(cert.validTo).getTime());
    expect(Math.abs(ca.notAfter.getTime() - (Date.now() + 365 * dayMs))).toBeLessThan(60_000);
  });

  it('rejects a non-positive validity and an empty name', async () => {
    await expect(createCertificateAuthority({ commonName: 'ca', validityDays: 0 })).rejects.toMatchObject({
      name: 'CertificateError',
      code: 'invalid-options',
    });
    await expect(createCertificateAuthority({ commonName: ' ', validityDays: 1 })).rejects.toBeInstanceOf(
      CertificateError,
    );
  });
});

describe('issueCertificate', () => {
  it('issues a server certificate that chains to its CA and matches its names', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test-ca', validityDays: 30 });
    const server = await issueCertificate(ca, {
      commonName: 'airlock-webhook',
      dnsNames: ['airlock-webhook.airlock-system.svc', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      usage: 'server',
      validityDays: 7,
    });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(server.certPem);

    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkHost('airlock-webhook.airlock-system.svc')).toBe('airlock-webhook.airlock-system.svc');
    expect(cert.checkHost('other.airlock-system.svc')).toBeUndefined();
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkIP('10.0.0.1')).toBeUndefined();
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    // The key in the pair is the one the certificate certifies.
    expect(createPublicKey(server.keyPem).export({ format: 'jwk' })).toEqual(cert.publicKey.export({ format: 'jwk' }));
  });

  it('issues a client certificate whose organization Kubernetes reads as a group', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test-ca', validityDays: 30 });
    const client = await issueCertificate(ca, {
      commonName: 'admin',
      organization: 'system:masters',
      usage: 'client',
      validityDays: 1,
    });
    const cert = new X509Certificate(client.certPem);

    expect(cert.subject.split('\n').sort()).toEqual(['CN=admin', 'O=system:masters']);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.subjectAltName).toBeUndefined();
  });

  it('serves and accepts TLS with a mutually authenticated connection', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test-ca', validityDays: 30 });
    const server = await issueCertificate(ca, { commonName: 'srv', ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: 1 });
    const client = await issueCertificate(ca, { commonName: 'cli', usage: 'client', validityDays: 1 });

    const tlsServer = createServer(
      { cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
      (socket) => socket.end(`hello ${socket.getPeerCertificate().subject.CN}`),
    );
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    try {
      const { port } = tlsServer.address() as AddressInfo;
      const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, cert: client.certPem, key: client.keyPem });
      let received = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
      await once(socket, 'end');
      expect(socket.authorized).toBe(true);
      expect(received).toBe('hello cli');
    } finally {
      tlsServer.close();
    }
  });

  it('never outlives its CA', async () => {
    const ca = await createCertificateAuthority({ commonName: 'short-ca', validityDays: 2 });
    const leaf = await issueCertificate(ca, { commonName: 'leaf', usage: 'both', validityDays: 365 });

    expect(leaf.notAfter.getTime()).toBe(ca.notAfter.getTime());
    expect(parseCertificate(leaf.certPem).notAfter.getTime()).toBe(ca.notAfter.getTime());
  });

  it('refuses a CA key that does not belong to the CA certificate', async () => {
    const ca = await createCertificateAuthority({ commonName: 'ca-one', validityDays: 30 });
    const other = await createCertificateAuthority({ commonName: 'ca-two', validityDays: 30 });

    await expect(
      issueCertificate({ certPem: ca.certPem, keyPem: other.keyPem }, { commonName: 'x', usage: 'server', validityDays: 1 }),
    ).rejects.toMatchObject({ code: 'not-a-ca' });
  });

  it('refuses a leaf certificate as the CA', async () => {
    const ca = await createCertificateAuthority({ commonName: 'ca', validityDays: 30 });
    const leaf = await issueCertificate(ca, { commonName: 'leaf', usage: 'server', validityDays: 1 });

    await expect(issueCertificate(leaf, { commonName: 'x', usage: 'server', validityDays: 1 })).rejects.toMatchObject({
      code: 'not-a-ca',
    });
  });

  it('rejects malformed names and PEM with typed errors', async () => {
    const ca = await createCertificateAuthority({ commonName: 'ca', validityDays: 30 });

    await expect(
      issueCertificate(ca, { commonName: 'x', ipAddresses: ['localhost'], usage: 'server', validityDays: 1 }),
    ).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining('localhost') });
    await expect(
      issueCertificate(ca, { commonName: 'x', dnsNames: ['bad name'], usage: 'server', validityDays: 1 }),
    ).rejects.toMatchObject({ code: 'invalid-options' });
    await expect(
      issueCertificate({ certPem: 'garbage', keyPem: ca.keyPem }, { commonName: 'x', usage: 'server', validityDays: 1 }),
    ).rejects.toMatchObject({ code: 'invalid-certificate' });
    await expect(
      issueCertificate({ certPem: ca.certPem, keyPem: ca.certPem }, { commonName: 'x', usage: 'server', validityDays: 1 }),
    ).rejects.toMatchObject({ code: 'invalid-key' });
  });

  it('does not put key material in error messages', async () => {
    const ca = await createCertificateAuthority({ commonName: 'ca', validityDays: 30 });
    const truncatedKey = ca.keyPem.slice(0, 80) + '\n-----END PRIVATE KEY-----\n';
    const error = await issueCertificate(
      { certPem: ca.certPem, keyPem: truncatedKey },
      { commonName: 'x', usage: 'server', validityDays: 1 },
    ).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(CertificateError);
    const body = ca.keyPem.split('\n')[1] ?? '';
    expect(body.length).toBeGreaterThan(20);
    expect((error as Error).message).not.toContain(body.slice(0, 20));
  });
});

describe('parseCertificate', () => {
  it('reads the subject, names and validity of an issued certificate', async () => {
    const ca = await createCertificateAuthority({ commonName: 'parse-ca', validityDays: 30 });
    const issued = await issueCertificate(ca, {
      commonName: 'svc',
      organization: ['team-a', 'team-b'],
      dnsNames: ['svc.ns.svc'],
      ipAddresses: ['10.0.0.7'],
      usage: 'both',
      validityDays: 3,
    });

    const parsed = parseCertificate(issued.certPem);

    expect(parsed).toMatchObject({
      commonName: 'svc',
      organization: ['team-a', 'team-b'],
      dnsNames: ['svc.ns.svc'],
      ipAddresses: ['10.0.0.7'],
      issuer: 'CN=parse-ca',
      isCertificateAuthority: false,
    });
    expect(parsed.subject).toContain('CN=svc');
    expect(parsed.notAfter).toEqual(issued.notAfter);
    expect(parsed.notBefore.getTime()).toBeLessThan(Date.now());
    expect(parsed.serialNumber).toBe(new X509Certificate(issued.certPem).serialNumber.toLowerCase());
    expect(parseCertificate(ca.certPem).isCertificateAuthority).toBe(true);
  });

  it('throws a typed error for input that is not a certificate', () => {
    expect(() => parseCertificate('not a pem')).toThrow(CertificateError);
    expect(() => parseCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')).toThrow(
      /not a PEM X.509 certificate/,
    );
  });
});
