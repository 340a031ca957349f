/** Anthropic Messages response → canonical completion; also the finish and usage mappings. */
import type { AnthropicStopReason, AnthropicUsage } from '../../wire/anthropic.js';
import type { ChatCompletion, FinishReason, ResponseThinkingBlock, ResponseToolCall, Usage } from '../../wire/openai.js';
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
  return makeUsage(prompt, tokenCount(usage?.output_tokens), read);
}

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
