/** OpenAI-format stream frames, shared by chat and legacy completions. */
import { chunkToSSE, openAIError, SSE_DONE } from '../wire/openai.js';
import type { StreamEncoder } from './ingress.js';

/**
 * `data: {json}` frames ending with `[DONE]`. The usage-only chunk (choices: []) and the
 * `usage: null` of the others are written only when the client asked for them with
 * stream_options.include_usage, as OpenAI does; the relay still accounts from them. An error mid-stream is a data frame carrying `error`, which the OpenAI SDKs
 * raise as an APIError.
 */
export function openAIStreamEncoder<Chunk extends { choices: unknown[]; usage?: unknown }>(includeUsage: boolean): StreamEncoder<Chunk> {
  return {
    chunk(chunk) {
      if (includeUsage) return chunkToSSE(chunk);
      if (chunk.choices.length === 0) return '';
      // The sidecar asked the provider for usage; the client did not, so it sees none.
      return chunkToSSE(chunk.usage === null ? { ...chunk, usage: undefined } : chunk);
    },
    error: (error) => chunkToSSE(openAIError(error)),
    end: () => SSE_DONE,
  };
}
