import { describe, expect, it } from 'vitest';
import { compileFilter } from '../mcp/filtering.js';
import { ModelCatalog } from '../router/models.js';
import { globRegExp } from './glob.js';
import type { SidecarConfig } from './schema.js';

// One rule for every glob of the product: the same table holds for models.allow and tool filters.
const CASES: [glob: string, name: string, matches: boolean][] = [
  ['*', 'meta-llama/Llama-3.1-8B', true],
  ['*', 'gpt-4o', true],
  ['*', '.hidden', true],
  ['meta-llama/*', 'meta-llama/Llama-3.1-8B', true],
  ['meta-llama/*', 'mistralai/Mistral-7B', false],
  ['*-8B', 'meta-llama/Llama-3.1-8B', true],
  ['gpt-4?', 'gpt-4o', true],
  ['gpt-4?', 'gpt-4o-mini', false],
  ['{gpt,claude}-*', 'claude-sonnet-4', true],
  ['[gc]*', 'gemini-3-pro', true],
  ['[gc]*', 'llama3', false],
  // Names are not paths: ? and * cross slashes and dots, ** is *, dot segments are characters.
  ['gpt-4?', 'gpt-4/', true],
  ['file:///public/*', 'file:///public/a/../../etc', true],
  ['**/private/**', 'a/private/b', true],
  ['[a-c]x', 'bx', true],
  ['[!a-c]x', 'bx', false],
  ['[^a-c]x', 'dx', true],
  ['[]]x', ']x', true],
  ['{a,{b,c}}-1', 'c-1', true],
  ['{,v}1', '1', true],
  ['x{a}', 'x{a}', true],
  ['x{a,b', 'x{a,b', true],
  ['[ab', '[ab', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'axb', false],
  ['+(a|b)', '+(a|b)', true],
  ['+(a|b)', 'ab', false],
  ['!x', '!x', true],
  ['[z-a]', '-', true],
  ['a.b$^(c)', 'a.b$^(c)', true],
  ['a.b', 'axb', false],
];

function catalogAllows(glob: string, name: string): boolean {
  const config = { models: { allow: [glob], aliases: {} } } as unknown as SidecarConfig;
  const provider = { config: { name: 'p', priority: 0, weight: 1, models: [{ name }] } };
  return new ModelCatalog(config, [provider as never]).resolveName(name) === name;
}

describe.each(CASES)('glob %j against %j', (glob, name, matches) => {
  it(`models.allow ${matches ? 'accepts' : 'refuses'} it`, () => expect(catalogAllows(glob, name)).toBe(matches));
  it(`a tool filter ${matches ? 'accepts' : 'refuses'} it`, () => expect(compileFilter({ allow: [glob] }, 'test')(name).allowed).toBe(matches));
});

describe('the regular expression of a glob', () => {
  it('has no lookaround or backreference, so V8 can run it in linear time, for any glob', () => {
    const atoms = ['*', '**', '?', 'a', '/', '.', '[a-z]', '[!x]', '{a,b}', '{', '}', ',', '[', ']', '\\', '!', '(', '+', '|', '[[:alpha:]]', '-'];
    let seed = 1;
    const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 5_000; i++) {
      let glob = '';
      for (let k = 1 + next(12); k > 0; k--) glob += atoms[next(atoms.length)];
      expect(globRegExp(glob).source, glob).not.toMatch(/\(\?[=!<]|\\[1-9]/);
    }
  });
});
