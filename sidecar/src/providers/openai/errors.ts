/** OpenAI error bodies, and the shapes OpenAI-compatible servers use instead. */
import { errorType, fallbackMessage, parseErrorBody, providerError } from '../shared/errors.js';
import type { ProviderError } from '../types.js';

/**
 * An error object to canonical form. OpenAI sends `{error: {message, type, param, code}}`; vLLM,
 * LiteLLM, FastAPI-based and other compatible servers send `{error: "text"}`, `{message}` or
 * `{detail}`. OpenAI's own `type` and `code` are kept so an OpenAI client sees what it would have
 * seen without the sidecar.
 */
export function errorFromObject(value: unknown, status: number): ProviderError {
  const body = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const inner = typeof body.error === 'object' && body.error !== null ? (body.error as Record<string, unknown>) : body;
  const message = firstString(inner.message, body.error, body.message, body.detail) ?? `openai error ${status}`;
  const type = typeof inner.type === 'string' && inner.type ? inner.type : errorType(status);
  const code = typeof inner.code === 'string' ? inner.code : typeof inner.code === 'number' ? String(inner.code) : null;
  const param = typeof inner.param === 'string' ? inner.param : null;
  return providerError(status, message, code, param, type);
}

/** A non-2xx OpenAI response to canonical form. */
export function openAIError(status: number, bodyText: string): ProviderError {
  const body = parseErrorBody(bodyText);
  if (body === undefined) return providerError(status, fallbackMessage('openai', status, bodyText));
  return errorFromObject(body, status);
}

function firstString(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === 'string' && value) return value;
  return undefined;
}
