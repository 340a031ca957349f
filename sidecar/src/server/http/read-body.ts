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

/**
 * The body of `req`: bytes for JSON, a string for text/plain, undefined when there is none.
 * `reading` runs once the body is accepted, before it is read (a `100 Continue` to send).
 * @throws {HttpError} 415 for another type (or a body without one), 413 past `limit` bytes.
 */
export function readBody(req: IncomingMessage, limit: number, reading?: () => void): Promise<Buffer | string | undefined> | undefined {
  const type = req.headers['content-type'];
  if (type === undefined) {
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return undefined;
    return Promise.reject(unsupportedType());
  }
  const media = mediaType(type);
  if (media !== 'application/json' && media !== 'text/plain') return Promise.reject(unsupportedType());
  if (Number(req.headers['content-length']) > limit) return Promise.reject(bodyTooLarge());
  reading?.();
  return collect(req, limit).then((bytes) => (media === 'text/plain' ? bytes.toString('utf8') : bytes));
}

/** The media type of a Content-Type value, lower case, without parameters; '' when it is not `type/subtype`. */
function mediaType(value: string): string {
  const semicolon = value.indexOf(';');
  const media = (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  return /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+$/.test(media) ? media : '';
}

function collect(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Nothing more is read: the answer closes the connection (see serve.ts).
        req.off('data', onData);
        req.pause();
        chunks.length = 0;
        reject(bodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}
