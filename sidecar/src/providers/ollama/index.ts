/**
 * The `ollama` provider type: Ollama's native API (`/api/chat`, `/api/embed`, `/api/tags`).
 * Keyless by default; a configured key is sent as a bearer token (Ollama behind an authenticating
 * proxy, or ollama.com).
 */
import { embeddingsList, embeddingTexts } from '../shared/embeddings.js';
import { badResponse } from '../shared/errors.js';
import { buildHeaders, get, joinURL, JSON_HEADERS, postJSON, type ModelessTarget } from '../shared/http.js';
import type { ProviderAdapter, UpstreamTarget } from '../types.js';
import { toOllamaRequest } from './request.js';
import { fromOllamaResponse, ollamaError } from './response.js';
import { ollamaStream } from './stream.js';

const PROVIDER = 'ollama';

function headers(target: ModelessTarget): Record<string, string> {
  return buildHeaders(JSON_HEADERS, target.headers, target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : undefined);
}

/** The Ollama adapter. */
/** Models (at their server) that refused `think: true`; asked without it from then on, so only their first call is asked twice. */
const refusedThinking = new Set<string>();
const MAX_REMEMBERED = 1024;

/** Whether to ask without thinking: a second try after the refusal (which is remembered), or a model that refused before. */
function cannotThink(target: UpstreamTarget): boolean {
  const key = `${target.baseURL} ${target.model}`;
  if (target.unconstrained) {
    if (refusedThinking.size >= MAX_REMEMBERED) refusedThinking.clear();
    refusedThinking.add(key);
    return true;
  }
  return refusedThinking.has(key);
}

export const ollamaAdapter: ProviderAdapter = {
  type: 'ollama',
  chatRequest: (request, target) => postJSON(joinURL(target.baseURL, '/api/chat'), headers(target), () => toOllamaRequest(request, target.model, { unconstrained: cannotThink(target), numCtx: target.numCtx })),
  constraintRefused: (error) => error.status === 400 && /does not support thinking/i.test(error.message),
  chatResponse: fromOllamaResponse,
  chatStream: ollamaStream,
  embeddingsRequest: (request, target) =>
    postJSON(joinURL(target.baseURL, '/api/embed'), headers(target), () => ({
      model: target.model,
      input: embeddingTexts(PROVIDER, request.input),
      ...(request.dimensions != null ? { dimensions: request.dimensions } : {}),
      // Ollama cuts an input longer than the window it runs the model with.
      ...(target.numCtx !== undefined ? { options: { num_ctx: target.numCtx } } : {}),
    })),
  embeddingsResponse(body, context, request) {
    const response = body as { embeddings?: number[][]; prompt_eval_count?: number } | null;
    if (!Array.isArray(response?.embeddings)) throw badResponse(PROVIDER, 'expected embeddings');
    return embeddingsList(response.embeddings, request, context, response.prompt_eval_count ?? 0);
  },
  modelsRequest: (target) => get(joinURL(target.baseURL, '/api/tags'), headers(target)),
  modelsResponse(body) {
    const models = (body as { models?: { name?: unknown }[] } | null)?.models;
    if (!Array.isArray(models)) throw badResponse(PROVIDER, 'expected a model list');
    return models.flatMap((m) => (typeof m.name === 'string' ? [m.name] : []));
  },
  error: ollamaError,
};
