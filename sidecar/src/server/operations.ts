/** The operations the proxy relays, each as data for the shared relay in ../relay. */
import { requestReach, type ReachAPI } from '../ingress/reach.js';
import { chatChunkToCompletion, chatToCompletion, completionToChat } from '../ingress/translate/completions.js';
import type { StreamTranslator, TranslateContext, UpstreamRequest, UpstreamTarget } from '../providers/types.js';
import { CallToolNames, withSentToolNames } from '../providers/shared/tool-names.js';
import type { ProviderRuntime } from '../router/router.js';
import type { ChatCompletion, ChatCompletionChunk, ChatIngressRequest, ChatRequest, Completion, CompletionRequest, EmbeddingsRequest, EmbeddingsResponse } from '../wire/openai.js';
import { canonicalChat } from '../ingress/translate/chat-tools.js';
import { wantsUsage } from '../wire/openai.js';
import type { MessagesRequest } from '../wire/anthropic.js';
import type { AnthropicClientHeaders } from '../providers/types.js';
import { anthropicToChat, checkThinkingBudget } from '../ingress/translate/anthropic.js';
import { estimateTokens, quickTokens, textTokens } from '../ingress/estimate.js';
import { geminiToChat } from '../ingress/translate/gemini.js';
import { chatToGemini, geminiStreamEncoder } from '../ingress/translate/gemini-output.js';
import { withoutRefusedThinking } from '../providers/anthropic/request.js';
import { enforcesSignatures, withSignaturesMended } from '../providers/gemini/signature.js';
import { firstCallOnly, firstCallStream, mustKeepOneCall } from '../providers/shared/one-call.js';
import { unfencedJSON } from '../providers/shared/content.js';
import type { GenerateContentRequest } from '../wire/gemini.js';
import { openAIStreamEncoder } from './openai-encoder.js';
import type { Ingress, StreamEncoder } from './ingress.js';
import type { Operation, Usage } from '../relay/operation.js';
import { usageOfCanonical } from '../relay/usage.js';
import { compatibleRefuses, openAIRefuses, toCompatibleRequest, toOpenAIRequest } from '../providers/openai/request.js';

const usageOf = (usage: Parameters<typeof usageOfCanonical>[0] | null | undefined) => (usage ? usageOfCanonical(usage) : undefined);

/**
 * A chat call in canonical form, answered in the OpenAI API. A stream always asks the provider
 * for usage (stream_options.include_usage), whatever the client asked: without it OpenAI-format
 * providers report none and the call would escape the token and budget limits. The client still
 * gets the stream it asked for (TranslateContext.hideUsage).
 */
export function chatOperation(ingress: Ingress, body: ChatIngressRequest, raw: Buffer | undefined): Operation<ChatCompletion> {
  // OpenAI gets the client's tools as sent (custom tools, allowed_tools); every other provider,
  // OpenAI-compatible servers such as vLLM included, the canonical ones, or the refusal of what
  // only OpenAI serves (chat-tools.ts).
  const { request, refusal } = canonicalChat(body);
  const asked = wantsUsage(request);
  const askUsage = request.stream === true && !asked;
  const upstream = askUsage ? withUsage(request) : request;
  const asSent = body === request ? upstream : askUsage ? withUsage(body as ChatRequest) : (body as ChatRequest);
  const names = new CallToolNames();
  const build: Operation<ChatCompletion>['build'] = (provider, target) => {
    if (provider.config.type === 'openai') return provider.adapter.chatRequest(asSent, target);
    if (refusal) throw refusal;
    // A provider of the client's own API gets its tool names as written and answers with them (parse).
    return ingress.native.includes(provider.config.type) ? provider.adapter.chatRequest(upstream, target) : translatedChat(provider, upstream, target, names);
  };
  const call = new ChatCall(ingress, request.model, request.stream === true, raw, asked, build, () => request, names);
  call.maxOutputTokens = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  call.choices = request.n ?? undefined;
  if (namesGeminiCache(body)) call.heldByProvider = true;
  const forUsage = request.stream === true ? usageForStreams(request, asked) : undefined;
  // The client's bytes pass through to OpenAI-format providers; an OpenAI-compatible one gets the
  // canonical request instead when the client's has what only OpenAI serves, and OpenAI gets its
  // translation when the client's has what OpenAI refuses there (openAIRefuses).
  // Asked only when an OpenAI provider is tried: other providers never need the walk of the messages.
  // An OpenAI-compatible server gets `developer` messages as `system` (compatibleRefuses).
  let refusedByOpenAI: boolean | undefined;
  call.nativeBody = (provider, bytes) => {
    if (provider.config.type === 'openai') {
      refusedByOpenAI ??= openAIRefuses(request, request.model);
      return refusedByOpenAI ? Buffer.from(JSON.stringify(toOpenAIRequest(asSent, request.model))) : forUsage?.(provider, bytes);
    }
    if (compatibleRefuses(request)) return canonicalBytes(toCompatibleRequest(upstream, request.model), refusal);
    return body === request ? forUsage?.(provider, bytes) : canonicalBytes(upstream, refusal);
  };
  return reaching(call, body, 'openai');
}

/** The canonical request's bytes for a pass-through, or the refusal of what only OpenAI serves. */
function canonicalBytes(request: ChatRequest, refusal: Error | undefined): Buffer {
  if (refusal) throw refusal;
  return Buffer.from(JSON.stringify(request));
}

/** The request with usage asked for. */
function withUsage<R extends { stream_options?: object | null }>(request: R): R {
  return { ...request, stream_options: { ...request.stream_options, include_usage: true } };
}

/**
 * For a stream passed through natively without the client asking for usage: the body that asks
 * OpenAI-format providers for it (their translator then hides it: TranslateContext.hideUsage).
 */
function usageForStreams<R extends { stream?: boolean | null; stream_options?: object | null }>(request: R, asked: boolean): Operation<unknown>['nativeBody'] {
  if (request.stream !== true || asked) return undefined;
  return (provider, raw) => (OPENAI_FORMAT.has(provider.config.type) ? askForUsage(raw, request) : undefined);
}

/** The context of a stream translator: told to hide the usage the client did not ask for. */
function streamContext(context: TranslateContext, asked: boolean): TranslateContext {
  return asked ? context : { ...context, hideUsage: true };
}

const OPENAI_FORMAT = new Set(['openai', 'openai-compatible']);
const ASK_FOR_USAGE = Buffer.from('{"stream_options":{"include_usage":true},');

/**
 * The client's bytes asking for usage: spliced in when the body has no stream_options, else
 * re-serialised. Whether it has one is what the parsed body says: the bytes may spell the key
 * with an escape (`"stream_opti\u006fns"`), which a search for it as written misses, and the
 * client's include_usage: false after the splice would win upstream.
 */
function askForUsage(raw: Buffer, request: object & { stream_options?: object | null }): Buffer {
  if (raw[0] === 0x7b && request.stream_options === undefined) return Buffer.concat([ASK_FOR_USAGE, raw.subarray(1)]);
  return Buffer.from(JSON.stringify(withUsage(request)));
}

/**
 * An Anthropic Messages call: sent as it came to anthropic providers (model replaced, client's
 * anthropic-version kept), translated to canonical only for the others, and only when one of them
 * is tried, so Anthropic-only features (documents, server tools) still reach Anthropic.
 */
export function messagesOperation(ingress: Ingress, request: MessagesRequest, raw: Buffer, clientHeaders: AnthropicClientHeaders): Operation<ChatCompletion> {
  let canonical: ChatRequest | undefined;
  const estimate = (dense = false) => estimateTokens([request.system, request.messages, request.tools], dense);
  const asChat = () => (canonical ??= anthropicToChat(request));
  const names = new CallToolNames();
  const build: Operation<ChatCompletion>['build'] = (provider, target) => {
    const native = provider.adapter.messagesRequest;
    if (native) return native(request, target, clientHeaders);
    checkThinkingBudget(request);
    return translatedChat(provider, asChat(), target, names);
  };
  const call = new ChatCall(ingress, request.model, request.stream === true, raw, true, build, asChat, names, estimate);
  call.maxOutputTokens = request.max_tokens;
  // Passed through to Anthropic, a request it would refuse thinking on goes without (the adapter
  // does the same when it builds the body).
  call.nativeBody = mended(() => withoutRefusedThinking(request));
  return reaching(call, request, 'anthropic');
}

/**
 * A Gemini generateContent call: sent as it came to gemini providers (the model is in the URL,
 * so the body passes through as is), translated to canonical only for the others.
 */
export function generateContentOperation(ingress: Ingress, request: GenerateContentRequest, model: string, stream: boolean, raw: Buffer): Operation<ChatCompletion> {
  let canonical: ChatRequest | undefined;
  const estimate = (dense = false) => estimateTokens([request.systemInstruction, request.contents, request.tools], dense);
  const asChat = () => (canonical ??= geminiToChat(request, model, stream));
  const names = new CallToolNames();
  const build: Operation<ChatCompletion>['build'] = (provider, target) => {
    const native = provider.adapter.generateContentRequest;
    if (native) return native(request, target, stream);
    return translatedChat(provider, asChat(), target, names);
  };
  // Thought parts only when the client asked for them, as Gemini answers.
  const client = request.generationConfig?.thinkingConfig?.includeThoughts === true ? thoughtfulIngress(ingress) : ingress;
  const call = new ChatCall(client, model, stream, raw, true, build, asChat, names, estimate);
  call.maxOutputTokens = request.generationConfig?.maxOutputTokens ?? undefined;
  call.choices = request.generationConfig?.candidateCount ?? undefined;
  if (request.cachedContent) call.heldByProvider = true;
  // Passed through to Gemini, signatures mended: none of the sidecar's own, and on a model that
  // enforces them the sentinel where a call has none (the adapter does the same when it builds
  // the body, for the upstream model's name).
  call.nativeBody = mended(() => withSignaturesMended(request, enforcesSignatures(model)));
  return reaching(call, request, 'gemini');
}

/**
 * Whether a chat body names a Gemini context cache, as Gemini's OpenAI-compatible API reads it:
 * `extra_body.google.cached_content` (sent as written by clients that do not merge `extra_body`),
 * or `google.cached_content` (merged), in either of Google's JSON spellings: input the provider
 * holds (Operation.heldByProvider).
 */
function namesGeminiCache(body: object): boolean {
  type Google = { google?: { cached_content?: unknown; cachedContent?: unknown } };
  const fields = body as Google & { extra_body?: Google };
  const cache = (google: Google['google']) => google?.cached_content != null || google?.cachedContent != null;
  return cache(fields.google) || cache(fields.extra_body?.google);
}

/**
 * A pass-through's body from `mend` (the request less what its provider would refuse), made
 * only when the call is passed through; undefined, so the client's bytes go, when nothing changed.
 */
function mended(mend: () => object | undefined): NonNullable<Operation<ChatCompletion>['nativeBody']> {
  return () => {
    const request = mend();
    return request && Buffer.from(JSON.stringify(request));
  };
}

/** The Gemini ingress writing reasoning as thought parts. */
function thoughtfulIngress(ingress: Ingress): Ingress {
  return { ...ingress, completion: (completion) => chatToGemini(completion, true), encoder: (context) => geminiStreamEncoder({ ...context, thoughts: true }) };
}

/**
 * A chat call in any ingress's API. A class rather than an object of closures: the operation lives
 * across the upstream round trip, and one object with its methods on the prototype is a fraction
 * of the dozen closures it was (bench/README.md "Round 4: saturation").
 */
class ChatCall implements Operation<ChatCompletion> {
  readonly kind = 'chat';
  nativeBody?: Operation<ChatCompletion>['nativeBody'];
  maxOutputTokens?: number | undefined;
  choices?: number | undefined;
  heldByProvider?: boolean;
  reach?: Operation<ChatCompletion>['reach'];

  constructor(
    readonly ingress: Ingress,
    readonly model: string,
    readonly stream: boolean,
    readonly raw: Buffer | undefined,
    private readonly includeUsage: boolean,
    readonly build: Operation<ChatCompletion>['build'],
    readonly chatRequest: () => ChatRequest,
    /** The renamings `build` sent the request with, for naming the answer back. */
    private readonly toolNames: CallToolNames,
    readonly inputTokens?: (dense?: boolean) => number,
  ) {}

  supports(): boolean {
    return true;
  }

  parse(provider: ProviderRuntime, body: unknown, context: TranslateContext): ChatCompletion {
    const answer = provider.adapter.chatResponse(body, context);
    // Translated only: a provider of the client's own API answers as it would directly.
    if (this.ingress.native.includes(provider.config.type)) return answer;
    const completion = unfencedJSON(this.toolNames.completion(answer, provider.config.type), this.chatRequest().response_format);
    return this.oneCall(provider) ? firstCallOnly(completion) : completion;
  }

  render(completion: ChatCompletion): unknown {
    return this.ingress.completion(completion);
  }

  usage(completion: ChatCompletion): Usage | undefined {
    return usageOf(completion.usage);
  }

  /** The call itself: its translator and encoder are methods, not closures made per call. */
  get streamFrames(): NonNullable<Operation<ChatCompletion>['streamFrames']> {
    return this;
  }

  translator(provider: ProviderRuntime, context: TranslateContext): StreamTranslator {
    const translator = provider.adapter.chatStream(streamContext(context, this.includeUsage));
    // Translated only, as in parse.
    const named = this.ingress.native.includes(provider.config.type) ? translator : this.toolNames.stream(translator, provider.config.type);
    return this.oneCall(provider) ? firstCallStream(named) : named;
  }

  /** A translated call that asked for one tool call at a time, to a provider that cannot be told (the canonical request is already made). */
  private oneCall(provider: ProviderRuntime): boolean {
    return !this.ingress.native.includes(provider.config.type) && mustKeepOneCall(provider.config.type, this.chatRequest());
  }

  encoder(context: TranslateContext): StreamEncoder<ChatCompletionChunk> {
    return this.ingress.encoder({ id: context.id, model: context.requestedModel, includeUsage: this.includeUsage, inputTokens: this.inputTokens?.() });
  }
}

/**
 * A legacy text completion: native where the provider has /completions (openai types), through
 * chat elsewhere.
 */
export function completionsOperation(ingress: Ingress, client: CompletionRequest, raw: Buffer): Operation<Completion, Completion> {
  // Usage is always asked for on streams, as for chat.
  const asked = wantsUsage(client);
  const request = client.stream === true && !asked ? withUsage(client) : client;
  // Translated only when a provider without native completions is tried: fill-in-the-middle
  // (suffix) and token prompts still reach servers that have them.
  let chat: ChatRequest | undefined;
  const asChat = () => (chat ??= completionToChat(request));
  return {
    nativeBody: usageForStreams(client, asked),
    kind: 'completions',
    ingress,
    model: request.model,
    stream: request.stream === true,
    raw,
    maxOutputTokens: request.max_tokens ?? undefined,
    // best_of completions are generated (and billed) to return the best n, for each prompt of a batch.
    choices: Math.max(request.n ?? 1, request.best_of ?? 1) * promptCount(request.prompt),
    inputTokens: bytesOrIds(request.prompt, raw),
    chatRequest: asChat,
    supports: () => true,
    build: (provider, target) => provider.adapter.completionsRequest?.(request, target) ?? provider.adapter.chatRequest(asChat(), target),
    parse: (provider, body, context) =>
      provider.adapter.completionsResponse ? provider.adapter.completionsResponse(body, context) : chatToCompletion(provider.adapter.chatResponse(body, context)),
    render: (completion) => completion,
    usage: (completion) => usageOf(completion.usage),
    streamFrames: {
      translator: (provider, context) => provider.adapter.completionsStream?.(streamContext(context, asked)) ?? throughChat(provider.adapter.chatStream(context)),
      encoder: () => openAIStreamEncoder(asked),
    },
  };
}

/**
 * How many prompts a legacy completion's `prompt` holds: a list of texts or of token lists is a
 * batch, one completion (or `best_of`) per prompt, each up to max_tokens; a text or one token list
 * is one prompt.
 */
function promptCount(prompt: CompletionRequest['prompt']): number {
  if (!Array.isArray(prompt) || prompt.length === 0 || typeof prompt[0] === 'number') return 1;
  return prompt.length;
}

/**
 * The input tokens of a prompt or an embeddings input: the body's at four bytes a token (its text
 * by character class when `dense`), or its token ids, one each, where they are more (an id of one
 * digit takes two bytes with its comma, so the bytes would say half). The hold is counted once,
 * when first asked.
 */
function bytesOrIds(value: CompletionRequest['prompt'], raw: Buffer): (dense?: boolean) => number {
  let tokens: number | undefined;
  return (dense = false) => (dense ? Math.max(textTokens(raw.toString('utf8')), tokenIds(value)) : (tokens ??= Math.max(quickTokens(raw.length), tokenIds(value))));
}

function tokenIds(value: CompletionRequest['prompt']): number {
  if (!Array.isArray(value)) return 0;
  let ids = 0;
  for (const item of value) ids += typeof item === 'number' ? 1 : Array.isArray(item) ? item.length : 0;
  return ids;
}

function throughChat(chat: StreamTranslator): StreamTranslator<Completion> {
  const convert = (chunks: ReturnType<StreamTranslator['push']>) => chunks.flatMap((c) => chatChunkToCompletion(c) ?? []);
  const wrapped: StreamTranslator<Completion> = { push: (bytes) => convert(chat.push(bytes)), end: () => convert(chat.end()) };
  if (chat.earlyUsage) wrapped.earlyUsage = () => chat.earlyUsage!();
  return wrapped;
}

/**
 * A canonical chat request as `provider` takes it: its tool names renamed where the provider
 * refuses them, the renaming kept in the call's `names` for its parse and translator to name the
 * answer back.
 */
export function translatedChat(provider: ProviderRuntime, request: ChatRequest, target: UpstreamTarget, names: CallToolNames): UpstreamRequest {
  return provider.adapter.chatRequest(names.sent(request, provider.config.type), target);
}

/** `op`, refused for what `body` (a request of `api`) has the provider reach that the sandbox does not allow (ingress/reach.ts). */
export function reaching<O extends { reach?: Operation<unknown>['reach'] }>(op: O, body: unknown, api: ReachAPI): O {
  op.reach = (allowed) => requestReach(body, api, allowed);
  return op;
}

/**
 * Counting a request's input tokens with the provider's own counter (Anthropic's count_tokens,
 * Gemini's countTokens); providers without one are skipped, and when none is left the route
 * answers with the sidecar's estimate (see modelRoute's `fallback`).
 */
export function countTokensOperation(ingress: Ingress, model: string, request: () => ChatRequest, raw: Buffer | undefined, render: (tokens: number) => unknown): Operation<number> {
  // Made when a body is read: a provider of the client's own API with the same model takes its
  // bytes, and what only that API serves (Gemini's gs:// media) must not fail that count.
  let canonical: ChatRequest | undefined;
  return {
    kind: 'count_tokens',
    ingress,
    model,
    stream: false,
    raw,
    supports: (provider) => provider.adapter.countTokensRequest !== undefined,
    build: (provider, target) => provider.adapter.countTokensRequest!(() => withSentToolNames((canonical ??= request()), provider.config.type), target),
    parse: (provider, body) => provider.adapter.countTokensResponse!(body),
    render,
    // Counting is free: nothing to account.
    usage: () => undefined,
  };
}

/** An embeddings call; providers without embeddings (anthropic) are skipped. */
export function embeddingsOperation(ingress: Ingress, request: EmbeddingsRequest, raw: Buffer): Operation<EmbeddingsResponse> {
  return {
    kind: 'embeddings',
    ingress,
    model: request.model,
    stream: false,
    raw,
    inputTokens: bytesOrIds(request.input, raw),
    supports: (provider) => provider.adapter.embeddingsRequest !== undefined,
    build: (provider, target) => provider.adapter.embeddingsRequest!(request, target),
    parse: (provider, body, context) => provider.adapter.embeddingsResponse!(body, context, request),
    render: (response) => response,
    // Gemini's embeddings report no tokens (0): estimated from the input, so they count too.
    usage: (response) => (response.usage?.prompt_tokens ? usageOf(response.usage) : { input: estimateTokens(request.input), output: 0, estimated: true }),
  };
}
