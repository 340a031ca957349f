/**
 * Canonical chunks → an Anthropic Messages stream, as the exact SSE text an Anthropic client
 * reads: `message_start`; per block `content_block_start`, deltas (`text_delta`,
 * `input_json_delta`), `content_block_stop`; then `message_delta` (stop reason, usage) and
 * `message_stop`. Blocks are numbered in order of appearance, text and tool_use alike.
 *
 * The canonical stream reports usage after its finish chunk, so `message_delta` is written by
 * `end()`, once the canonical stream is over. The provider's input count is unknown at
 * `message_start`, which carries the sidecar's estimate (clients size context windows from it);
 * `message_delta` then reports the provider's count, which current Anthropic SDKs take.
 */
import { anthropicError, anthropicMessageId, anthropicSSE, type AnthropicStreamEvent } from '../../wire/anthropic.js';
import type { ChatCompletionChunk, FinishReason, ResponseThinkingBlock, Usage } from '../../wire/openai.js';
import type { ProviderError } from '../../providers/types.js';
import { anthropicUsage, stopReason } from './anthropic-response.js';

/** A stateful encoder for one stream; each method returns the SSE text to write (maybe ""). */
export interface AnthropicStreamEncoder {
  /** The events a canonical chunk produces. */
  encode(chunk: ChatCompletionChunk): string;
  /** The closing events, after the canonical stream ended normally. */
  end(): string;
  /** An `error` event for a stream that failed after it started. */
  error(error: ProviderError): string;
}

/**
 * An encoder. `id` and `model` go into `message_start` (the model the client asked for; the id of
 * the call, as `msg_…`), with `inputTokens` (an estimate) as its input count.
 */
export function anthropicStreamEncoder(options: { id: string; model: string; inputTokens?: number }): AnthropicStreamEncoder {
  let started = false;
  let blocks = 0;
  // The open block: its Anthropic index, and for a tool_use block the canonical tool index.
  let open: { index: number; tool?: number; thinking?: boolean } | undefined;
  const toolBlocks = new Map<number, number>();
  let finish: FinishReason | null = null;
  let usage: Usage | null = null;
  let out = '';

  const write = (event: AnthropicStreamEvent) => {
    out += anthropicSSE(event);
  };
  const start = () => {
    if (started) return;
    started = true;
    write({
      type: 'message_start',
      message: {
        id: anthropicMessageId(options.id),
        type: 'message',
        role: 'assistant',
        model: options.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: options.inputTokens ?? 0, output_tokens: 0 },
      },
    });
  };
  const close = () => {
    if (!open) return;
    write({ type: 'content_block_stop', index: open.index });
    open = undefined;
  };
  const thinking = (delta: string) => {
    if (!open?.thinking) {
      close();
      open = { index: blocks++, thinking: true };
      write({ type: 'content_block_start', index: open.index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    }
    write({ type: 'content_block_delta', index: open.index, delta: { type: 'thinking_delta', thinking: delta } });
  };
  const signed = (block: ResponseThinkingBlock) => {
    if (block.type === 'redacted_thinking') {
      close();
      const index = blocks++;
      write({ type: 'content_block_start', index, content_block: block });
      write({ type: 'content_block_stop', index });
      return;
    }
    // The block's text has streamed already; a block that did not stream is written whole.
    if (!open?.thinking) thinking(block.thinking);
    if (block.signature) write({ type: 'content_block_delta', index: open!.index, delta: { type: 'signature_delta', signature: block.signature } });
    close();
  };
  const text = (delta: string) => {
    if (open?.tool !== undefined || open?.thinking || !open) {
      close();
      open = { index: blocks++ };
      write({ type: 'content_block_start', index: open.index, content_block: { type: 'text', text: '' } });
    }
    write({ type: 'content_block_delta', index: open.index, delta: { type: 'text_delta', text: delta } });
  };
  const toolArguments = (index: number, partial: string) => {
    if (partial) write({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: partial } });
  };
  const take = () => {
    const text = out;
    out = '';
    return text;
  };

  return {
    encode(chunk) {
      start();
      if (chunk.usage) usage = chunk.usage;
      // An Anthropic message has one choice; others (n > 1) have nowhere to go.
      const choice = chunk.choices.find((c) => c.index === 0);
      if (!choice) return take();
      const delta = choice.delta;
      if (delta.reasoning_content) thinking(delta.reasoning_content);
      for (const block of delta.thinking_blocks ?? []) signed(block);
      if (delta.content) text(delta.content);
      for (const call of delta.tool_calls ?? []) {
        if (call.id) {
          close();
          open = { index: blocks++, tool: call.index };
          toolBlocks.set(call.index, open.index);
          write({ type: 'content_block_start', index: open.index, content_block: { type: 'tool_use', id: call.id, name: call.function?.name ?? '', input: {} } });
          toolArguments(open.index, call.function?.arguments ?? '');
        } else if (open?.tool === call.index) {
          // OpenAI streams one call after another; a fragment for an already closed block
          // cannot be expressed in Anthropic's format and does not occur in practice.
          toolArguments(open.index, call.function?.arguments ?? '');
        }
      }
      if (choice.finish_reason) {
        finish = choice.finish_reason;
        close();
      }
      return take();
    },
    end() {
      start();
      close();
      write({
        type: 'message_delta',
        delta: { stop_reason: stopReason(finish, toolBlocks.size > 0), stop_sequence: null },
        usage: anthropicUsage(usage),
      });
      write({ type: 'message_stop' });
      return take();
    },
    error(error) {
      return anthropicSSE(anthropicError(error));
    },
  };
}
