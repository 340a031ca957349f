/**
 * Stream framing: raw bytes in, whole frames out, whatever the chunk boundaries (mid-line,
 * mid-UTF-8 character, byte by byte). SSE is split on the bytes, as the SSE spec parses lines,
 * and only a field's value is decoded: a frame passed through natively goes out as the very bytes
 * that came in, without a decode of the whole stream or a re-encode of each frame. NDJSON is a
 * line split.
 */
import { brokenStream } from './errors.js';

/** The most bytes (SSE) or characters (NDJSON) one unfinished frame may hold before the stream is treated as broken. */
export const MAX_FRAME_SIZE = 16 * 1024 * 1024;

/** A stateful splitter of one stream into frames. */
export interface Framer<F> {
  push(bytes: Uint8Array): F[];
  end(): F[];
  /** Frames as wire bytes again, in one buffer (for native pass-through of whole frames). */
  wire(frames: readonly F[]): Buffer;
}

/** One SSE event: its fields, and where its bytes are when it holds only `data`, `event` and `id` lines. */
export interface SSEEvent {
  event?: string | undefined;
  id?: string | undefined;
  data: string;
  /**
   * The event's wire bytes, blank line included, are `bytes[start..end)` when they can go out as
   * they came (a range, not a view: no Buffer object per event); `bytes` is undefined when they
   * held comments or other fields, which a pass-through leaves out. The bytes are the relay's
   * own (the chunk the HTTP client handed over, or a copy), so a translator may edit the range in place.
   */
  bytes?: Buffer | undefined;
  start: number;
  end: number;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const END = Buffer.from('\n\n');
const EMPTY = Buffer.alloc(0);

/** SSE events as wire bytes: their own bytes where they have them, else their fields, one data line per line. */
export function encodeSSE(events: readonly SSEEvent[]): Buffer {
  if (events.length === 0) return EMPTY;
  const first = events[0]!;
  // One run of one chunk's bytes (the usual case): a view, no copy.
  let run = first.bytes !== undefined;
  for (let i = 1; run && i < events.length; i++) run = events[i]!.bytes === first.bytes && events[i]!.start === events[i - 1]!.end;
  if (run) return first.bytes!.subarray(first.start, events[events.length - 1]!.end);
  // Else one copy: the ranges copied into one buffer (no view per event), re-encoded events among them.
  let length = 0;
  const encoded: (Buffer | undefined)[] = [];
  for (const e of events) {
    const text = e.bytes ? undefined : Buffer.from(fields(e));
    encoded.push(text);
    length += text ? text.length : e.end - e.start;
  }
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const text = encoded[i];
    at += text ? text.copy(out, at) : e.bytes!.copy(out, at, e.start, e.end);
  }
  return out;
}

function fields(event: SSEEvent): string {
  let out = event.event ? `event: ${event.event}\n` : '';
  if (event.id !== undefined) out += `id: ${event.id}\n`;
  const data = event.data;
  out += data.includes('\n') ? data.split('\n').map((line) => `data: ${line}\n`).join('') : `data: ${data}\n`;
  return `${out}\n`;
}

/**
 * SSE events of one stream. The lines of the event being read are kept as byte ranges of the
 * chunks they came in (`head`, `partial`), so an event spread over many chunks is copied once,
 * when it completes, and an event inside one chunk not at all (its bytes are a range of the chunk).
 */
class SSESplitter implements Framer<SSEEvent> {
  /** Complete lines of the current event from earlier chunks. */
  private head: Buffer[] = [];
  /** The unfinished line from earlier chunks. */
  private partial: Buffer[] = [];
  private headBytes = 0;
  private partialBytes = 0;
  private partialEndsCR = false;
  private first = true;
  // The current event's fields.
  private data = '';
  private dataLines = 0;
  private event: string | undefined = undefined;
  private id: string | undefined = undefined;
  /** Whether the event's lines are only data, event and id: then its bytes go out as they came. */
  private plain = true;

  constructor(private readonly provider: string) {}

  push(chunk: Uint8Array): SSEEvent[] {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.first && buf.length > 0) {
      this.first = false;
      // A byte order mark is not part of the first line (SSE spec).
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    if (this.partial.length > 0) {
      // No line ends in this chunk (nor with the CR the held bytes end with): keep it without
      // copying, so a long line in many small chunks is copied once.
      if (!this.partialEndsCR && buf.indexOf(LF) < 0 && buf.indexOf(CR) < 0) return this.hold(buf);
      this.partial.push(buf);
      buf = Buffer.concat(this.partial);
      this.partial = [];
      this.partialBytes = 0;
      this.partialEndsCR = false;
    }
    const out: SSEEvent[] = [];
    // Where the current event's bytes in `buf` begin, and where the next line begins.
    let eventStart = 0;
    let pos = 0;
    let cr = buf.indexOf(CR);
    for (;;) {
      let end = buf.indexOf(LF, pos);
      if (cr >= 0 && cr < pos) cr = buf.indexOf(CR, pos);
      if (cr >= 0 && (end < 0 || cr < end)) {
        // A CR as the chunk's last byte may be the first half of a CR LF: wait for the next byte.
        if (cr === buf.length - 1) break;
        end = cr;
      }
      if (end < 0) break;
      let next = end + 1;
      if (buf[end] === CR && buf[next] === LF) next++;
      if (end === pos) {
        // A blank line: the event is complete (an event without data is none, as in the spec).
        if (this.dataLines > 0) out.push(this.dispatch(buf, eventStart, next));
        this.reset();
        eventStart = next;
      } else this.line(buf, pos, end);
      pos = next;
    }
    if (eventStart < pos) {
      this.head.push(buf.subarray(eventStart, pos));
      this.headBytes += pos - eventStart;
    }
    if (pos < buf.length) this.hold(buf.subarray(pos));
    else this.check();
    return out;
  }

  end(): SSEEvent[] {
    // A server that closes right after its last `data:` line, without the blank line, still
    // meant that event; a truncated one then fails loudly as malformed JSON.
    return this.push(END);
  }

  wire(events: readonly SSEEvent[]): Buffer {
    return encodeSSE(events);
  }

  /** Keeps the bytes of an unfinished line for the next chunk. */
  private hold(bytes: Buffer): SSEEvent[] {
    this.partial.push(bytes);
    this.partialBytes += bytes.length;
    this.partialEndsCR = bytes[bytes.length - 1] === CR;
    this.check();
    return [];
  }

  private check(): void {
    if (this.headBytes + this.partialBytes > MAX_FRAME_SIZE) throw brokenStream(this.provider, `an event exceeded ${MAX_FRAME_SIZE} bytes`);
  }

  /** One non-empty line of the current event. */
  private line(buf: Buffer, start: number, end: number): void {
    if (buf[start] === COLON) {
      this.plain = false; // a comment
      return;
    }
    let colon = buf.indexOf(COLON, start);
    if (colon < 0 || colon > end) colon = end;
    let valueStart = colon + 1;
    if (valueStart < end && buf[valueStart] === SPACE) valueStart++;
    const value = valueStart < end ? buf.toString('utf8', valueStart, end) : '';
    switch (fieldName(buf, start, colon)) {
      case 'data':
        this.data = this.dataLines === 0 ? value : `${this.data}\n${value}`;
        this.dataLines++;
        break;
      case 'event':
        this.event = value || undefined;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      default:
        this.plain = false; // retry, or a field SSE ignores
    }
  }

  private dispatch(buf: Buffer, eventStart: number, next: number): SSEEvent {
    const event: SSEEvent = { event: this.event, id: this.id, data: this.data, bytes: undefined, start: eventStart, end: next };
    if (!this.plain) return event;
    if (this.head.length === 0) event.bytes = buf;
    else {
      event.bytes = Buffer.concat([...this.head, buf.subarray(eventStart, next)]);
      event.start = 0;
      event.end = event.bytes.length;
    }
    return event;
  }

  private reset(): void {
    this.head = [];
    this.headBytes = 0;
    this.data = '';
    this.dataLines = 0;
    this.event = undefined;
    this.id = undefined;
    this.plain = true;
  }
}

/** The SSE field a line names, when it is one an event carries (compared on the bytes). */
function fieldName(buf: Buffer, start: number, colon: number): 'data' | 'event' | 'id' | undefined {
  const length = colon - start;
  const c = buf[start];
  if (length === 4 && c === 0x64 && buf[start + 1] === 0x61 && buf[start + 2] === 0x74 && buf[start + 3] === 0x61) return 'data';
  if (length === 5 && c === 0x65 && buf[start + 1] === 0x76 && buf[start + 2] === 0x65 && buf[start + 3] === 0x6e && buf[start + 4] === 0x74) return 'event';
  if (length === 2 && c === 0x69 && buf[start + 1] === 0x64) return 'id';
  return undefined;
}

/** SSE events of one stream. */
export function sseFramer(provider: string): Framer<SSEEvent> {
  return new SSESplitter(provider);
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
    if (buffer.length > MAX_FRAME_SIZE) throw brokenStream(provider, `a line exceeded ${MAX_FRAME_SIZE} characters`);
    return out;
  };
  return {
    wire: (lines) => Buffer.from(lines.map((line) => `${line}\n`).join('')),
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
