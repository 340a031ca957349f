/**
 * Legacy `/v1/completions` served through chat, for providers without native text completions
 * (every type but openai/openai-compatible, whose adapters forward it as is). The prompt becomes
 * one user message, so the model's chat template applies: fine for instructions, not for raw
 * continuation or fill-in-the-middle, which is why `suffix`, `echo` and token-id prompts are
 * refused rather than approximated. `logprobs` and `best_of` are dropped.
 */
import { providerError } from '../../providers/shared/errors.js';
import { TranslationError } from '../../providers/types.js';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, Completion, CompletionChoice, CompletionRequest, FinishReason } from '../../wire/openai.js';

function refuse(message: string, param: string): TranslationError {
  return new TranslationError(providerError(400, `${message} when the model is served through chat`, 'unsupported_for_provider', param));
}

/** A completion request as a canonical chat request. */
export function completionToChat(request: CompletionRequest): ChatRequest {
  const prompt = Array.isArray(request.prompt) && request.prompt.length === 1 ? request.prompt[0] : request.prompt;
  if (typeof prompt !== 'string') throw refuse('only a single text prompt is supported', 'prompt');
  if (request.suffix) throw refuse('suffix is not supported', 'suffix');
  if (request.echo) throw refuse('echo is not supported', 'echo');
  const chat: ChatRequest = { model: request.model, messages: [{ role: 'user', content: prompt }] };
  // Copied one by one: the rest of the completion options mean nothing to chat.
  if (request.max_tokens != null) chat.max_tokens = request.max_tokens;
  if (request.temperature != null) chat.temperature = request.temperature;
  if (request.top_p != null) chat.top_p = request.top_p;
  if (request.n != null) chat.n = request.n;
  if (request.stop != null) chat.stop = request.stop;
  if (request.presence_penalty != null) chat.presence_penalty = request.presence_penalty;
  if (request.frequency_penalty != null) chat.frequency_penalty = request.frequency_penalty;
  if (request.logit_bias != null) chat.logit_bias = request.logit_bias;
  if (request.seed != null) chat.seed = request.seed;
  if (request.user != null) chat.user = request.user;
  if (request.stream) {
    chat.stream = true;
    if (request.stream_options != null) chat.stream_options = request.stream_options;
  }
  return chat;
}

/** Text completions finish with stop, length or content_filter; a tool call is a stop. */
function completionFinish(reason: FinishReason | null): FinishReason | null {
  return reason === 'tool_calls' || reason === 'function_call' ? 'stop' : reason;
}

/** A canonical chat completion as a text completion. */
export function chatToCompletion(completion: ChatCompletion): Completion {
  return {
    id: completion.id,
    object: 'text_completion',
    created: completion.created,
    model: completion.model,
    choices: completion.choices.map((c) => ({ text: c.message.content ?? '', index: c.index, logprobs: null, finish_reason: completionFinish(c.finish_reason) })),
    ...(completion.usage ? { usage: completion.usage } : {}),
  };
}

/**
 * A canonical chunk as a text-completion chunk; undefined when it carries nothing a completion
 * client sees (the role chunk, tool-call fragments). The usage chunk stays a usage chunk.
 */
export function chatChunkToCompletion(chunk: ChatCompletionChunk): Completion | undefined {
  const choices: CompletionChoice[] = [];
  for (const c of chunk.choices) {
    const text = c.delta.content ?? '';
    if (text || c.finish_reason) choices.push({ text, index: c.index, logprobs: null, finish_reason: completionFinish(c.finish_reason) });
  }
  if (choices.length === 0 && !chunk.usage) return undefined;
  return {
    id: chunk.id,
    object: 'text_completion',
    created: chunk.created,
    model: chunk.model,
    choices,
    ...(chunk.usage ? { usage: chunk.usage } : {}),
  };
}
