/** Canonical completion → Anthropic message, and the stop-reason and usage mappings both directions of the ingress share. */
import { anthropicMessageId, type AnthropicMessage, type AnthropicResponseBlock, type AnthropicStopReason, type AnthropicUsage } from '../../wire/anthropic.js';
import type { ChatCompletion, FinishReason, ResponseThinkingBlock, Usage } from '../../wire/openai.js';

const STOP_REASONS: Record<FinishReason, AnthropicStopReason> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

/**
 * The Anthropic stop reason for a canonical finish. Some OpenAI-compatible servers say `stop`
 * after tool calls; Anthropic clients run tools only on `tool_use`, so tool calls decide.
 */
export function stopReason(finish: FinishReason | null | undefined, hadToolCalls: boolean): AnthropicStopReason {
  if (hadToolCalls && (finish == null || finish === 'stop')) return 'tool_use';
  return finish ? STOP_REASONS[finish] : 'end_turn';
}

/** Canonical usage as Anthropic's: cached prompt tokens are reported beside input_tokens. */
export function anthropicUsage(usage: Usage | null | undefined): AnthropicUsage {
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    input_tokens: (usage?.prompt_tokens ?? 0) - cached,
    output_tokens: usage?.completion_tokens ?? 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
}

/** Tool-call arguments as the object Anthropic clients expect; unparsable text becomes `{}`. */
export function toolInput(args: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(args);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Reasoning as Anthropic blocks: signed blocks as they came, else the reasoning text as a thinking
 * block with an empty signature (its provider signs nothing; only the sidecar reads it back).
 */
export function thinkingOf(text: string | null | undefined, blocks: readonly ResponseThinkingBlock[] | undefined): AnthropicResponseBlock[] {
  if (blocks?.length) return blocks.map((b) => (b.type === 'thinking' ? { type: 'thinking', thinking: b.thinking, signature: b.signature ?? '' } : b));
  return text ? [{ type: 'thinking', thinking: text, signature: '' }] : [];
}

/** A canonical completion (first choice) as an Anthropic message. */
export function chatToAnthropic(completion: ChatCompletion): AnthropicMessage {
  const choice = completion.choices[0];
  const content: AnthropicResponseBlock[] = thinkingOf(choice?.message.reasoning_content, choice?.message.thinking_blocks);
  const text = choice?.message.content;
  if (text) content.push({ type: 'text', text });
  for (const call of choice?.message.tool_calls ?? []) {
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: toolInput(call.function.arguments) });
  }
  return {
    id: anthropicMessageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: completion.model,
    content,
    stop_reason: stopReason(choice?.finish_reason, (choice?.message.tool_calls?.length ?? 0) > 0),
    stop_sequence: null,
    usage: anthropicUsage(completion.usage),
  };
}
