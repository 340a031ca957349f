/**
 * Reading a request body before its route runs, with the rules fastify applied (ADR 0024):
 * `application/json` (any case, any parameters) is kept as bytes, for the handler to parse in the
 * client's error shape and to pass through unchanged; `text/plain` is read as a string (the
 * handler then refuses it as not JSON, 400); a body of any other type, or of none, is refused with
 * 415; no body and no type is no body. A body over the limit is refused with 413 without reading
 * past the limit: at once when Content-Length says so, else as soon as the bytes received pass it.
 */
import type { IncomingMessage } from 'node:http';

/** A request refused at the HTTP level, before any API looked at it. */
export class HttpError extends Error {
  constructor(
    readonly status: 413 | 415,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const bodyTooLarge = () => new HttpError(413, 'Request body is too large');
const unsupportedType = () => new HttpError(415, 'Unsupported Media Type');

/** Where a body read ends: an error (HttpError for 413 and 415), or the body (undefined when there is none). */
export type BodyDone = (err: Error | undefined, body?: Buffer | string) => void;

/**
 * Reads the body of `req` and calls `done` once: bytes for JSON, a string for text/plain, undefined
 * when there is none; an HttpError 415 for another type (or a body without one), 413 past `limit`
 * bytes. `reading` runs once the body is accepted, before it is read (a `100 Continue` to send).
 * A callback rather than a promise: this runs for every model call.
 */
export function readBody(req: IncomingMessage, limit: number, done: BodyDone, reading?: () => void): void {
  const type = req.headers['content-type'];
  if (type === undefined) {
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return done(undefined, undefined);
    return done(unsupportedType());
  }
  const media = mediaType(type);
  if (media !== 'application/json' && media !== 'text/plain') return done(unsupportedType());
  if (Number(req.headers['content-length']) > limit) return done(bodyTooLarge());
  reading?.();
  collect(req, limit, media === 'text/plain', done);
}

/** The media type of a Content-Type value, lower case, without parameters; '' when it is not `type/subtype`. */
function mediaType(value: string): string {
  const semicolon = value.indexOf(';');
  const media = (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  return /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+$/.test(media) ? media : '';
}

function collect(req: IncomingMessage, limit: number, text: boolean, done: BodyDone): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size <= limit) return void chunks.push(chunk);
    // Nothing more is read: the answer closes the connection (see app.ts).
    req.off('data', onData);
    req.pause();
    chunks.length = 0;
    settled = true;
    done(bodyTooLarge());
  };
  req.on('data', onData);
  req.once('end', () => {
    if (settled) return;
    settled = true;
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    done(undefined, text ? bytes.toString('utf8') : bytes);
  });
  req.once('error', (err) => {
    if (settled) return;
    settled = true;
    done(err);
  });
}
