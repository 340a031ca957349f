/**
 * OpenAI (and OpenAI-compatible) streams: the chunks are already canonical, so translation is SSE
 * framing, JSON parsing, and reporting the requested model name. `[DONE]` ends the stream; an
 * `error` object (OpenAI, vLLM, LiteLLM and others send one mid-stream) becomes a StreamError.
 */
import type { EventSourceMessage } from 'eventsource-parser';
import type { ChatCompletionChunk, Completion } from '../../wire/openai.js';
import { brokenStream, parseFrame } from '../shared/errors.js';
import { sseFramer } from '../shared/framing.js';
import { frameTranslator } from '../shared/translator.js';
import { StreamError, type StreamTranslator, type TranslateContext } from '../types.js';
import { errorFromObject } from './errors.js';

const PROVIDER = 'openai';

interface OpenAIStreamObject {
  choices?: { finish_reason?: string | null }[];
  error?: unknown;
  model?: string;
}

/** A translator for an OpenAI chat or text-completion stream. */
export function openAIStream<T extends ChatCompletionChunk | Completion>(context: TranslateContext): StreamTranslator<T> {
  let out: T[] = [];
  let done = false;
  let finished = false;
  return frameTranslator(sseFramer(PROVIDER), {
    frame({ event, data }: EventSourceMessage) {
      if (done) return;
      if (data === '[DONE]') {
        done = true;
        return;
      }
      const value = parseFrame(PROVIDER, data) as OpenAIStreamObject;
      if (typeof value !== 'object' || value === null) throw brokenStream(PROVIDER, 'stream data is not a JSON object');
      if (value.error !== undefined || event === 'error') throw new StreamError(errorFromObject(value, 500));
      if (!Array.isArray(value.choices)) throw brokenStream(PROVIDER, 'stream chunk without choices');
      for (const choice of value.choices) if (choice.finish_reason) finished = true;
      value.model = context.requestedModel;
      out.push(value as unknown as T);
    },
    end() {
      // Some compatible servers omit [DONE]; a stream that reported its finish is still whole.
      if (!done && !finished) throw brokenStream(PROVIDER, 'ended before [DONE]');
    },
    complete: () => done,
    drain() {
      const chunks = out;
      out = [];
      return chunks;
    },
  });
}
