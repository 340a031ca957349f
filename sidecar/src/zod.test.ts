import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadRequest, parseBody } from './server/body.js';
import { CountTokensRequest, MessagesRequest } from './wire/anthropic.js';
import { BatchEmbedContentsRequest, CountTokensBody, EmbedContentRequest, GenerateContentRequest } from './wire/gemini.js';
import { ChatRequest, CompletionRequest, EmbeddingsRequest } from './wire/openai.js';
import { ResponsesRequest } from './wire/responses.js';
import * as z from './zod.js';

/** A shape with each kind of field the wire schemas use: required, nullish, defaulted, checked, refined, nested. */
const shape = () => ({
  model: z.string().check(z.minLength(1)),
  n: z.nullish(z.int().check(z.minimum(1))),
  parts: z._default(z.array(z.looseObject({ text: z.string() })), []),
  kind: z.optional(z.string().check(z.refine((t) => t !== 'bad', { message: 'not bad' }))),
  nested: z.nullish(z.looseObject({ a: z.nullish(z.boolean()) })),
});

/** What a caller sees of a parse: the value, or the issues with their paths and messages. */
function outcome(schema: z.ZodMiniType, input: unknown) {
  const result = schema.safeParse(input);
  return result.success ? { data: result.data } : { issues: result.error.issues };
}

const requestSchemas = {
  ChatRequest,
  CompletionRequest,
  EmbeddingsRequest,
  MessagesRequest,
  CountTokensRequest,
  GenerateContentRequest,
  CountTokensBody,
  EmbedContentRequest,
  BatchEmbedContentsRequest,
  ResponsesRequest,
};

describe('looseObject (mini object on the generated parser)', () => {
  const jit = z.looseObject(shape());
  // mini's own looseObject, as zod/mini defines it, on the interpreting $ZodObject.
  const interpreted = new z.ZodMiniObject({ type: 'object', shape: shape(), catchall: z.unknown() });

  it('parses exactly as mini’s own looseObject: same values, unknown keys and defaults, same issues', () => {
    const field = fc.oneof(fc.constant(undefined), fc.constant(null), fc.string({ maxLength: 3 }), fc.constantFrom('', 'bad'), fc.integer({ min: -2, max: 3 }), fc.double(), fc.boolean(), fc.array(fc.anything(), { maxLength: 2 }));
    const partLike = fc.oneof(field, fc.array(fc.oneof(field, fc.record({ text: field }, { requiredKeys: [] })), { maxLength: 3 }));
    const body = fc.oneof(
      fc.anything(),
      fc.record({ model: field, n: field, parts: partLike, kind: field, nested: fc.oneof(field, fc.record({ a: field })), extra: fc.anything() }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(body, (input) => {
        expect(outcome(jit, input)).toEqual(outcome(interpreted, input));
      }),
      { numRuns: 2000 },
    );
  });

  it('is a mini object: instanceof, shape, and z.omit / z.extend keep the generated parser', () => {
    expect(jit).toBeInstanceOf(z.ZodMiniObject);
    expect(Object.keys(jit.shape)).toEqual(['model', 'n', 'parts', 'kind', 'nested']);
    const omitted = z.omit(jit, { n: true });
    const extended = z.extend(jit, { more: z.string() });
    expect(outcome(omitted, { model: 'm', n: 'not checked any more' })).toEqual({ data: { model: 'm', n: 'not checked any more', parts: [] } });
    expect(outcome(extended, { model: 'm' })).toEqual({ issues: [expect.objectContaining({ path: ['more'], message: 'Invalid input: expected string, received undefined' })] });
    for (const derived of [omitted, extended]) expect(derived._zod.traits.has('$ZodObjectJIT')).toBe(true);
  });

  it('backs every request schema the sidecar parses per request', () => {
    for (const [name, schema] of Object.entries(requestSchemas)) expect(schema._zod.traits.has('$ZodObjectJIT'), name).toBe(true);
  });

  it('gives the agent the field and zod’s English message in its 400, as classic zod did', () => {
    const refusal = (body: unknown) => {
      try {
        parseBody(Buffer.from(JSON.stringify(body)), ChatRequest);
      } catch (err) {
        return err instanceof BadRequest ? err.error : err;
      }
      return undefined;
    };
    expect(refusal({ model: 'm', messages: [], max_tokens: 0 })).toEqual({
      status: 400,
      type: 'invalid_request_error',
      message: 'messages: Too small: expected array to have >=1 items',
      param: 'messages',
    });
    expect(refusal({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 })).toMatchObject({ message: 'max_tokens: Too small: expected number to be >=1', param: 'max_tokens' });
  });
});
