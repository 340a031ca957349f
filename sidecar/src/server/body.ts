/** Parsing request bodies at the boundary: JSON, then the API's zod schema, errors naming the field. */
import { isUtf8 } from 'node:buffer';
import type { z } from 'zod';
import type { ProviderError } from '../providers/types.js';
import { HttpError } from './http/read-body.js';

/** A request the sidecar refuses before routing, in canonical error form. */
export class BadRequest extends Error {
  constructor(readonly error: ProviderError) {
    super(error.message);
    this.name = 'BadRequest';
  }
}

/** Parses a raw JSON body with a schema. @throws {BadRequest} */
export function parseBody<S extends z.ZodType>(raw: unknown, schema: S): z.output<S> {
  if (!Buffer.isBuffer(raw) || raw.length === 0) {
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: 'the request body must be JSON (Content-Type: application/json)' });
  }
  // Decoding would silently turn bad bytes into U+FFFD, and a pass-through would forward them raw.
  if (!isUtf8(raw)) {
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: 'the request body is not valid UTF-8' });
  }
  if (nestingDepth(raw) > MAX_JSON_DEPTH) {
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: `the request body nests deeper than ${MAX_JSON_DEPTH} levels` });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: `the request body is not valid JSON: ${(err as Error).message}` });
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
 * Nesting depth of JSON text, read from the bytes before parsing (brackets outside strings): no
 * allocation, and a body nested too deep is refused without being parsed at all. Strings (most of
 * a real body: messages, tool results) are skipped with a native search for their closing quote,
 * so the scan costs per token, not per byte. Bodies too short to exceed MAX_JSON_DEPTH report 0.
 */
export function nestingDepth(text: Buffer): number {
  // Each level takes two bytes at least: a short body cannot nest deeper than the limit.
  if (text.length <= 2 * MAX_JSON_DEPTH) return 0;
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === 0x22 /* " */) {
      let end = text.indexOf(0x22, i + 1);
      while (end > 0 && escaped(text, end)) end = text.indexOf(0x22, end + 1);
      // An unterminated string: nothing after it is structure (JSON.parse refuses the body).
      if (end < 0) return max;
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return max;
}

/** Whether the quote at `at` is escaped: preceded by an odd run of backslashes. */
function escaped(text: Buffer, at: number): boolean {
  let n = 0;
  while (text[at - 1 - n] === 0x5c /* \ */) n++;
  return n % 2 === 1;
}
