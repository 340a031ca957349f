/** OpenAI-format stream frames, shared by chat and legacy completions. */
import { chunkToSSE, openAIError, SSE_DONE } from '../wire/openai.js';
import type { StreamEncoder } from './ingress.js';

/**
 * `data: {json}` frames ending with `[DONE]`. The usage-only chunk (choices: []) is written only
 * when the client asked for it with stream_options.include_usage, as OpenAI does; the relay still
 * accounts from it. An error mid-stream is a data frame carrying `error`, which the OpenAI SDKs
 * raise as an APIError.
 */
export function openAIStreamEncoder<Chunk extends { choices: unknown[]; usage?: unknown }>(includeUsage: boolean): StreamEncoder<Chunk> {
  return {
    chunk: (chunk) => (!includeUsage && chunk.choices.length === 0 ? '' : chunkToSSE(chunk)),
    error: (error) => chunkToSSE(openAIError(error)),
    end: () => SSE_DONE,
  };
}
