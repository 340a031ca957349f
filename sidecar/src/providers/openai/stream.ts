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
    complete: () => done,
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
 * chunk, so only a frame that has `"usage":null` is searched, from its end where OpenAI puts it.
 */
function hideUsage(frame: SSEEvent, usageOnly: boolean, usage: unknown): void {
  if (usageOnly) frame.raw = NOTHING;
  else if (usage !== null) return;
  else if (frame.raw) frame.raw = cut(frame.raw, NULL_USAGE);
  else frame.data = frame.data.replace(',"usage":null', '');
}

/**
 * `bytes` without the last `needle` in them, cut out in place: the bytes after it (OpenAI puts
 * usage last but for the obfuscation pad) move back over it. The frame's bytes are the relay's
 * own (a view of the chunk undici handed over, or a copy the framer made), so nothing else reads
 * them; unchanged when the needle is not there (e.g. written with a space: `"usage": null`).
 */
function cut(bytes: Buffer, needle: Buffer): Buffer {
  const first = needle[0];
  outer: for (let i = bytes.length - needle.length; i >= 0; i--) {
    if (bytes[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    bytes.copyWithin(i, i + needle.length);
    return bytes.subarray(0, bytes.length - needle.length);
  }
  return bytes;
}
