/** The OpenAI API on the socket: chat completions, completions, embeddings, models. */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ModelNotFoundError } from '../router/models.js';
import { ChatRequest, CompletionRequest, EmbeddingsRequest, openAIError } from '../wire/openai.js';
import { openAIStreamEncoder } from './openai-encoder.js';
import { AdapterError, type ProviderError } from '../providers/types.js';
import type { AppOptions } from './app.js';
import { BadRequest, frameworkError } from './body.js';
import type { Ingress } from './ingress.js';
import { chatOperation, completionsOperation, embeddingsOperation } from './operations.js';
import { modelRoute } from './model-route.js';

/** The OpenAI API as an ingress. */
export const openAIIngress: Ingress = {
  name: 'openai',
  native: ['openai', 'openai-compatible'],
  errorBody: openAIError,
  completion: (completion) => completion,
  encoder: (context) => openAIStreamEncoder(context.includeUsage),
};

/** Sends a refusal made before routing in the ingress's error shape. */
export function refuse(reply: FastifyReply, ingress: Ingress, error: ProviderError): FastifyReply {
  return reply.code(error.status).type('application/json').send(ingress.errorBody(error));
}

/** Maps what a handler throws before the relay starts to the ingress's error shape. */
export function errorHandlerFor(ingress: Ingress) {
  return (err: FastifyError | Error, _request: unknown, reply: FastifyReply) => {
    if (err instanceof BadRequest || err instanceof AdapterError) return refuse(reply, ingress, err.error);
    if (err instanceof ModelNotFoundError) {
      return refuse(reply, ingress, { status: 404, type: 'invalid_request_error', message: err.message, code: 'model_not_found', param: 'model' });
    }
    const error = frameworkError(err as FastifyError);
    if (error.status >= 500) reply.log.error({ err }, 'unhandled error');
    return refuse(reply, ingress, error);
  };
}

export async function openAIRoutes(app: FastifyInstance, options: AppOptions): Promise<void> {
  app.setErrorHandler(errorHandlerFor(openAIIngress));
  modelRoute(app, options, '/v1/chat/completions', ChatRequest, (body, raw) => chatOperation(openAIIngress, body, raw));
  modelRoute(app, options, '/v1/completions', CompletionRequest, (body, raw) => completionsOperation(openAIIngress, body, raw));
  modelRoute(app, options, '/v1/embeddings', EmbeddingsRequest, (body, raw) => embeddingsOperation(openAIIngress, body, raw));

  app.get('/v1/models', async (request, reply) => {
    const models = options.live.current.catalog.list();
    // Both SDKs list models at this path; Anthropic's always sends anthropic-version.
    if (request.headers['anthropic-version']) {
      const data = models.map((m) => ({ type: 'model', id: m.id, display_name: m.id, created_at: '1970-01-01T00:00:00Z' }));
      return reply.send({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
    }
    return reply.send({ object: 'list', data: models.map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: m.ownedBy })) });
  });

  app.get<{ Params: { model: string } }>('/v1/models/:model', async (request, reply) => {
    const model = options.live.current.catalog.list().find((m) => m.id === request.params.model);
    if (!model) throw new ModelNotFoundError(request.params.model);
    return reply.send({ id: model.id, object: 'model', created: 0, owned_by: model.ownedBy });
  });

  app.setNotFoundHandler((request, reply) =>
    refuse(reply, openAIIngress, { status: 404, type: 'invalid_request_error', message: `unknown endpoint ${request.method} ${request.url.split('?')[0]}` }),
  );
}
