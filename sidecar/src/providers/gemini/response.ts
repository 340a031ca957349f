/** Gemini generateContent response → canonical completion; also the finish, usage and error mappings. */
import type { ChatCompletion, FinishReason, ResponseToolCall, Usage } from '../../wire/openai.js';
import { makeCompletion, makeToolCallId, makeUsage, tokenCount } from '../shared/chunks.js';
import { badResponse, fallbackMessage, parseErrorBody, providerError } from '../shared/errors.js';
import type { ProviderError, TranslateContext } from '../types.js';
import { idWithSignature } from './signature.js';

const PROVIDER = 'gemini';

/** A part of a Gemini response. */
export interface GeminiPart {
  text?: string;
  thought?: boolean;
  functionCall?: { name?: string; args?: unknown };
  thoughtSignature?: string;
}

/** Gemini's token counts. */
export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  cachedContentTokenCount?: number;
  totalTokenCount?: number;
}

/** The fields of a GenerateContentResponse (whole, or one stream event) this adapter reads. */
export interface GeminiResponse {
  candidates?: { content?: { parts?: GeminiPart[] }; finishReason?: string }[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsage;
  responseId?: string;
  error?: unknown;
}

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT']);

/**
 * The canonical finish reason. Gemini says STOP even when it called functions, so a turn with
 * function calls is `tool_calls` unless it was cut short or filtered.
 */
export function finishReason(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason !== undefined && FILTERED.has(reason)) return 'content_filter';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/**
 * Canonical usage. Thinking tokens are billed as output, so they count as completion tokens (and
 * are reported as reasoning tokens, as OpenAI does); tool-use prompt tokens count as prompt.
 */
export function usageOf(usage: GeminiUsage): Usage {
  const reasoning = tokenCount(usage.thoughtsTokenCount);
  const prompt = tokenCount(usage.promptTokenCount) + tokenCount(usage.toolUsePromptTokenCount);
  return makeUsage(prompt, tokenCount(usage.candidatesTokenCount) + reasoning, usage.cachedContentTokenCount, reasoning);
}

/** A function-call part as a canonical tool call, its id made here and carrying any signature. */
export function toolCallOf(part: GeminiPart & { functionCall: object }, context: TranslateContext, n: number): ResponseToolCall {
  return {
    id: idWithSignature(makeToolCallId(context, n), part.thoughtSignature),
    type: 'function',
    function: { name: part.functionCall.name ?? '', arguments: JSON.stringify(part.functionCall.args ?? {}) },
  };
}

/** A generateContent body to a canonical completion; thought parts as reasoning_content. */
export function fromGeminiResponse(body: unknown, context: TranslateContext): ChatCompletion {
  if (typeof body !== 'object' || body === null) throw badResponse(PROVIDER, 'expected a JSON object');
  const response = body as GeminiResponse;
  // A 200 without candidates is an answer only when the prompt was blocked; anything else is not
  // what Gemini sends, and must fail over rather than pass for an empty completion.
  const blocked = typeof response.promptFeedback?.blockReason === 'string';
  const candidate = response.candidates?.[0];
  if (!blocked && (!Array.isArray(response.candidates) || !answered(candidate))) {
    throw badResponse(PROVIDER, 'expected a candidate with content or a finishReason, or promptFeedback.blockReason');
  }
  let text = '';
  let reasoning = '';
  const toolCalls: ResponseToolCall[] = [];
  for (const part of candidate?.content?.parts ?? []) {
    if (part.thought) {
      // Thought summaries (includeThoughts) become reasoning_content.
      if (typeof part.text === 'string') reasoning += part.text;
      continue;
    }
    if (typeof part.text === 'string') text += part.text;
    if (part.functionCall) toolCalls.push(toolCallOf(part as GeminiPart & { functionCall: object }, context, toolCalls.length));
  }
  // No candidate at all means the prompt itself was blocked.
  const finish = candidate ? finishReason(candidate.finishReason, toolCalls.length > 0) : response.promptFeedback?.blockReason ? 'content_filter' : 'stop';
  return makeCompletion(context, { id: response.responseId, text, toolCalls, finish, usage: response.usageMetadata ? usageOf(response.usageMetadata) : undefined, reasoning });
}

/** Whether a candidate is an answer: parts, or a finish reason (a filtered or cut-off one may have none). */
function answered(candidate: GeminiResponse['candidates'] extends (infer C)[] | undefined ? C | undefined : never): boolean {
  if (typeof candidate !== 'object' || candidate === null) return false;
  return typeof candidate.finishReason === 'string' || (Array.isArray(candidate.content?.parts) && candidate.content.parts.length > 0);
}

interface GeminiErrorObject {
  code?: unknown;
  message?: unknown;
  status?: unknown;
  details?: { reason?: unknown }[];
}

/**
 * A Gemini error object (`{code, message, status, details}`) to canonical form. An invalid key
 * comes back as 400 INVALID_ARGUMENT with reason API_KEY_INVALID; it is reported as 401 so the
 * router treats it as the key problem it is (and rotates keys).
 */
export function errorFromObject(error: GeminiErrorObject, fallbackStatus: number): ProviderError {
  // The code is the HTTP status (for an HTTP error the same as the response's; inside a stream
  // the only status there is).
  const status = typeof error.code === 'number' && error.code >= 400 && error.code < 600 ? error.code : fallbackStatus;
  const keyInvalid = Array.isArray(error.details) && error.details.some((d) => d?.reason === 'API_KEY_INVALID');
  const message = typeof error.message === 'string' && error.message ? error.message : `gemini error ${status}`;
  return providerError(keyInvalid ? 401 : status, message, typeof error.status === 'string' ? error.status : null);
}

/** A non-2xx Gemini response. Streaming endpoints without alt=sse wrap the body in an array. */
export function geminiError(status: number, bodyText: string): ProviderError {
  let body = parseErrorBody(bodyText);
  if (Array.isArray(body)) body = body[0];
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error !== 'object' || error === null) return providerError(status, fallbackMessage(PROVIDER, status, bodyText));
  return errorFromObject(error, status);
}
