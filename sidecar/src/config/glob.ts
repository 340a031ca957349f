/**
 * The one glob rule of the product, for every name a config filters (`models.allow`, MCP tool,
 * prompt and resource allow/deny): names are not paths, so `*` matches any run of characters,
 * `/` and dots included (`*` accepts `meta-llama/Llama-3.1-8B` and `.hidden`). `?` matches one
 * character, `[abc]` a class, `{a,b}` alternatives. Everything that compiles a glob goes through
 * here.
 */
import picomatch from 'picomatch';

/** The rule in words, for CRD and config descriptions. */
export const GLOB_RULE = '`*` matches any characters, `/` and dots included; `?` one character; `[abc]` a class; `{a,b}` alternatives';

// bash: a single `*` crosses `/` (as `**` would); dot: leading dots are ordinary characters.
const OPTIONS: picomatch.PicomatchOptions = { dot: true, bash: true };

/** A matcher for one glob. */
export function compileGlob(glob: string): (name: string) => boolean {
  return picomatch(glob, OPTIONS);
}

/** A matcher for a list of globs: true when any matches. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  return picomatch([...globs], OPTIONS);
}
