/**
 * How backend names become gateway names, and back.
 *
 * Tools and prompts are exposed as `<prefix>__<name>`. Backend prefixes are DNS labels
 * (`[a-z0-9-]`, no underscore), so the first `__` of an exposed name always ends the prefix and
 * names from different backends can never collide. Within one backend, names the backend already
 * keeps inside the MCP tool-name charset and length are used verbatim; others are rewritten by
 * {@link rewrittenName}, and a rewritten name that would equal another name of the same backend
 * is dropped (reported), so two tools never share an exposed name.
 *
 * Resource URIs are wrapped so that the backend can be found again from the URI alone:
 * `scheme:rest` from backend `fs` becomes `airlock+fs+scheme:rest` (e.g.
 * `file:///tmp/a.txt` → `airlock+fs+file:///tmp/a.txt`); a URI without a scheme becomes
 * `airlock+fs:<uri>`. Only the scheme changes, so URI templates wrap the same way and a client
 * that expands a wrapped template gets a URI that unwraps to the backend's own expansion.
 */
import { createHash } from 'node:crypto';

/** MCP tool names: 1 to 128 characters of this set. */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
/** Between prefix and backend name. Prefixes cannot contain it. */
export const PREFIX_SEPARATOR = '__';
/** Longest exposed name. */
export const MAX_NAME_LENGTH = 128;
/**
 * Longest backend name (tool, prompt) the gateway serves or matches against a glob; a longer one
 * is denied. The MCP specification asks for at most 128 characters; the margin keeps names that
 * are only rewritten (see {@link rewrittenName}).
 */
export const MAX_LISTED_NAME_LENGTH = 1024;
/** Longest resource URI or URI template the gateway serves, reads or matches against a pattern. */
export const MAX_URI_LENGTH = 8192;
/** The prefix of the sidecar's own tools (`airlock__<name>`); reserved, so no backend can take it. */
export const BUILTIN_PREFIX = 'airlock';
/** What the aggregate, the admin view and the audit line name as the backend of a built-in tool. */
export const BUILTIN_BACKEND = 'airlock (built-in)';

/** Hex digits of the sha256 of the original name appended to rewritten names. */
const HASH_DIGITS = 10;
const URI_SCHEME = 'airlock';
const SCHEME_PATTERN = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** `<prefix>__<name>` when that fits the charset and length, else {@link rewrittenName}. */
export function exposedName(prefix: string, name: string): string {
  const verbatim = `${prefix}${PREFIX_SEPARATOR}${name}`;
  return name.length > 0 && TOOL_NAME_PATTERN.test(verbatim) ? verbatim : rewrittenName(prefix, name);
}

/**
 * The deterministic name for a backend name that does not fit verbatim: characters outside
 * `[A-Za-z0-9._-]` become `_`, the result is cut to fit, and `-` plus the first 10 hex digits of
 * the sha256 of the original name are appended, so distinct originals stay distinct.
 */
export function rewrittenName(prefix: string, name: string): string {
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASH_DIGITS);
  const head = `${prefix}${PREFIX_SEPARATOR}`;
  const room = MAX_NAME_LENGTH - head.length - 1 - HASH_DIGITS;
  const sanitized = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, Math.max(0, room));
  return `${head}${sanitized}-${hash}`;
}

/** Exposed names for all of one backend's names, with the names that had to be dropped. */
export interface NameAssignment {
  /** Original name → exposed name. */
  names: Map<string, string>;
  /** Original names whose rewritten form equals another name of the same backend. */
  dropped: string[];
}

/**
 * Assigns exposed names for one backend: verbatim names first, then rewritten ones in sorted
 * order; a rewritten name already taken is dropped. Deterministic for a given set of names.
 */
export function assignNames(prefix: string, originals: Iterable<string>): NameAssignment {
  const unique = [...new Set(originals)].sort();
  const names = new Map<string, string>();
  const taken = new Set<string>();
  const rewritten: string[] = [];
  for (const original of unique) {
    const name = exposedName(prefix, original);
    if (name === `${prefix}${PREFIX_SEPARATOR}${original}`) {
      names.set(original, name);
      taken.add(name);
    } else {
      rewritten.push(original);
    }
  }
  const dropped: string[] = [];
  for (const original of rewritten) {
    const name = rewrittenName(prefix, original);
    if (taken.has(name)) {
      dropped.push(original);
      continue;
    }
    names.set(original, name);
    taken.add(name);
  }
  return { names, dropped };
}

/** The prefix of an exposed name, or undefined when it has none. */
export function prefixOf(exposed: string): string | undefined {
  const at = exposed.indexOf(PREFIX_SEPARATOR);
  return at > 0 ? exposed.slice(0, at) : undefined;
}

/** Wraps a backend resource URI (or URI template) so that it names its backend. */
export function wrapUri(prefix: string, uri: string): string {
  return SCHEME_PATTERN.test(uri) ? `${URI_SCHEME}+${prefix}+${uri}` : `${URI_SCHEME}+${prefix}:${uri}`;
}

/** The backend prefix and original URI of a wrapped URI, or undefined when it is not one. */
export function unwrapUri(uri: string): { prefix: string; uri: string } | undefined {
  const match = /^airlock\+([a-z0-9-]+)([+:])/.exec(uri);
  if (!match?.[1]) return undefined;
  return { prefix: match[1], uri: uri.slice(match[0].length) };
}
