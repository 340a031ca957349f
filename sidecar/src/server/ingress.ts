/**
 * An ingress is one API the agent speaks (OpenAI chat, OpenAI Responses, Anthropic, Gemini): how its errors look, how a
 * canonical completion and canonical stream chunks are written in it, and which provider types
 * speak it natively (those are passed through byte for byte).
 */
import type { ProviderType } from '../config/schema.js';
import type { ProviderError } from '../providers/types.js';
import type { ChatCompletion, ChatCompletionChunk } from '../wire/openai.js';

/** Writes canonical chunks as the client's stream frames. Stateful: one per response. */
export interface StreamEncoder<Chunk = ChatCompletionChunk> {
  /** Frames for one chunk (may be empty). */
  chunk(chunk: Chunk): string;
  /** Frames that end a stream that failed after it started. */
  error(error: ProviderError): string;
  /** Frames that end a finished stream. */
  end(): string;
}

export interface Ingress {
  name: 'openai' | 'anthropic' | 'responses' | 'gemini';
  /** Provider types whose wire format is this API: same-protocol calls skip translation. */
  native: readonly ProviderType[];
  errorBody(error: ProviderError): unknown;
  /** A canonical completion in this API. */
  completion(completion: ChatCompletion): unknown;
  /**
   * An encoder for one stream; `id` and `model` are what the response reports, `includeUsage`
   * whether the client asked for a usage chunk (OpenAI's stream_options.include_usage),
   * `inputTokens` the sidecar's estimate of the prompt, for APIs that report it up front.
   */
  encoder(context: { id: string; model: string; includeUsage: boolean; inputTokens?: number }): StreamEncoder;
}
