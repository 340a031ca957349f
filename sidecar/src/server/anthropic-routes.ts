/** The Anthropic Messages API on the socket. */
import type { FastifyInstance } from 'fastify';
import { anthropicStreamEncoder, chatToAnthropic } from '../ingress/translate/anthropic.js';
import { anthropicError, MessagesRequest } from '../wire/anthropic.js';
import type { AppOptions } from './app.js';
import type { Ingress } from './ingress.js';
import { modelRoute } from './model-route.js';
import { errorHandlerFor } from './openai-routes.js';
import { messagesOperation } from './operations.js';

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

export async function anthropicRoutes(app: FastifyInstance, options: AppOptions): Promise<void> {
  app.setErrorHandler(errorHandlerFor(anthropicIngress));
  modelRoute(app, options, '/v1/messages', MessagesRequest, (body, raw, request) =>
    messagesOperation(anthropicIngress, body, raw, pick(request.headers, ['anthropic-version', 'anthropic-beta'])),
  );
}

function pick(headers: Record<string, string | string[] | undefined>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((n) => (typeof headers[n] === 'string' ? [[n, headers[n]]] : [])));
}
