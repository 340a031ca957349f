/** The OpenAI API on the socket: chat completions, completions, embeddings, models. */
import type { ServerResponse } from 'node:http';
import type { HttpRequest, Router } from './http/router.js';
import { ModelNotFoundError } from '../router/models.js';
import { ChatIngressRequest, CompletionRequest, EmbeddingsRequest, openAIError } from '../wire/openai.js';
import { openAIStreamEncoder } from './openai-encoder.js';
import type { AppOptions } from './app.js';
import type { Ingress } from './ingress.js';
import { chatOperation, completionsOperation, embeddingsOperation } from './operations.js';
import { modelRoute } from './model-route.js';
import { errorHandlerFor } from './refusal.js';
import { BadRequest } from './body.js';
import { Routes } from './routes.js';
import { anthropicModelList, anthropicModelReply, isAnthropicClient } from './anthropic-routes.js';
import { geminiModelList, geminiModelReply, isGeminiClient } from './gemini-routes.js';

/** The OpenAI API as an ingress. */
export const openAIIngress: Ingress = {
  name: 'openai',
  native: ['openai', 'openai-compatible'],
  errorBody: openAIError,
  completion: (completion) => completion,
  encoder: (context) => openAIStreamEncoder(context.includeUsage),
};

/**
 * A chat body with its output limit set once: `max_completion_tokens` and `max_tokens` both set
 * and unequal are refused. The sidecar holds one of them against the limits while the call runs
 * and passes the client's bytes through, and which one a server reads is its own (OpenAI reads
 * max_completion_tokens; OpenAI-compatible servers that know only `max_tokens` read that one), so
 * a body of 1 and 100,000 held 1 token and generated up to 100,000. Refused rather than the
 * larger held: what the sidecar holds is then what every server reads, as Gemini's two
 * spellings of one field are refused (wire/gemini.ts protoJsonNames). OpenAI refuses the two at
 * once whatever their values, with this code; equal values are served here, as clients that copy
 * one limit into both fields send them (to OpenAI-compatible servers that take both).
 * @throws {BadRequest} 400 in the OpenAI shape.
 */
function oneOutputLimit(body: ChatIngressRequest): ChatIngressRequest {
  const completion = body.max_completion_tokens;
  const tokens = body.max_tokens;
  if (completion != null && tokens != null && completion !== tokens) {
    const message = `both max_completion_tokens (${completion}) and max_tokens (${tokens}) are set; they name one limit: send one of them`;
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message, param: 'max_tokens', code: 'invalid_parameter_combination' });
  }
  return body;
}

export function openAIRoutes(router: Router, options: AppOptions): void {
  const routes = new Routes(router, options, errorHandlerFor(openAIIngress, options.log, options.metrics));
  modelRoute(routes, '/v1/chat/completions', ChatIngressRequest, (body, raw) => chatOperation(openAIIngress, oneOutputLimit(body), raw));
  modelRoute(routes, '/v1/completions', CompletionRequest, (body, raw) => completionsOperation(openAIIngress, body, raw));
  modelRoute(routes, '/v1/embeddings', EmbeddingsRequest, (body, raw) => embeddingsOperation(openAIIngress, body, raw));

  // The OpenAI, Anthropic and google-genai SDKs list models at these paths; each gets its own API's shape.
  routes.add('GET', '/v1/models', (request) => {
    const models = options.live.current.catalog.list();
    if (isAnthropicClient(request.headers)) return anthropicModelList(models.map((m) => m.id));
    if (isGeminiClient(request.headers)) return geminiModelList(models.map((m) => m.id));
    return { object: 'list', data: models.map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: m.ownedBy })) };
  });

  // One segment, or the rest of the path: google-genai writes a name with a slash as it is
  // (`models/meta-llama/Llama-3.1-8B`), where the OpenAI and Anthropic SDKs escape it.
  const modelReply = (request: HttpRequest, res: ServerResponse) => {
    const id = request.params.model ?? request.params['*']!;
    const models = options.live.current.catalog.list();
    if (isAnthropicClient(request.headers)) return anthropicModelReply(res, models.map((m) => m.id), id);
    if (isGeminiClient(request.headers)) return geminiModelReply(res, models.map((m) => m.id), id);
    const model = models.find((m) => m.id === id);
    if (!model) throw new ModelNotFoundError(id);
    return { id: model.id, object: 'model', created: 0, owned_by: model.ownedBy };
  };
  routes.add('GET', '/v1/models/:model', modelReply);
  routes.add('GET', '/v1/models/*', modelReply);
}
