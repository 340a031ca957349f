/**
 * DNS-rebinding protection for the TCP (loopback) listener. A web page the user opens can make
 * the browser send requests to 127.0.0.1 under a name the attacker controls (DNS rebinding);
 * such a request carries the attacker's name in `Host` and the page's `Origin`. So on a TCP
 * listener every request must name the listener itself in `Host` (127.0.0.1, localhost or [::1]
 * with the bound port), and an `Origin`, when sent, must be that same origin. Agents (SDK
 * clients, curl) send no Origin and the right Host, so they never notice. The Unix socket is
 * exempt: a browser cannot reach it.
 *
 * The MCP transport specification requires this check for `/mcp` (403 for a bad Origin); it is
 * applied to every route, since a rebound page could as well spend the sandbox's model budget.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import { cutForLog, LogThrottle } from '../log/throttle.js';
import type { ProviderError } from '../providers/types.js';
import { anthropicIngress } from './anthropic-routes.js';
import { jsonRpcError, MCP_PATH } from './mcp-route.js';
import { openAIIngress } from './openai-routes.js';
import { JSON_UTF8 } from './http/app.js';
import { writeJson } from './http/reply.js';
import type { HttpRequest } from './http/router.js';

/** Characters of a request's Host, Origin and URL a refusal's log line keeps. */
const LOGGED_VALUE_CHARS = 200;

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** Why a request fails the check, or undefined when it passes. */
export function rebindingRefusal(headers: { host?: string | undefined; origin?: string | undefined }, port: number): string | undefined {
  const allowed = new Set(LOOPBACK_NAMES.map((name) => `${name}:${port}`));
  const host = headers.host?.toLowerCase();
  if (host === undefined || !allowed.has(host)) {
    return `Invalid Host header ${JSON.stringify(headers.host ?? '')}: this listener answers to ${[...allowed].join(', ')} only`;
  }
  if (headers.origin === undefined) return undefined;
  let origin: URL | undefined;
  try {
    origin = new URL(headers.origin);
  } catch {
    origin = undefined;
  }
  if (!origin || origin.protocol !== 'http:' || !allowed.has(origin.host.toLowerCase()) || origin.origin.toLowerCase() !== headers.origin.toLowerCase()) {
    return `Invalid Origin header ${JSON.stringify(headers.origin)}: cross-origin requests are refused (DNS rebinding protection)`;
  }
  return undefined;
}

/**
 * The check, for an app listening on 127.0.0.1:`port`: refuses (403, in the shape of the API the
 * path belongs to) and returns true when the request fails it. An absolute-form target
 * (`GET http://host/path`) names the host the request is for in place of `Host` (RFC 9112
 * §3.2.2), so that host is the one checked.
 */
export function guardLoopback(port: number, log: Logger): (request: HttpRequest, res: ServerResponse) => boolean {
  // The agent can send these as fast as it likes, with headers of any size: logged within a bound,
  // each value cut, so that it cannot fill the log (nor, through it, the sidecar's memory).
  const refusals = new LogThrottle(log, { what: 'loopback port refusals', lines: 10, intervalMs: 10_000 });
  const cut = (value: string | undefined) => (value === undefined ? undefined : cutForLog(value, LOGGED_VALUE_CHARS));
  return (request, res) => {
    const host = request.authority ?? request.headers.host;
    const refusal = rebindingRefusal({ host, origin: request.headers.origin }, port);
    if (refusal === undefined) return false;
    if (refusals.admit(1)) {
      log.warn({ host: cut(host), origin: cut(request.headers.origin), url: cut(request.url) }, 'refused a request with a foreign Host or Origin on the loopback port');
    }
    const path = request.rawPath;
    const error: ProviderError = { status: 403, type: 'permission_error', message: refusal };
    const body = path === MCP_PATH ? jsonRpcError(-32000, refusal) : path.startsWith('/v1/messages') ? anthropicIngress.errorBody(error) : openAIIngress.errorBody(error);
    writeJson(res, 403, body, JSON_UTF8);
    return true;
  };
}
