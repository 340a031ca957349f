import { describe, expect, it } from 'vitest';
import { strictable } from './strict-schema.js';

const closed = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'object', properties, required: Object.keys(properties), additionalProperties: false, ...extra });

describe('strictable: the schemas OpenAI takes in strict mode', () => {
  it('takes closed objects with every property required, nested, in arrays, anyOf and $defs', () => {
    expect(strictable(closed({ a: { type: 'string', format: 'date' }, b: { type: 'array', items: closed({ c: { type: ['integer', 'null'], minimum: 0 } }) } }))).toBe(true);
    expect(strictable(closed({ a: { anyOf: [{ type: 'string' }, { $ref: '#/$defs/n' }] } }, { $defs: { n: closed({ v: { type: 'number' } }) } }))).toBe(true);
  });

  it('refuses what strict mode refuses', () => {
    expect(strictable({ type: 'object', properties: { a: { type: 'string' } }, required: [], additionalProperties: false })).toBe(false);
    expect(strictable({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] })).toBe(false);
    expect(strictable(closed({ a: { type: 'object', properties: {} } }))).toBe(false);
    expect(strictable(closed({ a: { type: 'string', minLength: 1 } }))).toBe(false);
    expect(strictable(closed({ a: { type: 'string', format: 'uri' } }))).toBe(false);
    expect(strictable(closed({ a: { type: 'string', default: 'x' } }))).toBe(false);
    expect(strictable(closed({ a: { type: 'string' } }, { $defs: { n: { type: 'object', properties: { v: {} } } } }))).toBe(false);
    expect(strictable({ type: 'array', items: { type: 'string' } })).toBe(false);
  });
});
