/** Embeddings helpers for providers whose embeddings API is not OpenAI's. */
import type { EmbeddingsRequest, EmbeddingsResponse } from '../../wire/openai.js';
import type { TranslateContext } from '../types.js';
import { untranslatable } from './errors.js';

/** The input as a list of texts; token-id input only OpenAI-type providers understand. */
export function embeddingTexts(provider: string, input: EmbeddingsRequest['input']): string[] {
  if (typeof input === 'string') return [input];
  if (input.every((item): item is string => typeof item === 'string')) return input;
  throw untranslatable(provider, 'token-id input is not supported; send text', 'input');
}

/**
 * Vectors in the OpenAI list shape. With `encoding_format: base64` (what the OpenAI SDKs ask for
 * by default) each vector is base64 of little-endian float32, as OpenAI sends it.
 */
export function embeddingsList(vectors: number[][], request: EmbeddingsRequest, context: TranslateContext, promptTokens: number): EmbeddingsResponse {
  const base64 = request.encoding_format === 'base64';
  return {
    object: 'list',
    data: vectors.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
    })),
    model: context.requestedModel,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
