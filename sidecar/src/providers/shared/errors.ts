/**
 * Building canonical errors: the status-to-type vocabulary, redaction of anything key-shaped in a
 * provider's message, and the typed errors adapters throw.
 */
import { redactor } from '../../log/redact.js';
import { BadResponseError, StreamError, TranslationError, type ProviderError } from '../types.js';

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  413: 'request_too_large',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** The canonical error type for an HTTP status. */
export function errorType(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

// Providers echo (masked) keys in some messages, e.g. OpenAI's "Incorrect API key provided:
// sk-proj-****abcd". The agent must learn nothing about keys, not even their last characters.
// Key values themselves are removed again where the error leaves the sidecar (SecretRegistry).
const redactKeyShapes = redactor([]);
const MAX_MESSAGE = 2000;

/** A provider's message made safe to show the client: key-shaped tokens removed, length capped. */
export function cleanMessage(message: string): string {
  const redacted = redactKeyShapes(message);
  return redacted.length > MAX_MESSAGE ? `${redacted.slice(0, MAX_MESSAGE)}…` : redacted;
}

/** A canonical error with a cleaned message. */
export function providerError(status: number, message: string, code?: string | null, param?: string | null, type = errorType(status)): ProviderError {
  const error: ProviderError = { status, type, message: cleanMessage(message) };
  if (code != null) error.code = code;
  if (param != null) error.param = param;
  return error;
}

/** The request cannot be expressed for this provider (400). */
export function untranslatable(provider: string, message: string, param?: string): TranslationError {
  return new TranslationError(providerError(400, `${provider}: ${message}`, 'unsupported_for_provider', param));
}

/** A 2xx body that is not what the provider promises (502). */
export function badResponse(provider: string, message: string): BadResponseError {
  return new BadResponseError(providerError(502, `${provider} returned an unexpected response: ${message}`, 'bad_upstream_response', null, 'api_error'));
}

/** A broken stream: malformed data or an early end (502). */
export function brokenStream(provider: string, message: string): StreamError {
  return new StreamError(providerError(502, `${provider} stream: ${message}`, 'bad_upstream_stream', null, 'api_error'));
}

/** Parses JSON from a stream frame, naming the provider and a prefix of the frame when it is not JSON. */
export function parseFrame(provider: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw brokenStream(provider, `malformed JSON in stream data: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

/** Reads an error body as JSON when it is JSON; undefined otherwise (HTML from a proxy, plain text). */
export function parseErrorBody(bodyText: string): unknown {
  try {
    return JSON.parse(bodyText);
  } catch {
    return undefined;
  }
}

/** The message of an error body we could not read structurally: its text, or the status alone. */
export function fallbackMessage(provider: string, status: number, bodyText: string): string {
  const text = bodyText.trim();
  return text ? `${provider} error ${status}: ${text}` : `${provider} error ${status}`;
}
