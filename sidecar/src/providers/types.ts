/**
 * The contract between the router and the provider adapters. The canonical form of a model
 * call is the OpenAI chat-completions shape (request, response and stream chunk): every adapter
 * translates from it to its provider's wire format and back. Adapters are data plus pure
 * functions — no I/O, no clients — so each is covered by golden-file tests. The one memory is
 * Ollama's, of the models that refused `think`, kept per configured provider.
 */
import type { ProviderType } from '../config/schema.js';
import type { MessagesRequest } from '../wire/anthropic.js';
import type { EmbedContentRequest, GenerateContentRequest } from '../wire/gemini.js';
import type { ResponseObject, ResponsesPassthrough, ResponsesRequest } from '../wire/responses.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  Completion,
  CompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
  Usage,
} from '../wire/openai.js';

/** What an adapter needs to know about the provider it is calling. */
export interface UpstreamTarget {
  /** Provider base URL without a trailing slash, e.g. https://api.openai.com/v1. */
  baseURL: string;
  /** The API key for this attempt; undefined for keyless providers. */
  apiKey: string | undefined;
  /** Model name as the provider knows it (upstreamName, else name). */
  model: string;
  /** Non-secret headers from the provider's config. */
  headers: Record<string, string>;
  /** Ollama's context window for the model (ModelEntry.numCtx), sent as options.num_ctx. */
  numCtx?: number;
  /**
   * Ask for no constrained decoding the client did not ask this provider for itself (strict
   * tools, structured outputs made from another API's JSON mode on Anthropic), and no thinking
   * from a model that cannot (Ollama): set on the second try of an attempt the provider refused
   * for it (ProviderAdapter.constraintRefused).
   */
  unconstrained?: boolean;
}

/** One HTTP request to a provider, ready for the upstream client (upstream/client.ts). */
export interface UpstreamRequest {
  method: 'GET' | 'POST';
  /** Absolute URL. */
  url: string;
  headers: Record<string, string>;
  /** The serialised body; undefined for GET. A Buffer when the client's bytes pass through unchanged. */
  body?: string | Buffer;
}

/** A provider error in canonical form, before it is shaped for the client's API. */
export interface ProviderError {
  /** HTTP status to return to the client. */
  status: number;
  /** OpenAI-style error type, e.g. invalid_request_error, rate_limit_error, authentication_error, api_error. */
  type: string;
  message: string;
  /** Provider's own error code, when it gave one. */
  code?: string | null;
  param?: string | null;
}

/**
 * Turns a provider's streaming response into canonical chunks. Stateful: one per stream. `push`
 * takes raw bytes as they arrive (framing is the translator's job: SSE, NDJSON) and returns the
 * chunks completed by them; `end` flushes. A provider error event mid-stream, malformed data, or a
 * stream that ends before the provider said it was complete throws a {@link StreamError}.
 */
export interface StreamTranslator<T = ChatCompletionChunk> {
  push(bytes: Uint8Array): T[];
  end(): T[];
  /**
   * The wire bytes of the frames the last `push` or `end` handled without error, for a stream
   * passed through natively: whole frames only, so a malformed one never reaches the client.
   */
  frames?(): Buffer;
  /** Whether the provider has said the stream is complete ([DONE], message_stop, done: true). */
  complete?(): boolean;
  /**
   * The usage the provider reported before its final count, for a stream cut before that count
   * (Anthropic's message_start: the input it bills, cache reads and writes included); undefined
   * when it reported none. Its output is not the answer's.
   */
  earlyUsage?(): Usage | undefined;
}

/** An adapter failure that carries a canonical error, ready to be shaped for the client's API. */
export class AdapterError extends Error {
  constructor(readonly error: ProviderError) {
    super(error.message);
    this.name = 'AdapterError';
  }
}

/** An error the provider reported inside a stream after it had started, or a broken stream. */
export class StreamError extends AdapterError {
  constructor(error: ProviderError) {
    super(error);
    this.name = 'StreamError';
  }
}

/**
 * A request the provider's API cannot express (an audio part for Anthropic, an image URL for
 * Ollama, n > 1, ...). Status 400: retrying the same provider cannot help, but a provider of
 * another type might serve it.
 */
export class TranslationError extends AdapterError {
  constructor(error: ProviderError) {
    super(error);
    this.name = 'TranslationError';
  }
}

/** A 2xx provider response whose body is not what the provider's API promises (status 502). */
export class BadResponseError extends AdapterError {
  constructor(error: ProviderError) {
    super(error);
    this.name = 'BadResponseError';
  }
}

/** Context a translation needs besides the body: names and ids the response must carry. */
export interface TranslateContext {
  /** Model name the client asked for (responses report it back, not the upstream name). */
  requestedModel: string;
  /** Stable id for this call, e.g. chatcmpl-<random>, used when the provider gives none. */
  id: string;
  /** Unix seconds at the start of the call. */
  created: number;
  /**
   * The sidecar asked an OpenAI-format provider for usage the client did not ask for: the frames
   * passed through natively leave it out, as OpenAI would have sent them (the chunks keep it, for
   * accounting).
   */
  hideUsage?: boolean;
}

/**
 * A provider type as data plus pure translations. Request builders throw {@link TranslationError};
 * response translators throw {@link BadResponseError}; stream translators throw
 * {@link StreamError}.
 */
export interface ProviderAdapter {
  type: ProviderType;
  /** Request for a chat completion (stream or not, as the request says). */
  chatRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest;
  /** A non-streaming provider response body (parsed JSON) to a canonical completion. */
  chatResponse(body: unknown, context: TranslateContext): ChatCompletion;
  /** A translator for this provider's stream format. */
  chatStream(context: TranslateContext): StreamTranslator;
  /**
   * Whether the provider refused a translated request for something the sidecar asked for that the
   * model cannot do (Anthropic's undocumented grammar size for constrained decoding; an Ollama
   * model without thinking): the attempt is made once more with `UpstreamTarget.unconstrained`,
   * where a JSON instruction and plain tools, or no thinking, take its place.
   */
  constraintRefused?(error: ProviderError): boolean;
  /** Embeddings, when the provider has them. */
  embeddingsRequest?(request: EmbeddingsRequest, target: UpstreamTarget): UpstreamRequest;
  /**
   * The provider's embeddings body to the OpenAI shape. Takes the client's request because the
   * answer must honour `encoding_format` (the OpenAI SDKs ask for base64 by default).
   */
  embeddingsResponse?(body: unknown, context: TranslateContext, request: EmbeddingsRequest): EmbeddingsResponse;
  /** Legacy text completions, when the provider has them natively (others go through chat). */
  completionsRequest?(request: CompletionRequest, target: UpstreamTarget): UpstreamRequest;
  /** A native text-completion body, present when completionsRequest is. */
  completionsResponse?(body: unknown, context: TranslateContext): Completion;
  /** A native text-completion stream, present when completionsRequest is. */
  completionsStream?(context: TranslateContext): StreamTranslator<Completion>;
  /**
   * Native Anthropic Messages pass-through (only `model` replaced), for an Anthropic client served
   * by an Anthropic provider: nothing is lost to the canonical form (thinking signatures,
   * cache_control, documents, server tools). `clientHeaders` forwards `anthropic-version` and
   * `anthropic-beta` as the client sent them. The response and stream go back to the client
   * untouched; feed them to chatResponse/chatStream as well for usage accounting.
   */
  messagesRequest?(request: MessagesRequest, target: UpstreamTarget, clientHeaders?: AnthropicClientHeaders): UpstreamRequest;
  /**
   * Native Gemini generateContent pass-through (`gemini` only), for a Gemini client served by a
   * Gemini provider: the client's body to `{model}:generateContent` (`:streamGenerateContent?alt=sse`
   * when `stream`). Response and stream go back untouched; chatResponse/chatStream read them for usage.
   */
  generateContentRequest?(request: GenerateContentRequest, target: UpstreamTarget, stream: boolean): UpstreamRequest;
  /**
   * Native Gemini embeddings (`gemini` only), for a Gemini client served by a Gemini provider: the
   * client's requests (their `taskType`, `title`, `outputDimensionality` kept) to
   * `{model}:batchEmbedContents`; the answer is read by `embeddingsResponse`.
   */
  embedContentsRequest?(requests: EmbedContentRequest[], target: UpstreamTarget): UpstreamRequest;
  /**
   * Native Responses API (`openai` only): the client's request with `model` replaced. Other
   * providers serve Responses calls through the canonical form.
   */
  responsesRequest?(request: ResponsesRequest, target: UpstreamTarget): UpstreamRequest;
  /** A native Responses body, present when responsesRequest is. */
  responsesResponse?(body: unknown, context: TranslateContext): ResponseObject;
  /** A native Responses event stream, present when responsesRequest is. */
  responsesStream?(context: TranslateContext): StreamTranslator<ResponsesPassthrough>;
  /**
   * Counts a request's input tokens, when the provider has a counting endpoint (Anthropic's
   * count_tokens, Gemini's countTokens); the generation options of the request are ignored.
   * `request` is called when the body is first read: a pass-through of the client's own bytes never
   * makes the canonical form (which what only the client's API serves could not take).
   */
  countTokensRequest?(request: () => ChatRequest, target: UpstreamTarget): UpstreamRequest;
  /** The counting endpoint's answer as a number of input tokens, present when countTokensRequest is. */
  countTokensResponse?(body: unknown): number;
  /** Lists models (for the operator's reachability probe). */
  modelsRequest(target: Omit<UpstreamTarget, 'model'>): UpstreamRequest;
  /** The model-list body to model names as the provider knows them (for `discoveredModels`). */
  modelsResponse(body: unknown): string[];
  /** A provider's non-2xx response (status and body text) in canonical form. */
  error(status: number, bodyText: string): ProviderError;
}

/** Anthropic headers a client may choose for a pass-through call. */
export interface AnthropicClientHeaders {
  'anthropic-version'?: string | undefined;
  'anthropic-beta'?: string | undefined;
}
