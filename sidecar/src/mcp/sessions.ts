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
 * Bytes of notifications about one request (a backend's progress) that its response carries at
 * most; past them the rest are dropped. A backend sending progress as fast as it can held the
 * sidecar's memory without bound while the agent read slower, or not at all: 1.1 GiB in 20 s
 * (red team 21). Progress only says how far a call is; its result is never dropped.
 */
export const MAX_NOTIFIED_BYTES = 1024 * 1024;

/**
 * The SDK's transport, with what it sends on a request's response counted against the sidecar's
 * answer budget until that response closes (its client read it, or its connection ended):
 * - a result: a backend's result is read whole (up to mcp/client.ts MAX_MESSAGE_BYTES, 32 MiB) and
 *   written to the agent's response, where it stays while the agent does not read it: 32 unread
 *   reads of a 1.5 MiB file held 250 MiB. Past the budget the result is answered with an error in
 *   its place; one result alone always passes, as one model answer does;
 * - notifications about the request: at most {@link MAX_NOTIFIED_BYTES} per response, and none past
 *   the budget; the others are dropped.
 */
class BudgetedTransport extends StreamableHTTPServerTransport {
  /** Request id → the response its answer goes out on, while that response is open. */
  private readonly answering = new Map<RequestId, ServerResponse>();
  /** Bytes of notifications each open response carried. */
  private readonly notified = new WeakMap<ServerResponse, number>();
  /** The session's GET stream, where what is not about a request goes. */
  private stream: ServerResponse | undefined;
  /** Log messages dropped since the stream last kept up. */
  private dropped = 0;

  constructor(
    private readonly answers: AnswerBudget | undefined,
    private readonly logger: Logger,
    options: ConstructorParameters<typeof StreamableHTTPServerTransport>[0],
  ) {
    super(options);
  }

  /** Notes that the requests in `body` are answered on `res`, until it closes. */
  answerOn(res: ServerResponse, body: unknown): void {
    if (!this.answers) return;
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
    this.dropped = 0;
    res.once('close', () => {
      if (this.stream === res) this.stream = undefined;
    });
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('method' in message && message.method === 'notifications/message' && options?.relatedRequestId === undefined && !this.logKeepsUp()) return Promise.resolve();
    if (!this.answers) return super.send(message, options);
    if ('result' in message) return super.send(this.heldOrRefused(this.answers, message), options);
    if ('method' in message && !('id' in message) && options?.relatedRequestId !== undefined) {
      const res = this.answering.get(options.relatedRequestId);
      if (res && !this.notifies(this.answers, res, message)) return Promise.resolve();
    }
    return super.send(message, options);
  }

  private heldOrRefused(answers: AnswerBudget, message: JSONRPCMessage & { id: RequestId; result: unknown }): JSONRPCMessage {
    const res = this.answering.get(message.id);
    if (!res) return message;
    const bytes = valueSize(message.result).jsonBytes;
    if (answers.holdUntilClosed(res, bytes)) return message;
    const held = Math.round(answers.maxBytes / 1048576);
    this.logger.warn({ session: this.sessionId, bytes }, 'MCP: a result was refused: the answers held for clients that have not read them are at their bound');
    return {
      jsonrpc: '2.0',
      id: message.id,
      error: {
        code: ErrorCode.InternalError,
        message: `the Airlock sidecar holds ${held} MiB of answers that their clients have not read yet, its bound (listen.maxAnswerBytesInFlight); this result of ${bytes} bytes was not kept: read the answers in flight, then call again`,
      },
    };
  }

  /**
   * Whether a backend's log message may go on the GET stream now: not while its client has left
   * what was written unread (Node's buffer past its mark). A backend logging as fast as it can to a
   * client that read slower queued every message (red team 21); log messages say what a backend
   * did, and a client behind on them loses the ones sent meanwhile, counted in one line.
   */
  private logKeepsUp(): boolean {
    if (this.stream?.writableNeedDrain) {
      if (this.dropped++ === 0) this.stream.once('drain', () => this.keptUp());
      return false;
    }
    return true;
  }

  private keptUp(): void {
    this.logger.warn({ session: this.sessionId, dropped: this.dropped }, 'MCP: log messages of backends were dropped: the client did not read its event stream as fast as they came');
    this.dropped = 0;
  }

  /** Whether a notification about the request answered on `res` is sent: within its response's share and the budget. */
  private notifies(answers: AnswerBudget, res: ServerResponse, message: JSONRPCMessage): boolean {
    const bytes = valueSize(message).jsonBytes;
    const sent = this.notified.get(res) ?? 0;
    if (sent + bytes > MAX_NOTIFIED_BYTES || !answers.holdUntilClosed(res, bytes)) {
      if (sent <= MAX_NOTIFIED_BYTES) this.logger.warn({ session: this.sessionId }, 'MCP: notifications about a request are dropped: its response carries no more (a backend sending progress faster than the client reads it)');
      this.notified.set(res, MAX_NOTIFIED_BYTES + 1);
      return false;
    }
    this.notified.set(res, sent + bytes);
    return true;
  }

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
