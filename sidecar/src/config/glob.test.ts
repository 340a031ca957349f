import { describe, expect, it } from 'vitest';
import { compileFilter } from '../mcp/filtering.js';
import { ModelCatalog } from '../router/models.js';
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
