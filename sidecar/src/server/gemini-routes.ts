/**
 * The Gemini API on the socket, for the google-genai SDKs and Google's ADK:
 * `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:countTokens`,
 * `GET /v1beta/models` and `/v1beta/models/{model}`. Errors in Google's shape. A Gemini provider
 * takes calls natively; every other provider through the canonical form.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { estimateTokens } from '../ingress/estimate.js';
import { geminiToChat } from '../ingress/translate/gemini.js';
import { chatToGemini, geminiStreamEncoder } from '../ingress/translate/gemini-output.js';
import { ModelNotFoundError } from '../router/models.js';
import { CountTokensBody, GenerateContentRequest, geminiErrorBody, geminiModel } from '../wire/gemini.js';
import type { AppOptions } from './app.js';
import { BadRequest, parseBody } from './body.js';
import type { Ingress } from './ingress.js';
import { relayModelCall } from './model-route.js';
import { countTokensOperation, generateContentOperation } from './operations.js';
import { errorHandlerFor } from './refusal.js';

/** The Gemini API as an ingress. */
export const geminiIngress: Ingress = {
  name: 'gemini',
  native: ['gemini'],
  errorBody: geminiErrorBody,
  completion: chatToGemini,
  encoder: (context) => geminiStreamEncoder(context),
};

const PREFIX = '/v1beta/models/';

/** `{model}:{method}` from the path after /v1beta/models/ (the router has undone URL escapes). */
function target(request: FastifyRequest): { model: string; method: string | undefined } {
  const rest = (request.params as { '*': string })['*'];
  const colon = rest.lastIndexOf(':');
  return colon < 0 ? { model: rest, method: undefined } : { model: rest.slice(0, colon), method: rest.slice(colon + 1) };
}

function badRequest(message: string): BadRequest {
  return new BadRequest({ status: 400, type: 'invalid_request_error', message });
}

export async function geminiRoutes(app: FastifyInstance, options: AppOptions): Promise<void> {
  app.setErrorHandler(errorHandlerFor(geminiIngress));

  app.post(`${PREFIX}*`, async (request, reply) => {
    const { model, method } = target(request);
    const raw = request.body as Buffer;
    switch (method) {
      case 'generateContent':
      case 'streamGenerateContent': {
        const stream = method === 'streamGenerateContent';
        // Without alt=sse Gemini streams one JSON array; every Google SDK asks for SSE.
        if (stream && (request.query as { alt?: string }).alt !== 'sse') throw badRequest('streamGenerateContent is served with alt=sse only');
        const body = parseBody(raw, GenerateContentRequest);
        return relayModelCall(options, request, reply, model, generateContentOperation(geminiIngress, body, model, stream, raw));
      }
      case 'countTokens': {
        const body = parseBody(raw, CountTokensBody);
        const whole = body.generateContentRequest ?? { contents: body.contents ?? [] };
        const op = countTokensOperation(geminiIngress, geminiToChat(whole, model, false), raw, (tokens) => ({ totalTokens: tokens }));
        // No provider of the model counts tokens (OpenAI, Ollama): the sidecar's estimate, marked as one.
        const local = () => ({ body: { totalTokens: estimateTokens([whole.systemInstruction, whole.contents, whole.tools]) }, headers: { 'x-airlock-token-count': 'estimate' } });
        return relayModelCall(options, request, reply, model, op, local);
      }
      default:
        throw new BadRequest({ status: 404, type: 'invalid_request_error', message: `unknown method models/${model}:${method ?? ''}` });
    }
  });

  app.get('/v1beta/models', async (_request, reply) => reply.send({ models: options.live.current.catalog.list().map((m) => geminiModel(m.id)) }));

  app.get(`${PREFIX}*`, async (request, reply) => {
    const { model, method } = target(request);
    const known = method === undefined && options.live.current.catalog.list().some((m) => m.id === model);
    if (!known) throw new ModelNotFoundError(model);
    return reply.send(geminiModel(model));
  });
}
