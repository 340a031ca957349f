/**
 * Ollama NDJSON stream → canonical chunks. Each line is an /api/chat object with a content delta;
 * tool calls arrive whole; the line with `done: true` carries done_reason and the counts.
 */
import { ChunkEmitter } from '../shared/chunks.js';
import { brokenStream, parseFrame, providerError } from '../shared/errors.js';
import { ndjsonFramer } from '../shared/framing.js';
import { frameTranslator } from '../shared/translator.js';
import { StreamError, type StreamTranslator, type TranslateContext } from '../types.js';
import { finishReason, isMessage, toolCallOf, usageOf, type OllamaChat } from './response.js';

const PROVIDER = 'ollama';

/** A translator for one Ollama stream. */
export function ollamaStream(context: TranslateContext): StreamTranslator {
  const emit = new ChunkEmitter(context);
  let done = false;
  return frameTranslator(ndjsonFramer(PROVIDER), {
    frame(line: string) {
      if (done) return;
      const chat = parseFrame(PROVIDER, line) as OllamaChat;
      if (typeof chat !== 'object' || chat === null) throw brokenStream(PROVIDER, 'line is not a JSON object');
      if (chat.error !== undefined) throw new StreamError(providerError(500, typeof chat.error === 'string' ? chat.error : 'ollama stream error'));
      if (!isMessage(chat.message) && chat.done !== true) throw brokenStream(PROVIDER, 'line without a message');
      if (chat.message?.thinking) emit.reasoning(chat.message.thinking);
      emit.text(chat.message?.content ?? '');
      for (const call of chat.message?.tool_calls ?? []) {
        const canonical = toolCallOf(call, context, emit.toolCallCount);
        const index = emit.toolStart(canonical.id, canonical.function.name);
        emit.toolArguments(index, canonical.function.arguments);
      }
      if (chat.done) {
        done = true;
        emit.finish(finishReason(chat, emit.toolCallCount > 0));
        const usage = usageOf(chat);
        if (usage) emit.usage(usage);
      }
    },
    end() {
      if (!done) throw brokenStream(PROVIDER, 'ended before done');
    },
    drain() {
      return emit.drain();
    },
    complete() {
      return done;
    },
  });
}
