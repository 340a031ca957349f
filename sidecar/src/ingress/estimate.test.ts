/**
 * The sidecar's token estimate against a real tokenizer (o200k_base, OpenAI's current one) on a
 * small corpus per character class: never far under what a provider bills for any text an agent
 * may pick (a cut call is counted by it), and not more than twice for English prose and code.
 */
import { readFileSync } from 'node:fs';
import { getEncoding } from 'js-tiktoken';
import { describe, expect, it } from 'vitest';
import { estimateTokens, MEDIA_TOKENS, quickTokens, textTokens } from './estimate.js';

const o200k = getEncoding('o200k_base');

/** A fixed pseudo-random text of `n` picks from `alphabet` (the same every run). */
function random(alphabet: readonly string[], n: number, seed = 7): string {
  let state = seed;
  let out = '';
  for (let i = 0; i < n; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    out += alphabet[(state >>> 8) % alphabet.length];
  }
  return out;
}

const range = (from: number, count: number, step = 1) => Array.from({ length: count }, (_, i) => String.fromCodePoint(from + i * step));
const ascii = range(33, 94);
/** Pseudo-random lowercase "words" of `length` letters, a space between: no English letter pairs to merge. */
const words = (length: number) => random(range(0x61, 26), 3000, 11).replace(new RegExp(`(.{${length}})`, 'g'), '$1 ').trim();
const repoText = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8').slice(0, 20_000);

const DENSE: [string, string][] = [
  ['digits with spaces', random(range(0x30, 10), 2000).split('').join(' ')],
  ['a run of digits', random(range(0x30, 10), 3000)],
  ['punctuation and symbols', random(ascii.filter((c) => !/[A-Za-z0-9]/.test(c)), 1000)],
  ['random printable ASCII', random(ascii, 3000)],
  ['single letters with spaces', random(range(0x61, 26), 2000).split('').join(' ')],
  ['a run of random letters', random(range(0x61, 26), 1500)],
  ['random CJK', random(range(0x4e00, 20000), 400)],
  ['Cyrillic letters', random(range(0x410, 64), 2000)],
  ['emoji', random(range(0x1f600, 80), 500)],
  ['supplementary-plane characters', random(range(0x10000, 2000, 7), 1000)],
  ['runs of spaces and newlines', random([' ', '\n', '\t', 'x'], 3000)],
  ['a long run of mixed whitespace', ' \n'.repeat(1000)],
  // Red team 26's picks, each about half of o200k before.
  ['a letter then a newline', random(range(0x61, 26), 1500).split('').join('\n')],
  ...[2, 3, 5, 8, 12, 20].map((length): [string, string] => [`random lowercase words of ${length} letters`, words(length)]),
  ['random capitalised words', words(4).replace(/\b[a-z]/g, (c) => c.toUpperCase())],
  ['CJK extension A', random(range(0x3400, 6000), 1000)],
  ['Yi syllables', random(range(0xa000, 1100), 1000)],
  ['private-use characters', random(range(0xe000, 6000), 1000)],
  ['lone low surrogates', random(range(0xdc00, 1024), 500)],
  // The outside hunt's picks after that, a quarter to half of o200k.
  ['a space and a carriage return, repeated', ' \r'.repeat(1200)],
  ['random spaces, tabs and carriage returns', random([' ', '\t', '\r'], 1500)],
  ['Syriac letters with spaces', random(range(0x710, 30), 1000).split('').join(' ')],
  ['combining marks with spaces', random(range(0x300, 112), 1000).split('').join(' ')],
  ['Latin Extended-B letters', random(range(0x180, 208), 1500)],
  ['Mongolian letters with spaces', random(range(0x1820, 88), 800).split('').join(' ')],
  ['Samaritan, Cherokee, Runic and Braille', random([...range(0x800, 46), ...range(0x13a0, 85), ...range(0x16a0, 75), ...range(0x2800, 256)], 1200)],
  ['words in capitals', words(3).toUpperCase()],
];

const ORDINARY: [string, string][] = [
  ['English prose', repoText('../../../docs/security.md').replace(/[|`*#]/g, '')],
  ['TypeScript', repoText('../relay/call.ts')],
];

describe('textTokens, by character class', () => {
  it.each(DENSE)('counts %s at no less than 0.9 times o200k', (_class, text) => {
    expect(textTokens(text)).toBeGreaterThanOrEqual(0.9 * o200k.encode(text).length);
  });

  it.each(ORDINARY)('counts %s at or above o200k and not more than twice', (_class, text) => {
    const real = o200k.encode(text).length;
    expect(textTokens(text)).toBeGreaterThanOrEqual(real);
    expect(textTokens(text)).toBeLessThanOrEqual(2 * real);
  });

  it('counts nothing for nothing, and a token for a word', () => {
    expect(textTokens('')).toBe(0);
    expect(textTokens('hello')).toBe(2);
    expect(textTokens(' ')).toBe(0);
  });
});

describe('estimateTokens', () => {
  const request = { messages: [{ role: 'user', content: [{ type: 'text', text: '1 2 3 4 5 6' }, { type: 'image', source: { type: 'base64', data: 'iVBORw0KGgo'.repeat(100) } }] }] };

  it('counts the strings of a request densely, skipping keys and types, and a base64 image as a fixed budget', () => {
    expect(estimateTokens(request)).toBe(textTokens('1 2 3 4 5 6') + MEDIA_TOKENS);
  });

  it('holds at four characters a token when asked to be quick', () => {
    expect(estimateTokens(request, false)).toBe(quickTokens('1 2 3 4 5 6'.length) + MEDIA_TOKENS);
  });

  it.each([
    ['inline media by their data URL or media type', [{ type: 'image_url', image_url: { url: `data:image/png;base64,${'iVBORw0KGgo'.repeat(500)}` } }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo'.repeat(500) } }, { type: 'input_audio', input_audio: { format: 'wav', data: 'UklGR'.repeat(500) } }], 3 * MEDIA_TOKENS],
  ])('counts %s as the fixed budget, not their bytes', (_what, value, tokens) => {
    // The media types' own few characters beside.
    expect(estimateTokens(value)).toBeGreaterThanOrEqual(tokens);
    expect(estimateTokens(value)).toBeLessThan(tokens + 20);
  });

  // Red team 26: a prompt under a key the estimate skipped, or beginning like a data URL, was counted as nothing.
  const PROSE = '4 8 15 16 23 42 '.repeat(400);
  it.each([
    ['text that begins with data:', { role: 'user', content: `data: ${PROSE}` }],
    ['a tool schema property named data', { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { data: { type: 'string', description: PROSE } } } } }],
    ['a long value under type', { type: PROSE }],
    ['a data string with no media type beside it', { data: PROSE }],
    ['a signature', { signature: PROSE }],
  ])('counts the prompt in %s', (_what, value) => {
    expect(estimateTokens(value)).toBeGreaterThanOrEqual(textTokens(PROSE));
  });

  it('walks an array of a million items (a spread overflowed the stack)', () => {
    expect(estimateTokens(Array.from({ length: 1_000_000 }, () => 'a'))).toBe(1_000_000);
  });
});
