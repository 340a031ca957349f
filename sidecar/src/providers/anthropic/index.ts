/**
 * The `anthropic` provider type: the Messages API. Requests go to `{baseURL}/v1/messages` with
 * `x-api-key` and `anthropic-version`; there are no embeddings.
 */
import type { MessagesRequest } from '../../wire/anthropic.js';
import { fallbackMessage, parseErrorBody, providerError } from '../shared/errors.js';
import { badResponse } from '../shared/errors.js';
import { buildHeaders, get, JSON_HEADERS, postJSON, versionedURL, type ModelessTarget } from '../shared/http.js';
import type { AnthropicClientHeaders, ProviderAdapter, ProviderError } from '../types.js';
import { toAnthropicCountRequest, toAnthropicRequest, withoutRefusedThinking } from './request.js';
import { fromAnthropicMessage } from './response.js';
import { anthropicStream } from './stream.js';

/** The API version sent unless the client of a pass-through call chose one. */
export const ANTHROPIC_VERSION = '2023-06-01';

function headers(target: ModelessTarget, client?: AnthropicClientHeaders): Record<string, string> {
  const fixed: Record<string, string> = { ...JSON_HEADERS, 'anthropic-version': client?.['anthropic-version'] ?? ANTHROPIC_VERSION };
  const all = buildHeaders(fixed, target.headers, target.apiKey ? { 'x-api-key': target.apiKey } : undefined);
  const beta = client?.['anthropic-beta'];
  // Betas the provider config enables and betas the client asks for both apply.
  if (beta) all['anthropic-beta'] = all['anthropic-beta'] ? `${all['anthropic-beta']},${beta}` : beta;
  return all;
}

/** A non-2xx Anthropic response: `{type: "error", error: {type, message}}`. */
function anthropicError(status: number, bodyText: string): ProviderError {
  const body = parseErrorBody(bodyText) as { error?: { type?: unknown; message?: unknown } } | undefined;
  const error = body?.error;
  if (typeof error?.message !== 'string') return providerError(status, fallbackMessage('anthropic', status, bodyText));
  return providerError(status, error.message, null, null, typeof error.type === 'string' ? error.type : undefined);
}

/** The Anthropic adapter. */
export const anthropicAdapter: ProviderAdapter = {
  type: 'anthropic',
  chatRequest: (request, target) =>
    postJSON(versionedURL(target.baseURL, 'v1', '/messages'), headers(target), () => toAnthropicRequest(request, target.model, target.unconstrained)),
  // Anthropic compiles a request's strict tools and output format into one grammar and refuses
  // it past a size it does not document ("The compiled grammar is too large", 400; reported from
  // 7 to 13 ordinary strict tools), which no count made beforehand can tell.
  constraintRefused: (error) => error.status === 400 && /compiled grammar is too large|too complex for compilation/i.test(error.message),
  chatResponse: fromAnthropicMessage,
  chatStream: anthropicStream,
  messagesRequest: (request: MessagesRequest, target, clientHeaders) =>
    postJSON(versionedURL(target.baseURL, 'v1', '/messages'), headers(target, clientHeaders), () => ({ ...(withoutRefusedThinking(request) ?? request), model: target.model })),
  countTokensRequest: (request, target) =>
    postJSON(versionedURL(target.baseURL, 'v1', '/messages/count_tokens'), headers(target), () => toAnthropicCountRequest(request(), target.model)),
  countTokensResponse(body) {
    const tokens = (body as { input_tokens?: unknown } | null)?.input_tokens;
    if (typeof tokens !== 'number') throw badResponse('anthropic', 'expected input_tokens');
    return tokens;
  },
  modelsRequest: (target) => get(versionedURL(target.baseURL, 'v1', '/models?limit=1000'), headers(target)),
  modelsResponse(body) {
    const data = (body as { data?: { id?: unknown }[] } | null)?.data;
    if (!Array.isArray(data)) throw badResponse('anthropic', 'expected a model list with data');
    return data.flatMap((m) => (typeof m.id === 'string' ? [m.id] : []));
  },
  error: anthropicError,
};
