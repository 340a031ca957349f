/**
 * What one kind of call (chat, completions, embeddings, messages) contributes to the relay: how
 * its request is built for a provider, how an answer is read back and written in the client's
 * API. The relay ({@link ./call.js}) does the rest the same way for every kind.
 */
import type { ProviderReach } from '../config/schema.js';
import type { Reach } from '../ingress/reach.js';
import type { StreamTranslator, TranslateContext, UpstreamRequest, UpstreamTarget } from '../providers/types.js';
import type { ProviderRuntime } from '../router/router.js';
import type { StreamEncoder, Ingress } from '../server/ingress.js';
import type { CacheCreation, ChatCompletionChunk, ChatRequest } from '../wire/openai.js';

/** What the relay needs of a stream chunk: its usage, when it carries one, and its choices. */
export type StreamChunk = {
  usage?: { prompt_tokens?: number; completion_tokens?: number; cache_creation?: CacheCreation } | null;
  choices?: readonly unknown[];
};

/** Tokens one call used, for accounting. */
export interface Usage {
  input: number;
  output: number;
  /** The provider reported none: the sidecar estimated it (and says so in a metric). */
  estimated?: boolean;
  /** Prompt tokens (inside `input`) written to Anthropic's prompt cache, priced at a premium (relay/usage.ts costOf). */
  cacheCreation?: CacheCreation;
}

/** One model call in the client's API, as data for the relay. */
export interface Operation<Canonical, Chunk extends StreamChunk = ChatCompletionChunk> {
  /** Label for logs and metrics, e.g. chat. */
  kind: string;
  ingress: Ingress;
  model: string;
  stream: boolean;
  /** The client's body, passed through unchanged to providers that speak the ingress natively. */
  raw: Buffer | undefined;
  /**
   * For a call passed through natively: the bytes to send instead of `raw` to this provider, or
   * undefined to send `raw` (the relay asks OpenAI-format upstreams for a stream's usage this way,
   * and mends a history the provider would refuse: server/operations.ts).
   */
  nativeBody?(provider: ProviderRuntime, raw: Buffer): Buffer | undefined;
  /**
   * The request as a canonical chat, for content capture on the call's span; built only when
   * capture is on. Operations without messages (embeddings, token counts) have none.
   */
  chatRequest?(): ChatRequest;
  /** The most output the client allows (max_tokens and its kin), held against the limits while the call runs. */
  maxOutputTokens?: number | undefined;
  /**
   * How many answers the provider generates (chat `n`, legacy `best_of` times the prompts of a
   * batch, Gemini `candidateCount`), each up to `maxOutputTokens` and each billed; one when unset.
   */
  choices?: number | undefined;
  /**
   * Estimated input tokens where the body's bytes say otherwise than what goes upstream (a
   * continued conversation, token ids, base64 media the provider bills by its own measure): at
   * four characters a token for the hold at admission, or `dense` (ingress/estimate.ts
   * textTokens) for the count of a call without the provider's count (relay/usage.ts countedInput).
   */
  inputTokens?(dense?: boolean): number;
  /**
   * The request names input the provider holds and the sidecar cannot size (Gemini's
   * `cachedContent`, a conversation or stored prompt only OpenAI holds): held against the limits
   * at the model's context window while the call runs (relay/call.ts reservationOf).
   */
  heldByProvider?: boolean;
  /** Told the id of the answer and the tokens the call used, once counted (the Responses API notes a conversation's size). */
  answered?(id: string, tokens: number): void;
  /** What the request asks the provider to reach for the agent that `allowed` does not allow (ingress/reach.ts). */
  reach?(allowed: ReadonlySet<ProviderReach>): Reach | undefined;
  /** Whether this provider can serve the operation at all (anthropic has no embeddings). */
  supports(provider: ProviderRuntime): boolean;
  /** The provider request. @throws {AdapterError} when the request cannot be expressed for it. */
  build(provider: ProviderRuntime, target: UpstreamTarget): UpstreamRequest;
  /** A provider's JSON response in canonical form. */
  parse(provider: ProviderRuntime, body: unknown, context: TranslateContext): Canonical;
  /** The canonical result in the client's API. */
  render(result: Canonical): unknown;
  /** Usage of a canonical result, for accounting. */
  usage(result: Canonical): Usage | undefined;
  /** How a stream is read and written; only for streaming operations. */
  streamFrames?: {
    translator(provider: ProviderRuntime, context: TranslateContext): StreamTranslator<Chunk>;
    encoder(context: TranslateContext): StreamEncoder<Chunk>;
  };
}
