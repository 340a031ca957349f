/** Parsing request bodies at the boundary: JSON, then the API's zod schema, errors naming the field. */
import type { z } from 'zod';
import type { ProviderError } from '../providers/types.js';

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
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: `the request body is not valid JSON: ${(err as Error).message}` });
  }
  if (nestingDepth(json) > MAX_JSON_DEPTH) {
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: `the request body nests deeper than ${MAX_JSON_DEPTH} levels` });
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map(String).join('.');
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message: `${path ? `${path}: ` : ''}${issue.message}`, param: path || null });
  }
  return result.data;
}

/** Maps fastify's own errors (body too large, wrong content type) to a canonical error. */
export function frameworkError(err: { statusCode?: number; code?: string; message: string }): ProviderError {
  const status = err.statusCode ?? 500;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, type: 'invalid_request_error', message: 'the request body is larger than the sidecar accepts (listen.maxBodyBytes)' };
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, type: 'invalid_request_error', message: 'the request body must be JSON (Content-Type: application/json)' };
  if (status >= 500) return { status, type: 'api_error', message: 'internal error in the Airlock sidecar' };
  return { status, type: 'invalid_request_error', message: err.message };
}

/** Far deeper than any real request (tool schemas nest a dozen levels); translation recurses per level. */
export const MAX_JSON_DEPTH = 128;

/** Nesting depth of a parsed JSON value, without recursion. */
export function nestingDepth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    max = Math.max(max, depth + 1);
    if (max > MAX_JSON_DEPTH) return max;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return max;
}
