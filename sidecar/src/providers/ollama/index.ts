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

/** The most models one provider remembers as refusing `think` (the set starts over past it). */
const MAX_REMEMBERED = 1024;

/**
 * An Ollama adapter for one configured provider. It remembers which of the provider's models
 * refused `think: true` and asks them without it from then on, so only a model's first call is
 * asked twice; the memory is the provider's own, not shared with other providers, nor with the
 * next config's provider when a reload changes this one.
 */
export function createOllamaAdapter(): ProviderAdapter {
  const refusedThinking = new Set<string>();
  /** Whether to ask without thinking: a second try after the refusal (which is remembered), or a model that refused before. */
  const cannotThink = (target: UpstreamTarget): boolean => {
    if (target.unconstrained) {
      if (refusedThinking.size >= MAX_REMEMBERED) refusedThinking.clear();
      refusedThinking.add(target.model);
      return true;
    }
    return refusedThinking.has(target.model);
  };
  return {
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
}
