/**
 * MCP Streamable HTTP sessions: one SDK transport and server per `mcp-session-id`. A session
 * starts with a POSTed initialize request without a session id, lives while its client uses it
 * (POST for requests, GET for the notification stream) and ends with DELETE, gateway close, or
 * eviction once idle for long or when too many sessions are open.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ErrorCode, isInitializeRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { answerInvalidParams } from './params.js';
import type { AnswerBudget } from '../upstream/answer-budget.js';
import { valueSize } from '../wire/json-scan.js';
import { MAX_STREAM_EVENT_BYTES } from './client.js';

/** Limits on sessions. */
export interface SessionLimits {
  /** Sessions kept at most; the longest idle one is closed to make room. */
  maxSessions: number;
  /** A session without requests for this long (and no open stream) is closed. */
  idleMs: number;
  /** Largest request body read when the app did not parse it already. */
  maxBodyBytes: number;
}

interface Session {
  id: string;
  server: Server;
  lastSeen: number;
  /** Requests being handled, including open GET streams. */
  active: number;
  /** Whether a GET stream is open and writable: only then do notifications reach the client. */
  streamOpen: boolean;
  /** Lists that changed while no GET stream was open; announced again when one opens. */
  missed: Set<ListChange>;
  /** The transport, which answers each request on the response that carried it. */
  transport: BudgetedTransport;
}

/** The list a client should re-read. */
export type ListChange = 'tools' | 'resources' | 'prompts';

/** The open MCP sessions of the gateway. */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly reaper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly createServer: () => Server,
    private readonly logger: Logger,
    private readonly limits: SessionLimits,
    /** The sidecar's bound on answers its clients have not read (upstream/answer-budget.ts); none in tests that do not need one. */
    private readonly answers?: AnswerBudget,
  ) {
    this.reaper = setInterval(() => this.reapIdle(), Math.min(60_000, limits.idleMs));
    this.reaper.unref();
  }

  /** Number of open sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Handles one HTTP request to the MCP endpoint (POST, GET or DELETE). */
  async handle(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void> {
    if (this.closed) return reject(res, 503, ErrorCode.ConnectionClosed, 'the MCP gateway is shutting down');
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId !== undefined) {
      const session = this.sessions.get(sessionId);
      if (!session) return reject(res, 404, SESSION_NOT_FOUND, 'Session not found');
      session.active++;
      session.lastSeen = Date.now();
      const stream = req.method === 'GET';
      if (stream) {
        session.transport.streamOn(res);
        void this.announceMissedWhenOpen(session, res);
      } else session.transport.answerOn(res, parsedBody);
      try {
        await session.transport.handleRequest(req, res, parsedBody);
      } finally {
        if (stream) session.streamOpen = false;
        session.active--;
        session.lastSeen = Date.now();
      }
      return;
    }
    if (req.method !== 'POST') return reject(res, 400, ErrorCode.InvalidRequest, 'Bad Request: Mcp-Session-Id header is required');
    let body = parsedBody;
    if (body === undefined) {
      const read = await readJson(req, this.limits.maxBodyBytes);
      if (!read.ok) return reject(res, read.status, read.status === 413 ? ErrorCode.InvalidRequest : ErrorCode.ParseError, read.message);
      body = read.value;
    }
    const messages = Array.isArray(body) ? (body as unknown[]) : [body];
    if (!messages.some((m) => isInitializeRequest(m))) {
      return reject(res, 400, ErrorCode.InvalidRequest, 'Bad Request: no valid session ID provided; start a session with an initialize request');
    }
    await this.start(req, res, body);
  }

  /** Tells every initialised session that a list changed. */
  notify(change: ListChange): void {
    for (const session of this.sessions.values()) {
      // The transport drops notifications while no GET stream is open (the spec allows it);
      // remember them so a client that opens its stream late still learns of the change.
      if (!session.streamOpen) session.missed.add(change);
      this.send(session, change);
    }
  }

  private send(session: Session, change: ListChange): void {
    const server = session.server;
    const sent = change === 'tools' ? server.sendToolListChanged() : change === 'resources' ? server.sendResourceListChanged() : server.sendPromptListChanged();
    sent.catch((err: unknown) => this.logger.debug({ session: session.id, err: String(err) }, 'MCP list_changed not delivered'));
  }

  /**
   * Marks the session's GET stream open once the transport has sent its headers (by then it has
   * registered the stream) and repeats the list changes the session missed. A change announced
   * in between may arrive twice, which is harmless: it only makes the client list again.
   */
  private async announceMissedWhenOpen(session: Session, res: ServerResponse): Promise<void> {
    for (let i = 0; i < 200 && !res.headersSent && !res.writableEnded; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    if (!res.headersSent || res.writableEnded || res.statusCode !== 200) return;
    session.streamOpen = true;
    const missed = [...session.missed];
    session.missed.clear();
    for (const change of missed) this.send(session, change);
  }

  /** Closes every session. */
  async closeAll(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    await Promise.all([...this.sessions.values()].map((s) => this.end(s, 'gateway closing')));
  }

  private async start(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    this.makeRoom();
    const server = this.createServer();
    let session: Session | undefined;
    const transport = new BudgetedTransport(this.answers, this.logger, {
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: this.limits.maxBodyBytes,
      onsessioninitialized: (id) => {
        session = { id, server, transport, lastSeen: Date.now(), active: 1, streamOpen: false, missed: new Set() };
        this.sessions.set(id, session);
        this.logger.info({ session: id, sessions: this.sessions.size }, 'MCP session started');
      },
      onsessionclosed: (id) => this.logger.info({ session: id }, 'MCP session ended by client'),
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id !== undefined && this.sessions.get(id)?.transport === transport) this.sessions.delete(id);
    };
    await server.connect(transport);
    answerInvalidParams(transport, (err) => this.logger.warn({ reason: (err as Error).message }, 'MCP: could not send an Invalid params answer'));
    transport.answerOn(res, body);
    try {
      await transport.handleRequest(req, res, body);
    } finally {
      if (session) {
        session.active--;
        session.lastSeen = Date.now();
      } else {
        // The initialize request was refused: no session was created.
        await server.close().catch(() => undefined);
      }
    }
  }

  private makeRoom(): void {
    if (this.sessions.size < this.limits.maxSessions) return;
    const idle = [...this.sessions.values()].filter((s) => s.active === 0).sort((a, b) => a.lastSeen - b.lastSeen);
    const victim = idle[0] ?? [...this.sessions.values()].sort((a, b) => a.lastSeen - b.lastSeen)[0];
    if (victim) void this.end(victim, 'too many sessions');
  }

  private reapIdle(): void {
    const cutoff = Date.now() - this.limits.idleMs;
    for (const session of this.sessions.values()) {
      if (session.active === 0 && session.lastSeen < cutoff) void this.end(session, 'idle');
    }
  }

  private async end(session: Session, reason: string): Promise<void> {
    this.sessions.delete(session.id);
    this.logger.info({ session: session.id, reason }, 'MCP session closed');
    await session.server.close().catch(() => undefined);
  }
}

type RequestId = string | number;

/**
 * The largest message to a client the gateway passes on that is not an answer: a notification
 * (progress, a log message) or a backend's request (sampling, elicitation). A backend's log message
 * of 30 MiB went whole to every session's event stream (red team 23).
 */
export const MAX_NOTIFIED_BYTES = MAX_STREAM_EVENT_BYTES;

/**
 * The SDK's transport, with what it sends on a request's response counted against the sidecar's
 * answer budget until that response closes (its client read it, or its connection ended):
 * - a result: a backend's result is read whole (up to mcp/client.ts MAX_MESSAGE_BYTES, 32 MiB) and
 *   written to the agent's response, where it stays while the agent does not read it: 32 unread
 *   reads of a 1.5 MiB file held 250 MiB. Past the budget the result is answered with an error in
 *   its place; one result alone always passes, as one model answer does;
 * - a backend's request to the client (sampling, elicitation) about the request: the same, refused
 *   to the backend past the budget;
 * - notifications (progress about a request on its response; on the GET stream log messages and
 *   resource updates, all but list changes, which are tiny and announced again when a stream opens): not
 *   while the client has left what was written to that response unread (Node's buffer past its
 *   mark; dropped then, and counted in one line once it catches up), and none larger than
 *   {@link MAX_NOTIFIED_BYTES}. A backend sending progress or log messages as fast as it can had
 *   every one queued (1.1 GiB in 20 s, red team 21); progress says how far a call is, a log
 *   message what a backend did, and a client behind on them loses those sent meanwhile. A client
 *   that keeps up gets them all, however long the call (a budget per response cut a long call's
 *   progress at 1 MiB, and a client resetting its timeout on progress gave up: red team 23);
 * - an error: its message cut to {@link MAX_ERROR_CHARS} characters.
 */
class BudgetedTransport extends StreamableHTTPServerTransport {
  /** Request id → the response its answer goes out on, while that response is open. */
  private readonly answering = new Map<RequestId, ServerResponse>();
  /** Notifications dropped on each response since it last kept up. */
  private readonly dropped = new WeakMap<ServerResponse, number>();
  /** The session's GET stream, where what is not about a request goes. */
  private stream: ServerResponse | undefined;

  constructor(
    private readonly answers: AnswerBudget | undefined,
    private readonly logger: Logger,
    options: ConstructorParameters<typeof StreamableHTTPServerTransport>[0],
  ) {
    super(options);
  }

  /** Notes that the requests in `body` are answered on `res`, until it closes. */
  answerOn(res: ServerResponse, body: unknown): void {
    const ids: RequestId[] = [];
    for (const message of Array.isArray(body) ? (body as unknown[]) : [body]) {
      const { method, id } = (message ?? {}) as { method?: unknown; id?: unknown };
      if (typeof method === 'string' && (typeof id === 'string' || typeof id === 'number')) {
        ids.push(id);
        this.answering.set(id, res);
      }
    }
    if (ids.length > 0) {
      res.once('close', () => {
        for (const id of ids) if (this.answering.get(id) === res) this.answering.delete(id);
      });
    }
  }

  /** Notes that `res` is the session's GET stream. */
  streamOn(res: ServerResponse): void {
    this.stream = res;
    res.once('close', () => {
      if (this.stream === res) this.stream = undefined;
    });
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('result' in message) return super.send(this.answers ? this.heldOrRefused(this.answers, message) : message, options);
    if ('error' in message) return super.send(boundedError(message), options);
    const res = options?.relatedRequestId === undefined ? undefined : this.answering.get(options.relatedRequestId);
    const bytes = valueSize(message).jsonBytes;
    if ('id' in message) {
      // A request to the client (a backend's sampling or elicitation): refused to its backend past the bounds.
      const budgeted = res !== undefined && this.answers !== undefined;
      if (budgeted ? !this.answers!.holdUntilClosed(res, bytes) : bytes > MAX_NOTIFIED_BYTES) return this.refuse(message.id, this.heldMessage(bytes, budgeted));
      return super.send(message, options);
    }
    // About a request, on its response; otherwise on the GET stream, where a client behind loses all
    // but list changes: a backend's resources/updated with large metadata queued 938 MiB on one
    // unread stream (red team 24).
    const on = res ?? (message.method.endsWith('/list_changed') ? undefined : this.stream);
    if (bytes > MAX_NOTIFIED_BYTES || (on && !this.keepsUp(on))) return Promise.resolve();
    return super.send(message, options);
  }

  /**
   * Refuses a request to the client as a client answers one it cannot take: with an error response,
   * handed to the session's server (which fails the backend's request with it). A rejected send
   * instead left the MCP SDK's handler for the response in place, and the request with it, for as
   * long as the session lived: every 30 MiB question refused stayed in memory (red team 24).
   */
  private refuse(id: RequestId, reason: string): Promise<void> {
    queueMicrotask(() => this.onmessage?.({ jsonrpc: '2.0', id, error: { code: ErrorCode.InternalError, message: reason } }));
    return Promise.resolve();
  }

  /** Why a message of `bytes` to the client was not passed on: the answer budget, or (`budgeted` false) the bound of one message. */
  private heldMessage(bytes: number, budgeted = true): string {
    if (!budgeted || !this.answers) return `a message of ${bytes} bytes to the client is more than the Airlock sidecar passes on (${MAX_NOTIFIED_BYTES})`;
    const held = Math.round(this.answers.maxBytes / 1048576);
    return `the Airlock sidecar holds ${held} MiB of answers that their clients have not read yet, its bound (listen.maxAnswerBytesInFlight); this message of ${bytes} bytes was not passed on`;
  }

  private heldOrRefused(answers: AnswerBudget, message: JSONRPCMessage & { id: RequestId; result: unknown }): JSONRPCMessage {
    const res = this.answering.get(message.id);
    if (!res) return message;
    const bytes = valueSize(message.result).jsonBytes;
    if (answers.holdUntilClosed(res, bytes)) return message;
    this.logger.warn({ session: this.sessionId, bytes }, 'MCP: a result was refused: the answers held for clients that have not read them are at their bound');
    return { jsonrpc: '2.0', id: message.id, error: { code: ErrorCode.InternalError, message: `${this.heldMessage(bytes)}: read the answers in flight, then call again` } };
  }

  /** Whether `res` takes a notification now: not while its client leaves what was written unread. */
  private keepsUp(res: ServerResponse): boolean {
    if (!res.writableNeedDrain) return true;
    const dropped = this.dropped.get(res) ?? 0;
    this.dropped.set(res, dropped + 1);
    if (dropped === 0) {
      res.once('drain', () => {
        this.logger.warn({ session: this.sessionId, dropped: this.dropped.get(res) }, 'MCP: notifications of backends were dropped: the client did not read them as fast as they came');
        this.dropped.delete(res);
      });
    }
    return false;
  }
}

/**
 * Longest error message passed to a client; a backend's error is cut there and its `data` dropped
 * past it. Room for the gateway's own messages, which quote a resource URI (up to 8,192 characters,
 * naming.ts MAX_URI_LENGTH) before saying what is wrong with it.
 */
export const MAX_ERROR_CHARS = 16 * 1024;

/**
 * An error response as a client may get it: a backend's error message (which the gateway passes
 * on) cut to {@link MAX_ERROR_CHARS}, and its `data` dropped when larger. A backend answering with a
 * 30 MiB error message had it queued whole for each unread call (red team 23).
 */
function boundedError(message: JSONRPCMessage & { error: { code: number; message: string; data?: unknown } }): JSONRPCMessage {
  const { code, message: text, data } = message.error;
  const keepData = data === undefined || valueSize(data).jsonBytes <= MAX_ERROR_CHARS;
  if (text.length <= MAX_ERROR_CHARS && keepData) return message;
  const cut = text.length <= MAX_ERROR_CHARS ? text : `${text.slice(0, MAX_ERROR_CHARS)}… (cut: the message went on)`;
  return { ...message, error: { code, message: cut, ...(keepData ? { data } : {}) } };
}

/** What the SDK's own transport answers for an unknown session id. */
const SESSION_NOT_FOUND = -32001;

function reject(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

type ReadResult = { ok: true; value: unknown } | { ok: false; status: number; message: string };

async function readJson(req: IncomingMessage, maxBytes: number): Promise<ReadResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) return { ok: false, status: 413, message: `request body larger than ${maxBytes} bytes` };
    chunks.push(buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, status: 400, message: 'Parse error: the request body is not JSON' };
  }
}
