/**
 * The one glob rule of the product, for every name a config filters (`models.allow`, MCP tool,
 * prompt and resource allow/deny): names are not paths, so `*` matches any run of characters,
 * `/` and dots included (`*` accepts `meta-llama/Llama-3.1-8B` and `.hidden`; `**` is the same as
 * `*`). `?` matches one character, `[abc]` a class (`[a-z]` a range, `[!abc]` or `[^abc]` any
 * other character), `{a,b}` alternatives (nested too); `\` makes the next character literal, and
 * every other character, or a bracket or brace that does not close, stands for itself.
 *
 * A glob becomes a regular expression without lookarounds or backreferences, so V8's linear-time
 * engine can take over one that backtracks too long (the flag below). A path library such as
 * picomatch (used here before) writes lookaheads for its path rules (no `.`/`..` segments under
 * `*`, non-empty names), which keep V8 on the backtracking engine: its `**` and `+(a|b)` forms took
 * minutes against names a backend lists or URIs an agent sends (ADR 0021).
 */
import { setFlagsFromString } from 'node:v8';

// What a glob meets comes from the other side: a URI the agent sends, a name a backend lists. With
// this flag V8 reruns a regular expression that exceeds its backtrack budget on its linear-time
// engine (same answer). It is read when an expression runs, so setting it here, before any glob is
// compiled, covers every regular expression of the process (the MCP SDK's URI templates too).
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

/** The rule in words, for CRD and config descriptions. */
export const GLOB_RULE = '`*` matches any characters, `/` and dots included; `?` one character; `[abc]` a class; `{a,b}` alternatives';

/** A matcher for one glob. */
export function compileGlob(glob: string): (name: string) => boolean {
  const regExp = globRegExp(glob);
  return (name) => regExp.test(name);
}

/** A matcher for a list of globs: true when any matches. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  const regExps = globs.map(globRegExp);
  return (name) => regExps.some((regExp) => regExp.test(name));
}

/** The anchored regular expression of a glob under {@link GLOB_RULE}. Never throws. */
export function globRegExp(glob: string): RegExp {
  const braces = alternationBraces(glob);
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\' && i + 1 < glob.length) out += literal(glob[++i]!);
    else if (c === '*') {
      while (glob[i + 1] === '*') i++;
      out += '[\\s\\S]*';
    } else if (c === '?') out += '[\\s\\S]';
    else if (c === '[' && classEnd(glob, i) > 0) {
      const end = classEnd(glob, i);
      out += characterClass(glob.slice(i + 1, end));
      i = end;
    } else if (braces.opens.has(i)) out += '(?:';
    else if (braces.commas.has(i)) out += '|';
    else if (braces.closes.has(i)) out += ')';
    else out += literal(c);
  }
  return new RegExp(`^(?:${out})$`);
}

/** Where a `[` at `start` closes (`]` first in the class is a member), or -1 when it does not. */
function classEnd(glob: string, start: number): number {
  let i = start + 1;
  if (glob[i] === '!' || glob[i] === '^') i++;
  if (glob[i] === ']') i++;
  for (; i < glob.length; i++) {
    if (glob[i] === '\\') i++;
    else if (glob[i] === ']') return i;
  }
  return -1;
}

/** `[…]` of the members between the brackets: ranges kept when in order, every other character literal. */
function characterClass(members: string): string {
  let i = 0;
  let out = '';
  if (members[0] === '!' || members[0] === '^') {
    out = '^';
    i = 1;
  }
  const chars: string[] = [];
  for (; i < members.length; i++) chars.push(members[i] === '\\' && i + 1 < members.length ? members[++i]! : members[i]!);
  for (let k = 0; k < chars.length; k++) {
    const from = chars[k]!;
    const to = chars[k + 2];
    if (chars[k + 1] === '-' && to !== undefined && from <= to) {
      out += `${classMember(from)}-${classMember(to)}`;
      k += 2;
    } else out += classMember(from);
  }
  return `[${out}]`;
}

function classMember(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}

function literal(c: string): string {
  return /[.*+?^${}()|[\]\\/-]/.test(c) ? `\\${c}` : c;
}

/**
 * The braces that are alternations: a `{` with a `,` at its own depth and a matching `}`.
 * Brackets of a class and escaped characters are not structure; a brace without a comma or
 * without its pair is a literal character.
 */
function alternationBraces(glob: string): { opens: Set<number>; commas: Set<number>; closes: Set<number> } {
  const opens = new Set<number>();
  const commas = new Set<number>();
  const closes = new Set<number>();
  const stack: { at: number; commas: number[] }[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\') i++;
    else if (c === '[' && classEnd(glob, i) > 0) i = classEnd(glob, i);
    else if (c === '{') stack.push({ at: i, commas: [] });
    else if (c === ',' && stack.length > 0) stack.at(-1)!.commas.push(i);
    else if (c === '}' && stack.length > 0) {
      const open = stack.pop()!;
      if (open.commas.length === 0) continue;
      opens.add(open.at);
      closes.add(i);
      for (const comma of open.commas) commas.add(comma);
    }
  }
  return { opens, commas, closes };
}
