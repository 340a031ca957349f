/**
 * Gemini `streamGenerateContent?alt=sse` → canonical chunks. Each event is a whole
 * GenerateContentResponse: text parts are deltas, a function call arrives whole (header chunk,
 * then its arguments as one fragment). The event with finishReason gives the finish chunk; usage
 * grows with each event, so the usage chunk is sent when the stream ends. There is no terminator.
 */
import { ChunkEmitter, makeToolCallId } from '../shared/chunks.js';
import { brokenStream, parseFrame } from '../shared/errors.js';
import { sseFramer, type SSEEvent } from '../shared/framing.js';
import { frameTranslator } from '../shared/translator.js';
import { StreamError, type StreamTranslator, type TranslateContext } from '../types.js';
import { errorFromObject, finishReason, usageOf, type GeminiResponse, type GeminiUsage } from './response.js';
import { idWithSignature } from './signature.js';

const PROVIDER = 'gemini';

/** A translator for one Gemini stream. */
export function geminiStream(context: TranslateContext): StreamTranslator {
  const emit = new ChunkEmitter(context);
  let usage: GeminiUsage | undefined;
  let finished = false;
  return frameTranslator(sseFramer(PROVIDER), {
    frame({ data }: SSEEvent) {
      const event = parseFrame(PROVIDER, data) as GeminiResponse;
      if (typeof event !== 'object' || event === null) throw brokenStream(PROVIDER, 'event data is not a JSON object');
      if (event.error !== undefined) throw new StreamError(errorFromObject(event.error as object, 500));
      if (!Array.isArray(event.candidates) && event.promptFeedback === undefined && event.usageMetadata === undefined) {
        throw brokenStream(PROVIDER, 'event without candidates, promptFeedback or usageMetadata');
      }
      if (event.responseId && emit.id === context.id) emit.id = event.responseId;
      if (event.usageMetadata) usage = event.usageMetadata;
      // Events after the finish can only add usage.
      if (finished) return;
      emit.start();
      const candidate = event.candidates?.[0];
      for (const part of candidate?.content?.parts ?? []) {
        // Thought summaries (includeThoughts) stream as reasoning.
        if (part.thought) {
          if (typeof part.text === 'string') emit.reasoning(part.text);
          continue;
        }
        if (typeof part.text === 'string') emit.text(part.text);
        if (part.functionCall) {
          const id = idWithSignature(makeToolCallId(context, emit.toolCallCount), part.thoughtSignature);
          const index = emit.toolStart(id, part.functionCall.name ?? '');
          emit.toolArguments(index, JSON.stringify(part.functionCall.args ?? {}));
        }
      }
      if (candidate?.finishReason) {
        finished = true;
        emit.finish(finishReason(candidate.finishReason, emit.toolCallCount > 0));
      } else if (!candidate && event.promptFeedback?.blockReason) {
        finished = true;
        emit.finish('content_filter');
      }
    },
    end() {
      if (!finished) throw brokenStream(PROVIDER, 'ended without a finishReason');
      if (usage) emit.usage(usageOf(usage));
    },
    drain() {
      return emit.drain();
    },
    complete() {
      return finished;
    },
  });
}
