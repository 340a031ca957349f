/**
 * The chat body for OpenAI itself. Requests pass through with `model` replaced, except:
 * - `max_tokens` is sent as `max_completion_tokens` (see ./index.ts);
 * - the canonical form's extensions that OpenAI's strict schema refuses are translated or dropped:
 *   a `thinking` budget becomes the nearest `reasoning_effort` (unless the request has one), and
 *   either is sent only to OpenAI's reasoning models (o1, o3, o4-mini, gpt-5 and its kin but its
 *   chat models, codex: {@link reasoningModel}); every other model answers 400
 *   `unsupported_parameter`, so there both are dropped and the model answers without reasoning (on
 *   o-series models `minimal` becomes `low` and `xhigh` `high`, the levels they take);
 *   `top_k` is dropped (OpenAI has no such sampling parameter and refuses it);
 *   `reasoning_content` and `thinking_blocks` of earlier assistant turns are dropped (OpenAI keeps
 *   reasoning server-side, and another provider's signatures mean nothing to it), and an assistant
 *   turn of reasoning alone with them, which would be empty; `is_error` on a
 *   tool message is dropped (the result text says what went wrong); `cache_control` on content
 *   parts is dropped (OpenAI caches prompt prefixes by itself); a file by data without a name (the
 *   Gemini API's inline PDFs) gets one, as OpenAI refuses it without; to a reasoning model while
 *   it reasons (always for the o-series and gpt-5, at an effort other than none for gpt-5.1 and
 *   later: {@link samplesWithoutReasoning}), sampling fields other than their neutral value
 *   (temperature, top_p, penalties, logprobs, logit_bias) and stop sequences, which those models
 *   refuse, are dropped (clients of the other APIs send them to any model); past OpenAI's limit of
 *   stop sequences ({@link MAX_STOP}) the first ones are sent; a tool call id past 40 characters
 *   is sent as a digest ({@link openAIId}), as it is to OpenAI-compatible servers. ADR 0004 lists
 *   these rules.
 * Nothing is rewritten for a request that has none of them, so pass-through stays a shallow copy.
 */
import { createHash } from 'node:crypto';
import type { ChatMessage, ChatRequest } from '../../wire/openai.js';
import { stopList } from '../shared/content.js';
import { effortFor } from '../shared/reasoning.js';
import { reasoningModel, samplesWithoutReasoning } from './models.js';

/** OpenAI's longest tool call id (`messages[i].tool_calls[j].id`, `tool_call_id`): 400 `string_above_max_length` past it. */
const MAX_TOOL_CALL_ID = 40;

/**
 * A tool call id as OpenAI takes it: as it is when it fits, else `call_` and a digest of it, the
 * same for the call and its result, so the pair still matches, and the same in every turn that
 * sends the history again. Anthropic takes ids of any length and frameworks that mint their own
 * go past 40 characters; only the history carries them (the answer's ids are the provider's), so
 * nothing maps back.
 */
function openAIId(id: string): string {
  return id.length <= MAX_TOOL_CALL_ID ? id : `call_${createHash('sha256').update(id).digest('base64url').slice(0, 24)}`;
}

/** Whether a message carries a tool call id OpenAI refuses as too long. */
const longId = (m: ChatMessage) =>
  (m.role === 'tool' && m.tool_call_id.length > MAX_TOOL_CALL_ID) || (m.role === 'assistant' && (m.tool_calls ?? []).some((call) => call.id.length > MAX_TOOL_CALL_ID));

/** The messages with every tool call id OpenAI refuses as too long replaced by its digest (openAIId). */
function shortIds(messages: ChatMessage[]): ChatMessage[] {
  if (!messages.some(longId)) return messages;
  return messages.map((m): ChatMessage => {
    if (m.role === 'tool') return { ...m, tool_call_id: openAIId(m.tool_call_id) };
    if (m.role === 'assistant' && m.tool_calls?.length) return { ...m, tool_calls: m.tool_calls.map((call) => ({ ...call, id: openAIId(call.id) })) };
    return m;
  });
}

const hasCache = (part: object) => 'cache_control' in part;
/** A file part by data with no name: OpenAI answers 400 (it asks for file_id) without one. */
const unnamedFile = (part: object) => (part as { type?: unknown }).type === 'file' && !(part as { file?: { filename?: unknown; file_id?: unknown } }).file?.filename && !(part as { file?: { file_id?: unknown } }).file?.file_id;

/** Content parts without `cache_control`, and files with a name (the Gemini API's inline PDFs have none). */
function uncached<P extends object>(parts: P[]): P[] {
  return parts.map((part) => {
    if (unnamedFile(part)) {
      const file = (part as { file: { file_data?: string | null } }).file;
      part = { ...part, file: { ...file, filename: /^data:application\/pdf/.test(file.file_data ?? '') ? 'document.pdf' : 'file' } };
    }
    if (!hasCache(part)) return part;
    const { cache_control: _cache, ...rest } = part as P & { cache_control?: unknown };
    return rest as P;
  });
}

/** A message without the canonical extensions OpenAI refuses. */
function plain(message: ChatMessage): ChatMessage {
  if (Array.isArray(message.content) && (message.content as object[]).some((part) => hasCache(part) || unnamedFile(part))) {
    message = { ...message, content: uncached(message.content as object[]) } as ChatMessage;
  }
  if (message.role === 'assistant' && (message.reasoning_content != null || message.thinking_blocks != null)) {
    const { reasoning_content: _text, thinking_blocks: _blocks, ...rest } = message;
    return rest;
  }
  if (message.role === 'tool' && message.is_error != null) {
    const { is_error: _flag, ...rest } = message;
    return rest;
  }
  return message;
}

/**
 * An assistant turn of reasoning alone (an Anthropic client's history where the model only
 * thought, a Gemini turn of thought parts): without its reasoning, which OpenAI does not take, it
 * would be an assistant message with no content and no tool calls, which OpenAI refuses.
 */
function thoughtOnly(m: ChatMessage): boolean {
  if (m.role !== 'assistant' || (m.reasoning_content == null && m.thinking_blocks == null) || m.tool_calls?.length || m.refusal != null) return false;
  const content = m.content as unknown;
  return content == null || content === '' || (Array.isArray(content) && content.length === 0);
}

const hasExtension = (m: ChatMessage) =>
  (m.role === 'assistant' && (m.reasoning_content != null || m.thinking_blocks != null)) ||
  (m.role === 'tool' && m.is_error != null) ||
  (Array.isArray(m.content) && (m.content as object[]).some((part) => hasCache(part) || unnamedFile(part)));

/** An effort as `model` takes it: the o-series takes low, medium and high only. */
function effortOn(model: string, effort: string): string {
  if (!/^(ft:)?o\d/.test(model)) return effort;
  return effort === 'minimal' || effort === 'none' ? 'low' : effort === 'xhigh' ? 'high' : effort;
}

/** OpenAI takes at most 4 stop sequences (400 past that). */
const MAX_STOP = 4;

/** Whether OpenAI would refuse the request's stop sequences as too many (on a model that takes any). */
const tooManyStops = (request: ChatRequest) => Array.isArray(request.stop) && request.stop.length > MAX_STOP;

/**
 * Fields OpenAI's reasoning models refuse (400 `unsupported_value` or `unsupported_parameter`)
 * at other than their neutral value; clients of the other APIs (the Anthropic SDK's temperature,
 * google-genai's topP and penalties) send them to any model.
 */
const REASONING_REFUSES: Record<string, unknown> = { temperature: 1, top_p: 1, presence_penalty: 0, frequency_penalty: 0, logprobs: false, top_logprobs: undefined, logit_bias: undefined, stop: undefined };

/** The chat body for an `openai` provider. */
export function toOpenAIRequest(request: ChatRequest, model: string): object {
  const { max_tokens, thinking, top_k: _topK, reasoning_effort, ...rest } = request;
  const body: Record<string, unknown> = { ...rest, model };
  if (max_tokens != null) body[request.max_completion_tokens != null ? 'max_tokens' : 'max_completion_tokens'] = max_tokens;
  const reasons = reasoningModel(model);
  const effort = reasoning_effort ?? (thinking ? effortFor(thinking.type === 'disabled' ? 0 : (thinking.budget_tokens ?? 8192)) : undefined);
  if (effort != null && reasons) body.reasoning_effort = effortOn(model, effort);
  if (request.messages.some(hasExtension)) body.messages = request.messages.filter((m) => !thoughtOnly(m)).map(plain);
  body.messages = shortIds(body.messages as ChatMessage[]);
  const reasoning = reasons && !(samplesWithoutReasoning(model) && (body.reasoning_effort == null || body.reasoning_effort === 'none'));
  if (reasoning) {
    for (const [field, neutral] of Object.entries(REASONING_REFUSES)) if (body[field] != null && body[field] !== neutral) delete body[field];
  } else if (tooManyStops(request)) {
    body.stop = stopList(request.stop, MAX_STOP);
  }
  return body;
}

/**
 * Whether OpenAI would refuse this request on `model` as the client wrote it, where
 * {@link toOpenAIRequest} sends something it takes: the canonical extensions (thinking, top_k,
 * cache_control, reasoning of other providers, is_error), `reasoning_effort` for a model that does
 * not reason or at a level it does not take, more stop sequences than {@link MAX_STOP}. An OpenAI
 * client's body goes to OpenAI as it is unless this holds (a model served by Claude first can fail
 * over to OpenAI with a body written for Claude; the docs promise reasoning_effort on every model).
 */
export function openAIRefuses(request: ChatRequest, model: string): boolean {
  if (request.thinking != null || request.top_k != null || request.messages.some(hasExtension) || request.messages.some(longId)) return true;
  if (request.reasoning_effort != null && (!reasoningModel(model) || effortOn(model, request.reasoning_effort) !== request.reasoning_effort)) return true;
  return !reasoningModel(model) && tooManyStops(request);
}

/**
 * The chat body for an `openai-compatible` server: the request with `model` replaced and
 * `developer` messages sent as `system`. OpenAI added the developer role for its reasoning models
 * and its SDKs and the Agents SDK send it; the servers this type stands for often refuse it (vLLM
 * with a model whose chat template has no such role: "Unexpected message role."; gateways that
 * validate roles: "developer is not one of ['system', 'assistant', 'user', 'tool', 'function']"),
 * while all of them take `system`, which means the same there. Tool call ids past 40 characters
 * are sent as a digest ({@link openAIId}): servers that stand for OpenAI check OpenAI's limit.
 * Everything else passes as sent.
 */
export function toCompatibleRequest(request: ChatRequest, model: string): ChatRequest {
  const body = { ...request, model };
  if (request.messages.some((m) => m.role === 'developer')) body.messages = request.messages.map((m): ChatMessage => (m.role === 'developer' ? { ...m, role: 'system' } : m));
  body.messages = shortIds(body.messages);
  return body;
}

/** Whether an OpenAI-compatible server may refuse the request as the client wrote it: it has `developer` messages or tool call ids past 40 characters ({@link toCompatibleRequest}). */
export function compatibleRefuses(request: ChatRequest): boolean {
  return request.messages.some((m) => m.role === 'developer' || longId(m));
}
