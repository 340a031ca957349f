import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestingDepth } from './body.js';

/** The depth of a parsed value, counted the way the byte scan counts brackets. */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (value !== null && typeof value === 'object') return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

/** Padding that makes any text long enough to be scanned (short bodies report 0). */
const PAD = 'x'.repeat(2 * MAX_JSON_DEPTH);

describe('nestingDepth', () => {
  it('agrees with the parsed structure, whatever the strings hold (quotes, backslashes, brackets)', () => {
    const tricky = fc.string({ unit: fc.constantFrom('"', '\\', '{', '[', ']', '}', 'a', '\\"', '\\\\') });
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(tricky, tie('node'), { maxKeys: 4 })),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const text = JSON.stringify({ pad: PAD, v });
        expect(nestingDepth(Buffer.from(text))).toBe(depthOf(JSON.parse(text)));
      }),
      { numRuns: 500 },
    );
  });

  it('counts a body nested past the limit, also behind a long string ending in escaped backslashes', () => {
    const deep = `{"a":"${PAD}\\\\\\\\","b":${'['.repeat(MAX_JSON_DEPTH + 5)}${']'.repeat(MAX_JSON_DEPTH + 5)}}`;
    expect(nestingDepth(Buffer.from(deep))).toBe(MAX_JSON_DEPTH + 6);
  });

  it('ignores brackets inside a string that hides an escaped quote', () => {
    const text = `{"a":"${PAD}\\"[[[[[{{{{"}`;
    expect(nestingDepth(Buffer.from(text))).toBe(1);
  });
});
