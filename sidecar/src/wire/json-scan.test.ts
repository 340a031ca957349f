import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { scanJson, valueSize } from './json-scan.js';

const scan = (text: string) => scanJson(Buffer.from(text));

describe('scanJson', () => {
  it('finds a repeated key at the top level and inside a top-level object, however it is spelled', () => {
    expect(scan('{"model":"a","x":1,"model":"b"}').duplicate).toBe('model');
    expect(scan('{"model":"a","mod\\u0065l":"b"}').duplicate).toBe('model');
    expect(scan('{"\\u006dodel":"a", "model" :"b"}').duplicate).toBe('model');
    expect(scan('{"stream_options":{"include_usage":false,"include_usage":true}}').duplicate).toBe('stream_options.include_usage');
    expect(scan('{"é":1,"\\u00e9":2}').duplicate).toBe('é');
  });

  it('leaves alone keys that differ, repeats deeper down, in arrays, and key-like text inside strings', () => {
    expect(scan('{"model":"a","Model":"b"}').duplicate).toBeUndefined();
    expect(scan('{"messages":[{"role":"user","role":"system"}]}').duplicate).toBeUndefined();
    expect(scan('{"a":{"b":{"c":1,"c":2}}}').duplicate).toBeUndefined();
    expect(scan('{"a":"\\"model\\":1,\\"model\\":2","model":"x"}').duplicate).toBeUndefined();
    expect(scan('{"a":{"k":1},"b":{"k":1}}').duplicate).toBeUndefined();
    expect(scan('[{"k":1,"k":2}]').duplicate).toBeUndefined();
  });

  it('agrees with JSON.parse on bodies without repeats: no duplicate, the parsed depth, and what it holds', () => {
    type Counts = { containers: number; entries: number; strings: number };
    const countOf = (value: unknown): Counts => {
      if (typeof value === 'string') return { containers: 0, entries: 0, strings: 1 };
      if (value === null || typeof value !== 'object') return { containers: 0, entries: 0, strings: 0 };
      const children = Array.isArray(value) ? (value as unknown[]) : Object.values(value);
      const keys = Array.isArray(value) ? 0 : children.length;
      return children.map(countOf).reduce((a, b) => ({ containers: a.containers + b.containers, entries: a.entries + b.entries, strings: a.strings + b.strings }), { containers: 1, entries: children.length, strings: keys });
    };
    const depthOf = (value: unknown): number =>
      Array.isArray(value) ? 1 + Math.max(0, ...value.map(depthOf)) : value !== null && typeof value === 'object' ? 1 + Math.max(0, ...Object.values(value).map(depthOf)) : 0;
    const tricky = fc.string({ unit: fc.constantFrom('"', '\\', '{', '[', ']', '}', ':', ',', 'a', 'é', '\\"') });
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(tricky, tie('node'), { maxKeys: 4 })),
    })).node;
    fc.assert(
      fc.property(fc.dictionary(tricky, value, { maxKeys: 6 }), (object) => {
        const text = JSON.stringify(object, null, 1);
        const parsed = JSON.parse(text) as unknown;
        expect(scan(text)).toMatchObject({ depth: depthOf(parsed), duplicate: undefined });
        // Every object and array, member and element, and string (keys too), at least once (an empty container's at most once more).
        const { containers, entries, strings } = countOf(parsed);
        expect(scan(text).parsedBytes).toBeGreaterThanOrEqual(64 * containers + 16 * entries + 48 * strings);
        expect(scan(text).parsedBytes).toBeLessThanOrEqual(64 * containers + 16 * (entries + containers) + 48 * strings);
      }),
      { numRuns: 500 },
    );
  });

  it('finds a key repeated anywhere in a generated top-level object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { minKeys: 1, maxKeys: 6 }), fc.nat(), (object, pick) => {
        const keys = Object.keys(object);
        const key = keys[pick % keys.length]!;
        const text = `${JSON.stringify(object).slice(0, -1)},${JSON.stringify(key)}:null}`;
        expect(scan(text).duplicate).toBe(key);
      }),
      { numRuns: 300 },
    );
  });

  it("reads each key's escapes within the key: many keys without one cost the body's length once, not once each (red team 20)", () => {
    // 300,000 keys at the top level, none with a backslash: before, each searched the rest of the body (~13 s).
    const text = Buffer.from(`{${Array.from({ length: 300_000 }, (_, i) => `"k${i}":1`).join(',')}}`);
    // The bytes searched for a backslash, summed over every search.
    let searched = 0;
    const indexOf = Buffer.prototype.indexOf;
    const spy = vi.spyOn(Buffer.prototype, 'indexOf').mockImplementation(function (this: Buffer, value: unknown, from?: unknown) {
      if (value === 0x5c) searched += this.length - (typeof from === 'number' ? from : 0);
      return indexOf.call(this, value as number, from as number);
    });
    try {
      expect(scanJson(text)).toMatchObject({ depth: 1, duplicate: undefined });
    } finally {
      spy.mockRestore();
    }
    // Before: ~300,000 searches of half the body each, 5e11 bytes.
    expect(searched).toBeLessThan(text.length);
  });
});

describe('valueSize', () => {
  it('is the byte length of the JSON text and what scanJson counts parsed, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        expect(valueSize(value)).toEqual({ jsonBytes: Buffer.byteLength(text), parsedBytes: scanJson(Buffer.from(text)).parsedBytes });
      }),
      { numRuns: 500 },
    );
  });

  it('counts escapes and multi-byte characters as written, and leaves out what JSON.stringify leaves out', () => {
    const value = { a: '\u0000"\\é😀', b: undefined, c: [undefined, () => 1, Infinity], d: -0 };
    expect(valueSize(value).jsonBytes).toBe(Buffer.byteLength(JSON.stringify(value)));
  });

  it('walks a value deeper than the call stack allows', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(valueSize(deep).jsonBytes).toBe(400_003);
  });
});
