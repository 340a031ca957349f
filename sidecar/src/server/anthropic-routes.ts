/** The Anthropic Messages API on the socket: messages, token counting, and models for the Anthropic SDK. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { estimateTokens } from '../ingress/estimate.js';
import { anthropicStreamEncoder, anthropicToChat, chatToAnthropic } from '../ingress/translate/anthropic.js';
import { ModelNotFoundError } from '../router/models.js';
import { anthropicError, anthropicModel, CountTokensRequest, MessagesRequest } from '../wire/anthropic.js';
import type { AppOptions } from './app.js';
import type { Ingress } from './ingress.js';
import { modelRoute } from './model-route.js';
import { errorHandlerFor, refuse } from './refusal.js';
import { countTokensOperation, messagesOperation } from './operations.js';

/** The Anthropic Messages API as an ingress. */
export const anthropicIngress: Ingress = {
  name: 'anthropic',
  native: ['anthropic'],
  errorBody: anthropicError,
  completion: chatToAnthropic,
  encoder: (context) => {
    const encoder = anthropicStreamEncoder(context);
    return { chunk: (c) => encoder.encode(c), error: (e) => encoder.error(e), end: () => encoder.end() };
  },
};

/**
 * Whether a request comes from an Anthropic client: the Anthropic SDKs always send
 * `anthropic-version`, and `x-api-key` is Anthropic's key header (OpenAI's SDKs send neither).
 */
export function isAnthropicClient(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['anthropic-version'] !== undefined || headers['x-api-key'] !== undefined;
}

export async function anthropicRoutes(app: FastifyInstance, options: AppOptions): Promise<void> {
  app.setErrorHandler(errorHandlerFor(anthropicIngress));
  modelRoute(app, options, '/v1/messages', MessagesRequest, (body, raw, request) =>
    messagesOperation(anthropicIngress, body, raw, pick(request.headers, ['anthropic-version', 'anthropic-beta'])),
  );
  modelRoute(
    app,
    options,
    '/v1/messages/count_tokens',
    CountTokensRequest,
    (body, raw) => countTokensOperation(anthropicIngress, anthropicToChat({ ...body, max_tokens: 1 }), raw, (tokens) => ({ input_tokens: tokens })),
    // No provider of the model counts tokens (OpenAI, Ollama): the sidecar's estimate, marked as one.
    (body) => ({ body: { input_tokens: estimateTokens([body.system, body.messages, body.tools]) }, headers: { 'x-airlock-token-count': 'estimate' } }),
  );
}

/** GET /v1/models for an Anthropic client, in Anthropic's list shape. */
export function anthropicModelList(ids: string[]) {
  const data = ids.map(anthropicModel);
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

/** GET /v1/models/{id} for an Anthropic client (the SDK's `models.retrieve`); 404 in Anthropic's shape. */
export function anthropicModelReply(reply: FastifyReply, ids: string[], id: string): FastifyReply {
  if (!ids.includes(id)) {
    return refuse(reply, anthropicIngress, { status: 404, type: 'not_found_error', message: new ModelNotFoundError(id).message });
  }
  return reply.send(anthropicModel(id));
}

function pick(headers: Record<string, string | string[] | undefined>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((n) => (typeof headers[n] === 'string' ? [[n, headers[n]]] : [])));
}
