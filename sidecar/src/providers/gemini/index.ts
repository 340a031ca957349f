/**
 * The `gemini` provider type: the Gemini API (generativelanguage.googleapis.com). Requests go to
 * `{baseURL}/v1beta/models/{model}:generateContent` (`:streamGenerateContent?alt=sse` to stream)
 * with the key in `x-goog-api-key`, never in the URL, so it cannot leak through a logged URL.
 */
import type { EmbeddingsRequest } from '../../wire/openai.js';
import { embeddingsList, embeddingTexts } from '../shared/embeddings.js';
import { badResponse } from '../shared/errors.js';
import { buildHeaders, get, JSON_HEADERS, postJSON, versionedURL, type ModelessTarget } from '../shared/http.js';
import type { ProviderAdapter, UpstreamTarget } from '../types.js';
import { toGeminiCountRequest, toGeminiRequest } from './request.js';
import { fromGeminiResponse, geminiError } from './response.js';
import { geminiStream } from './stream.js';
import { enforcesSignatures, withSignaturesMended } from './signature.js';

const PROVIDER = 'gemini';

function headers(target: ModelessTarget): Record<string, string> {
  return buildHeaders(JSON_HEADERS, target.headers, target.apiKey ? { 'x-goog-api-key': target.apiKey } : undefined);
}

/** `models/NAME` for a bare name; names with a collection (`tunedModels/x`) stay as they are. */
function modelPath(model: string): string {
  return model.includes('/') ? model : `models/${model}`;
}

/** The generateContent URL of the target's model; streams use SSE. */
function generateURL(target: UpstreamTarget, stream: boolean): string {
  return versionedURL(target.baseURL, 'v1beta', `/${modelPath(target.model)}${stream ? ':streamGenerateContent?alt=sse' : ':generateContent'}`);
}

function embeddingsBody(request: EmbeddingsRequest, model: string) {
  const path = modelPath(model);
  return {
    requests: embeddingTexts(PROVIDER, request.input).map((text) => ({
      model: path,
      content: { parts: [{ text }] },
      ...(request.dimensions != null ? { outputDimensionality: request.dimensions } : {}),
    })),
  };
}

/** The Gemini adapter. */
export const geminiAdapter: ProviderAdapter = {
  type: 'gemini',
  chatRequest: (request, target) => postJSON(generateURL(target, request.stream === true), headers(target), () => toGeminiRequest(request, target.model)),
  chatResponse: fromGeminiResponse,
  generateContentRequest: (request, target, stream) => postJSON(generateURL(target, stream), headers(target), () => withSignaturesMended(request, enforcesSignatures(target.model)) ?? request),
  chatStream: geminiStream,
  embeddingsRequest: (request, target) =>
    postJSON(versionedURL(target.baseURL, 'v1beta', `/${modelPath(target.model)}:batchEmbedContents`), headers(target), () => embeddingsBody(request, target.model)),
  embedContentsRequest: (requests, target) =>
    postJSON(versionedURL(target.baseURL, 'v1beta', `/${modelPath(target.model)}:batchEmbedContents`), headers(target), () => ({
      requests: requests.map((request) => ({ ...request, model: modelPath(target.model) })),
    })),
  embeddingsResponse(body, context, request) {
    const embeddings = (body as { embeddings?: { values?: number[] }[] } | null)?.embeddings;
    if (!Array.isArray(embeddings)) throw badResponse(PROVIDER, 'expected embeddings');
    // batchEmbedContents reports no token counts.
    return embeddingsList(embeddings.map((e) => e.values ?? []), request, context, 0);
  },
  countTokensRequest: (request, target) =>
    postJSON(versionedURL(target.baseURL, 'v1beta', `/${modelPath(target.model)}:countTokens`), headers(target), () => toGeminiCountRequest(request(), target.model)),
  countTokensResponse(body) {
    const tokens = (body as { totalTokens?: unknown } | null)?.totalTokens;
    if (typeof tokens !== 'number') throw badResponse(PROVIDER, 'expected totalTokens');
    return tokens;
  },
  modelsRequest: (target) => get(versionedURL(target.baseURL, 'v1beta', '/models?pageSize=1000'), headers(target)),
  modelsResponse(body) {
    const models = (body as { models?: { name?: unknown }[] } | null)?.models;
    if (!Array.isArray(models)) throw badResponse(PROVIDER, 'expected a model list');
    return models.flatMap((m) => (typeof m.name === 'string' ? [m.name.startsWith('models/') ? m.name.slice(7) : m.name] : []));
  },
  error: geminiError,
};
