/**
 * The operator's seal on a sandbox's credentials Secret (ADR 30). The Secret holds the sidecar's
 * config and every key it names; whoever may create, replace or patch Secrets in the namespace
 * (without reading them) could otherwise swap in a config of their own, or rewrite the origin
 * recorded beside a key, and have the running sidecars send the keys where they like. The
 * operator signs, with an Ed25519 key only it holds, the digest of every file of the Secret
 * together with the sandbox's namespace and name (`config.seal`, one more key of the Secret);
 * injection gives the sidecar the public half and its sandbox in its environment (the pod spec,
 * which only injection writes). A sealed sidecar uses a file of the credentials only when the seal
 * beside it (the same volume version) is the operator's, names this sandbox and holds the file's
 * digest: a config that is not is refused (at start the sidecar does not start), a key or origin
 * that is not is not used.
 *
 * The signing half is the operator's (operator/src/seal/); the message is made here, once, for both.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { basename, dirname } from 'node:path';
import { lstatAsync, readBytes, realpathAsync } from '../fs-async.js';

/** The seal's key in the credentials Secret (a file beside the others in the sidecar). */
export const SEAL_FILE = 'config.seal';

/** The sandbox a seal is for. */
export interface SealSubject {
  namespace: string;
  sandbox: string;
}

/** The seal file's content. */
interface Seal extends SealSubject {
  version: 1;
  /** File name → sha256 of its bytes, base64url. */
  files: Record<string, string>;
  /** Ed25519 signature of {@link sealMessage}, base64. */
  signature: string;
}

/** A file of the credentials the seal does not vouch for. The message names the file and why, never a value. */
export class SealError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file} is not sealed by the Airlock operator for this sandbox (${reason}); it is not used`);
    this.name = 'SealError';
  }
}

const digestOf = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('base64url');

/** What is signed: a version line, the sandbox, then each file's name and digest, sorted by name. */
function sealMessage(subject: SealSubject, files: Record<string, string>): Buffer {
  const lines = Object.keys(files)
    .sort()
    .map((name) => `${name} ${files[name]}`);
  return Buffer.from(['airlock config seal v1', subject.namespace, subject.sandbox, ...lines, ''].join('\n'));
}

/**
 * The seal for a Secret's files (name → bytes; the seal itself is never among them), as the text
 * of its {@link SEAL_FILE}. The operator's half.
 */
export function sealFiles(subject: SealSubject, files: Record<string, Uint8Array>, privateKey: KeyObject): string {
  // In name order: the same files give the same text, whatever order the data came in.
  const digests: Record<string, string> = {};
  for (const name of Object.keys(files).sort()) if (name !== SEAL_FILE) digests[name] = digestOf(files[name]!);
  const signature = sign(null, sealMessage(subject, digests), privateKey).toString('base64');
  const seal: Seal = { version: 1, namespace: subject.namespace, sandbox: subject.sandbox, files: digests, signature };
  return JSON.stringify(seal);
}

/** The public half as the sidecar's environment carries it: the raw 32-byte key, base64. */
export function publicKeyText(key: KeyObject): string {
  return Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url').toString('base64');
}

/**
 * Reads files of the credentials and checks each against the seal beside it. One per process,
 * made when injection asks for seals ({@link requireSeal}); without one, files are read as they are.
 */
export class SealChecker {
  private readonly key: KeyObject;
  /** Seals already verified, by their text (a volume version's seal is read once per file, verified once). */
  private readonly verified = new Map<string, Record<string, string>>();

  constructor(
    publicKey: string,
    private readonly subject: SealSubject,
  ) {
    const raw = Buffer.from(publicKey, 'base64');
    if (raw.length !== 32) throw new Error('AIRLOCK_CONFIG_KEY is not an Ed25519 public key (32 bytes, base64)');
    this.key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  }

  /**
   * Reads `file` through its resolved path (the kubelet's timestamped directory, never changed
   * once written) and checks it against the seal in that same directory. Throws the read's own
   * error (with its errno code) when the file cannot be read, {@link SealError} when the seal does
   * not vouch for it.
   */
  async read(file: string): Promise<Buffer> {
    // The kubelet removes a version's directory once it swapped in the next: a read that resolved
    // into the old one just before finds it gone, and resolving again reads the new one.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.readOnce(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 3) throw err;
      }
    }
  }

  private async readOnce(file: string): Promise<Buffer> {
    const resolved = await realpathAsync(file);
    const bytes = await readBytes(resolved);
    const digests = await this.sealOf(file, dirname(resolved));
    const name = basename(resolved);
    // Own properties only: a file named `constructor` is not named by every seal.
    const expected = Object.hasOwn(digests, name) ? digests[name] : undefined;
    if (expected === undefined) throw new SealError(file, 'the seal does not name it');
    if (expected !== digestOf(bytes)) throw new SealError(file, 'its content is not the one sealed');
    return bytes;
  }

  /** Whether the seal beside `file` names a file `name` of the same directory (an origin the operator recorded). */
  async names(file: string, name: string): Promise<boolean> {
    const dir = dirname(await realpathAsync(file));
    return Object.hasOwn(await this.sealOf(file, dir), name);
  }

  private async sealOf(file: string, dir: string): Promise<Record<string, string>> {
    let text: string;
    try {
      text = (await readBytes(`${dir}/${SEAL_FILE}`)).toString('utf8');
    } catch (err) {
      // The whole version gone (swapped out while read): the caller resolves the file again.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !(await lstatAsync(dir).then(() => true, () => false))) throw err;
      throw new SealError(file, `no ${SEAL_FILE} beside it: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    const known = this.verified.get(text);
    if (known) return known;
    const digests = this.verify(file, text);
    // A handful of versions at most are live at once (a reload reading the one before a swap).
    if (this.verified.size >= 4) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(text, digests);
    return digests;
  }

  private verify(file: string, text: string): Record<string, string> {
    const opened = openSeal(text, this.subject, this.key);
    if (typeof opened === 'string') throw new SealError(file, opened);
    return opened;
  }
}

/** A Secret's key (what the API server allows), and a sha256 in base64url. */
const FILE_NAME = /^[-._a-zA-Z0-9]+$/;
const DIGEST = /^[A-Za-z0-9_-]{43}$/;

/**
 * The digests a seal's text vouches for (file name → digest), or why it vouches for nothing. Names
 * and digests are checked for their shape first: the signed message joins them with spaces and
 * newlines, so a name holding either could split one signed text into other files.
 */
function openSeal(text: string, subject: SealSubject, key: KeyObject): Record<string, string> | string {
  let seal: Partial<Seal>;
  try {
    seal = JSON.parse(text) as Partial<Seal>;
  } catch {
    return `${SEAL_FILE} is not JSON`;
  }
  const files = seal.files;
  if (seal.version !== 1 || typeof seal.signature !== 'string' || typeof files !== 'object' || files === null || Array.isArray(files)) return `${SEAL_FILE} is not a seal of version 1`;
  if (Object.entries(files).some(([name, digest]) => !FILE_NAME.test(name) || typeof digest !== 'string' || !DIGEST.test(digest))) return `${SEAL_FILE} names a file or digest of another shape`;
  if (seal.namespace !== subject.namespace || seal.sandbox !== subject.sandbox) {
    return `the seal is for sandbox ${String(seal.namespace)}/${String(seal.sandbox)}, this pod is of ${subject.namespace}/${subject.sandbox}`;
  }
  if (!verify(null, sealMessage(subject, files), key, Buffer.from(seal.signature, 'base64'))) return 'the seal is not signed by the operator this pod was injected by';
  return files;
}

/**
 * Whether a Secret's data (file name → bytes, the seal among them) is exactly what a seal of
 * `key`'s holder vouches for, for `subject`: every file with its digest, and no other. The
 * operator's check of a credentials Secret it finds (ADR 30), before it keeps anything of it.
 */
export function sealedBy(subject: SealSubject, files: Record<string, Uint8Array>, key: KeyObject): boolean {
  const text = files[SEAL_FILE];
  if (text === undefined) return false;
  const opened = openSeal(Buffer.from(text).toString('utf8'), subject, createPublicKey(key));
  if (typeof opened === 'string') return false;
  const names = Object.keys(files).filter((name) => name !== SEAL_FILE);
  return names.length === Object.keys(opened).length && names.every((name) => Object.hasOwn(opened, name) && opened[name] === digestOf(files[name]!));
}

let checker: SealChecker | undefined;

/** From now on, every file of the credentials is used only as sealed (injection's AIRLOCK_CONFIG_KEY). */
export function requireSeal(publicKey: string, subject: SealSubject): void {
  checker = new SealChecker(publicKey, subject);
}

/** The process's checker, undefined when files are used as they are (no seal required). */
export const sealChecker = (): SealChecker | undefined => checker;

/** Stops requiring seals (tests in one process). */
export function stopRequiringSeal(): void {
  checker = undefined;
}

/**
 * A credentials file's text: checked against its seal when seals are required, else as read.
 * Errors as {@link SealChecker.read}.
 */
export async function readCredentialText(file: string): Promise<string> {
  if (checker) return (await checker.read(file)).toString('utf8');
  return (await readBytes(file)).toString('utf8');
}
