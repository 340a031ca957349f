import { describe, expect, it } from 'vitest';
import { ChatRequest, type ResponseFormat } from '../../wire/openai.js';
import { toAnthropicRequest } from './request.js';
import { nativeFormat, strictToolSchemas } from './structured-output.js';

const format = (schema: Record<string, unknown>): ResponseFormat => ({ type: 'json_schema', json_schema: { name: 'answer', schema } });
const place = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false };

describe('structured outputs on Anthropic', () => {
  it('carries a closed schema, with $defs, to a current Claude model', () => {
    const schema = { type: 'object', properties: { places: { type: 'array', items: { $ref: '#/$defs/Place' } } }, required: ['places'], $defs: { Place: place } };
    // Its objects closed, as constrained decoding closes them.
    expect(nativeFormat(format(schema), 'claude-sonnet-4-6')).toEqual({ type: 'json_schema', schema: { ...schema, additionalProperties: false } });
    expect(nativeFormat(format(schema), 'claude-haiku-4-5-20251001')).toEqual({ type: 'json_schema', schema: { ...schema, additionalProperties: false } });
  });

  it("moves what constrained decoding refuses (numeric and length bounds, other formats, minItems past 1) into the node's description, keeping the rest", () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        score: { type: 'integer', minimum: 1, maximum: 10, description: 'How good' },
        title: { type: 'string', minLength: 3, maxLength: 80, format: 'date' },
        id: { type: 'string', format: 'int64' },
        tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' }, minItems: 2, maxItems: 5 },
        kind: { oneOf: [{ const: 'a' }, { type: 'null' }] },
      },
      required: ['score', 'title', 'id', 'tags', 'kind'],
      additionalProperties: false,
    };
    expect(nativeFormat(format(schema), 'claude-sonnet-4-6')?.schema).toEqual({
      type: 'object',
      properties: {
        score: { type: 'integer', description: 'How good\n\n{minimum: 1, maximum: 10}' },
        title: { type: 'string', format: 'date', description: '{minLength: 3, maxLength: 80}' },
        id: { type: 'string', description: '{format: "int64"}' },
        tags: { type: 'array', items: { type: 'string', description: '{pattern: "^[a-z]+$"}' }, description: '{minItems: 2, maxItems: 5}' },
        kind: { anyOf: [{ const: 'a' }, { type: 'null' }] },
      },
      required: ['score', 'title', 'id', 'tags', 'kind'],
      additionalProperties: false,
    });
  });

  it('keeps the instruction for models that predate structured outputs', () => {
    for (const model of ['claude-3-5-haiku-latest', 'claude-3-7-sonnet-20250219', 'claude-sonnet-4-20250514', 'claude-opus-4-0', 'claude-instant-1.2']) {
      expect(nativeFormat(format(place), model), model).toBeUndefined();
    }
  });

  it('keeps the instruction for a schema Claude would refuse or answer wrongly', () => {
    const recursive = { type: 'object', properties: { children: { type: 'array', items: { $ref: '#' } } }, $defs: {} };
    const tree = { $ref: '#/$defs/Node', $defs: { Node: { type: 'object', properties: { children: { type: 'array', items: { $ref: '#/$defs/Node' } } }, required: ['children'] } } };
    const map = { type: 'object', additionalProperties: { type: 'string' } };
    const free = { type: 'object', properties: { extra: { type: 'object' } }, required: ['extra'] };
    const optional = { type: 'object', properties: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`p${i}`, { type: 'string' }])) };
    for (const [name, schema] of Object.entries({ recursive, tree, map, free, optional })) expect(nativeFormat(format(schema), 'claude-sonnet-4-6'), name).toBeUndefined();
    expect(nativeFormat({ type: 'json_object' }, 'claude-sonnet-4-6')).toBeUndefined();
  });

  it('gives up on a schema whose $refs name each other exponentially often, keeping the instruction', () => {
    // L0 names L1 twice, L1 names L2 twice...: 2^n paths in a body of about 64 bytes a level.
    const laughs = (n: number) => {
      const defs: Record<string, unknown> = { [`L${n}`]: { type: 'string' } };
      for (let i = 0; i < n; i++) defs[`L${i}`] = { anyOf: [{ $ref: `#/$defs/L${i + 1}` }, { $ref: `#/$defs/L${i + 1}` }] };
      return { type: 'object', properties: { a: { $ref: '#/$defs/L0' } }, required: ['a'], additionalProperties: false, $defs: defs };
    };
    expect(nativeFormat(format(laughs(4)), 'claude-sonnet-4-6')).toEqual({ type: 'json_schema', schema: laughs(4) });
    // 2^20 paths took the old walk about a second; 2^64 would never end.
    expect(nativeFormat(format(laughs(20)), 'claude-sonnet-4-6')).toBeUndefined();
    expect(nativeFormat(format(laughs(64)), 'claude-sonnet-4-6')).toBeUndefined();
  });

  it('puts output_config.format in the request, or the instruction in the system prompt', () => {
    const request = ChatRequest.parse({ model: 'm', messages: [{ role: 'user', content: 'hi' }], response_format: format(place) });
    const current = toAnthropicRequest(request, 'claude-sonnet-4-6');
    expect(current.output_config).toEqual({ format: { type: 'json_schema', schema: place } });
    expect(current).not.toHaveProperty('system');
    const legacy = toAnthropicRequest(request, 'claude-3-5-haiku-latest');
    expect(legacy).not.toHaveProperty('output_config');
    expect(JSON.stringify(legacy.system)).toContain('It must conform to this JSON Schema (answer)');
  });

  it("reads draft 7's definitions (zod 3, LangChain) as $defs, their $refs with them", () => {
    const address = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const schema = { type: 'object', properties: { home: { $ref: '#/definitions/Addr' }, work: { $ref: '#/definitions/Addr' } }, required: ['home', 'work'], additionalProperties: false, definitions: { Addr: address } };
    expect(nativeFormat(format(schema), 'claude-sonnet-4-6')?.schema).toEqual({ type: 'object', properties: { home: { $ref: '#/$defs/Addr' }, work: { $ref: '#/$defs/Addr' } }, required: ['home', 'work'], additionalProperties: false, $defs: { Addr: address } });
  });

  it('keeps both $defs and definitions when a schema has both', () => {
    const leaf = { type: 'object', properties: { v: { type: 'string' } }, required: ['v'], additionalProperties: false };
    const schema = { type: 'object', properties: { a: { $ref: '#/$defs/A' }, b: { $ref: '#/definitions/B' } }, required: ['a', 'b'], additionalProperties: false, $defs: { A: leaf }, definitions: { B: leaf } };
    expect(nativeFormat(format(schema), 'claude-sonnet-4-6')?.schema).toMatchObject({ properties: { a: { $ref: '#/$defs/A' }, b: { $ref: '#/$defs/B' } }, $defs: { A: leaf, B: leaf } });
  });

  it("makes no tool strict when the request's strict tools together pass Anthropic's bounds (20 tools, 24 optional, 16 unions)", () => {
    const tool = (properties: Record<string, unknown>, required: string[]) => ({ function: { strict: true, parameters: { type: 'object', properties, required, additionalProperties: false } } });
    const plain = tool({ a: { type: 'string' } }, ['a']);
    expect(strictToolSchemas(Array.from({ length: 20 }, () => plain), 'claude-sonnet-4-6').filter(Boolean)).toHaveLength(20);
    expect(strictToolSchemas(Array.from({ length: 21 }, () => plain), 'claude-sonnet-4-6').filter(Boolean)).toHaveLength(0);
    // OpenAI-style optional fields: required, but nullable (a union each); 6 tools x 3 = 18 unions.
    const nullable = tool({ a: { type: ['string', 'null'] }, b: { type: ['string', 'null'] }, c: { type: ['string', 'null'] } }, ['a', 'b', 'c']);
    expect(strictToolSchemas(Array.from({ length: 5 }, () => nullable), 'claude-sonnet-4-6').filter(Boolean)).toHaveLength(5);
    expect(strictToolSchemas(Array.from({ length: 6 }, () => nullable), 'claude-sonnet-4-6').filter(Boolean)).toHaveLength(0);
    const optional = tool(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`p${i}`, { type: 'string' }])), []);
    expect(strictToolSchemas([optional, optional], 'claude-sonnet-4-6').filter(Boolean)).toHaveLength(2);
    expect(strictToolSchemas([optional, optional, optional], 'claude-sonnet-4-6').filter(Boolean)).toHaveLength(0);
  });
});
