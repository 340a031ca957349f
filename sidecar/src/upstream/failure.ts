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
  /**
   * An answer larger than the sidecar holds to read or translate (upstream/client.ts): the call
   * asked for more than fits, so another attempt would read as much again (and be billed again);
   * the provider answered, so it says nothing against its health.
   */
  | 'too_large'
  /** The client went away or the total deadline passed. */
  | 'aborted';

export class UpstreamFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly provider: string,
    readonly error: ProviderError,
    /** Retry-After from the provider, in ms. */
    readonly retryAfterMs?: number,
    /** The error it was classified from (its `code` says what the network did). */
    cause?: unknown,
  ) {
    super(`${provider}: ${error.message}`, cause === undefined ? undefined : { cause });
    this.name = 'UpstreamFailure';
  }

  /** Whether another attempt (same provider or the next) may succeed. */
  get retryable(): boolean {
    if (this.kind === 'aborted' || this.kind === 'too_large') return false;
    if (this.kind !== 'status') return true;
    const s = this.error.status;
    return s === 429 || s === 401 || s === 403 || s >= 500 || s === 408;
  }

  /** Whether the failure says something about the provider's health (for the circuit breaker). */
  get countsAgainstProvider(): boolean {
    if (this.kind === 'aborted' || this.kind === 'too_large') return false;
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

/** A phase of an upstream request that took longer than its timeout (upstream/client.ts). */
export class UpstreamTimeout extends Error {
  constructor(
    readonly phase: 'connect' | 'headers' | 'body',
    readonly ms: number,
  ) {
    super(`${phase === 'connect' ? 'no connection' : phase === 'headers' ? 'no response headers' : 'no data'} within ${ms} ms`);
    this.name = 'UpstreamTimeout';
  }

  /** A connection not made in time is the network's ETIMEDOUT (what the operator's probe reports). */
  get code(): string | undefined {
    return this.phase === 'connect' ? 'ETIMEDOUT' : undefined;
  }
}

/** Node's network errors for a connection that could not be made or broke (`socket hang up` is ECONNRESET). */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Classifies an error of Node's HTTP client (or an abort) while sending a request or reading its body. */
export function classifyError(err: unknown, provider: string, phase: 'headers' | 'body'): UpstreamFailure {
  // The original error goes along as `cause`: its code says what the network did (the operator's probe reads it).
  const failure = (kind: FailureKind, error: ProviderError) => new UpstreamFailure(kind, provider, error, undefined, err);
  const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  const name = (err as Error).name;
  if (name === 'AbortError' || code === 'ABORT_ERR') {
    return failure('aborted', { status: 499, type: 'api_error', message: 'request aborted' });
  }
  if (name === 'TimeoutError') {
    return failure('timeout', { status: 504, type: 'timeout_error', message: 'the total timeout passed' });
  }
  if (err instanceof UpstreamTimeout) {
    // A connection that is not made in time: a provider that cannot be reached.
    if (err.phase === 'connect') return failure('connect', { status: 502, type: 'api_error', message: `cannot reach provider ${provider} (no connection within ${err.ms} ms)` });
    const what = err.phase === 'headers' ? 'no response headers' : 'no data';
    return failure('timeout', { status: 504, type: 'timeout_error', message: `provider ${provider} sent ${what} in time` });
  }
  if (code && CONNECT_CODES.has(code)) {
    // A hint a lookup gave (upstream/pod-addresses.ts): why a name of the sandbox's own namespace is not found.
    const hint = (err as { hint?: unknown }).hint;
    const message = phase === 'headers' ? `cannot reach provider ${provider} (${code}${typeof hint === 'string' ? `; ${hint}` : ''})` : `provider ${provider} closed the connection (${code})`;
    return failure('connect', { status: 502, type: 'api_error', message });
  }
  if (code === 'HPE_HEADER_OVERFLOW') {
    return failure('connect', { status: 502, type: 'api_error', message: `provider ${provider} sent response headers larger than ${process.getBuiltinModule('node:http').maxHeaderSize} bytes` });
  }
  if (code === 'ERR_ANSWERS_HELD') {
    // Answers other calls' clients have not taken fill the sidecar's answer budget (answer-budget.ts).
    return failure('too_large', { status: 503, type: 'api_error', message: `the sidecar holds ${(err as Error).message} that their clients have not read yet, its bound (listen.maxAnswerBytesInFlight); retry later: a connection that leaves its answer unread is closed after listen.stalledReaderMs` });
  }
  if (code === 'ERR_RESPONSE_TOO_LARGE') {
    return failure('too_large', { status: 502, type: 'api_error', message: `provider ${provider} sent a ${(err as Error).message}, more than the sidecar holds to translate an answer; ask for less in one call` });
  }
  if (code?.startsWith('HPE_')) {
    return failure('connect', { status: 502, type: 'api_error', message: `provider ${provider} sent a malformed HTTP response (${code})` });
  }
  if (code && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    return failure('connect', { status: 502, type: 'api_error', message: `the TLS connection to provider ${provider} failed (${code})` });
  }
  return failure('connect', {
    status: 502,
    type: 'api_error',
    message: `provider ${provider} failed: ${(err as Error).message ?? String(err)}`,
  });
}

/** OpenSSL's certificate verification codes, as Node's TLS reports them. */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'HOSTNAME_MISMATCH',
]);
