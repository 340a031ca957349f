/**
 * The Gemini API on the socket, for the google-genai SDKs and Google's ADK:
 * `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:countTokens`,
 * `:embedContent`, `:batchEmbedContents`, `GET /v1beta/models` and `/v1beta/models/{model}`, and
 * the same under `/v1/` for Google clients (Gemini's GA version, the default of the google-genai
 * Python SDK from 3.0). Errors in Google's shape. A
 * Gemini provider takes calls natively; every other provider through the canonical form.
 */
import type { ServerResponse } from 'node:http';
import { estimateTokens } from '../ingress/estimate.js';
import { geminiToChat } from '../ingress/translate/gemini.js';
import { chatToGemini, geminiStreamEncoder } from '../ingress/translate/gemini-output.js';
import { ModelNotFoundError } from '../router/models.js';
import { BatchEmbedContentsRequest, CountTokensBody, EmbedContentRequest, GenerateContentRequest, geminiErrorBody, geminiModel, protoJsonNames } from '../wire/gemini.js';
import type { AppOptions } from './app.js';
import { BadRequest, parseBody } from './body.js';
import type { Ingress } from './ingress.js';
import { relayModelCall } from './model-route.js';
import { countTokensOperation, embeddingsOperation, generateContentOperation, reaching } from './operations.js';
import type { HttpRequest, Router } from './http/router.js';
import { errorHandlerFor, refuse } from './refusal.js';
import { Routes } from './routes.js';

/** The Gemini API as an ingress. */
export const geminiIngress: Ingress = {
  name: 'gemini',
  native: ['gemini'],
  errorBody: geminiErrorBody,
  completion: (completion) => chatToGemini(completion),
  encoder: (context) => geminiStreamEncoder(context),
};

/**
 * Whether a request comes from a Google client: the google-genai SDKs always send
 * `x-goog-api-client` and put the key in `x-goog-api-key` (OpenAI's and Anthropic's SDKs send
 * neither). Tells a Gemini `GET /v1/models` from an OpenAI one.
 */
export function isGeminiClient(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['x-goog-api-client'] !== undefined || headers['x-goog-api-key'] !== undefined;
}

/** `GET /v1beta/models` (or `/v1/models` from a Google client), in Google's list shape. */
export function geminiModelList(ids: string[]) {
  return { models: ids.map(geminiModel) };
}

/** `GET /v1beta/models/{model}` (or under `/v1/` from a Google client); 404 in Google's shape. */
export function geminiModelReply(res: ServerResponse, ids: string[], path: string): unknown {
  // A served name with a colon (Ollama's `qwen2.5:7b`) is the model, not a method on it.
  if (ids.includes(path)) return geminiModel(path);
  const colon = path.lastIndexOf(':');
  const model = colon < 0 ? path : path.slice(0, colon);
  if (colon >= 0 || !ids.includes(model)) {
    return refuse(res, geminiIngress, { status: 404, type: 'not_found_error', message: new ModelNotFoundError(model).message });
  }
  return geminiModel(model);
}

/** `{model}:{method}` from the path after /v1beta/models/ or /v1/models/ (the router has undone URL escapes). */
function target(request: HttpRequest): { model: string; method: string | undefined } {
  const rest = request.params['*']!;
  const colon = rest.lastIndexOf(':');
  return colon < 0 ? { model: rest, method: undefined } : { model: rest.slice(0, colon), method: rest.slice(colon + 1) };
}

/** The text an embedding is made of: the content's text parts, together (as Gemini embeds them). */
function embeddingText(request: EmbedContentRequest, field: string): string {
  const texts = request.content.parts.flatMap((p) => (typeof p.text === 'string' ? [p.text] : []));
  if (texts.length === 0) throw badRequest(`${field}.parts: no text to embed (only text parts are embedded)`);
  return texts.join(' ');
}

/**
 * Refuses a body `model` (`field`) that names another model than the path's `model`: the path is
 * what the sidecar resolves, allows and prices, and a pass-through sends the body as written, so a
 * Gemini-compatible server that read the body's would answer with a model the sandbox may not
 * serve. The path's own name (`m` or `models/m`) is accepted: countTokens' generateContentRequest
 * carries it.
 */
function refuseOtherModel(named: unknown, model: string, field: string): void {
  if (named == null || named === model || named === `models/${model}`) return;
  throw new BadRequest({ status: 400, type: 'invalid_request_error', message: `${field}: names another model than the path's '${model}'; leave it out or name the same model`, param: field });
}

function badRequest(message: string): BadRequest {
  return new BadRequest({ status: 400, type: 'invalid_request_error', message });
}

/** The Gemini routes; `notFound` answers a /v1/models/{model}:{method} call from a client that is not Google's. */
export function geminiRoutes(router: Router, options: AppOptions, notFound: (request: HttpRequest, res: ServerResponse) => void): void {
  const routes = new Routes(router, options, errorHandlerFor(geminiIngress, options.log, options.metrics));

  const generate = (request: HttpRequest, res: ServerResponse) => {
    const { model, method } = target(request);
    const raw = request.body as Buffer;
    switch (method) {
      case 'generateContent':
      case 'streamGenerateContent': {
        const stream = method === 'streamGenerateContent';
        // Without alt=sse Gemini streams one JSON array; every Google SDK asks for SSE.
        if (stream && new URLSearchParams(request.query).get('alt') !== 'sse') throw badRequest('streamGenerateContent is served with alt=sse only');
        const body = parseBody(raw, GenerateContentRequest, protoJsonNames);
        refuseOtherModel(body.model, model, 'model');
        // As Gemini answers it, whoever serves the model (OpenAI and Anthropic would get no messages).
        if (body.contents.length === 0) throw new BadRequest({ status: 400, type: 'invalid_request_error', message: '* GenerateContentRequest.contents: contents is not specified', param: 'contents' });
        return relayModelCall(options, request, res, model, body, generateContentOperation(geminiIngress, body, model, stream, raw));
      }
      case 'countTokens': {
        const body = parseBody(raw, CountTokensBody, protoJsonNames);
        // Counting generates nothing: how many answers a generation would ask for is not the count's
        // business (a provider that serves one answer a call refused the count for it).
        const asked = body.generateContentRequest;
        refuseOtherModel(asked?.model, model, 'generateContentRequest.model');
        const whole = asked ? (asked.generationConfig?.candidateCount != null ? { ...asked, generationConfig: { ...asked.generationConfig, candidateCount: undefined } } : asked) : { contents: body.contents ?? [] };
        const op = reaching(countTokensOperation(geminiIngress, model, () => geminiToChat(whole, model, false), raw, (tokens) => ({ totalTokens: tokens })), body, 'gemini');
        // No provider of the model counts tokens (OpenAI, Ollama): the sidecar's estimate, marked as one.
        const local = () => ({ body: { totalTokens: estimateTokens([whole.systemInstruction, whole.contents, whole.tools]) }, headers: { 'x-airlock-token-count': 'estimate' } });
        return relayModelCall(options, request, res, model, body, op, local);
      }
      case 'embedContent':
      case 'batchEmbedContents': {
        const batch = method === 'batchEmbedContents';
        const batchBody = batch ? parseBody(raw, BatchEmbedContentsRequest, protoJsonNames) : undefined;
        const requests = batchBody?.requests ?? [parseBody(raw, EmbedContentRequest, protoJsonNames)];
        const dimensions = requests[0]!.outputDimensionality;
        const input = requests.map((r, i) => embeddingText(r, batch ? `requests[${i}].content` : 'content'));
        const embeddings = embeddingsOperation(geminiIngress, { model, input, ...(dimensions ? { dimensions } : {}) }, raw);
        // Never the client's bytes (raw unset): embedContent is one call upstream as a batch of
        // one. A Gemini provider gets the client's requests as they are (taskType, title), the
        // others the canonical input.
        const op = {
          ...embeddings,
          raw: undefined,
          build: (provider: Parameters<typeof embeddings.build>[0], target: Parameters<typeof embeddings.build>[1]) =>
            provider.adapter.embedContentsRequest?.(requests, target) ?? embeddings.build(provider, target),
          render: (response: Parameters<typeof embeddings.render>[0]) => {
            const vectors = response.data.map((d) => ({ values: d.embedding as number[] }));
            return batch ? { embeddings: vectors } : { embedding: vectors[0] };
          },
        };
        return relayModelCall(options, request, res, model, batchBody ?? requests[0]!, reaching(op, { requests }, 'gemini'));
      }
      default:
        throw new BadRequest({ status: 404, type: 'invalid_request_error', message: `unknown method models/${model}:${method ?? ''}` });
    }
  };
  // Under /v1/ the Gemini API is served to Google clients (by their headers), as GET /v1/models
  // is (openai-routes); anyone else there gets the OpenAI API's answer to an unknown endpoint.
  routes.add('POST', '/v1beta/models/*', generate);
  routes.add('POST', '/v1/models/*', (request, res) => (isGeminiClient(request.headers) ? generate(request, res) : notFound(request, res)));

  const ids = () => options.live.current.catalog.list().map((m) => m.id);
  routes.add('GET', '/v1beta/models', () => geminiModelList(ids()));
  routes.add('GET', '/v1beta/models/*', (request, res) => geminiModelReply(res, ids(), request.params['*']!));
}
