/**
 * Header and environment values for backends. Values from files are secrets: they are read
 * each time a backend connects, kept only in memory, and scrubbed from anything the gateway
 * logs on a backend's behalf (stdio stderr lines, error messages). A file the operator recorded an
 * origin next to is sent only to that origin (ADR 0016); one marked `requireOrigin` is withheld
 * without such a record (config/origin-file.ts).
 */
import { createHash } from 'node:crypto';
import { readBoundFile, sendableTo, type BoundFile } from '../config/origin-file.js';
import { SealError } from '../config/seal.js';
import type { ValueOrFile } from '../config/schema.js';

/** Resolved name → value pairs, plus the values that came from files. */
export interface ResolvedValues {
  values: Record<string, string>;
  secrets: string[];
}

/** A secret file that could not be read. The message names the entry and path, never a value. */
export class SecretFileError extends Error {
  constructor(
    readonly backend: string,
    readonly entry: string,
    readonly path: string,
    cause: unknown,
  ) {
    const code = cause instanceof SealError ? cause.message : ((cause as NodeJS.ErrnoException | undefined)?.code ?? 'unreadable');
    super(`backend ${JSON.stringify(backend)}: cannot read ${entry} from ${path}: ${code}`);
    this.name = 'SecretFileError';
  }
}

/**
 * A secret file whose value its destination cannot carry: a NUL byte in a process environment, a
 * control character or one past U+00FF in an HTTP header. Refused here, where the entry is known: passed on, Node's spawn()
 * or undici would refuse it with a message that quotes the value. Names the entry, never the value.
 */
export class SecretValueError extends Error {
  constructor(backend: string, entry: string, path: string, reason: string) {
    super(`backend ${JSON.stringify(backend)}: ${entry} from ${path} ${reason}`);
    this.name = 'SecretValueError';
  }
}

/** Where resolved values go: HTTP headers or a process environment. */
export type ValueKind = 'header' | 'env';

/**
 * What a value of `kind` may not hold, and the words for it; undefined when it holds none of it.
 * The operator refuses a Secret key by the same rule before it renders a sandbox's config.
 */
export function unfitValue(kind: ValueKind, value: string): string | undefined {
  if (kind === 'env') return value.includes('\0') ? 'holds a NUL byte, which a process environment cannot carry' : undefined;
  // A header value is bytes: tab, visible ASCII and Latin-1 (fetch's and undici's rule). A '€' or a
  // pasted byte-order mark made undici's error name the character and its index in the secret, and
  // a control character gave a bare "fetch failed" naming no entry (red team 23).
  return /[^\t\x20-\x7e\x80-\xff]/.test(value) ? 'holds a control character or one past U+00FF, which an HTTP header value cannot carry' : undefined;
}

/**
 * A secret file whose recorded origin is missing or not the backend's: the config (another volume)
 * moved the backend before the credentials caught up. The message names origins, never a value.
 */
export class SecretWithheldError extends Error {
  constructor(backend: string, entry: string, path: string, destination: string | undefined) {
    super(
      `backend ${JSON.stringify(backend)}: ${entry} from ${path} is withheld: it was accepted for another origin than ${destination ?? 'this backend (no url)'} (the config and the credentials are being updated; the next reload settles it)`,
    );
    this.name = 'SecretWithheldError';
  }
}

/**
 * Reads every file-backed entry now. `kind` names the list in errors and says which characters a
 * value may not hold (SecretValueError); `destination` is the origin the values go to, for
 * entries that `requireOrigin`.
 */
export async function resolveValues(backend: string, kind: ValueKind, entries: readonly ValueOrFile[], destination?: string): Promise<ResolvedValues> {
  const values: Record<string, string> = {};
  const secrets: string[] = [];
  for (const entry of entries) {
    if (entry.file === undefined) {
      values[entry.name] = entry.value ?? '';
      continue;
    }
    let file: BoundFile;
    try {
      file = await readBoundFile(entry.file);
    } catch (err) {
      throw new SecretFileError(backend, `${kind} ${entry.name}`, entry.file, err);
    }
    if (!sendableTo(file, entry.requireOrigin ?? false, destination)) throw new SecretWithheldError(backend, `${kind} ${entry.name}`, entry.file, destination);
    const value = secretFileValue(file.text);
    const unfit = unfitValue(kind, value);
    if (unfit) throw new SecretValueError(backend, `${kind} ${entry.name}`, entry.file, unfit);
    values[entry.name] = value;
    if (value.length > 0) secrets.push(value);
  }
  return { values, secrets };
}

/**
 * A secret file's value: its text less one trailing line break, which secret files are often
 * written with (`echo token > file`, an editor's last newline) and which is not part of the value.
 * The operator reads the collector's header files by the same rule.
 */
export function secretFileValue(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/** A fingerprint of resolved values, to notice rotated secrets without keeping a copy around. */
export function fingerprint(values: Record<string, string>): string {
  const hash = createHash('sha256');
  for (const key of Object.keys(values).sort()) hash.update(`${key}\0${values[key]}\0`);
  return hash.digest('hex');
}
