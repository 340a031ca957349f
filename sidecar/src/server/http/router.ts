/**
 * A method-and-path router over `node:http`, in place of fastify (ADR 0024). Paths are exact
 * (`/v1/chat/completions`), or have `:name` segments (one path segment each, possibly empty) or a
 * final `*` (the rest of the path, slashes included). A request's target is split at its first `?`
 * or `#`; an absolute-form target (`http://host/path`) routes by its path; the path is
 * percent-decoded except for the reserved characters (`%2F` stays a literal `%2F`, so
 * `/v1/chat%2Fcompletions` is no route), and each parameter is then decoded whole (`%2F` becomes
 * `/` inside a model name). Matching is case-sensitive and a trailing slash is significant, as it
 * was with fastify. A GET route answers HEAD too (Node sends no body for HEAD).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request as a route sees it: `body` is read before the handler runs (see read-body.ts). */
export interface HttpRequest {
  raw: IncomingMessage;
  method: string;
  /** The request target as sent (for messages: never decoded). */
  url: string;
  /** The target's path, undecoded, without query or fragment (for messages). */
  rawPath: string;
  /** The target's path, decoded except for reserved characters (what routes match). */
  path: string;
  /** What follows `?`, undecoded ('' without one). */
  query: string;
  params: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** A JSON body as bytes, a text/plain body as a string; undefined without a body. */
  body: Buffer | string | undefined;
  /** The host an absolute-form target names (`POST http://host/path`), which stands for the Host header. */
  authority?: string;
}

/**
 * Serves one request: writes `res` itself and returns undefined (or a promise of it), or returns
 * the value to answer with (JSON, status 200).
 */
export type Handler = (request: HttpRequest, res: ServerResponse) => unknown;

/** Answers what a handler (or the body read before it) threw. */
export type ErrorHandler = (err: unknown, request: HttpRequest, res: ServerResponse) => void;

export interface RouteOptions {
  /** Read the body before the handler (default: for the methods that carry one). */
  body?: boolean;
  onError: ErrorHandler;
}

export interface Route extends RouteOptions {
  handler: Handler;
}

interface Pattern {
  source: string;
  regex: RegExp;
  names: string[];
  routes: Map<string, Route>;
}

/** Methods whose requests may carry a body, as fastify had them: the body is read before the route. */
export const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export class Router {
  private readonly exact = new Map<string, Map<string, Route>>();
  private readonly patterns: Pattern[] = [];

  /** Adds `handler` for `methods` on `path` (see the module comment for the syntax). */
  add(methods: string | readonly string[], path: string, handler: Handler, options: RouteOptions): void {
    const route: Route = { handler, ...options };
    const table = this.tableOf(path);
    for (const method of typeof methods === 'string' ? [methods] : methods) {
      if (table.has(method)) throw new Error(`route ${method} ${path} is declared twice`);
      table.set(method, route);
    }
  }

  /** The route for `method` on the decoded `path`, with its parameters; undefined when none. */
  find(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const table = this.exact.get(path);
    if (table) {
      const route = routeFor(table, method);
      if (route) return { route, params: {} };
    }
    for (const pattern of this.patterns) {
      const match = pattern.regex.exec(path);
      if (!match) continue;
      const route = routeFor(pattern.routes, method);
      if (!route) continue;
      const params: Record<string, string> = {};
      for (let i = 0; i < pattern.names.length; i++) params[pattern.names[i]!] = decodeURIComponent(match[i + 1]!);
      return { route, params };
    }
    return undefined;
  }

  private tableOf(path: string): Map<string, Route> {
    if (!path.includes(':') && !path.endsWith('*')) {
      let table = this.exact.get(path);
      if (!table) this.exact.set(path, (table = new Map()));
      return table;
    }
    const names: string[] = [];
    const source = path
      .split('/')
      .map((segment, i, all) => {
        if (segment === '*' && i === all.length - 1) return names.push('*'), '(.*)';
        if (segment.startsWith(':')) return names.push(segment.slice(1)), '([^/]*)';
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    const existing = this.patterns.find((p) => p.source === source);
    if (existing) return existing.routes;
    // Parameters before wildcards, as find-my-way ranks them: `/v1beta/models` is exact, `/v1/models/:model` before `/v1/models/*`.
    const pattern = { source, regex: new RegExp(`^${source}$`), names, routes: new Map<string, Route>() };
    this.patterns.push(pattern);
    this.patterns.sort((a, b) => Number(a.names.includes('*')) - Number(b.names.includes('*')));
    return pattern.routes;
  }
}

function routeFor(table: Map<string, Route>, method: string): Route | undefined {
  return table.get(method) ?? (method === 'HEAD' ? table.get('GET') : undefined);
}

/** A request target that cannot be decoded (a bad percent escape). */
export class BadTarget extends Error {
  constructor(readonly target: string) {
    super(`'${target}' is not a valid url component`);
    this.name = 'BadTarget';
  }
}

/** An absolute-form target's scheme and authority, which routing ignores (RFC 9112 §3.2.2). */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * The parts of a request target: the raw path, the decoded path and the query.
 * @throws {BadTarget} for a malformed percent escape in the path.
 */
export function splitTarget(url: string): { rawPath: string; path: string; query: string; authority: string | undefined } {
  let authority: string | undefined;
  let target = url;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    const absolute = ABSOLUTE_FORM.exec(target);
    if (absolute) {
      authority = absolute[0].slice(absolute[0].indexOf('//') + 2);
      target = target.slice(absolute[0].length) || '/';
    }
  }
  let end = target.length;
  const q = target.indexOf('?');
  const h = target.indexOf('#');
  if (q >= 0) end = q;
  if (h >= 0 && h < end) end = h;
  const rawPath = target.slice(0, end);
  const query = q >= 0 && q === end ? target.slice(q + 1, h > q ? h : undefined) : '';
  return { rawPath, path: rawPath.includes('%') ? decodePath(rawPath) : rawPath, query, authority };
}

/** decodeURI, except that `%25` stays escaped (a decoded `%` would be read again as an escape by the parameter decoding). */
function decodePath(path: string): string {
  try {
    return decodeURI(path.replace(/%25/g, '%2525'));
  } catch {
    throw new BadTarget(path);
  }
}

/** A query string as an object; a name given twice or more has an array of its values (as fastify parsed it). */
export function queryObject(query: string): Record<string, string | string[]> {
  const object: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(query)) {
    const had = object[name];
    object[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return object;
}
