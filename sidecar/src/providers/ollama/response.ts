/** Ollama `/api/chat` response (whole, or one NDJSON line of a stream) → canonical form. */
import type { ChatCompletion, FinishReason, ResponseToolCall, Usage } from '../../wire/openai.js';
import { makeCompletion, makeToolCallId, makeUsage } from '../shared/chunks.js';
import { badResponse, fallbackMessage, parseErrorBody, providerError } from '../shared/errors.js';
import type { ProviderError, TranslateContext } from '../types.js';

const PROVIDER = 'ollama';

/** The fields of an /api/chat object this adapter reads. */
export interface OllamaChat {
  message?: { content?: string; thinking?: string; tool_calls?: { function?: { name?: string; arguments?: unknown } }[] };
  done?: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
  error?: unknown;
}

/** Ollama's done_reason: "length" when num_predict cut it short; tool calls decide otherwise. */
export function finishReason(chat: OllamaChat, hasToolCalls: boolean): FinishReason {
  if (chat.done_reason === 'length') return 'length';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/**
 * Usage from the final object. prompt_eval_count is absent when the whole prompt was cached; a
 * server that sends no eval_count (an Ollama-compatible one) reports no usage at all, which the
 * relay then estimates, rather than 0 tokens that no limit would see.
 */
export function usageOf(chat: OllamaChat): Usage | undefined {
  if (typeof chat.eval_count !== 'number') return undefined;
  return makeUsage(chat.prompt_eval_count ?? 0, chat.eval_count);
}

/** An Ollama tool call (arguments are an object) as a canonical one, with an id made here. */
export function toolCallOf(call: { function?: { name?: string; arguments?: unknown } }, context: TranslateContext, n: number): ResponseToolCall {
  const args = call.function?.arguments;
  return {
    id: makeToolCallId(context, n),
    type: 'function',
    function: { name: call.function?.name ?? '', arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) },
  };
}

/** A non-streaming /api/chat body to a canonical completion. Thinking is not carried. */
export function fromOllamaResponse(body: unknown, context: TranslateContext): ChatCompletion {
  if (typeof body !== 'object' || body === null) throw badResponse(PROVIDER, 'expected a JSON object');
  const chat = body as OllamaChat;
  // Not an /api/chat answer (a proxy's page, another API's JSON): fail over, never an empty reply.
  if (!isMessage(chat.message)) throw badResponse(PROVIDER, 'expected a message');
  const toolCalls = (chat.message?.tool_calls ?? []).map((call, n) => toolCallOf(call, context, n));
  const text = chat.message?.content ?? '';
  return makeCompletion(context, { text, toolCalls, finish: finishReason(chat, toolCalls.length > 0), usage: usageOf(chat), reasoning: chat.message?.thinking ?? '' });
}

/** Whether an /api/chat `message` is one: an object with text content or tool calls. */
export function isMessage(message: unknown): boolean {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as { content?: unknown; tool_calls?: unknown };
  return typeof m.content === 'string' || Array.isArray(m.tool_calls);
}

/** An Ollama error: `{"error": "text"}`, over HTTP or as a stream line. */
export function ollamaError(status: number, bodyText: string): ProviderError {
  const error = (parseErrorBody(bodyText) as { error?: unknown } | undefined)?.error;
  return providerError(status, typeof error === 'string' && error ? error : fallbackMessage(PROVIDER, status, bodyText));
}
