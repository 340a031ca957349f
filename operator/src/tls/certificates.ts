/**
 * Certificate helpers for the operator's own TLS (webhook serving certificates, a CA kept in a
 * Secret and rotated before it expires) and for test control planes.
 *
 * Everything is ECDSA P-256 with SHA-256, signed through Node's WebCrypto by `@peculiar/x509`.
 * Keys leave this module only as PKCS#8 PEM, the format both Go's `tls.X509KeyPair` and Node's
 * `tls` accept.
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API
// installed before the library loads; ES modules evaluate their imports in order.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

const keyAlgorithm = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** Backdating absorbs clock skew between the issuer and whoever verifies the certificate. */
const backdateMs = 5 * 60 * 1000;
const dayMs = 24 * 60 * 60 * 1000;

/** What went wrong, for callers that react differently (e.g. regenerate a corrupt Secret). */
export type CertificateErrorCode = 'invalid-options' | 'invalid-certificate' | 'invalid-key' | 'not-a-ca';

/** A certificate operation failed; `code` says why, the message says which input. */
export class CertificateError extends Error {
  override readonly name = 'CertificateError';

  constructor(
    readonly code: CertificateErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A certificate with its private key, both PEM encoded. */
export interface CertificateAndKey {
  /** The certificate, PEM (`-----BEGIN CERTIFICATE-----`). */
  certPem: string;
  /** The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  keyPem: string;
  /** When the certificate stops being valid. */
  notAfter: Date;
}

/** A self-signed certificate authority; pass it to {@link issueCertificate}. */
export type CertificateAuthority = CertificateAndKey;

/** Options for {@link createCertificateAuthority}. */
export interface CertificateAuthorityOptions {
  /** Subject common name, e.g. `airlock-webhook-ca`. */
  commonName: string;
  /** Lifetime in days from now; must be positive. */
  validityDays: number;
}

/** Which TLS role a leaf certificate may play (its extended key usage). */
export type CertificateUsage = 'server' | 'client' | 'both';

/** Options for {@link issueCertificate}. */
export interface IssueCertificateOptions {
  /** Subject common name; for client certificates Kubernetes reads it as the user name. */
  commonName: string;
  /** Subject organization(s); for client certificates Kubernetes reads them as groups. */
  organization?: string | readonly string[];
  /** DNS subject alternative names, e.g. `airlock-webhook.airlock-system.svc`. */
  dnsNames?: readonly string[];
  /** IP subject alternative names, IPv4 or IPv6 literals. */
  ipAddresses?: readonly string[];
  /** TLS role the certificate is for. */
  usage: CertificateUsage;
  /**
   * Lifetime in days from now; must be positive. Clamped to the CA's own expiry, since a
   * certificate cannot usefully outlive its issuer; the returned `notAfter` is the real one.
   */
  validityDays: number;
}

/** The fields of a certificate that callers decide on. */
export interface ParsedCertificate {
  /** Subject distinguished name, RFC 4514 string, e.g. `CN=admin, O=system:masters`. */
  subject: string;
  /** Issuer distinguished name, RFC 4514 string. */
  issuer: string;
  /** First subject common name, if any. */
  commonName: string | undefined;
  /** Subject organizations. */
  organization: string[];
  /** DNS subject alternative names. */
  dnsNames: string[];
  /** IP subject alternative names. */
  ipAddresses: string[];
  /** Serial number, lowercase hex. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** Whether basic constraints mark it as a CA. */
  isCertificateAuthority: boolean;
}

/**
 * Creates a self-signed ECDSA P-256 certificate authority that can sign leaf certificates.
 * @throws {CertificateError} `invalid-options` for an empty common name or a bad validity.
 */
export async function createCertificateAuthority(options: CertificateAuthorityOptions): Promise<CertificateAuthority> {
  requireCommonName(options.commonName);
  const { notBefore, notAfter } = validityWindow(options.validityDays);
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      name: [{ CN: [options.commonName] }],
      notBefore,
      notAfter,
      keys,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey), notAfter: cert.notAfter };
}

/**
 * Issues an ECDSA P-256 leaf certificate signed by `ca`.
 * @throws {CertificateError} `invalid-options` for bad names or validity, `invalid-certificate`
 *   or `invalid-key` when the CA PEM does not parse, `not-a-ca` when the CA certificate is not a
 *   CA or its key does not match it.
 */
export async function issueCertificate(
  ca: Pick<CertificateAuthority, 'certPem' | 'keyPem'>,
  options: IssueCertificateOptions,
): Promise<CertificateAndKey> {
  requireCommonName(options.commonName);
  const dnsNames = options.dnsNames ?? [];
  const ipAddresses = options.ipAddresses ?? [];
  for (const dnsName of dnsNames) {
    if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(dnsName)) {
      throw new CertificateError('invalid-options', `dnsNames: "${dnsName}" is not a DNS name`);
    }
  }
  for (const ip of ipAddresses) {
    if (isIP(ip) === 0) throw new CertificateError('invalid-options', `ipAddresses: "${ip}" is not an IP address`);
  }
  const { notBefore, notAfter: requestedNotAfter } = validityWindow(options.validityDays);

  const caCert = loadCertificate(ca.certPem, 'CA certificate');
  if (!caCert.getExtension(x509.BasicConstraintsExtension)?.ca) {
    throw new CertificateError('not-a-ca', `CA certificate "${caCert.subject}" is not marked as a CA`);
  }
  const caKey = await importPrivateKey(ca.keyPem);
  const notAfter = requestedNotAfter > caCert.notAfter ? caCert.notAfter : requestedNotAfter;

  const organizations = typeof options.organization === 'string' ? [options.organization] : (options.organization ?? []);
  const subject: x509.JsonName = [{ CN: [options.commonName] }];
  if (organizations.length > 0) subject.push({ O: [...organizations] });

  const keys = await generateKeyPair();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(extendedKeyUsages(options.usage), false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, webcrypto),
  ];
  if (dnsNames.length > 0 || ipAddresses.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
    );
  }
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject,
      issuer: caCert.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm,
      extensions,
    },
    webcrypto,
  );
  // A key from a different CA would sign happily and produce a certificate nobody accepts.
  if (!(await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true }, webcrypto))) {
    throw new CertificateError('not-a-ca', `CA key does not belong to CA certificate "${caCert.subject}"`);
  }
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey), notAfter: cert.notAfter };
}

/**
 * Reads the first certificate of a PEM string.
 * @throws {CertificateError} `invalid-certificate` when it does not parse.
 */
export function parseCertificate(pem: string): ParsedCertificate {
  const cert = loadCertificate(pem, 'certificate');
  const names = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    commonName: cert.subjectName.getField('CN')[0],
    organization: cert.subjectName.getField('O'),
    dnsNames: names.filter((name) => name.type === 'dns').map((name) => name.value),
    ipAddresses: names.filter((name) => name.type === 'ip').map((name) => name.value),
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    isCertificateAuthority: cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
  };
}

function requireCommonName(commonName: string): void {
  if (commonName.trim() === '') throw new CertificateError('invalid-options', 'commonName must not be empty');
}

function validityWindow(validityDays: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(validityDays) || validityDays <= 0) {
    throw new CertificateError('invalid-options', `validityDays must be a positive number, got ${validityDays}`);
  }
  const now = Date.now();
  // X.509 times have one-second resolution; keep the returned notAfter equal to the encoded one.
  const notAfterMs = Math.floor((now + validityDays * dayMs) / 1000) * 1000;
  return { notBefore: new Date(now - backdateMs), notAfter: new Date(notAfterMs) };
}

function extendedKeyUsages(usage: CertificateUsage): x509.ExtendedKeyUsage[] {
  switch (usage) {
    case 'server':
      return [x509.ExtendedKeyUsage.serverAuth];
    case 'client':
      return [x509.ExtendedKeyUsage.clientAuth];
    case 'both':
      return [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  }
}

/** A positive 128-bit serial: RFC 5280 wants positive, and random serials make collisions moot. */
function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f | 0x01;
  return bytes.toString('hex');
}

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']);
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importPrivateKey(pem: string): Promise<webcrypto.CryptoKey> {
  try {
    const [der] = x509.PemConverter.decode(pem);
    if (der === undefined) throw new Error('no PEM block found');
    return await webcrypto.subtle.importKey('pkcs8', der, keyAlgorithm, false, ['sign']);
  } catch (error) {
    throw new CertificateError('invalid-key', 'CA key is not a PKCS#8 PEM ECDSA P-256 private key', { cause: error });
  }
}

function loadCertificate(pem: string, what: string): x509.X509Certificate {
  try {
    const [der] = x509.PemConverter.decode(pem);
    if (der === undefined) throw new Error('no PEM block found');
    return new x509.X509Certificate(der);
  } catch (error) {
    throw new CertificateError('invalid-certificate', `${what} is not a PEM X.509 certificate`, { cause: error });
  }
}
