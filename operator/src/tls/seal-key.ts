/**
 * The operator's seal key (ADR 30): an Ed25519 key pair in one Secret of the operator's namespace,
 * made by whichever replica starts first and read by the others. The private half signs every
 * credentials Secret the operator renders; the public half goes into each injected sidecar's
 * environment, so a sidecar can tell the operator's config and keys from any that someone who may
 * only write Secrets in the sandbox's namespace put in their place.
 *
 * Never rotated by the operator: sidecars hold the public half for their pod's life. Deleting the
 * Secret makes a new key at the next start; pods injected before then refuse every later config
 * until they are restarted (docs/security.md says how to rotate).
 */
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { publicKeyText, sealedBy, type SealSubject } from '@airlock/sidecar/seal';
import { isConflict, isNotFound, type Kube } from '../kube/client.js';
import { MANAGED_BY } from '../kube/credentials.js';

/** The key of the private half in the Secret (PKCS#8 PEM). */
const PRIVATE_KEY = 'seal.key';

/** The seal key: the private half to sign with, the public half as injection writes it. */
export interface SealKey {
  privateKey: KeyObject;
  /** The public half, base64 of the raw 32 bytes (the sidecar's AIRLOCK_CONFIG_KEY). */
  publicKey: string;
}

/**
 * Reads the seal key from Secret `name` in `namespace`, making it first if there is none. Logs the
 * public half's fingerprint, so a key swapped between two starts shows in the logs, and warns
 * when the Secret is not as the operator makes it (immutable, labelled): someone else made it.
 */
export async function loadSealKey(kube: Kube, namespace: string, name: string, log: Logger): Promise<SealKey> {
  const secret = (await read(kube, namespace, name)) ?? (await create(kube, namespace, name));
  const pem = secret.data?.[PRIVATE_KEY];
  let privateKey: KeyObject | undefined;
  try {
    privateKey = pem === undefined ? undefined : createPrivateKey(Buffer.from(pem, 'base64').toString('utf8'));
  } catch {
    privateKey = undefined;
  }
  if (privateKey?.asymmetricKeyType !== 'ed25519') {
    throw new Error(`Secret ${namespace}/${name} holds no Ed25519 private key under ${PRIVATE_KEY}; delete it and the operator makes a new one (pods injected before must then be restarted)`);
  }
  const publicKey = publicKeyText(privateKey);
  const fingerprint = createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
  if (secret.immutable !== true || secret.metadata?.labels?.['app.kubernetes.io/managed-by'] !== MANAGED_BY['app.kubernetes.io/managed-by']) {
    log.warn({ secret: `${namespace}/${name}`, fingerprint }, 'the config seal key Secret is not immutable or not labelled as the operator makes it: someone else may have made it; if in doubt, delete it and restart the operator and the sandbox pods');
  } else log.info({ secret: `${namespace}/${name}`, fingerprint }, 'config seal key loaded');
  return { privateKey, publicKey };
}

/** A new seal key (the operator makes one at its first start; tests make their own). */
export function newSealKey(): SealKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: publicKeyText(privateKey) };
}

/**
 * `secret` when its data is exactly what this operator sealed for `subject`, else undefined: what
 * the operator keeps of a credentials Secret it finds (the usage token) must be its own, not what
 * someone who may write Secrets put there, whatever owner reference they forged.
 */
export function sealedByOperator(secret: V1Secret | undefined, subject: SealSubject, key: SealKey): V1Secret | undefined {
  const data = secret?.data;
  if (data === undefined) return undefined;
  return sealedBy(subject, secretFiles(data), key.privateKey) ? secret : undefined;
}

/** A Secret's data (base64) as the files the sidecar reads: name → bytes. */
export function secretFiles(data: Record<string, string>): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(data).map(([name, value]) => [name, Buffer.from(value, 'base64')]));
}

async function read(kube: Kube, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await kube.core.readNamespacedSecret({ namespace, name });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function create(kube: Kube, namespace: string, name: string): Promise<V1Secret> {
  const pem = newSealKey().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const body: V1Secret = {
    metadata: { name, namespace, labels: { ...MANAGED_BY } },
    type: 'Opaque',
    // Immutable: no one rewrites a key every running sidecar holds the other half of.
    immutable: true,
    data: { [PRIVATE_KEY]: Buffer.from(pem).toString('base64') },
  };
  try {
    return await kube.core.createNamespacedSecret({ namespace, body });
  } catch (err) {
    // Another replica made it first: use theirs.
    if (isConflict(err)) return (await read(kube, namespace, name))!;
    throw err;
  }
}
