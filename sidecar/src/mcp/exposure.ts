/**
 * The gate in front of every routed request: a tool may be called, a prompt got and a resource
 * read only when it is exposed (passes the filters and is approved). Otherwise the request is
 * refused with an error that says why and, for pending and changed definitions, which
 * `{name, sha256}` to pin where.
 */
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { Aggregate, PromptEntry, ResourceEntry, ToolEntry } from './aggregate.js';
import { GatewayError, GatewayErrorCode } from './errors.js';
import { prefixOf } from './naming.js';

/** What the gate needs to know about backends besides the aggregate. */
export interface ExposureContext {
  aggregate(): Aggregate;
  backend(name: string): { state: string; unavailableReason(): string } | undefined;
}

/** Where each kind is pinned in the MCPBackend spec, and what its hash covers (for messages). */
const PIN_LIST = { tool: 'spec.approval.pinned', prompt: 'spec.approval.pinnedPrompts', resource: 'spec.approval.pinnedResources', resourceTemplate: 'spec.approval.pinnedResources' };
const COVERS = {
  tool: 'title, description, schemas, annotations, icons or _meta',
  prompt: 'title, description, arguments, icons or _meta',
  resource: 'name, title, description, MIME type, annotations, icons or _meta',
  resourceTemplate: 'name, title, description, MIME type, annotations, icons or _meta',
};

/** The entry of an exposed tool that may be called, or an error that says why it may not. */
export function approvedTool(ctx: ExposureContext, name: string): ToolEntry {
  return approvedByName(ctx, 'tool', ctx.aggregate().toolsByName, name);
}

/** The entry of an exposed prompt, or an error that says why it is not exposed. */
export function approvedPrompt(ctx: ExposureContext, name: string): PromptEntry {
  return approvedByName(ctx, 'prompt', ctx.aggregate().promptsByName, name);
}

function approvedByName<E extends ToolEntry | PromptEntry>(ctx: ExposureContext, kind: 'tool' | 'prompt', entries: Map<string, E>, name: string): E {
  const entry = entries.get(name);
  if (!entry) {
    const prefix = prefixOf(name);
    const backend = prefix === undefined ? undefined : ctx.aggregate().prefixes.get(prefix);
    if (backend !== undefined) notConnected(ctx, backend, `${kind} ${JSON.stringify(name)}`);
    const hint = backend
      ? `backend ${JSON.stringify(backend)} has no ${kind} by that name`
      : `${kind} names are <prefix>__<name>${kind === 'tool' ? '; use search_tools to find one' : ''}`;
    throw new GatewayError(GatewayErrorCode.InvalidParams, `unknown ${kind} ${JSON.stringify(name)}: ${hint}`);
  }
  if (entry.state !== 'approved') refuse(kind, entry, `${kind} ${JSON.stringify(entry.prefixedName)} (${JSON.stringify(entry.name)} of MCP backend ${JSON.stringify(entry.backend)})`, entry.name);
  return entry;
}

/**
 * Refuses a read (or completion) of `uri` (the backend's own URI or URI template) unless it is
 * exposed: a listed resource or template must be approved; a URI that expands an approved
 * template is readable; any other URI (a link in a tool result, say) only in `auto` mode and
 * when the resources filter allows it, since in `pinned` mode nothing unpinned is served.
 */
export function checkResourceAccess(agg: Aggregate, backend: string, uri: string): void {
  const entries = agg.resourceEntries.filter((e) => e.backend === backend);
  const where = `resource ${JSON.stringify(uri)} of MCP backend ${JSON.stringify(backend)}`;
  const exact = entries.find((e) => e.key === uri);
  if (exact) {
    if (exact.state !== 'approved') refuse(exact.kind, exact, where, exact.key);
    return;
  }
  if (hasDotSegment(uri)) {
    throw new GatewayError(
      GatewayErrorCode.InvalidParams,
      `${where} has a "." or ".." path segment (as written or percent-encoded): filters and templates read a URI as written, ` +
        'and the backend may resolve it to another resource, so only URIs the backend lists may have one',
      { backend, uri },
    );
  }
  const policy = agg.resourcePolicies.get(backend);
  // Spellings and readings matter only to globs: a backend without any serves what it serves.
  const filtered = policy !== undefined && !policy.filter.open;
  const canonical = filtered ? canonicalSpelling(uri) : undefined;
  if (canonical !== undefined) {
    throw new GatewayError(
      GatewayErrorCode.InvalidParams,
      `${where} is not written as URL parsing writes it: write ${JSON.stringify(canonical)}. The backend's resource globs read a URI as written, ` +
        'and the backend may parse it into that other URI, so only URIs the backend lists may be written otherwise',
      { backend, uri },
    );
  }
  // Judged as written and as a server may read it: the Python SDK decodes a template's values
  // (`notes://docs/%73ecret` is `.../secret` to it, `caf%C3%A9` is `café`) and ignores query
  // parameters the template does not name (`logs://billing?x=1` is `logs://billing`). No reading
  // may be denied; one reading the allow globs take is enough (an allow glob with a query, or a
  // name written in the glob as it reads decoded), as each names a resource they allow.
  if (filtered) {
    const all = readings(uri);
    for (const reading of all) {
      const denied = policy.filter.denies(reading);
      if (denied) {
        const as = reading === uri ? '' : ` (read as ${JSON.stringify(reading)}, as a server may)`;
        throw new GatewayError(GatewayErrorCode.InvalidParams, `${where} is not available in this sandbox${as}: ${denied}`, { backend, uri });
      }
    }
    const verdict = policy.filter(uri);
    if (!verdict.allowed && !all.some((reading) => policy.filter(reading).allowed)) {
      throw new GatewayError(GatewayErrorCode.InvalidParams, `${where} is not available in this sandbox: ${verdict.reason}`, { backend, uri });
    }
  }
  const templates = entries.filter((e) => e.kind === 'resourceTemplate' && matches(e, uri));
  if (templates.some((e) => e.state === 'approved')) return;
  if (templates[0]) refuse('resourceTemplate', templates[0], `${where} (from template ${JSON.stringify(templates[0].key)})`, templates[0].key);
  if (policy?.mode === 'pinned') {
    throw new GatewayError(
      GatewayErrorCode.InvalidParams,
      `${where} is not approved: the backend's approval mode is pinned and the URI is neither a pinned resource nor an expansion of a pinned resource template`,
      { backend, uri },
    );
  }
}

/**
 * The spelling URL parsing (WHATWG, as `new URL` in the MCP SDK's servers) gives `uri` when it
 * differs from the one written, else undefined: tabs and newlines dropped anywhere, spaces and
 * control characters trimmed at the ends, the scheme and a web host lower-cased, dot segments
 * resolved. A server that parses the URI would serve the resource of that spelling, which the
 * filters never saw (`demo://r/text/1\t3` for `.../13`, `DEMO://` past an exact deny). A URI that
 * does not parse is only trimmed of what a parser would drop.
 */
function canonicalSpelling(uri: string): string | undefined {
  const dropped = uri.replace(/[\t\n\r]/g, '');
  // C0 controls and space at either end (what a URL parser trims).
  let start = 0;
  let end = dropped.length;
  while (start < end && dropped.charCodeAt(start) <= 0x20) start++;
  while (end > start && dropped.charCodeAt(end - 1) <= 0x20) end--;
  const trimmed = dropped.slice(start, end);
  const spelled = URL.canParse(trimmed) ? new URL(trimmed).href : trimmed;
  return spelled === uri ? undefined : spelled;
}

/**
 * Whether a URI has a `.` or `..` segment, as written or percent-encoded (up to three times over),
 * `\` counting as `/` as WHATWG URL parsing does for `file:` and web URLs: a server that parses the
 * URI resolves `demo://r/text/./13` to `demo://r/text/13`, past a deny glob on the latter.
 */
function hasDotSegment(uri: string): boolean {
  return decodings(uri).some((text) => text.split(/[/\\?#]/).some((segment) => segment === '.' || segment === '..'));
}

/**
 * `uri` as written and percent-decoded once, twice and three times (as far as that changes it):
 * each run of escapes read as UTF-8 (`caf%C3%A9` is `café`) and, for the dot-segment check, byte
 * by byte too.
 */
function decodings(uri: string): string[] {
  const texts = [uri];
  let utf8 = uri;
  let bytes = uri;
  for (let round = 0; round < 3; round++) {
    utf8 = utf8.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => Buffer.from(run.replaceAll('%', ''), 'hex').toString('utf8'));
    bytes = bytes.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    texts.push(utf8, bytes);
  }
  return [...new Set(texts)];
}

/**
 * The URIs a server may read `uri` as, for the filters: as written with its escapes in upper case
 * (`%c3%a9` is `%C3%A9`), and each decoding; each with and without its query and fragment.
 */
function readings(uri: string): string[] {
  const upper = uri.replace(/%[0-9a-fA-F]{2}/g, (escape) => escape.toUpperCase());
  return [...new Set([uri, upper, ...decodings(uri)].flatMap((text) => [text, text.replace(/[?#].*$/s, '')]))];
}

const compiled = new WeakMap<ResourceEntry, UriTemplate | null>();

function matches(entry: ResourceEntry, uri: string): boolean {
  let template = compiled.get(entry);
  if (template === undefined) {
    try {
      template = new UriTemplate(entry.key);
    } catch {
      template = null;
    }
    compiled.set(entry, template);
  }
  return template?.match(uri) != null;
}

/** Throws when the backend behind a name it does not know is not connected: the name may well exist there. */
function notConnected(ctx: ExposureContext, backend: string, what: string): void {
  const b = ctx.backend(backend);
  if (b && b.state !== 'ready') {
    throw new GatewayError(GatewayErrorCode.BackendUnavailable, `${what} cannot be reached: ${b.unavailableReason()}`, { backend, state: b.state });
  }
}

function refuse(kind: keyof typeof PIN_LIST, entry: ToolEntry | PromptEntry | ResourceEntry, where: string, key: string): never {
  const data = { backend: entry.backend, [kind === 'tool' ? 'tool' : kind === 'prompt' ? 'prompt' : 'uri']: key, state: entry.state, sha256: entry.sha256 };
  const pin = `{name: ${JSON.stringify(key)}, sha256: ${entry.sha256}}`;
  const list = `${PIN_LIST[kind]} of the MCPBackend`;
  switch (entry.state) {
    case 'denied':
      throw new GatewayError(GatewayErrorCode.InvalidParams, `${where} is not available in this sandbox: ${entry.reason ?? 'denied by policy'}`, data);
    case 'pending':
      throw new GatewayError(
        GatewayErrorCode.InvalidParams,
        `${where} is not approved: the backend's approval mode is pinned and no hash is pinned for it. To approve its current definition, add ${pin} to ${list}.`,
        data,
      );
    default:
      throw new GatewayError(
        GatewayErrorCode.InvalidParams,
        `${where} changed since it was pinned: its definition (${COVERS[kind]}) now hashes to sha256 ${entry.sha256}, ` +
          `which is not the pinned hash, so it is withheld. Review the new definition; to approve it, pin ${pin} in ${list}.`,
        data,
      );
  }
}
