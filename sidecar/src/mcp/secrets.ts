/**
 * Header and environment values for backends. Values from files are secrets: they are read
 * each time a backend connects, kept only in memory, and scrubbed from anything the gateway
 * logs on a backend's behalf (stdio stderr lines, error messages).
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { McpBackendConfig } from '../config/index.js';

/** One `{name, value | file}` entry of a backend's headers or stdio env. */
export type ValueOrFile = McpBackendConfig['headers'][number];

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
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? 'unreadable';
    super(`backend ${JSON.stringify(backend)}: cannot read ${entry} from ${path}: ${code}`);
    this.name = 'SecretFileError';
  }
}

/** Reads every file-backed entry now. `kind` names the list in errors ("header", "env"). */
export async function resolveValues(backend: string, kind: string, entries: readonly ValueOrFile[]): Promise<ResolvedValues> {
  const values: Record<string, string> = {};
  const secrets: string[] = [];
  for (const entry of entries) {
    if (entry.file === undefined) {
      values[entry.name] = entry.value ?? '';
      continue;
    }
    let text: string;
    try {
      text = await readFile(entry.file, 'utf8');
    } catch (err) {
      throw new SecretFileError(backend, `${kind} ${entry.name}`, entry.file, err);
    }
    // Secret files are often written with a trailing newline that is not part of the value.
    const value = text.replace(/\r?\n$/, '');
    values[entry.name] = value;
    if (value.length > 0) secrets.push(value);
  }
  return { values, secrets };
}

/** A fingerprint of resolved values, to notice rotated secrets without keeping a copy around. */
export function fingerprint(values: Record<string, string>): string {
  const hash = createHash('sha256');
  for (const key of Object.keys(values).sort()) hash.update(`${key}\0${values[key]}\0`);
  return hash.digest('hex');
}
