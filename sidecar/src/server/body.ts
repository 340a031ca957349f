/** Parsing request bodies at the boundary: JSON, then the API's zod schema, errors naming the field. */
import { isUtf8 } from 'node:buffer';
import type * as z from '../zod.js';
import type { ProviderError } from '../providers/types.js';
import { HttpError } from './http/read-body.js';
import { scanJson, type JsonScan } from '../wire/json-scan.js';

/** A request the sidecar refuses before routing, in canonical error form. */
export class BadRequest extends Error {
  constructor(readonly error: ProviderError) {
    super(error.message);
    this.name = 'BadRequest';
  }
}

/**
 * Parses a raw JSON body with a schema, after `normalize` (which may change the parsed JSON in
 * place) when given. @throws {BadRequest}
 */
export function parseBody<S extends z.ZodMiniType>(raw: unknown, schema: S, normalize?: (json: unknown) => unknown): z.output<S> {
  if (!Buffer.isBuffer(raw) || raw.length === 0) {
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: 'the request body must be JSON (Content-Type: application/json)' });
  }
  // Decoding would silently turn bad bytes into U+FFFD, and a pass-through would forward them raw.
  if (!isUtf8(raw)) {
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: 'the request body is not valid UTF-8' });
  }
  // One pass: a body nested too deep is refused without being parsed at all, and one whose
  // top-level keys repeat is ambiguous (wire/json-scan.ts: a pass-through forwards its bytes).
  const scan = scanJson(raw, MAX_PARSED_BYTES);
  const refusal = unparsable(scan);
  if (refusal) throw new BadRequest({ ...refusal, type: 'invalid_request_error' });
  if (scan.duplicate !== undefined) {
    const key = scan.duplicate.length > 64 ? `${scan.duplicate.slice(0, 64)}…` : scan.duplicate;
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: `duplicate key in the request body: ${JSON.stringify(key)} (JSON parsers differ on which one counts)`, param: key });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: `the request body is not valid JSON: ${(err as Error).message}` });
  }
  if (normalize) {
    try {
      json = normalize(json);
    } catch (err) {
      throw new BadRequest({ status: 400, type: 'invalid_request_error', message: (err as Error).message });
    }
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map(String).join('.');
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: `${path ? `${path}: ` : ''}${issue.message}`, param: path || null });
  }
  return result.data;
}

/** Maps the HTTP layer's refusals (body too large, not JSON) to a canonical error; anything else is ours, a 500. */
export function frameworkError(err: unknown): ProviderError {
  if (err instanceof HttpError && err.status === 413) return { status: 413, type: 'invalid_request_error', message: 'the request body is larger than the sidecar accepts (listen.maxBodyBytes)' };
  if (err instanceof HttpError) return { status: 415, type: 'invalid_request_error', message: 'the request body must be JSON (Content-Type: application/json)' };
  return { status: 500, type: 'api_error', message: 'internal error in the Airlock sidecar' };
}

/** Far deeper than any real request (tool schemas nest a dozen levels); translation recurses per level. */
export const MAX_JSON_DEPTH = 128;

/**
 * What a body's objects, arrays, members and elements may take once parsed (wire/json-scan.ts
 * parsedBytes): a body of a few MiB of empty objects or one-digit numbers is hundreds of MiB in
 * V8, and the body budget (`listen.maxBodyBytesInFlight`) counts bytes. Real bodies are far below
 * it: 300,000 token ids (OpenAI's most for an embeddings call) are ~5 MiB, a long conversation
 * with its tools tens of thousands of objects.
 */
export const MAX_PARSED_BYTES = 48 * 1024 * 1024;

/** Why a body, as scanned, is not parsed at all (nested too deep, too large once parsed); undefined when it may be. */
export function unparsable(scan: JsonScan): { status: number; message: string } | undefined {
  if (scan.depth > MAX_JSON_DEPTH) return { status: 400, message: `the request body nests deeper than ${MAX_JSON_DEPTH} levels` };
  if (scan.parsedBytes > MAX_PARSED_BYTES) {
    return { status: 413, message: `the request body holds too many JSON values for the sidecar to parse: more than ${MAX_PARSED_BYTES / 1048576} MiB once parsed (objects, arrays, strings and numbers, besides their text)` };
  }
  return undefined;
}

/** Nesting depth of JSON text, read from the bytes before parsing (see {@link scanJson}). */
export function nestingDepth(text: Buffer): number {
  return scanJson(text).depth;
}
