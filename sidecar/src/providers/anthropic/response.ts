/** Anthropic Messages response → canonical completion; also the finish and usage mappings. */
import type { AnthropicStopReason, AnthropicUsage } from '../../wire/anthropic.js';
import type { CacheCreation, ChatCompletion, FinishReason, ResponseThinkingBlock, ResponseToolCall, Usage } from '../../wire/openai.js';
import { makeCompletion, makeUsage, tokenCount } from '../shared/chunks.js';
import { badResponse } from '../shared/errors.js';
import type { TranslateContext } from '../types.js';

const PROVIDER = 'anthropic';

const FINISH: Record<AnthropicStopReason, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  // The server paused a long server-tool turn; for the client the answer so far is complete.
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** The canonical finish reason for an Anthropic stop reason (unknown ones: stop). */
export function finishReason(reason: string | null | undefined): FinishReason {
  return (reason && FINISH[reason as AnthropicStopReason]) || 'stop';
}

/**
 * Canonical usage from Anthropic's. OpenAI counts cached prompt tokens inside prompt_tokens;
 * Anthropic reports them beside input_tokens, so they are added back.
 */
export function usageOf(usage: Partial<AnthropicUsage> | undefined): Usage {
  const read = tokenCount(usage?.cache_read_input_tokens);
  const prompt = tokenCount(usage?.input_tokens) + tokenCount(usage?.cache_creation_input_tokens) + read;
  const made = makeUsage(prompt, tokenCount(usage?.output_tokens), read);
  const writes = usage && cacheCreation(usage);
  if (writes) made.cache_creation = writes;
  return made;
}

/**
 * The prompt tokens Anthropic wrote to its cache, by how long it keeps them (each is billed at its
 * own multiple of the input price): `cache_creation`'s breakdown where given, and the rest of
 * `cache_creation_input_tokens` (all of it without the breakdown) as five-minute writes, the
 * cheaper. Counts that are not counts are none here: the total then makes the input NaN, and the
 * call is estimated (shared/chunks.ts tokenCount). Undefined when nothing was written.
 */
export function cacheCreation(usage: Partial<AnthropicUsage>): CacheCreation | undefined {
  const total = tokenCount(usage.cache_creation_input_tokens);
  const split = usage.cache_creation;
  const hour = countOrNone(split?.ephemeral_1h_input_tokens);
  const minutes = Math.max(countOrNone(split?.ephemeral_5m_input_tokens), (Number.isNaN(total) ? 0 : total) - hour);
  return hour > 0 || minutes > 0 ? { ephemeral_5m_input_tokens: minutes, ephemeral_1h_input_tokens: hour } : undefined;
}

const countOrNone = (value: unknown): number => (typeof value === 'number' && value >= 0 && Number.isFinite(value) ? value : 0);

interface ResponseBody {
  id?: string;
  content?: { type: string; text?: string; id?: string; name?: string; input?: unknown; thinking?: string; signature?: string; data?: string }[];
  stop_reason?: string | null;
  usage?: AnthropicUsage;
}

/** A Messages response body to a canonical completion; thinking as reasoning_content and signed thinking_blocks. */
export function fromAnthropicMessage(body: unknown, context: TranslateContext): ChatCompletion {
  const message = body as ResponseBody;
  if (typeof body !== 'object' || body === null || !Array.isArray(message.content)) {
    throw badResponse(PROVIDER, 'expected a message with content');
  }
  let text = '';
  let reasoning = '';
  const thinkingBlocks: ResponseThinkingBlock[] = [];
  const toolCalls: ResponseToolCall[] = [];
  for (const block of message.content) {
    if (block.type === 'text' && typeof block.text === 'string') text += block.text;
    else if (block.type === 'thinking' && typeof block.thinking === 'string') {
      reasoning += block.thinking;
      thinkingBlocks.push({ type: 'thinking', thinking: block.thinking, signature: block.signature ?? null });
    } else if (block.type === 'redacted_thinking' && typeof block.data === 'string') thinkingBlocks.push({ type: 'redacted_thinking', data: block.data });
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: block.id ?? '', type: 'function', function: { name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  return makeCompletion(context, { id: message.id, text, toolCalls, finish: finishReason(message.stop_reason), usage: usageOf(message.usage), reasoning, thinkingBlocks });
}
