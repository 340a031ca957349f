/**
 * OpenAI response shapes. The sidecar builds these (or passes them through from an OpenAI-type
 * provider), so they are plain types, not schemas. Fields a provider adds beyond these pass
 * through on the OpenAI path.
 */

/** Why generation stopped. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

/** Token counts of one call. `prompt_tokens` includes cached tokens, as OpenAI counts them. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
  /**
   * Not OpenAI's: prompt tokens an Anthropic provider wrote to its prompt cache (inside
   * `prompt_tokens`), by how long they are kept, in Anthropic's names. Billed at 1.25 times
   * (five minutes) and twice (one hour) the input price; set only when there were writes.
   */
  cache_creation?: CacheCreation;
}

/** Prompt tokens written to Anthropic's prompt cache, by how long it keeps them. */
export interface CacheCreation {
  ephemeral_5m_input_tokens: number;
  ephemeral_1h_input_tokens: number;
}

/** A tool call in a response message. */
export interface ResponseToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** Signed reasoning, as in `wire/openai.ts` ThinkingBlock (LiteLLM's `thinking_blocks`). */
export type ResponseThinkingBlock = { type: 'thinking'; thinking: string; signature?: string | null } | { type: 'redacted_thinking'; data: string };

/**
 * The assistant message of a non-streaming completion. `reasoning_content` and `thinking_blocks`
 * are not OpenAI's: they carry a translated provider's reasoning (DeepSeek's and LiteLLM's names).
 */
export interface ResponseMessage {
  role: 'assistant';
  content: string | null;
  refusal?: string | null;
  tool_calls?: ResponseToolCall[];
  reasoning_content?: string | null;
  thinking_blocks?: ResponseThinkingBlock[];
}

/** One choice of a non-streaming completion. */
export interface ChatChoice {
  index: number;
  message: ResponseMessage;
  finish_reason: FinishReason | null;
  logprobs: unknown;
}

/** Response of `POST /v1/chat/completions` without streaming. */
export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatChoice[];
  usage?: Usage;
  system_fingerprint?: string | null;
}

/** A tool-call fragment in a stream: `id`, `type` and `name` on the first, argument text after. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

/** What one stream chunk adds to a choice (reasoning fields as in {@link ResponseMessage}). */
export interface ChunkDelta {
  role?: 'assistant';
  content?: string | null;
  refusal?: string | null;
  tool_calls?: ToolCallDelta[];
  reasoning_content?: string | null;
  /** Whole blocks, sent once a block's signature is known. */
  thinking_blocks?: ResponseThinkingBlock[];
}

/** One choice of a stream chunk. */
export interface ChunkChoice {
  index: number;
  delta: ChunkDelta;
  finish_reason: FinishReason | null;
  logprobs?: unknown;
}

/**
 * One chunk of a streamed chat completion. The first carries `delta.role`; the last choice chunk
 * has `finish_reason`; a final chunk with `choices: []` carries `usage` when it is known.
 */
export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChunkChoice[];
  usage?: Usage | null;
  system_fingerprint?: string | null;
}

/** One choice of a legacy text completion (whole or a stream chunk). */
export interface CompletionChoice {
  text: string;
  index: number;
  logprobs: unknown;
  finish_reason: FinishReason | null;
}

/** Response of `POST /v1/completions`, and each chunk of its stream. */
export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: CompletionChoice[];
  usage?: Usage | null;
  system_fingerprint?: string | null;
}

/** One embedding: floats, or base64 of little-endian float32 when the client asked for base64. */
export interface Embedding {
  object: 'embedding';
  index: number;
  embedding: number[] | string;
}

/** Response of `POST /v1/embeddings`. */
export interface EmbeddingsResponse {
  object: 'list';
  data: Embedding[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** One model of `GET /v1/models`. */
export interface Model {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/** Response of `GET /v1/models`. */
export interface ModelList {
  object: 'list';
  data: Model[];
}
