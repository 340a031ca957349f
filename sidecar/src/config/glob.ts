/**
 * The one glob rule of the product, for every name a config filters (`models.allow`, MCP tool,
 * prompt and resource allow/deny): names are not paths, so `*` matches any run of characters,
 * `/` and dots included (`*` accepts `meta-llama/Llama-3.1-8B` and `.hidden`). `?` matches one
 * character, `[abc]` a class, `{a,b}` alternatives. Everything that compiles a glob goes through
 * here.
 */
import { setFlagsFromString } from 'node:v8';
import picomatch from 'picomatch';

// Globs compile to backtracking regular expressions, and what they meet comes from the other
// side: a URI the agent sends, a name a backend lists. `*a*b*c*.csv` against a long run of
// near-matches, or a backend's URI template of adjacent variables, backtracks for minutes on
// the sidecar's only thread. With this flag V8 reruns a regular expression that exceeds its
// backtrack budget on its linear-time engine (same answer; lookarounds and backreferences, which
// no glob or URI template produces, keep the old engine). Regular expressions are compiled
// after this module loads, so every one of the process has the fallback (ADR 0021).
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

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
