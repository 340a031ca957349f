/**
 * Why a call to a provider failed, classified for the router: which failures fail over, which
 * rest or disable a key, and which go straight back to the client.
 */
import type { ProviderError } from '../providers/types.js';

export type FailureKind =
  /** The provider answered with a non-2xx status. */
  | 'status'
  /** No connection, or it broke before the response headers. */
  | 'connect'
  /** No response headers (or, for a stream, no first chunk) within firstByteMs. */
  | 'timeout'
  /** The provider answered 2xx with a body that could not be understood. */
  | 'malformed'
  /** The client went away or the total deadline passed. */
  | 'aborted';

export class UpstreamFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly provider: string,
    readonly error: ProviderError,
    /** Retry-After from the provider, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(`${provider}: ${error.message}`);
    this.name = 'UpstreamFailure';
  }

  /** Whether another attempt (same provider or the next) may succeed. */
  get retryable(): boolean {
    if (this.kind === 'aborted') return false;
    if (this.kind !== 'status') return true;
    const s = this.error.status;
    return s === 429 || s === 401 || s === 403 || s >= 500 || s === 408;
  }

  /** Whether the failure says something about the provider's health (for the circuit breaker). */
  get countsAgainstProvider(): boolean {
    if (this.kind === 'aborted') return false;
    return this.kind !== 'status' || this.error.status >= 500;
  }
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED']);

/** Classifies an error thrown by undici while sending a request or reading its body. */
export function classifyError(err: unknown, provider: string, phase: 'headers' | 'body'): UpstreamFailure {
  const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  const name = (err as Error).name;
  if (name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') {
    return new UpstreamFailure('aborted', provider, { status: 499, type: 'api_error', message: 'request aborted' });
  }
  if (name === 'TimeoutError') {
    return new UpstreamFailure('timeout', provider, { status: 504, type: 'timeout_error', message: 'the total timeout passed' });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    const what = code === 'UND_ERR_HEADERS_TIMEOUT' ? 'no response headers' : 'no data';
    return new UpstreamFailure('timeout', provider, { status: 504, type: 'timeout_error', message: `provider ${provider} sent ${what} in time` });
  }
  if (code && CONNECT_CODES.has(code)) {
    const message = phase === 'headers' ? `cannot reach provider ${provider} (${code})` : `provider ${provider} closed the connection (${code})`;
    return new UpstreamFailure('connect', provider, { status: 502, type: 'api_error', message });
  }
  return new UpstreamFailure('connect', provider, {
    status: 502,
    type: 'api_error',
    message: `provider ${provider} failed: ${(err as Error).message ?? String(err)}`,
  });
}
