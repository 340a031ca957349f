/**
 * The `openai` and `openai-compatible` provider types. The canonical form is OpenAI's, so requests
 * pass through with only `model` replaced (and, to a compatible server, `developer` messages as
 * `system`: ./request.ts), and responses with only `model` reported back as the
 * client asked for it. Nothing is added: a client that did not ask for `stream_options` gets none
 * upstream either (the router accounts from what comes back).
 *
 * One exception, for the `openai` type only: `max_tokens` is sent as `max_completion_tokens`.
 * OpenAI deprecated the former and its reasoning models refuse it, while every current OpenAI
 * chat model takes the latter; OpenAI-compatible servers often know only `max_tokens`, so the
 * translations from other APIs (Anthropic ingress) produce `max_tokens` and it is renamed here.
 */
import type { ChatCompletion, ChatCompletionChunk, Completion, EmbeddingsResponse } from '../../wire/openai.js';
import { badResponse } from '../shared/errors.js';
import { buildHeaders, get, joinURL, JSON_HEADERS, postJSON, type ModelessTarget } from '../shared/http.js';
import type { ProviderAdapter, TranslateContext } from '../types.js';
import { openAIError } from './errors.js';
import { openAIStream } from './stream.js';
import { toCompatibleRequest, toOpenAIRequest } from './request.js';
import { responsesRequest, responsesResponse, responsesStream } from './responses.js';

const PROVIDER = 'openai';

function headers(target: ModelessTarget): Record<string, string> {
  return buildHeaders(JSON_HEADERS, target.headers, target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : undefined);
}

/** The body with `model` replaced: a shallow copy, so the caller's object is left alone. */
function withModel<T extends object>(body: T, model: string): T & { model: string } {
  return { ...body, model };
}

function requireObject(body: unknown, field: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as Record<string, unknown>)[field])) {
    throw badResponse(PROVIDER, `expected a JSON object with ${field}`);
  }
  return body as Record<string, unknown>;
}

function reportModel<T>(body: unknown, field: string, context: TranslateContext): T {
  return withModel(requireObject(body, field), context.requestedModel) as T;
}

/**
 * A chat completion or legacy completion as the sidecar reads it: at least one choice, each an
 * object with its `message` (chat) or `text` (completions). Anything else is not an answer and
 * fails over rather than passing for an empty one. A missing id (some OpenAI-compatible servers)
 * is the call's own.
 */
function completionOf<T>(body: unknown, context: TranslateContext, content: 'message' | 'text'): T {
  const completion = requireObject(body, 'choices');
  const choices = completion.choices as unknown[];
  const whole = choices.length > 0 && choices.every((c) => typeof c === 'object' && c !== null && (content === 'text' ? typeof (c as { text?: unknown }).text === 'string' : typeof (c as { message?: unknown }).message === 'object' && (c as { message?: unknown }).message !== null));
  if (!whole) throw badResponse(PROVIDER, `expected choices, each with its ${content}`);
  if (typeof completion.id !== 'string') completion.id = context.id;
  return withModel(completion, context.requestedModel) as T;
}

/** The openai-compatible adapter: pass-through, `developer` messages as `system` (toCompatibleRequest). */
export const openAICompatibleAdapter: ProviderAdapter = {
  type: 'openai-compatible',
  chatRequest: (request, target) => postJSON(joinURL(target.baseURL, '/chat/completions'), headers(target), () => toCompatibleRequest(request, target.model)),
  chatResponse: (body, context) => completionOf<ChatCompletion>(body, context, 'message'),
  chatStream: (context) => openAIStream<ChatCompletionChunk>(context),
  embeddingsRequest: (request, target) => postJSON(joinURL(target.baseURL, '/embeddings'), headers(target), () => withModel(request, target.model)),
  embeddingsResponse: (body, context) => reportModel<EmbeddingsResponse>(body, 'data', context),
  completionsRequest: (request, target) => postJSON(joinURL(target.baseURL, '/completions'), headers(target), () => withModel(request, target.model)),
  completionsResponse: (body, context) => completionOf<Completion>(body, context, 'text'),
  completionsStream: (context) => openAIStream<Completion>(context),
  modelsRequest: (target) => get(joinURL(target.baseURL, '/models'), headers(target)),
  modelsResponse(body) {
    const data = requireObject(body, 'data').data as { id?: unknown }[];
    return data.flatMap((m) => (typeof m.id === 'string' ? [m.id] : []));
  },
  error: openAIError,
};

/**
 * The OpenAI adapter: as openai-compatible, with `max_tokens` renamed for OpenAI's models, and
 * the Responses API natively (compatible servers get Responses calls through chat completions).
 */
export const openAIAdapter: ProviderAdapter = {
  ...openAICompatibleAdapter,
  type: 'openai',
  responsesRequest: (request, target) => responsesRequest(request, target, headers(target)),
  responsesResponse,
  responsesStream,
  chatRequest: (request, target) => postJSON(joinURL(target.baseURL, '/chat/completions'), headers(target), () => toOpenAIRequest(request, target.model)),
};
