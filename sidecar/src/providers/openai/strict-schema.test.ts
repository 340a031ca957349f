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

  it('refuses what passes its size bounds: objects nested past 5, more than 100 properties, more than 500 enum values', () => {
    let nested: Record<string, unknown> = closed({ leaf: { type: 'string' } });
    for (let i = 0; i < 4; i++) nested = closed({ inner: nested });
    expect(strictable(nested)).toBe(true);
    expect(strictable(closed({ inner: nested }))).toBe(false);
    expect(strictable(closed(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`p${i}`, { type: 'string' }]))))).toBe(false);
    expect(strictable(closed({ a: { enum: Array.from({ length: 501 }, (_, i) => `v${i}`) } }))).toBe(false);
    expect(strictable(closed({ a: { enum: Array.from({ length: 500 }, (_, i) => `v${i}`) } }))).toBe(true);
  });
});
