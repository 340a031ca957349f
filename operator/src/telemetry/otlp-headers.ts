/**
 * The collector's secret headers (the chart's `telemetry.otlp.headersSecret`), as the kubelet
 * mounts that Secret into the operator pod: one file per header, its name the header's, its
 * content the value. They go on the operator's own exports, decoded, and into every sandbox's
 * credentials Secret, still as base64 (ADR 0010), for its sidecar's.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretRegistry } from '@airlock/sidecar/redact';
import { secretFileValue } from '@airlock/sidecar/secrets';
// Node's own check of a header value, the one its HTTP client (the exporter's) applies.
import { hasInvalidChar } from '@airlock/sidecar/upstream';

/** The mounted headers Secret could not be read; names the directory, never a value. */
export class OtlpHeadersUnreadableError extends Error {
  constructor(
    readonly dir: string,
    cause: unknown,
  ) {
    super(`cannot read the collector's secret headers in ${dir} (the chart's telemetry.otlp.headersSecret): ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    this.name = 'OtlpHeadersUnreadableError';
  }
}

/**
 * Header name → value as base64, as the Secret's data holds it; empty without a directory. Read
 * anew on each call ({@link MountedSecretHeaders} keeps a read while the mount is unchanged).
 * A value no HTTP header can carry (a line break or another control character inside it: every
 * export would fail) is left out, its name in `skipped`.
 * @throws {OtlpHeadersUnreadableError}
 */
export async function readSecretHeaders(dir: string | undefined, skipped: string[] = []): Promise<Record<string, string>> {
  if (dir === undefined) return {};
  try {
    // The kubelet's own entries (`..data`, the timestamped directories) start with two dots; a key may start with one.
    const names = (await readdir(dir)).filter((name) => !name.startsWith('..')).sort();
    const files = await Promise.all(names.map((name) => readFile(join(dir, name)).catch(gone)));
    const headers: Record<string, string> = {};
    names.forEach((name, i) => {
      const file = files[i];
      if (!file) return;
      if (hasInvalidChar(headerValue(file))) skipped.push(name);
      else headers[name] = file.toString('base64');
    });
    return headers;
  } catch (err) {
    throw new OtlpHeadersUnreadableError(dir, err);
  }
}

/** A header's value from its file, by the rule the sidecar reads it with. */
function headerValue(file: Buffer): string {
  return secretFileValue(file.toString('utf8'));
}

/** A key dropped from the Secret: its link dangles until the kubelet removes it, after the swap. */
function gone(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}

/**
 * The plain headers without those a secret header of the same name (HTTP names are
 * case-insensitive) replaces: on a clash the Secret wins.
 */
export function plainHeadersBesides(plain: Record<string, string>, secret: Record<string, string>): Record<string, string> {
  const taken = new Set(Object.keys(secret).map((name) => name.toLowerCase()));
  return Object.fromEntries(Object.entries(plain).filter(([name]) => !taken.has(name.toLowerCase())));
}

/** What one read of the mount found: the headers (base64) and the names left out (see {@link readSecretHeaders}). */
export interface SecretHeadersRead {
  headers: Record<string, string>;
  skipped: readonly string[];
}

/**
 * The mounted headers Secret as the operator uses it, on every sandbox reconcile and every export
 * of its own spans: read once per version the kubelet publishes. While {@link watch} runs, a read
 * is kept until the watch sees the directory change (then every sandbox is rendered again with the
 * new read); without a running watch (none started, or it failed) every call reads, as a rotation
 * would otherwise never be seen.
 */
export class MountedSecretHeaders {
  private kept: Promise<SecretHeadersRead> | undefined;
  private watching = false;

  constructor(
    readonly dir: string | undefined,
    /** Tests count the reads through it. */
    private readonly read: typeof readSecretHeaders = readSecretHeaders,
  ) {}

  /**
   * The headers of the version mounted now.
   * @throws {OtlpHeadersUnreadableError} (not kept: the next call reads again)
   */
  get(): Promise<SecretHeadersRead> {
    if (this.kept) return this.kept;
    const skipped: string[] = [];
    const reading = this.read(this.dir, skipped).then((headers) => ({ headers, skipped }));
    if (this.watching) {
      this.kept = reading;
      reading.catch(() => {
        if (this.kept === reading) this.kept = undefined;
      });
    }
    return reading;
  }

  /**
   * Watches the mount ({@link watchSecretHeaders}): on a change the kept read is dropped before
   * `onChange` runs; after a watch error every call reads again. Returns the stop.
   * @throws {OtlpHeadersUnreadableError} when the directory cannot be watched.
   */
  watch(onChange: () => void, onError: (err: Error) => void): () => void {
    if (this.dir === undefined) return () => undefined;
    const stop = watchSecretHeaders(
      this.dir,
      () => {
        this.kept = undefined;
        onChange();
      },
      (err) => {
        this.unwatched();
        onError(err);
      },
    );
    this.watching = true;
    return () => {
      this.unwatched();
      stop();
    };
  }

  private unwatched(): void {
    this.watching = false;
    this.kept = undefined;
  }
}

/**
 * The headers of the operator's own exports: the plain ones merged with the Secret's, as mounted
 * now, registered in `secrets`, so no log line shows them. Never throws (the exporter's header
 * factory must not): an unreadable Secret is reported through `warn` and the plain headers go
 * alone, which the collector will refuse and say so.
 */
export async function operatorCollectorHeaders(plain: Record<string, string>, mounted: MountedSecretHeaders, secrets: SecretRegistry, warn: (reason: string) => void): Promise<Record<string, string>> {
  let read: SecretHeadersRead;
  try {
    read = await mounted.get();
  } catch (err) {
    warn((err as Error).message);
    return plain;
  }
  if (read.skipped.length > 0) warn(`the collector's secret headers ${read.skipped.join(', ')} hold a line break or another control character, which no HTTP header can carry: sent without them`);
  const decoded = Object.fromEntries(Object.entries(read.headers).map(([name, value]) => [name, headerValue(Buffer.from(value, 'base64'))]));
  secrets.set('telemetry/otlp', Object.values(decoded).filter(Boolean));
  return { ...plainHeadersBesides(plain, decoded), ...decoded };
}

/**
 * Calls `onChange` whenever the kubelet publishes a new version of the mounted Secret (it swaps
 * the `..data` link), so every sandbox's credentials Secret is rendered again; `onError` when the
 * watch fails after it started. Returns the stop.
 * @throws {OtlpHeadersUnreadableError} when the directory cannot be watched.
 */
export function watchSecretHeaders(dir: string, onChange: () => void, onError: (err: Error) => void): () => void {
  let watcher: FSWatcher;
  try {
    watcher = watch(dir, () => onChange());
  } catch (err) {
    throw new OtlpHeadersUnreadableError(dir, err);
  }
  watcher.on('error', (err) => onError(new OtlpHeadersUnreadableError(dir, err)));
  return () => watcher.close();
}
