/**
 * Newline-delimited JSON-RPC read from a stdio MCP server, with the bounds an HTTP server's
 * messages have (client.ts):
 * - a line longer than {@link MAX_MESSAGE_BYTES} is not read: it is skipped to its end, and the
 *   request it answers (its id, read from the line's last bytes, where SDK servers write it) is
 *   answered with an error saying so. The SDK's ReadBuffer threw at 10 MiB instead, and its
 *   transport then closed, killing the server every session shares: a 6 MiB file read through
 *   server-filesystem (which answers with the text twice) took the backend down (red team 21);
 * - a line counts against the sidecar's answer budget from its first byte until it is read (handed
 *   to the parser); past the budget it is skipped and its request answered the same way, so many
 *   large results at once fail rather than take the sidecar past its memory. A skipped line that
 *   is the server's own request (sampling, elicitation) is answered to the server with the error
 *   instead: ids of the two directions are separate, and an error in its name once failed the
 *   client's own request that had the same id;
 * - a line larger than {@link LARGE_MESSAGE_BYTES} is read only in its turn at the sidecar's
 *   {@link largeMessages} gate (one large message parsed and handled at a time): until then no
 *   message is read, the lines after it wait behind it, and `resume` is called once it may be;
 * - chunks are kept as a list and joined once per line: the SDK's buffer copied everything held
 *   on every chunk, so one large line cost its size squared.
 */
import { deserializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { ErrorCode, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { AnswerBudget } from '../upstream/answer-budget.js';
import { MAX_MESSAGE_BYTES } from './client.js';
import { LARGE_MESSAGE_BYTES, largeMessages, type MessageGate } from './message-gate.js';

/** Bytes kept of the end of a skipped line, to find its id. */
const TAIL_BYTES = 256;

/** A complete line not yet read: its chunks (none holding a newline) and their bytes, held against the budget. */
interface Line {
  chunks: Buffer[];
  size: number;
}

export class StdioReadBuffer {
  /** The current line's chunks, none holding a newline. */
  private chunks: Buffer[] = [];
  private size = 0;
  /** Set while the rest of a line is skipped: why, its first bytes, and its last bytes so far. */
  private skipping: { reason: string; head: Buffer; tail: Buffer } | undefined;
  /** Lines complete and not yet read, or the error answering a skipped one. */
  private readonly ready: (Line | JSONRPCMessage)[] = [];
  /** The large line whose turn at the gate has come; the line waiting for it, while it waits. */
  private admitted: Line | undefined;
  private waiting: Line | undefined;

  /**
   * @param answers the sidecar's answer budget, which a line counts against until it is read
   * @param answerServer sends an error to the server for a request of its own that was skipped
   * @param resume called when a large line's turn has come (its reader reads messages again);
   *   without it, lines are read without waiting for the gate
   */
  constructor(
    private readonly answers?: AnswerBudget | undefined,
    private readonly answerServer?: (message: JSONRPCMessage) => void,
    private readonly maxBytes = MAX_MESSAGE_BYTES,
    private readonly resume?: () => void,
    private readonly gate: MessageGate = largeMessages,
  ) {}

  append(chunk: Buffer): void {
    let from = 0;
    for (let newline = chunk.indexOf(0x0a); newline >= 0; newline = chunk.indexOf(0x0a, from)) {
      this.add(chunk.subarray(from, newline));
      this.endLine();
      from = newline + 1;
    }
    if (from < chunk.length) this.add(chunk.subarray(from));
  }

  /**
   * The next message; null when no line is complete, or the next is large and waits for its turn.
   * Throws for a line that is not a JSON-RPC message, as the SDK's does.
   */
  readMessage(): JSONRPCMessage | null {
    for (;;) {
      const next = this.ready[0];
      if (next === undefined) return null;
      if (!isLine(next)) {
        this.ready.shift();
        return next;
      }
      if (next.size > LARGE_MESSAGE_BYTES && this.resume && this.admitted !== next && !this.wait(next)) return null;
      this.ready.shift();
      this.admitted = undefined;
      this.answers?.release(next.size);
      const text = Buffer.concat(next.chunks).toString('utf8').replace(/\r$/, '');
      if (text.length > 0) return deserializeMessage(text);
    }
  }

  clear(): void {
    this.drop();
    this.skipping = undefined;
    for (const line of this.ready) if (isLine(line)) this.answers?.release(line.size);
    this.ready.length = 0;
  }

  /** Asks the gate for `line`'s turn; whether it has come already (the gate was free). */
  private wait(line: Line): boolean {
    if (this.waiting === line) return false;
    this.waiting = line;
    let now = true;
    void this.gate.handOver(() => {
      if (this.waiting === line) this.waiting = undefined;
      this.admitted = line;
      // Read in the gate's turn: the message is parsed and handled before the gate is free again.
      if (!now) this.resume?.();
    });
    now = false;
    return this.admitted === line;
  }

  private add(part: Buffer): void {
    if (part.length === 0) return;
    if (this.skipping) {
      this.skipping.tail = Buffer.concat([this.skipping.tail, part]).subarray(-TAIL_BYTES);
      return;
    }
    const size = this.size + part.length;
    if (size > this.maxBytes) return this.skip(`the MCP server sent a message of more than ${this.maxBytes} bytes; it is not read`, part);
    if (this.answers && !this.answers.hold(part.length, size)) {
      this.answers.release(part.length);
      const held = Math.round(this.answers.maxBytes / 1048576);
      return this.skip(`the Airlock sidecar holds ${held} MiB of answers that their clients have not read yet, its bound (listen.maxAnswerBytesInFlight); this message of the MCP server was not read`, part);
    }
    this.size = size;
    this.chunks.push(Buffer.from(part));
  }

  private skip(reason: string, part: Buffer): void {
    const all = [...this.chunks, part];
    const head = Buffer.concat(all.slice(0, 2)).subarray(0, TAIL_BYTES);
    const tail = Buffer.concat(all.slice(-2)).subarray(-TAIL_BYTES);
    this.drop();
    this.skipping = { reason, head: Buffer.from(head), tail: Buffer.from(tail) };
  }

  private endLine(): void {
    if (this.skipping) {
      const id = idAtEnd(this.skipping.tail.toString('utf8'));
      if (id !== undefined) {
        const error: JSONRPCMessage = { jsonrpc: '2.0', id, error: { code: ErrorCode.InternalError, message: this.skipping.reason } };
        if (RESPONSE_HEAD.test(this.skipping.head.toString('utf8'))) this.ready.push(error);
        else if (REQUEST_HEAD.test(this.skipping.head.toString('utf8'))) this.answerServer?.(error);
      }
      this.skipping = undefined;
      return;
    }
    // The line keeps what it holds until it is read.
    if (this.size > 0) this.ready.push({ chunks: this.chunks, size: this.size });
    this.chunks = [];
    this.size = 0;
  }

  /** Forgets the current line's chunks and what they held. */
  private drop(): void {
    this.answers?.release(this.size);
    this.chunks = [];
    this.size = 0;
  }
}

function isLine(item: Line | JSONRPCMessage): item is Line {
  return 'chunks' in item;
}

/** How a response's text starts (its top-level `result` or `error` first, or after `jsonrpc` and `id`), as SDK servers write it. */
const RESPONSE_HEAD = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?(?:"id"\s*:\s*(?:-?\d+|"(?:[^"\\]|\\.)*")\s*,\s*)?"(?:result|error)"\s*:/;
/** How a request's text starts (its top-level `method` first, or after `jsonrpc` and `id`). */
const REQUEST_HEAD = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?(?:"id"\s*:\s*(?:-?\d+|"(?:[^"\\]|\\.)*")\s*,\s*)?"method"\s*:/;

/** The id of the JSON-RPC message whose text ends with `tail` (`…,"id":7}`), when it ends with one. */
function idAtEnd(tail: string): string | number | undefined {
  const match = /"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*\r?$/.exec(tail);
  if (!match) return undefined;
  return JSON.parse(match[1]!) as string | number;
}
