/** The Anthropic Messages API on the socket: messages, token counting, and models for the Anthropic SDK. */
import type { ServerResponse } from 'node:http';
import { estimateTokens } from '../ingress/estimate.js';
import { anthropicStreamEncoder, anthropicToChat, chatToAnthropic } from '../ingress/translate/anthropic.js';
import { ModelNotFoundError } from '../router/models.js';
import { anthropicError, anthropicModel, CountTokensRequest, MessagesRequest } from '../wire/anthropic.js';
import type { AppOptions } from './app.js';
import type { Ingress } from './ingress.js';
import { modelRoute } from './model-route.js';
import type { Router } from './http/router.js';
import { errorHandlerFor, refuse } from './refusal.js';
import { Routes } from './routes.js';
import { countTokensOperation, messagesOperation, reaching } from './operations.js';

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

export function anthropicRoutes(router: Router, options: AppOptions): void {
  const routes = new Routes(router, options, errorHandlerFor(anthropicIngress, options.log, options.metrics));
  modelRoute(routes, '/v1/messages', MessagesRequest, (body, raw, request) =>
    messagesOperation(anthropicIngress, body, raw, pick(request.headers, ['anthropic-version', 'anthropic-beta'])),
  );
  modelRoute(
    routes,
    '/v1/messages/count_tokens',
    CountTokensRequest,
    (body, raw) => reaching(countTokensOperation(anthropicIngress, body.model, () => anthropicToChat({ ...body, max_tokens: 1 }), raw, (tokens) => ({ input_tokens: tokens })), body, 'anthropic'),
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
export function anthropicModelReply(res: ServerResponse, ids: string[], id: string): unknown {
  if (!ids.includes(id)) {
    return refuse(res, anthropicIngress, { status: 404, type: 'not_found_error', message: new ModelNotFoundError(id).message });
  }
  return anthropicModel(id);
}

function pick(headers: Record<string, string | string[] | undefined>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((n) => (typeof headers[n] === 'string' ? [[n, headers[n]]] : [])));
}
