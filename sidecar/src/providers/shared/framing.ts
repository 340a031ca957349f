/**
 * Stream framing: raw bytes in, whole frames out, whatever the chunk boundaries (mid-line,
 * mid-UTF-8 character, byte by byte). SSE parsing is eventsource-parser's; NDJSON is a line split.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { brokenStream } from './errors.js';

/** The most characters one unfinished frame may hold before the stream is treated as broken. */
export const MAX_FRAME_CHARS = 16 * 1024 * 1024;

/** A stateful splitter of one stream into frames. */
export interface Framer<F> {
  push(bytes: Uint8Array): F[];
  end(): F[];
  /** One frame as wire text again (for native pass-through of whole frames). */
  encode(frame: F): string;
}

/** An SSE event as wire text: its fields as the provider sent them, one data line per line. */
export function encodeSSE(message: EventSourceMessage): string {
  let out = message.event ? `event: ${message.event}\n` : '';
  if (message.id !== undefined) out += `id: ${message.id}\n`;
  const data = message.data;
  out += data.includes('\n') ? data.split('\n').map((line) => `data: ${line}\n`).join('') : `data: ${data}\n`;
  return `${out}\n`;
}

/** SSE events of one stream. */
export function sseFramer(provider: string): Framer<EventSourceMessage> {
  const decoder = new TextDecoder();
  let events: EventSourceMessage[] = [];
  let overflow = false;
  // Events are collected and handled after feed() returns: throwing from inside the parser's
  // callback would leave it half-way through a line.
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') overflow = true;
    },
    maxBufferSize: MAX_FRAME_CHARS,
  });
  const take = (): EventSourceMessage[] => {
    if (overflow) throw brokenStream(provider, `an event exceeded ${MAX_FRAME_CHARS} characters`);
    const out = events;
    events = [];
    return out;
  };
  return {
    push(bytes) {
      parser.feed(decoder.decode(bytes, { stream: true }));
      return take();
    },
    encode: encodeSSE,
    end() {
      // A server that closes right after its last `data:` line, without the blank line, still
      // meant that event; a truncated one then fails loudly as malformed JSON.
      parser.feed(`${decoder.decode()}\n\n`);
      return take();
    },
  };
}

/** Non-empty lines of one NDJSON stream. */
export function ndjsonFramer(provider: string): Framer<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  // `from` skips the part of the buffer already searched, so a long line arriving in many small
  // pieces is scanned once.
  const lines = (from: number): string[] => {
    const out: string[] = [];
    let start = 0;
    for (let nl = buffer.indexOf('\n', from); nl >= 0; nl = buffer.indexOf('\n', start)) {
      const line = buffer.slice(start, nl).trim();
      if (line) out.push(line);
      start = nl + 1;
    }
    if (start > 0) buffer = buffer.slice(start);
    if (buffer.length > MAX_FRAME_CHARS) throw brokenStream(provider, `a line exceeded ${MAX_FRAME_CHARS} characters`);
    return out;
  };
  return {
    encode: (line) => `${line}\n`,
    push(bytes) {
      const from = buffer.length;
      buffer += decoder.decode(bytes, { stream: true });
      return lines(from);
    },
    end() {
      const from = buffer.length;
      buffer += `${decoder.decode()}\n`;
      return lines(from);
    },
  };
}
