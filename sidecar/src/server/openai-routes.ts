/** The OpenAI API on the socket: chat completions, completions, embeddings, models. */
import type { FastifyInstance } from 'fastify';
import { ModelNotFoundError } from '../router/models.js';
import { ChatRequest, CompletionRequest, EmbeddingsRequest, openAIError } from '../wire/openai.js';
import { openAIStreamEncoder } from './openai-encoder.js';
import type { AppOptions } from './app.js';
import type { Ingress } from './ingress.js';
import { chatOperation, completionsOperation, embeddingsOperation } from './operations.js';
import { modelRoute } from './model-route.js';
import { errorHandlerFor } from './refusal.js';
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

export async function openAIRoutes(app: FastifyInstance, options: AppOptions): Promise<void> {
  app.setErrorHandler(errorHandlerFor(openAIIngress));
  modelRoute(app, options, '/v1/chat/completions', ChatRequest, (body, raw) => chatOperation(openAIIngress, body, raw));
  modelRoute(app, options, '/v1/completions', CompletionRequest, (body, raw) => completionsOperation(openAIIngress, body, raw));
  modelRoute(app, options, '/v1/embeddings', EmbeddingsRequest, (body, raw) => embeddingsOperation(openAIIngress, body, raw));

  // The OpenAI, Anthropic and google-genai SDKs list models at these paths; each gets its own API's shape.
  app.get('/v1/models', async (request, reply) => {
    const models = options.live.current.catalog.list();
    if (isAnthropicClient(request.headers)) return reply.send(anthropicModelList(models.map((m) => m.id)));
    if (isGeminiClient(request.headers)) return reply.send(geminiModelList(models.map((m) => m.id)));
    return reply.send({ object: 'list', data: models.map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: m.ownedBy })) });
  });

  app.get<{ Params: { model: string } }>('/v1/models/:model', async (request, reply) => {
    const models = options.live.current.catalog.list();
    if (isAnthropicClient(request.headers)) return anthropicModelReply(reply, models.map((m) => m.id), request.params.model);
    if (isGeminiClient(request.headers)) return geminiModelReply(reply, models.map((m) => m.id), request.params.model);
    const model = models.find((m) => m.id === request.params.model);
    if (!model) throw new ModelNotFoundError(request.params.model);
    return reply.send({ id: model.id, object: 'model', created: 0, owned_by: model.ownedBy });
  });
}
