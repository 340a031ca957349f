/**
 * Allow/deny globs over tool names. Backend filters see the backend's own names, the sandbox
 * filter sees exposed (prefixed) names; a tool must pass both. Deny always wins, and an unset
 * allow list allows everything while an empty one allows nothing.
 */
import { compileGlob } from '../config/glob.js';

/** Allow and deny glob lists, as in the config's `tools` sections. */
export interface GlobFilter {
  allow?: readonly string[] | undefined;
  deny?: readonly string[] | undefined;
}

/** Why a name did not pass a filter. */
export type FilterVerdict = { allowed: true } | { allowed: false; reason: string };

/** A compiled filter: tells whether a name passes and, when not, which rule stopped it. */
export type NameFilter = ((name: string) => FilterVerdict) & {
  /** Why a deny glob stops `name`, the allow globs not consulted; undefined when none does. */
  denies(name: string): string | undefined;
  /** Whether it has no glob at all: every name passes. */
  open: boolean;
};

/** Compiles allow/deny globs once; `where` names the filter in verdicts ("backend fs"). */
export function compileFilter(filter: GlobFilter, where: string): NameFilter {
  const deny = (filter.deny ?? []).map((glob) => ({ glob, match: compileGlob(glob) }));
  const allow = filter.allow?.map((glob) => compileGlob(glob));
  const denies = (name: string): string | undefined => {
    const denied = deny.find((d) => d.match(name));
    return denied ? `denied by ${where} deny glob ${JSON.stringify(denied.glob)}` : undefined;
  };
  const verdict = (name: string): FilterVerdict => {
    const denied = denies(name);
    if (denied) return { allowed: false, reason: denied };
    if (allow && !allow.some((match) => match(name))) return { allowed: false, reason: `not matched by any ${where} allow glob` };
    return { allowed: true };
  };
  return Object.assign(verdict, { denies, open: deny.length === 0 && allow === undefined });
}
