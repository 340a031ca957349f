/** The Anthropic Messages API on the socket. */
import type { FastifyInstance } from 'fastify';
import { anthropicStreamEncoder, chatToAnthropic } from '../ingress/translate/anthropic.js';
import { anthropicError, MessagesRequest } from '../wire/anthropic.js';
import type { AppOptions } from './app.js';
import { parseBody } from './body.js';
import type { Ingress } from './ingress.js';
import { errorHandlerFor, sandboxOf } from './openai-routes.js';
import { messagesOperation } from './operations.js';
import { relay } from './proxy.js';

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
  const deps = { log: options.log, metrics: options.metrics, secrets: options.secrets };
  app.setErrorHandler(errorHandlerFor(anthropicIngress));

  app.post('/v1/messages', async (request, reply) => {
    const body = parseBody(request.body, MessagesRequest);
    const runtime = options.live.current;
    const candidates = runtime.catalog.candidates(body.model);
    const clientHeaders = pick(request.headers, ['anthropic-version', 'anthropic-beta']);
    reply.hijack();
    await relay(messagesOperation(anthropicIngress, body, request.body as Buffer, clientHeaders), candidates, reply.raw, deps, sandboxOf(runtime));
  });
}

function pick(headers: Record<string, string | string[] | undefined>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((n) => (typeof headers[n] === 'string' ? [[n, headers[n]]] : [])));
}
