/**
 * OpenAI (and OpenAI-compatible) streams: the chunks are already canonical, so translation is SSE
 * framing, JSON parsing, and reporting the requested model name. `[DONE]` ends the stream; an
 * `error` object (OpenAI, vLLM, LiteLLM and others send one mid-stream) becomes a StreamError.
 */
import type { ChatCompletionChunk, Completion } from '../../wire/openai.js';
import { brokenStream, parseFrame } from '../shared/errors.js';
import { sseFramer, type SSEEvent } from '../shared/framing.js';
import { frameTranslator } from '../shared/translator.js';
import { StreamError, type StreamTranslator, type TranslateContext } from '../types.js';
import { errorFromObject } from './errors.js';

const PROVIDER = 'openai';

interface OpenAIStreamObject {
  choices?: { finish_reason?: string | null }[];
  error?: unknown;
  model?: string;
  usage?: unknown;
}

const NOTHING = Buffer.alloc(0);
const NULL_USAGE = Buffer.from(',"usage":null');

/** A translator for an OpenAI chat or text-completion stream. */
export function openAIStream<T extends ChatCompletionChunk | Completion>(context: TranslateContext): StreamTranslator<T> {
  let out: T[] = [];
  let done = false;
  let finished = false;
  return frameTranslator(sseFramer(PROVIDER), {
    frame(frame: SSEEvent) {
      const { event, data } = frame;
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
      if (context.hideUsage) hideUsage(frame, value.choices.length === 0, value.usage);
      value.model = context.requestedModel;
      out.push(value as unknown as T);
    },
    end() {
      // Some compatible servers omit [DONE]; a stream that reported its finish is still whole.
      if (!done && !finished) throw brokenStream(PROVIDER, 'ended before [DONE]');
    },
    complete() {
      return done;
    },
    drain() {
      const chunks = out;
      out = [];
      return chunks;
    },
  });
}

/**
 * A frame as a client that did not ask for usage sees it natively, as OpenAI sends it then: the
 * usage-only chunk left out, `"usage":null` taken out of the others. Decided from the parsed
 * chunk, so only a frame that has `"usage":null` is searched, from its end where OpenAI puts it,
 * and cut out in place: the bytes after it (the obfuscation pad) move back over it.
 */
function hideUsage(frame: SSEEvent, usageOnly: boolean, usage: unknown): void {
  if (usageOnly) {
    if (!frame.bytes) {
      frame.bytes = NOTHING;
      frame.start = 0;
    }
    frame.end = frame.start;
  } else if (usage === null) {
    const bytes = frame.bytes;
    if (!bytes) frame.data = frame.data.replace(',"usage":null', '');
    else {
      const at = lastIndexOf(bytes, NULL_USAGE, frame.start, frame.end);
      if (at >= 0) {
        bytes.copyWithin(at, at + NULL_USAGE.length, frame.end);
        frame.end -= NULL_USAGE.length;
      }
    }
  }
}

/** The last index of `needle` in `bytes[start..end)`, or -1 (e.g. written with a space: `"usage": null`). */
function lastIndexOf(bytes: Buffer, needle: Buffer, start: number, end: number): number {
  const first = needle[0];
  outer: for (let i = end - needle.length; i >= start; i--) {
    if (bytes[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
