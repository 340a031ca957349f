/**
 * Short, human-readable reasons for failed discovery calls. They end up in status condition
 * messages and Events, which whoever may read the resource reads: so a reason says what went
 * wrong in the operator's own words (an HTTP status and a fixed reason, a network error code),
 * never a word of the remote answer — the URL is the resource author's choice, and its body
 * could be anything, another service's data included. Every reason still passes through a
 * redactor that removes the secrets of the call before anything else happens to the text.
 */
import { STATUS_CODES } from 'node:http';

export { redactor } from '@airlock/sidecar/redact';

/** Longest reason we hand back; a condition message has room for more, but a reason is one line. */
export const MAX_REASON_LENGTH = 1024;

/**
 * Makes a reason fit for a condition: secrets removed first (so a cut can never leave half a
 * secret behind), whitespace collapsed to one line, length capped.
 */
export function finishReason(text: string, redact: (text: string) => string): string {
  const line = redact(text).replace(/\s+/g, ' ').trim();
  return line.length > MAX_REASON_LENGTH ? `${line.slice(0, MAX_REASON_LENGTH - 1)}…` : line;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed by the server',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CLOSED: 'connection closed',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'DNS lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for response headers',
  UND_ERR_BODY_TIMEOUT: 'timed out waiting for the response body',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'response too large',
  ERR_RESPONSE_TOO_LARGE: 'response too large',
  CERT_HAS_EXPIRED: 'TLS: the server certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS: the server certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS: self-signed certificate in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS: cannot verify the server certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS: unknown certificate issuer',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: the certificate does not match the host name',
};

const CODE_IN_TEXT = new RegExp(`\\b(${Object.keys(NETWORK_REASONS).join('|')})\\b`);

/**
 * The reason for a network-level failure (no HTTP answer), or undefined when the error is not
 * one. Looks through `cause` chains, because fetch wraps the socket error in `TypeError: fetch
 * failed` and the MCP SDK wraps that again; and, failing that, at the message, because the SSE
 * client keeps only the text of the error (`SSE error: TypeError: fetch failed: connect
 * ECONNREFUSED ...`).
 */
export function networkReason(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current instanceof Object && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code in NETWORK_REASONS) return `${NETWORK_REASONS[code]} (${code})`;
    current = (current as { cause?: unknown }).cause;
  }
  const code = CODE_IN_TEXT.exec(errorText(err))?.[1];
  return code === undefined ? undefined : `${NETWORK_REASONS[code]} (${code})`;
}

/** The text of any thrown value, with the nested causes fetch hides the real problem in. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = err, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ') || 'unknown error';
}

/** Whether the error is the timeout of an AbortSignal (ours) rather than something else. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

/**
 * Where a request went, for a reason: origin and path only. The query string and any user info
 * are left out: they are the places a URL carries credentials.
 */
export function endpointOf(url: string | URL): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

const FIXED_HTTP_REASONS: Record<number, string> = {
  400: 'the server refused the request',
  401: 'the server refused the credentials',
  403: 'the credentials lack permission',
  404: 'nothing answers at this URL',
  405: 'the URL does not take this method',
  408: 'the server timed out',
  429: 'rate limited by the server',
};

/**
 * An HTTP failure in fixed words: `401 Unauthorized: the server refused the credentials`. The
 * answer's body is deliberately not part of it (see the module comment).
 */
export function httpReason(status: number): string {
  const text = STATUS_CODES[status];
  const label = text ? `${status} ${text}` : `HTTP ${status}`;
  const fixed = FIXED_HTTP_REASONS[status] ?? (status >= 500 ? 'the server failed' : status >= 300 && status < 400 ? 'redirected (not followed)' : 'unexpected answer');
  return `${label}: ${fixed}`;
}
