/**
 * Anthropic Messages stream → canonical chunks. Text blocks become content deltas, tool_use blocks
 * become tool calls whose OpenAI index counts tool blocks only (Anthropic's block index also
 * counts text and thinking blocks); thinking streams as reasoning_content, and each thinking block
 * goes out whole with its signature (thinking_blocks) when it stops; server-tool blocks are not
 * carried. The finish chunk and the usage chunk follow `message_stop`.
 */
import { anthropicErrorStatus } from '../../wire/anthropic.js';
import type { AnthropicUsage } from '../../wire/anthropic.js';
import type { FinishReason } from '../../wire/openai.js';
import { ChunkEmitter, tokenCount } from '../shared/chunks.js';
import { brokenStream, parseFrame, providerError } from '../shared/errors.js';
import { sseFramer, type SSEEvent } from '../shared/framing.js';
import { frameTranslator } from '../shared/translator.js';
import { StreamError, type StreamTranslator, type TranslateContext } from '../types.js';
import { finishReason, usageOf } from './response.js';

const PROVIDER = 'anthropic';

/** The fields of the stream events this translator reads; everything else is ignored. */
interface StreamEvent {
  type: string;
  index?: number;
  message?: { id?: string; usage?: Partial<AnthropicUsage> };
  content_block?: { type: string; text?: string; id?: string; name?: string; thinking?: string; data?: string };
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null; thinking?: string; signature?: string };
  usage?: Partial<AnthropicUsage>;
  error?: { type?: string; message?: string };
}

/** A translator for one Anthropic stream. */
export function anthropicStream(context: TranslateContext): StreamTranslator {
  const emit = new ChunkEmitter(context);
  const toolIndexByBlock = new Map<number, number>();
  // Thinking blocks by Anthropic block index: text and signature, sent whole at content_block_stop.
  const thinking = new Map<number, { text: string; signature: string }>();
  // message_delta usage is cumulative and may repeat input counts; later values win.
  const usage: Partial<AnthropicUsage> = {};
  let usageSeen = false;
  let finish: FinishReason = 'stop';
  let stopped = false;

  const readUsage = (u: Partial<AnthropicUsage> | undefined) => {
    if (!u) return;
    for (const key of ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const) {
      const value = u[key];
      if (value === undefined || value === null) continue;
      // Not a count (a string, a negative): NaN, so the call is estimated (shared/chunks.ts tokenCount).
      usage[key] = tokenCount(value);
      usageSeen = true;
    }
    if (u.cache_creation) usage.cache_creation = u.cache_creation;
  };

  return frameTranslator(sseFramer(PROVIDER), {
    frame({ data }: SSEEvent) {
      if (stopped) return;
      const event = parseFrame(PROVIDER, data) as StreamEvent;
      if (typeof event !== 'object' || event === null) throw brokenStream(PROVIDER, 'event data is not a JSON object');
      switch (event.type) {
        case 'message_start':
          if (event.message?.id) emit.id = event.message.id;
          readUsage(event.message?.usage);
          emit.start();
          break;
        case 'content_block_start': {
          const block = event.content_block;
          if (block?.type === 'thinking' && event.index !== undefined) {
            thinking.set(event.index, { text: block.thinking ?? '', signature: '' });
            emit.reasoning(block.thinking ?? '');
          } else if (block?.type === 'redacted_thinking') emit.thinkingBlocks([{ type: 'redacted_thinking', data: block.data ?? '' }]);
          else if (block?.type === 'text') emit.text(block.text ?? '');
          else if (block?.type === 'tool_use' && event.index !== undefined) {
            toolIndexByBlock.set(event.index, emit.toolStart(block.id ?? '', block.name ?? ''));
          }
          break;
        }
        case 'content_block_delta': {
          const delta = event.delta;
          const open = event.index === undefined ? undefined : thinking.get(event.index);
          if (delta?.type === 'thinking_delta' && open) {
            open.text += delta.thinking ?? '';
            emit.reasoning(delta.thinking ?? '');
          } else if (delta?.type === 'signature_delta' && open) open.signature += delta.signature ?? '';
          else if (delta?.type === 'text_delta') emit.text(delta.text ?? '');
          else if (delta?.type === 'input_json_delta' && event.index !== undefined) {
            const index = toolIndexByBlock.get(event.index);
            if (index !== undefined) emit.toolArguments(index, delta.partial_json ?? '');
          }
          break;
        }
        case 'content_block_stop': {
          // A thinking block is whole once it stops: its signature goes out with its text.
          const done = event.index === undefined ? undefined : thinking.get(event.index);
          if (done) emit.thinkingBlocks([{ type: 'thinking', thinking: done.text, signature: done.signature || null }]);
          break;
        }
        case 'message_delta':
          if (event.delta?.stop_reason) finish = finishReason(event.delta.stop_reason);
          readUsage(event.usage);
          break;
        case 'message_stop':
          stopped = true;
          emit.finish(finish);
          if (usageSeen) emit.usage(usageOf(usage));
          break;
        case 'error': {
          const type = event.error?.type ?? 'api_error';
          throw new StreamError(providerError(anthropicErrorStatus(type), event.error?.message ?? 'stream error', null, null, type));
        }
        // ping and event types added later carry nothing to translate.
      }
    },
    end() {
      if (!stopped) throw brokenStream(PROVIDER, 'ended before message_stop');
    },
    drain() {
      return emit.drain();
    },
    complete() {
      return stopped;
    },
    // message_start's count is the input the provider bills, known before any content: a stream
    // cut before message_delta is counted by it rather than by the sidecar's estimate.
    earlyUsage() {
      return usageSeen ? usageOf(usage) : undefined;
    },
  });
}
